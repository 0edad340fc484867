"""The one range of time flowengine accepts: from 1900-01-01 up to (not including) 2200-01-01 UTC.

Every door checks it (dates typed on the command line, the API, an event-log import, the demo
data, ``FLOWENGINE_NOW``), so every date computation — a deadline added to a time, an as-of
day, a reminder — stays far from the calendar's ends (year 1 and year 9999), where Python's
``datetime`` overflows. A database written before the window was enforced may still hold a time
outside it: :func:`read_stored` reads any such text, gives the computations the window's nearest
edge instead, and marks the value (:class:`OutOfWindow`) so that ``audit verify`` and the views
can name the event and show what was stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flowengine.errors import InvalidInput
from flowengine.i18n import t

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive: the last accepted moment is a microsecond before
LAST = LATEST - timedelta(microseconds=1)
EARLIEST_TEXT = "1900-01-01"
LATEST_TEXT = "2200-01-01"


class OutOfWindow(datetime):
    """A stored time outside the window, read as the window's nearest edge; ``stored`` is the text
    the database held. Only ever made by :func:`read_stored`."""

    stored: str = ""


def in_window(moment: datetime) -> bool:
    """Whether an aware (or naive UTC) moment lies within the window."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return EARLIEST <= aware < LATEST and not isinstance(moment, OutOfWindow)


def problem(moment: datetime) -> str | None:
    """Why a moment is refused, or None when it lies within the window."""
    if in_window(moment):
        return None
    shown = moment.stored if isinstance(moment, OutOfWindow) else moment.isoformat()
    return t("the time {time} lies outside the range flowengine accepts ({earliest} to {latest}, UTC)",
             time=shown, earliest=EARLIEST_TEXT, latest=LATEST_TEXT)


def check(moment: datetime, what: str) -> datetime:
    """``moment`` itself, or :class:`InvalidInput` naming ``what`` when it lies outside the window."""
    reason = problem(moment)
    if reason is not None:
        raise InvalidInput(t("{what}: {reason}", what=what, reason=reason))
    return moment


def clamp(moment: datetime) -> datetime:
    """The moment, or the window's nearest edge: for sums that could leave the window (a deadline
    of many years added to a late time) and must still give an answer."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return EARLIEST if aware < EARLIEST else LAST if aware >= LATEST else moment


def add(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta`` that never overflows: beyond the window it stops at the window's edge."""
    try:
        return clamp(moment + delta)
    except OverflowError:
        return LAST if delta > timedelta(0) else EARLIEST


_LOOSE = re.compile(r"\s*(-?\d{1,6})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2})[: ](\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?"
                    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$")


def read_stored(text: str) -> datetime:
    """A time as a database holds it (any ISO-like text, including what earlier versions wrote
    for years outside the window, such as ``1-01-01T00 00:00.000000Z``), as aware UTC; outside
    the window (or unreadable) an :class:`OutOfWindow` at the nearest edge carrying the text."""
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = _loose(text)
    if moment is not None:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            moment = None
    if moment is not None and in_window(moment):
        return moment
    if moment is not None:
        return mark(text, late=moment.year >= LATEST.year)
    year = _LOOSE.match(text)
    return mark(text, late=year is not None and int(year.group(1)) >= LATEST.year)


def mark(stored: str, *, late: bool) -> OutOfWindow:
    """The window's edge standing in for a stored time outside it."""
    edge = LAST if late else EARLIEST
    marked = OutOfWindow(edge.year, edge.month, edge.day, edge.hour, edge.minute, edge.second, edge.microsecond,
                         tzinfo=UTC)
    marked.stored = stored
    return marked


def from_stored(value: datetime) -> datetime:
    """A time a driver already read as a ``datetime`` (PostgreSQL's timestamptz), marked when outside."""
    if in_window(value):
        return value
    late = value.year >= LATEST.year
    return mark(value.isoformat(), late=late)


def _loose(text: str) -> datetime | None:
    match = _LOOSE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                          int((fraction or "0")[:6].ljust(6, "0")))
    except (ValueError, OverflowError):
        return None
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        try:
            return (moment - sign * offset).replace(tzinfo=UTC)
        except OverflowError:
            return None
    return moment
