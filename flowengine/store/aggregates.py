"""What the stall analysis of a large log reads: a few scans of covering indexes, each handing
back its columns as comma-separated text per group.

Fetching a million events as rows costs about a second in the driver alone; the same columns
as a few dozen strings cost a fraction of that, and :mod:`flowengine.analysis.columnar` parses them
in bulk. The scans read indexes (``ix_events_flow``, ``ix_events_commented``,
``ix_events_progress``, ``ix_proposals_workflow_state``), not the wide event rows. The caller
owns the transaction.

Times cross as text in one of two forms, named by :attr:`Scan.time_format`:

- ``"stored"`` (SQLite): as SQLite keeps them, ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC;
- ``"micros"`` (PostgreSQL): whole microseconds since 1970-01-01 UTC.

Within one group, every column lists the same events in the same order.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Text,
    and_,
    any_,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)

from flowengine.history.erasure import ACTOR
from flowengine.history.records import ADVANCED, CREATED, ERASED_STEP, MIGRATED, PROGRESS, SYSTEM
from flowengine.meter import Meter, no_meter
from flowengine.store import sqlite_scans
from flowengine.store.basics import read_moment
from flowengine.store.erasable import kept_actor
from flowengine.store.schema import erasable, events, proposals

T = TypeVar("T")
SEQ_BITS = sqlite_scans.SEQ_BITS  # key = proposal_pk * 2**24 + seq: one number (one text column) instead of two
STORED = "stored"
MICROS = "micros"
PHASES = 2  # units :func:`read` tells its meter: the steps read, the answering steps read


@dataclass(frozen=True)
class Columns:
    """Events as two comma-separated columns: each event's key (its proposal's primary key and
    sequence number in one number, :data:`SEQ_BITS`) and its time. Text as the driver hands it
    over: ``str``, or from SQLite's scans ``bytes`` (no decoding to Python text and back)."""

    count: int
    keys: str | bytes
    times: str | bytes


@dataclass(frozen=True)
class StepGroup:
    """The creations, steps or migrations with one kind, source, trigger and target."""

    kind: str
    source: str | None
    trigger: str | None
    target: str
    events: Columns


@dataclass(frozen=True)
class Member:
    """The proposals of one workflow (keys, comma-separated)."""

    workflow: str
    count: int
    proposals: str


@dataclass(frozen=True)
class Current:
    """What a stalled proposal's entry needs beyond the figures: its id and title, who acted last,
    and when (the last time it was heard of)."""

    id: str
    title: str
    workflow: str
    last_actor: str
    last_role: str
    last_at: datetime


@dataclass(frozen=True)
class Reading:
    """Everything the analysis of a moment reads in bulk, from one transaction."""

    steps: tuple[StepGroup, ...]
    answers: tuple[StepGroup, ...]
    members: tuple[Member, ...]


AnswerKey = tuple[str, str | None, str]  # source, trigger, target
Answering = Callable[[str, str | None, str], bool]  # (source, trigger, target) → may it answer the panel?


def read(conn: Connection, until: datetime | None, answering: Answering, meter: Meter = no_meter, *,
         beside: Callable[[], AbstractContextManager[Connection]] | None = None) -> Reading:
    """The steps (:func:`steps`), the commented ones of them that ``answering`` accepts
    (:func:`commented_steps`) and the workflows' members; the meter is told :data:`PHASES` units.

    ``beside`` opens another read transaction on the same SQLite database. When it sees the
    same snapshot as ``conn`` (the same newest event: SQLite commits one writer at a time and
    numbers events in that order, and never deletes one), the answering steps and the members
    are read there, on the second core, while ``conn`` reads the steps; otherwise, and without
    ``beside`` or on another database, one after the other on ``conn``. None of it needs numpy:
    the analysis imports numpy meanwhile."""

    def answers_and_members(other: Connection, keys: list[AnswerKey]) -> tuple[tuple[StepGroup, ...],
                                                                                tuple[Member, ...]]:
        return tuple(commented_steps(other, until, keys)), tuple(members(other))

    elsewhere = None
    group_keys = None
    # Elsewhere (PostgreSQL) the order of event keys need not be that of commits: no second reader.
    if conn.dialect.name == "sqlite":
        snapshot = newest_event(conn)  # also fixes conn's snapshot: SQLite takes it at the first read
        group_keys = _group_keys(conn)
        if beside is not None:
            keys = _answer_keys(group_keys, answering)
            elsewhere = _Beside(beside, snapshot, lambda other: answers_and_members(other, keys))
    groups = tuple(steps(conn, until, keys=group_keys))
    meter(1)
    rest = elsewhere.result() if elsewhere is not None else None
    if rest is None:
        keys = _answer_keys([(g.kind, g.source, g.trigger, g.target) for g in groups], answering)
        rest = answers_and_members(conn, keys)
    meter(1)
    return Reading(groups, *rest)


