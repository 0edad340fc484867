"""The columns of the stall analysis as numpy arrays: times parsed from the text the database
hands over, calendar arithmetic on them, events sorted by proposal and sequence, and spreads
with :func:`flowengine.analysis.figures.quantile`'s arithmetic."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from flowengine.analysis.figures import Spread
from flowengine.definition.durations import Duration
from flowengine.errors import StoreError
from flowengine.history.records import ADVANCED, CREATED, MIGRATED
from flowengine.store import aggregates
from flowengine.timewindow import LAST, read_stored

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
IntsAny = TypeVar("IntsAny", npt.NDArray[np.int64], npt.NDArray[np.int32])  # the same width out as in

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400_000_000
_LAST = (LAST - EPOCH) // timedelta(microseconds=1)  # the accepted window's last moment
KIND_CODES = {CREATED: 0, ADVANCED: 1, MIGRATED: 2}


# -- reading the columns ---------------------------------------------------------------------

def parse_ints(text: str | bytes, count: int) -> Ints:
    if not count or not text:
        return np.zeros(0, dtype=np.int64)
    values = np.fromstring(text, dtype=np.int64, sep=",")  # text mode: not the deprecated binary one
    if values.size != count:
        raise StoreError(f"the database counted {count} events but listed {values.size}; "
                         "run the analysis again (a concurrent change?) or report it as a bug")
    return values


_TABLE_DAYS = 1_000_000  # about 2,700 years: beyond, months are worked out per event, not per day
_WIDTH = 27  # "YYYY-MM-DD HH:MM:SS.ffffff" and its comma
# Each column of a time and its comma: the least byte it may hold and how far above that it may
# go (a digit: "0" and 9 more; a mark: itself exactly). One subtraction and one comparison of
# the whole table check every byte (below the least, uint8 wraps around to above the span).
_MARKS = {4: ord("-"), 7: ord("-"), 10: ord(" "), 13: ord(":"), 16: ord(":"), 19: ord("."), 26: ord(",")}
_LEAST = np.array([_MARKS.get(column, ord("0")) for column in range(_WIDTH)], dtype=np.uint8)
_SPAN = np.array([0 if column in _MARKS else 9 for column in range(_WIDTH)], dtype=np.uint8)


def parse_micros(text: str | bytes, count: int, time_format: str) -> Ints:
    """Microseconds since 1970 (UTC) of the times as the database handed them over."""
    if time_format == aggregates.MICROS:
        return parse_ints(text, count)
    if not count:
        return np.zeros(0, dtype=np.int64)
    raw = (text if isinstance(text, bytes) else text.encode("ascii", "replace")) + b","
    if len(raw) != count * _WIDTH:
        return parse_micros_slowly(text)
    table = np.frombuffer(raw, dtype=np.uint8).reshape(count, _WIDTH)
    if bool(((table - _LEAST) > _SPAN).any()):
        return parse_micros_slowly(text)

    def two(column: int) -> npt.NDArray[np.int32]:
        """The two digits from ``column`` on, as a number (small: 32 bits are plenty)."""
        tens = table[:, column].astype(np.int32) * 10
        return tens + table[:, column + 1] - (ord("0") * 11)

    year: npt.NDArray[np.int32] = two(0) * 100 + two(2)
    days = days_from_civil(year, two(5), two(8)).astype(np.int64)
    seconds = (two(11) * 60 + two(14)) * 60 + two(17)
    micro = (two(20) * 100 + two(22)) * 100 + two(24)
    found: Ints = (days * 86_400 + seconds) * 1_000_000 + micro
    return found


def days_from_civil(year: IntsAny, month: IntsAny, day: IntsAny) -> IntsAny:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm, vectorised);
    in the arrays' integer type (32 bits hold any four-digit year's)."""
    year = year - (month <= 2)
    era = np.floor_divide(year, 400)
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: IntsAny = era * 146097 + day_of_era - 719468
    return days


