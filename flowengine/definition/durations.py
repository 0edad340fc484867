"""Deadlines as durations: ``30d``, ``8w``, ``12h`` or ISO 8601 (``P3M``, ``P1Y2M10DT2H``).

Months and years are kept apart from days so that "P3M" from 31 January ends on the last day
of April, as a person would count, not after a fixed 90 days.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flowengine.definition.vocabulary import describe_duration
from flowengine.i18n import N_, marked, t, tn
from flowengine.timewindow import LAST, LATEST, add

_SHORT = re.compile(r"(?P<n>[0-9]{1,5})\s*(?P<unit>[hdw])")
_ISO = re.compile(
    r"P(?!$)(?:(?P<y>[0-9]{1,4})Y)?(?:(?P<mo>[0-9]{1,5})M)?(?:(?P<w>[0-9]{1,5})W)?(?:(?P<d>[0-9]{1,5})D)?"
    r"(?:T(?=[0-9])(?:(?P<h>[0-9]{1,5})H)?(?:(?P<mi>[0-9]{1,5})M)?(?:(?P<s>[0-9]{1,7})S)?)?"
)

DURATION_HELP = N_("write it like 30d (days), 8w (weeks), 12h (hours), P3M (months) or P1Y (a year)")


@dataclass(frozen=True)
class Duration:
    """A calendar-aware span: whole months plus a fixed time delta."""

    text: str
    months: int
    delta: timedelta

    def add_to(self, moment: datetime) -> datetime:
        """The moment this duration after ``moment`` (month ends clamp, as calendars do); a sum
        beyond the accepted window (P9999Y after any day) stops at its last moment, never overflows."""
        if self.months:
            month_index = moment.month - 1 + self.months
            year = moment.year + month_index // 12
            if year >= LATEST.year:
                return LAST
            month = month_index % 12 + 1
            day = min(moment.day, calendar.monthrange(year, month)[1])
            moment = moment.replace(year=year, month=month, day=day)
        return add(moment, self.delta)

    @property
    def approx_days(self) -> float:
        """Length in days, counting a month as 30.44 days: for sorting and display only."""
        return self.months * 30.436875 + self.delta.total_seconds() / 86400

    def describe(self, language: str = "en") -> str:
        """In words, in ``language``: P3M → "3 months" / "3 måneder" / "3 månader"."""
        return describe_duration(self.months, int(self.delta.total_seconds()), language) or self.text

    def __str__(self) -> str:
        return self.text


_WORDS = re.compile(r"(?P<n>[0-9]{1,5})\s*(?P<unit>[a-zåäø]+)\.?", re.IGNORECASE)
# First letters of hour/day/week/month/year in en, nb and sv ("m" alone is ambiguous: months).
_UNIT_WORDS = (("time", "h"), ("tim", "h"), ("hour", "h"), ("h", "h"), ("dag", "d"), ("day", "d"), ("d", "d"),
               ("uke", "w"), ("veck", "w"), ("week", "w"), ("w", "w"), ("mån", "M"), ("mon", "M"), ("m", "M"),
               ("år", "Y"), ("ar", "Y"), ("year", "Y"), ("y", "Y"))


def _suggest(text: str) -> str:
    """How to write what the author evidently meant ("3 months" → P3M), else the general rule."""
    words = _WORDS.fullmatch(text)
    if words:
        unit = words["unit"].lower()
        for prefix, code in _UNIT_WORDS:
            if unit.startswith(prefix):
                n = int(words["n"])
                if code in "hdw":
                    return t("write {duration}", duration=f"{n}{code}")
                if code == "M":
                    return tn("write P{n}M for {n} month", "write P{n}M for {n} months", n)
                return tn("write P{n}Y for {n} year", "write P{n}Y for {n} years", n)
    return marked(DURATION_HELP)


def parse_duration(text: str) -> Duration:
    """Parse a duration; raises ValueError with a message that says how to write one."""
    cleaned = text.strip()
    short = _SHORT.fullmatch(cleaned)
    if short:
        n = int(short["n"])
        unit = short["unit"]
        delta = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        duration = Duration(cleaned, 0, delta)
    else:
        iso = _ISO.fullmatch(cleaned.upper())
        if not iso:
            raise ValueError(t("'{text}' is not a duration; {hint}", text=text, hint=_suggest(cleaned)))
        parts = {key: int(value) if value else 0 for key, value in iso.groupdict().items()}
        duration = Duration(
            cleaned,
            parts["y"] * 12 + parts["mo"],
            timedelta(weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["mi"],
                      seconds=parts["s"]),
        )
    if duration.approx_days <= 0:
        raise ValueError(t("'{text}' is zero; a deadline must be longer than nothing", text=text))
    if duration.approx_days > 100 * 366:
        raise ValueError(t("'{text}' is over 100 years; a deadline that long is no deadline", text=text))
    return duration