def _answer_keys(groups: Iterable[tuple[str, str | None, str | None, str]], answering: Answering) -> list[AnswerKey]:
    """The (source, trigger, target) of the steps among ``groups`` that may answer the panel."""
    return sorted({(source, trigger, target) for kind, source, trigger, target in groups
                   if kind == ADVANCED and source is not None and answering(source, trigger, target)},
                  key=lambda key: (key[0] or "", key[1] or "", key[2]))


def newest_event(conn: Connection) -> int:
    """The key of the newest event (0 in an empty database)."""
    return int(conn.execute(select(func.max(events.c.pk))).scalar() or 0)


def _group_keys(conn: Connection) -> list[tuple[str, str | None, str | None, str]]:
    """The distinct (kind, source, trigger, target) of creations, steps and migrations ever
    written: a superset of those up to any moment. SQLite finds them by seeking
    ``ix_events_flow`` once per key, skipping ahead rather than scanning (PostgreSQL would scan)."""
    query = (select(events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state).distinct()
             .where(events.c.kind.in_((CREATED, ADVANCED, MIGRATED))))
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(query)]


_THREAD_NAME = "analysis reader"  # what a debugger lists the second reading thread as


class _Beside(Generic[T]):
    """Work on another read transaction, on a thread of its own, when that sees ``snapshot``."""

    def __init__(self, opener: Callable[[], AbstractContextManager[Connection]], snapshot: int,
                 work: Callable[[Connection], T]) -> None:
        self._found: T | None = None
        self._thread = threading.Thread(target=self._run, args=(opener, snapshot, work), name=_THREAD_NAME,
                                        daemon=True)
        self._thread.start()

    def _run(self, opener: Callable[[], AbstractContextManager[Connection]], snapshot: int,
             work: Callable[[Connection], T]) -> None:
        # Any failure leaves the work to the caller's own connection, which reports it if it is real.
        with contextlib.suppress(Exception), opener() as other:
            if newest_event(other) == snapshot:
                self._found = work(other)

    def result(self) -> T | None:
        """The work's result; None when it was not done (another snapshot, or a failure)."""
        self._thread.join()
        return self._found


def time_format(conn: Connection) -> str:
    return STORED if conn.dialect.name == "sqlite" else MICROS


