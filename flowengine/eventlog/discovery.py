"""Workflow discovery: what a log's cases do, counted as process mining counts it — the
directly-follows graph with its start and end activities — for drafting a workflow
(:mod:`flowengine.eventlog.draft`) that validates as it is and imports the same log.

The log is read exactly as the import reads it (:mod:`flowengine.eventlog.reading`): the same
formats and column map; finished events only (lifecycle ``complete`` or none); each case's
events in time order, stably (events at the same moment keep the file's order). Rows without a
case, an activity or a readable time are left out and counted. A time without a UTC offset is
read as UTC here (only the order within a case matters), and counted, since the import needs to
be told so.

Cases are counted as *variants* (their sequences of activities): a log of a million events
usually has a few thousand, and the graph is counted from those. Cases are streamed when the log
is grouped by case (XES always is, most CSV are); a CSV whose cases are scattered is read again
and grouped in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any

from flowengine.eventlog import attributes as col
from flowengine.eventlog.meanings import ACTIVITY, CASE, LIFECYCLE, ORDER, ROLE, TIME
from flowengine.eventlog.reading import EventLog, collection_paused, columns, open_log
from flowengine.i18n import t

_FIRST = itemgetter(0)


@dataclass
class LogProfile:
    """What a log's cases do: variants with their counts, and what the rows say besides."""

    name: str
    variants: Counter[tuple[str, ...]] = field(default_factory=Counter)
    leaving_roles: dict[str, Counter[str]] = field(default_factory=dict)  # activity → roles of the events after it
    first_roles: Counter[str] = field(default_factory=Counter)  # roles of the cases' first events
    events: int = 0
    skipped: int = 0  # not 'complete'
    left_out: int = 0  # no case, activity or readable time
    first_left_out: str | None = None  # where the first of them is, and why
    naive_times: int = 0  # times without a UTC offset (read as UTC)

    @property
    def cases(self) -> int:
        return sum(self.variants.values())

    def activities(self) -> Counter[str]:
        """How often each activity occurs."""
        counts: Counter[str] = Counter()
        for trace, times in self.variants.items():
            for activity in trace:
                counts[activity] += times
        return counts

    def pairs(self) -> Counter[tuple[str, str]]:
        """How often each activity is directly followed by each other (or itself)."""
        counts: Counter[tuple[str, str]] = Counter()
        for trace, times in self.variants.items():
            for pair in pairwise(trace):
                counts[pair] += times
        return counts

    def starts(self) -> Counter[str]:
        return _sum((trace[0], n) for trace, n in self.variants.items())

    def ends(self) -> Counter[str]:
        return _sum((trace[-1], n) for trace, n in self.variants.items())


def _sum(items: Iterator[tuple[str, int]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for key, times in items:
        counts[key] += times
    return counts


class _Scattered(Exception):
    """A case came back after other cases: read the log again, grouping in memory."""


def profile(path: str | Path, *, fmt: str | None = None, mapping: Mapping[str, str] | None = None) -> LogProfile:
    """Read the log at ``path`` (any format the import reads) into its :class:`LogProfile`."""
    log = open_log(path, fmt)
    wanted = columns(log, dict(mapping or {}))[:len(ORDER)]  # flowengine's own columns say nothing here
    with collection_paused():
        try:
            return _read(log, wanted, grouped=False)
        except _Scattered:
            return _read(log, wanted, grouped=True)


def _read(log: EventLog, wanted: Sequence[str | None], *, grouped: bool) -> LogProfile:
    """The profile, case by case as the rows come (``grouped``: all rows held and grouped first).
    The inner loop of a discovery of millions of events: each row is looked at once."""
    found = LogProfile(log.name)
    complete = col.COMPLETE
    parse = datetime.fromisoformat
    held: dict[str, list[tuple[Any, Sequence[str]]]] = {}
    done: set[str] = set()
    current: str | None = None
    timed: list[tuple[datetime, str, str]] = []
    for position, values in log.rows(wanted):
        lifecycle = values[LIFECYCLE]
        if lifecycle and lifecycle.lower() != complete:
            found.skipped += 1
            continue
        case = values[CASE]
        if not case:
            _left_out(found, log, position, t("no case id"))
            continue
        if grouped:
            held.setdefault(case, []).append((position, values))
            continue
        if case != current:
            if timed:
                _count_case(found, timed)
                timed = []
            if current is not None:
                done.add(current)
            if case in done:
                raise _Scattered
            current = case
        activity, text = values[ACTIVITY], values[TIME]
        try:
            moment = parse(text)
        except ValueError:
            retried = _moment(found, log, position, activity, text)
            if retried is None:
                continue
            moment = retried
        if not activity:
            _left_out(found, log, position, t("no activity"))
            continue
        if moment.tzinfo is None:
            found.naive_times += 1
            moment = moment.replace(tzinfo=UTC)
        timed.append((moment, activity, values[ROLE]))
    if timed:
        _count_case(found, timed)
    for rows in held.values():
        _count_rows(found, log, rows)
    return found


def _moment(found: LogProfile, log: EventLog, position: Any, activity: str, text: str) -> datetime | None:
    """A time ``fromisoformat`` did not take as it stands: with spaces around it, or left out."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        _left_out(found, log, position, t("no activity") if not activity else t("no timestamp") if not text.strip()
                  else t("bad timestamp '{text}'", text=text))
        return None


def _left_out(found: LogProfile, log: EventLog, position: Any, why: str) -> None:
    found.left_out += 1
    if found.first_left_out is None:
        found.first_left_out = f"{log.where(position)}: {why}"


def _count_rows(found: LogProfile, log: EventLog, rows: list[tuple[Any, Sequence[str]]]) -> None:
    """One case of a scattered log, from its rows."""
    timed: list[tuple[datetime, str, str]] = []
    for position, values in rows:
        activity, text = values[ACTIVITY], values[TIME]
        moment = _moment(found, log, position, activity, text)
        if moment is None:
            continue
        if not activity:
            _left_out(found, log, position, t("no activity"))
            continue
        if moment.tzinfo is None:
            found.naive_times += 1
            moment = moment.replace(tzinfo=UTC)
        timed.append((moment, activity, values[ROLE]))
    if timed:
        _count_case(found, timed)


def _count_case(found: LogProfile, timed: list[tuple[datetime, str, str]]) -> None:
    """One case into the profile: its events in time order, its variant, who left each activity."""
    timed.sort(key=_FIRST)  # stable: events at the same moment keep the file's order (in order: one pass, in C)
    _, trace, roles = zip(*timed, strict=True)
    found.variants[trace] += 1
    found.events += len(trace)
    if roles[0]:
        found.first_roles[roles[0]] += 1
    if any(roles):
        for (_, before, _), (_, _, role) in pairwise(timed):
            if role:
                found.leaving_roles.setdefault(before, Counter())[role] += 1
