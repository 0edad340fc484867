"""Time: stored in UTC, shown in local time, and always read from an injectable clock.

Nothing in the library calls ``datetime.now()`` directly, so tests and demos can replay any
day, and ``--as-of`` is only another clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from flowengine.errors import InvalidInput
from flowengine.i18n import marked, t
from flowengine.timewindow import EARLIEST_TEXT, LATEST_TEXT, OutOfWindow, check, in_window

Clock = Callable[[], datetime]

ENV_NOW = "FLOWENGINE_NOW"  # fixes "now" for reproducible demos and tests


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from_environment(environ: dict[str, str] | None = None) -> Clock:
    """The system clock, or a fixed moment when ``FLOWENGINE_NOW`` is set."""
    value = (os.environ if environ is None else environ).get(ENV_NOW, "").strip()
    if not value:
        return system_clock
    fixed = parse_moment(value, what=ENV_NOW)
    return lambda: fixed


def within(moment: datetime | None, what: str) -> datetime | None:
    """A time given through the API (a step's ``at``, an ``as_of``), checked against the window."""
    return None if moment is None else check(as_utc(moment), marked(what))


def windowed(clock: Clock) -> Clock:
    """A clock whose every reading is checked against the window (an injected clock is a door too)."""
    if getattr(clock, "windowed", False):
        return clock

    def read() -> datetime:
        return check(as_utc(clock()), t("the clock"))

    read.windowed = True  # type: ignore[attr-defined]
    return read


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (that is how SQLite returns them)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """The one canonical text of a moment, used in hashes and JSON: microseconds, 'Z'."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def local_text(moment: datetime) -> str:
    """A moment in the reader's local time, to the minute, with its zone ("2019-06-30 14:00 CEST"),
    so that a reader elsewhere, or a server set to UTC, is never misread."""
    if isinstance(moment, OutOfWindow):
        return t("{stored} (outside the accepted range)", stored=moment.stored)
    return as_utc(moment).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def parse_moment(text: str, *, what: str | None = None) -> datetime:
    """A date or date-time given by a user; a bare date means the end of that day, local time.
    Either must lie within the accepted window (:mod:`flowengine.timewindow`)."""
    value = text.strip()
    what = t("the date") if what is None else what
    moment: datetime | None
    try:
        if len(value) == 10:
            moment = end_of_day(date.fromisoformat(value))
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.astimezone()  # a wall-clock time the user typed: their local zone
            moment = as_utc(moment)
    except OverflowError:
        moment = None
    except ValueError as exc:
        raise InvalidInput(t("{what} '{text}' is not a date; write it as YYYY-MM-DD, e.g. 2019-06-30 (or a full "
                             "date-time such as 2019-06-30T14:00)", what=what, text=text)) from exc
    if moment is None or not in_window(moment):
        raise InvalidInput(t("{what} '{time}' lies outside the range flowengine accepts ({earliest} to {latest}, "
                             "UTC)", what=what, time=value, earliest=EARLIEST_TEXT, latest=LATEST_TEXT))
    return moment


def end_of_day(day: date) -> datetime:
    """The last microsecond of a local calendar day, in UTC: '--as-of 2019-06-30' includes that whole day."""
    next_midnight = datetime.combine(day + timedelta(days=1), time()).astimezone()
    return as_utc(next_midnight - timedelta(microseconds=1))


def describe_span(start: datetime, end: datetime) -> str:
    """'3 d', '5 h', '12 min': how long something has waited, for tables."""
    seconds = max(0.0, (as_utc(end) - as_utc(start)).total_seconds())
    if seconds >= 86400:
        return f"{int(seconds // 86400)} d"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 60)} min"