def _joined(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """group_concat (SQLite) or string_agg (PostgreSQL) of a column, ordered by event where the
    database does not promise one order for every aggregate of a group."""
    if conn.dialect.name == "sqlite":
        return func.group_concat(column)
    return _string_agg(column, events.c.proposal_pk, events.c.seq)


def _string_agg(column: ColumnElement[Any], *order: ColumnElement[Any]) -> ColumnElement[Any]:
    """PostgreSQL's string_agg, comma-separated, in the given order."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    return func.string_agg(cast(column, Text), aggregate_order_by(literal(","), *order))


def _time(conn: Connection) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return events.c.at  # stored text, parsed in bulk on the other side
    return _micros(events.c.at)


def _micros(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(func.round(func.extract("epoch", column) * 1_000_000), BigInteger)


def _until(conn: Connection, until: datetime | None) -> list[ColumnElement[bool]]:
    if until is None:
        return []
    if conn.dialect.name == "sqlite":
        # The unary plus keeps SQLite's planner on the covering index rather than ix_events_at,
        # which would fetch every row (it may choose so in a database never ANALYZEd).
        return [literal_column("+events.at", events.c.at.type) <= until]
    return [events.c.at <= until]


def _columns(count: Any, keys: Any, times: Any) -> Columns:
    return Columns(int(count or 0), keys or "", times or "")


def _key() -> ColumnElement[Any]:
    """An event's key: a proposal has far fewer than 2**24 (16 million) events."""
    return events.c.proposal_pk * (1 << SEQ_BITS) + events.c.seq


def steps(conn: Connection, until: datetime | None, *,
          keys: Iterable[tuple[str, str | None, str | None, str]] | None = None) -> list[StepGroup]:
    """Every creation, step and migration up to ``until``, grouped by kind, source, trigger and
    target (a few dozen groups). On SQLite a seek of ``ix_events_flow`` per group
    (:mod:`flowengine.store.sqlite_scans`; ``keys``: :func:`_group_keys`, when the caller has
    them); elsewhere one grouped scan of it."""
    if conn.dialect.name == "sqlite":
        found = sqlite_scans.flow_groups(conn, _group_keys(conn) if keys is None else keys,
                                         sqlite_scans.time_bound(conn, until))
        return [StepGroup(kind, source, trigger, target, Columns(count, key_text, time_text))
                for (kind, source, trigger, target), count, key_text, time_text in found]
    query = (select(events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state, func.count(),
                    _joined(conn, _key()), _joined(conn, _time(conn)))
             .where(events.c.kind.in_((CREATED, ADVANCED, MIGRATED)), *_until(conn, until))
             .group_by(events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state))
    return [StepGroup(row[0], row[1], row[2], row[3], _columns(*row[4:])) for row in conn.execute(query)]


def latest_progress(conn: Connection, until: datetime | None, pks: Iterable[int]) -> Columns:
    """The latest progress record up to ``until`` of each of the given proposals that has one (it
    restarts an implementation's clock): one seek each in the partial index ``ix_events_progress``.
    The keys carry no sequence number (it is 0); :func:`latest_progress_seqs` gives it."""
    return _latest_progress(conn, until, pks, with_seq=False)


def latest_progress_seqs(conn: Connection, until: datetime | None, pks: Iterable[int]) -> Columns:
    """As :func:`latest_progress`, with the record's sequence number in its key: whether it lies
    before or after the step that began the current stay when both happened at the same moment.
    Times never go back along a history, so the highest seq is the latest record."""
    return _latest_progress(conn, until, pks, with_seq=True)


def _latest_progress(conn: Connection, until: datetime | None, pks: Iterable[int], *, with_seq: bool) -> Columns:
    progress = (events.c.kind == literal_column(f"'{PROGRESS}'"),  # as in the index's WHERE
                events.c.proposal_pk == proposals.c.pk, *_until(conn, until))
    latest = select(func.max(events.c.at)).where(*progress).scalar_subquery()
    key: ColumnElement[Any] = proposals.c.pk * (1 << SEQ_BITS)
    if with_seq:
        key = key + select(func.max(events.c.seq)).where(*progress).scalar_subquery()
    rows = (select(key.label("pk"), latest.label("at"))
            .where(_among(conn, proposals.c.pk, pks)).subquery())
    columns: tuple[ColumnElement[Any], ColumnElement[Any]]
    if conn.dialect.name == "sqlite":
        columns = (func.group_concat(rows.c.pk), func.group_concat(rows.c.at))
    else:
        columns = (_string_agg(rows.c.pk, rows.c.pk), _string_agg(_micros(rows.c.at), rows.c.pk))
    count, key_text, time_text = conn.execute(select(func.count(), *columns).where(rows.c.at.is_not(None))).one()
    return _columns(count, key_text, time_text)


def _among(conn: Connection, column: ColumnElement[Any], pks: Iterable[int]) -> ColumnElement[bool]:
    """``column`` is one of ``pks``, the ids bound as one parameter: a statement compiled once,
    however many ids (an IN list binds one parameter each, and rebuilds the statement for each
    length)."""
    wanted = sorted({int(pk) for pk in pks})
    if conn.dialect.name == "sqlite":
        ids = func.json_each(literal(json.dumps(wanted), Text)).table_valued("value")
        return column.in_(select(ids.c.value))
    return column == any_(literal(wanted, ARRAY(BigInteger)))


def commented_steps(conn: Connection, until: datetime | None,
                    keys: Sequence[AnswerKey]) -> list[StepGroup]:
    """Steps of the given (source, trigger, target) with a comment, by anyone but the system, up
    to ``until``, grouped like :func:`steps`: the candidates for a proposal's first reasoned
    answer to the panel. Reads the partial index ``ix_events_commented``: on SQLite a seek per
    key (:mod:`flowengine.store.sqlite_scans`), elsewhere one scan."""
    if not keys:
        return []
    if conn.dialect.name == "sqlite":
        found = sqlite_scans.commented_groups(conn, keys, sqlite_scans.time_bound(conn, until))
        return [StepGroup(ADVANCED, source, trigger, target, Columns(count, key_text, time_text))
                for (source, trigger, target), count, key_text, time_text in found]
    # A literal constant, as in the partial index's own WHERE: a planner matches it, not a parameter.
    commented = and_(events.c.kind == ADVANCED, events.c.comment != literal_column("''"))
    which = or_(*(and_(events.c.from_state == source,
                       events.c.trigger.is_(None) if trigger is None else events.c.trigger == trigger,
                       events.c.to_state == target) for source, trigger, target in keys))
    query = (select(events.c.from_state, events.c.trigger, events.c.to_state, func.count(),
                    _joined(conn, _key()), _joined(conn, _time(conn)))
             .where(commented, events.c.role != SYSTEM, which, *_until(conn, until))
             .group_by(events.c.from_state, events.c.trigger, events.c.to_state))
    return [StepGroup(ADVANCED, row[0], row[1], row[2], _columns(*row[3:])) for row in conn.execute(query)]


def members(conn: Connection) -> list[Member]:
    """Which proposals belong to which workflow (from ``ix_proposals_workflow_state`` alone)."""
    query = (select(proposals.c.workflow, func.count(), _joined_plain(conn, proposals.c.pk))
             .group_by(proposals.c.workflow))
    return [Member(row[0], int(row[1]), row[2] or "") for row in conn.execute(query)]


def _joined_plain(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A column's values comma-separated (one aggregate per query: no order to agree on)."""
    if conn.dialect.name == "sqlite":
        return func.group_concat(column)
    return func.string_agg(cast(column, Text), literal(","))


def current(conn: Connection, pks: Iterable[int], until: datetime | None) -> dict[int, Current]:
    """Id, title and workflow of the given proposals, and who acted last up to ``until``, when. An
    erasure step is no activity of its proposal: who acted last is who recorded its newest other step."""
    if conn.dialect.name == "sqlite":
        return {pk: Current(id_, title, workflow, kept_actor(actor, kept), role, read_moment(at))
                for pk, id_, title, workflow, actor, role, at, kept in sqlite_scans.last_heard(conn, pks, until)}
    earlier = events.alias("earlier")
    last = (select(func.max(earlier.c.seq))
            .where(earlier.c.proposal_pk == proposals.c.pk, earlier.c.kind != ERASED_STEP,
                   *([earlier.c.at <= until] if until is not None else [])).scalar_subquery())
    query = (select(proposals.c.pk, proposals.c.id, proposals.c.title, proposals.c.workflow, events.c.actor,
                    events.c.role, events.c.at, erasable.c.value)
             .join_from(proposals, events, events.c.proposal_pk == proposals.c.pk)
             .outerjoin(erasable, and_(erasable.c.proposal_pk == events.c.proposal_pk, erasable.c.seq == events.c.seq,
                                       erasable.c.item == ACTOR))
             .where(_among(conn, proposals.c.pk, pks), events.c.seq == last))
    return {int(pk): Current(id_, title, workflow, kept_actor(actor, kept), role, at)
            for pk, id_, title, workflow, actor, role, at, kept in conn.execute(query)}


