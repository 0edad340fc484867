"""Figures in words for the diagrams: numbers, days, shares and dates in the reader's language,
with privacy applied as the words are made.

Fixed formats (one decimal below 10, whole numbers above) keep the diagrams byte-identical for
the same figures, and short enough for a node.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flowengine.analysis.figures import Privacy, Spread
from flowengine.definition.vocabulary import term

__all__ = ["DASH", "NO_PRIVACY", "TIMES", "date", "days", "median", "number", "p90", "share"]

DASH = "\u2013"  # en dash: a figure that is hidden or does not exist
TIMES = "\u00d7"  # multiplication sign: "12 times" as 12 and this sign
NO_PRIVACY = Privacy()  # every count and spread shown, as for internal use
_COMMA_LANGUAGES = ("nb", "sv")  # decimal comma, and a space before "%"


def number(value: float, language: str) -> str:
    """One decimal below 10, whole numbers above: "0.4", "3.5", "3", "12", "410"; "3,5" in nb/sv."""
    text = f"{value:.1f}".removesuffix(".0") if value < 9.95 else f"{value:.0f}"
    return text.replace(".", ",") if language in _COMMA_LANGUAGES else text


def days(value: float | None, language: str) -> str:
    """"12 d" (in the language's abbreviation), or the dash for no value."""
    return DASH if value is None else f"{number(value, language)} {term('days_short', language)}"


def median(spread: Spread, privacy: Privacy, language: str) -> str:
    return days(spread.median if privacy.shows(spread) else None, language)


def p90(spread: Spread, privacy: Privacy, language: str) -> str:
    return days(spread.p90 if privacy.shows(spread) else None, language)


def share(part: int, whole: int, privacy: Privacy, language: str) -> str:
    """"12%" ("12 %" in nb/sv), or the dash when either count is suppressed."""
    if whole <= 0 or privacy.count(part) != str(part) or privacy.count(whole) != str(whole):
        return DASH
    percent = f"{100 * part / whole:.0f}"
    return f"{percent} %" if language in _COMMA_LANGUAGES else f"{percent}%"


def date(moment: datetime) -> str:
    """The calendar date of ``moment`` in the time zone it carries (``FlowEngine.analyse`` gives the
    reader's zone, the demo its file's)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.date().isoformat()