def civil(days: Ints) -> tuple[Ints, Ints, Ints]:
    """Year, month and day of days since 1970-01-01: the inverse of days_from_civil."""
    shifted = days + 719468
    era = np.floor_divide(shifted, 146097)
    day_of_era = shifted - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = np.where(shifted_month < 10, shifted_month + 3, shifted_month - 9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day


def month_codes(micros: Ints) -> Ints:
    """Months since 1970-01 (UTC) of times in microseconds. A log spans far fewer days than it
    has events: each day's month is worked out once, in a table looked up per event; the tables
    are kept for blocks of :data:`_BLOCK_DAYS`, so the workflows of one log share them."""
    days = np.floor_divide(micros, US_PER_DAY)
    if not days.size:
        return days
    first, last = int(days.min()), int(days.max())
    if last - first > _TABLE_DAYS:
        year, month, _ = civil(days)
        return (year - 1970) * 12 + month - 1
    start = first - first % _BLOCK_DAYS
    months: Ints = _month_table(start, last - last % _BLOCK_DAYS + _BLOCK_DAYS)[days - start]
    return months


_BLOCK_DAYS = 8192  # about 22 years


@functools.lru_cache(maxsize=8)
def _month_table(start: int, end: int) -> Ints:
    """The month code of each day from ``start`` to before ``end`` (read-only: it is shared)."""
    year, month, _ = civil(np.arange(start, end, dtype=np.int64))
    table: Ints = (year - 1970) * 12 + month - 1
    table.flags.writeable = False
    return table


def add_duration(duration: Duration, micros: Ints) -> Ints:
    """Duration.add_to on times in microseconds (UTC): whole months first, a month's end
    clamping the day, then the fixed delta."""
    delta = duration.delta // timedelta(microseconds=1)
    if not duration.months:
        return np.minimum(micros + delta, _LAST)
    days = np.floor_divide(micros, US_PER_DAY)
    year, month, day = civil(days)
    index = month - 1 + duration.months
    year, month = year + index // 12, index % 12 + 1
    month_start = days_from_civil(year, month, np.ones_like(month))
    month_length = days_from_civil(year + month // 12, month % 12 + 1, np.ones_like(month)) - month_start
    moved: Ints = (month_start + np.minimum(day, month_length) - 1 - days) * US_PER_DAY + micros + delta
    return np.minimum(moved, _LAST)  # as Duration.add_to: never past the accepted window


def parse_micros_slowly(text: str | bytes) -> Ints:
    """Times in any form SQLite may hold them (written by another tool): one by one."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    values = [(read_stored(item) - EPOCH) // timedelta(microseconds=1) for item in text.split(",")]
    return np.array(values, dtype=np.int64)


@dataclass(frozen=True)
class EventColumns:
    pk: Ints
    seq: Ints
    at: Ints


def event_columns(columns: aggregates.Columns, time_format: str) -> EventColumns:
    keys = parse_ints(columns.keys, columns.count)
    return EventColumns(keys >> aggregates.SEQ_BITS, keys & ((1 << aggregates.SEQ_BITS) - 1),
                   parse_micros(columns.times, columns.count, time_format))


@dataclass(frozen=True)
class View:
    """One workflow's creations, steps and migrations, sorted by proposal and sequence number."""

    pk: Ints
    seq: Ints
    at: Ints
    group: Ints  # index into Log.groups


@dataclass(frozen=True)
class Log:
    groups: tuple[aggregates.StepGroup, ...]
    pk: Ints
    seq: Ints
    at: Ints
    group: Ints
    time_format: str

    def _sliced(self, counts: Ints, wanted: int, check: bool) -> list[View | None]:
        """Views of the first ``wanted`` runs of ``counts`` rows each (the log ordered by owner)."""
        ends = np.cumsum(counts).tolist()
        starts = [0, *ends[:-1]]
        views = [View(self.pk[start:end], self.seq[start:end], self.at[start:end], self.group[start:end])
                 for start, end in zip(starts[:wanted], ends[:wanted], strict=True)]
        return [self._checked(view) for view in views] if check else list(views)

    def _checked(self, view: View) -> View | None:
        if not view.pk.size:
            return view
        kinds = np.array([KIND_CODES[g.kind] for g in self.groups], dtype=np.int64)[view.group]
        first = run_starts(view.pk)
        sourceless = np.array([g.kind != CREATED and g.source is None for g in self.groups], dtype=bool)
        if bool((kinds[first] != KIND_CODES[CREATED]).any()) or bool(sourceless[view.group].any()):
            return None
        return view


NO_EVENTS = aggregates.Columns(0, "", "")


def split_groups(groups: list[aggregates.StepGroup], time_format: str, members: Sequence[Ints], *,
                 check: bool = True) -> list[View | None]:
    """The events of each set of proposals (``members[i]``: one workflow's; the sets disjoint),
    sorted by proposal and sequence: the columns put in order workflow by workflow (a stable
    sort on a small key) and each view a slice of them, where filtering the whole log once per
    workflow would cost its length times the number of workflows. ``check``: a view the
    column-wise analysis cannot take (a history that does not start with its creation, a step
    with no source) is None. Memory: each group's text is let go once parsed (``groups[i]``
    becomes the group without it — the caller's list, so hold no other reference to it), the
    parts are joined once and the columns ordered one at a time; at 10M events the text is
    some 400 MB, a column 80 MB."""
    parts = []
    for index, group in enumerate(groups):
        parts.append(event_columns(group.events, time_format))
        groups[index] = replace(group, events=NO_EVENTS)
    names = tuple(groups)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Log(names, empty, empty, empty, empty, time_format)._sliced(
            np.zeros(len(members) + 1, dtype=np.int64), len(members), check)
    sizes = [part.pk.size for part in parts]
    pk = np.concatenate([part.pk for part in parts])
    seq = np.concatenate([part.seq for part in parts])
    at = np.concatenate([part.at for part in parts])
    del parts
    order = event_order(pk, seq)
    owner = owners(pk, members)[order]
    if owner.size and int(owner.min()) != int(owner.max()):  # one set holding them all: in order already
        order = order[_by_owner(owner, len(members))]
    counts = np.bincount(owner, minlength=len(members) + 1)
    del owner
    pk = pk[order]
    seq = seq[order]
    at = at[order]
    group_of = np.repeat(np.arange(len(names), dtype=np.int64), sizes)[order]
    return Log(names, pk, seq, at, group_of, time_format)._sliced(counts, len(members), check)


def _by_owner(owner: Ints, sets: int) -> Ints:
    """The stable order by owner: a radix sort on 16 bits where there are fewer than 65,535 sets."""
    return np.argsort(owner.astype(np.uint16) if sets < 65_535 else owner, kind="stable")


def owners(pk: Ints, members: Sequence[Ints]) -> Ints:
    """For each of ``pk``, the index of the set among ``members`` that holds it (``len(members)``
    for none): a lookup table where keys are small, as they are, else a binary search."""
    none = len(members)
    sizes = [m.size for m in members]
    if not pk.size or not sum(sizes):
        return np.full(pk.size, none, dtype=np.int64)
    every = np.concatenate(members)
    which = np.repeat(np.arange(none, dtype=np.int64), sizes)
    top = max(int(pk.max()), int(every.max()))
    if min(int(pk.min()), int(every.min())) >= 0 and top <= 50_000_000:
        table = np.full(top + 1, none, dtype=np.int64)
        table[every] = which
        found: Ints = table[pk]
        return found
    order = np.argsort(every)
    every, which = every[order], which[order]
    position = np.minimum(np.searchsorted(every, pk), every.size - 1)
    return np.where(every[position] == pk, which[position], none)


def event_order(pk: Ints, seq: Ints) -> Ints:
    """The order by proposal, then sequence number. The database hands each group over in that
    order already, so a stable sort (a merge of sorted runs) is cheap."""
    return np.argsort((pk << aggregates.SEQ_BITS) | seq, kind="stable")


def is_member(pk: Ints, members: Ints) -> Flags:
    """Which of ``pk`` are among ``members``: a lookup table where keys are small, as they are."""
    if not pk.size or not members.size:
        return np.zeros(pk.size, dtype=bool)
    top = max(int(pk.max()), int(members.max()))
    if min(int(pk.min()), int(members.min())) < 0 or top > 50_000_000:
        return np.isin(pk, members)
    table = np.zeros(top + 1, dtype=bool)
    table[members] = True
    return table[pk]


def run_starts(keys: Ints) -> Flags:
    """True where a run of equal keys begins."""
    flags = np.ones(keys.size, dtype=bool)
    flags[1:] = keys[1:] != keys[:-1]
    return flags


def days_of(micros: Ints) -> Floats:
    """As stalls._days: seconds as timedelta.total_seconds gives them, then days, never negative."""
    return np.maximum(micros.astype(np.float64) / 1e6 / 86400.0, 0.0)


@functools.lru_cache(maxsize=4096)
def month_text(code: int) -> str:
    return f"{1970 + code // 12:04d}-{code % 12 + 1:02d}"


def spreads_by_key(keys: Ints, values: Floats) -> dict[int, Spread]:
    """Spread.of the values of each key, with figures.quantile's arithmetic on the same ranks.

    The values put in order of key once (a radix sort where keys span less than 16 bits), each
    key's run sorted in place (numpy's vectorised sort of doubles), then the ranks the quantiles
    read, the ones above them and the largest read off for every key at once: the operations of
    :func:`flowengine.analysis.figures.quantile` on the same doubles, elementwise."""
    if not keys.size:
        return {}
    low, high = int(keys.min()), int(keys.max())
    small = keys - low if high - low < 32_000 else keys  # 16 bits: numpy sorts them by radix
    order = np.argsort(small.astype(np.int16) if small is not keys else keys, kind="stable")
    keys, values = keys[order], values[order]  # copies: sorted in place below
    starts = np.flatnonzero(run_starts(keys))
    ends = np.append(starts[1:], keys.size)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        values[start:end].sort()
    sizes = ends - starts
    last = ends - 1

    def quantiles(q: float) -> Floats:
        position = (sizes - 1) * q
        floor = np.floor(position)
        rank = starts + floor.astype(np.int64)
        low_value, high_value = values[rank], values[np.minimum(rank + 1, last)]
        found: Floats = low_value + (high_value - low_value) * (position - floor)
        return found

    return {key: Spread(size, median, p90, top) for key, size, median, p90, top in zip(
        keys[starts].tolist(), sizes.tolist(), quantiles(0.5).tolist(), quantiles(0.9).tolist(), values[last].tolist(),
        strict=True)}


def distinct(keys: Ints) -> Ints:
    """The distinct values, ascending: ``np.unique`` without counts asks ``np.ma`` whether its
    input is masked, and the first such call imports numpy.ma (some 50 ms of a process's CPU)."""
    ordered = np.sort(keys)
    found: Ints = ordered[run_starts(ordered)]
    return found


_COUNTED = 1 << 22  # keys below this are counted by np.bincount (a table of at most 32 MB), not a sort


def counted(keys: Ints) -> tuple[Ints, Ints]:
    """The distinct keys, ascending, and how many of each (``np.unique(..., return_counts=True)``;
    by a table, in one pass, where the keys are small and not negative, as codes are)."""
    if keys.size and int(keys.min()) >= 0 and int(keys.max()) < _COUNTED:
        table = np.bincount(keys)
        found: Ints = np.flatnonzero(table)
        return found, table[found]
    values, counts = np.unique(keys, return_counts=True)
    return values, counts


def count_keys(keys: Ints) -> dict[int, int]:
    values, counts = counted(keys)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def by_month(names: Ints, months: Ints) -> dict[int, dict[str, int]]:
    """Per name, how many of each month (texts ``YYYY-MM``), months ascending."""
    found: dict[int, dict[str, int]] = {}
    if not names.size:
        return found
    base = int(months.min())
    span = int(months.max()) - base + 1
    texts = [month_text(base + offset) for offset in range(span)]  # a log spans few months, many events
    keys, counts = counted(names * span + (months - base))
    owner = keys // span
    starts = np.flatnonzero(run_starts(owner)).tolist()
    month_texts = [texts[offset] for offset in (keys % span).tolist()]
    numbers = counts.tolist()
    for start, end, name in zip(starts, [*starts[1:], keys.size], owner[starts].tolist(), strict=True):
        found[name] = dict(zip(month_texts[start:end], numbers[start:end], strict=True))
    return found
