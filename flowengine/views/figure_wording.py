"""Figures in words for the diagrams: numbers, days, shares and dates in the reader's language,
with privacy applied as the words are made.

Fixed formats (one decimal below 10, whole numbers above) keep the diagrams byte-identical for
the same figures, and short enough for a node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from datetime import date as day
from typing import TYPE_CHECKING

from flowengine.clock import as_utc
from flowengine.definition.vocabulary import term
from flowengine.errors import Remedy
from flowengine.i18n import t
from flowengine.i18n.formats import decimal, percent, short_date

if TYPE_CHECKING:  # the figures are the caller's: a proposal's history uses the dates alone
    from flowengine.analysis.figures import Analysis, Privacy, Spread

__all__ = ["DASH", "TIMES", "as_of_note", "date", "days", "local_date", "local_day", "median", "number", "p90",
           "share"]

DASH = "\u2013"  # en dash: a figure that is hidden or does not exist
TIMES = "\u00d7"  # multiplication sign: "12 times" as 12 and this sign


def number(value: float, language: str) -> str:
    """One decimal below 10, whole numbers above: "0.4", "3.5", "3", "12", "410"; "3,5" in nb/sv."""
    return decimal(value, language)


def days(value: float | None, language: str) -> str:
    """"12 d" (in the language's abbreviation), or the dash for no value."""
    return DASH if value is None else f"{number(value, language)} {term('days_short', language)}"


def median(spread: Spread, privacy: Privacy, language: str, key: str | None = None) -> str:
    """The median in days, or the dash where privacy holds back the count it rests on (``key``)."""
    return days(spread.median if privacy.shows(spread, key) else None, language)


def p90(spread: Spread, privacy: Privacy, language: str, key: str | None = None) -> str:
    return days(spread.p90 if privacy.shows(spread, key) else None, language)


def share(part: int, whole: int, privacy: Privacy, language: str, part_key: str | None = None,
          whole_key: str | None = None) -> str:
    """"12%" ("12 %" in nb/sv), or the dash when either count is suppressed."""
    if whole <= 0 or privacy.hides(part, part_key) or privacy.hides(whole, whole_key):
        return DASH
    return percent(part, whole, language)


def date(moment: datetime) -> str:
    """The calendar date of ``moment`` in the time zone it carries (``FlowEngine.analyse`` gives the
    reader's zone, the demo its file's)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.date().isoformat()


def local_day(moment: datetime, zone: datetime | None = None) -> day:
    """The day of ``moment`` in ``zone``'s time zone (an analysis's as-of carries the reader's, or
    the demo file's), else in the machine's local zone."""
    tz = zone.tzinfo if zone is not None and zone.tzinfo is not None else None
    return as_utc(moment).astimezone(tz).date()


def local_date(moment: datetime, zone: datetime | None = None, language: str = "en") -> str:
    """:func:`local_day` as the language writes a date in a table."""
    return short_date(local_day(moment, zone), language)


def as_of_note(analyses: Sequence[Analysis], newest: datetime | None, hint: Callable[[Remedy], str]) -> str | None:
    """What a report as of today must say of a history whose newest event is long past (an
    imported log): every case still open would count as waiting since then. ``hint`` writes
    the remedy as the reader types it."""
    from flowengine.analysis.figures import long_past

    if not analyses or newest is None or not long_past(newest, analyses[0].as_of):
        return None
    newest_day = local_date(newest, analyses[0].as_of)
    return t("as of {date}; the newest event is {newest} — {fix} reads the history as it stood then",
             date=local_date(analyses[0].as_of, analyses[0].as_of), newest=newest_day,
             fix=hint(Remedy("as_of", value=newest_day)))
