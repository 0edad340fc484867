"""What the stall analysis reads from SQLite (flowengine.store.sqlite_scans) and how the columnar
analysis turns it into numbers (flowengine.analysis.columnar.arrays): a covering seek per group
giving exactly the columns a grouped scan gives, the time bound left out only where it holds for
every event, times parsed as the slow path parses them, and spreads equal to Spread.of.

The end-to-end equality with the reference analysis is tests/test_stalls_fast.py's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, event, func, literal, select

from flowengine.analysis.columnar import arrays
from flowengine.analysis.figures import Spread
from flowengine.analysis.reference import answering
from flowengine.history.records import ADVANCED, CREATED, MIGRATED, SYSTEM
from flowengine.service.facade import FlowEngine
from flowengine.store import aggregates, sqlite_scans
from flowengine.store.schema import UTCDateTime, events

from .test_synthetic import BENCH, synthetic

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> str:
    target = str(tmp_path_factory.mktemp("reads") / "synthetic.db")
    synthetic.write_database(target, synthetic.generate(120, seed=5))
    return target


def _grouped(conn: Connection, until: datetime | None) -> list[tuple[Any, ...]]:
    """The columns as one grouped scan gives them (the statement the seeks replace)."""
    key = events.c.proposal_pk * (1 << aggregates.SEQ_BITS) + events.c.seq
    query = (select(events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state, func.count(),
                    func.group_concat(key), func.group_concat(events.c.at))
             .where(events.c.kind.in_((CREATED, ADVANCED, MIGRATED)),
                    *([events.c.at <= until] if until is not None else []))
             .group_by(events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state))
    return [tuple(row) for row in conn.execute(query)]


def _text(column: str | bytes) -> str | None:
    """A column as a Core statement's row gives it (None for no events)."""
    return (column.decode() if isinstance(column, bytes) else column) or None


def _moments(conn: Connection) -> list[datetime]:
    first, last = conn.execute(select(func.min(events.c.at), func.max(events.c.at))).one()
    middle = first + (last - first) / 2
    # Before everything, part-way (microseconds and none), exactly the newest event, after it.
    return [first - timedelta(days=1), middle, middle.replace(microsecond=0), last, last + timedelta(days=3)]


def test_a_seek_per_group_gives_the_grouped_scans_columns_in_its_order(stored: str) -> None:
    with FlowEngine.open(stored) as engine, engine.database.read() as conn:
        for until in [None, *_moments(conn)]:
            seeks = [(g.kind, g.source, g.trigger, g.target, g.events.count, _text(g.events.keys),
                      _text(g.events.times)) for g in aggregates.steps(conn, until)]
            assert seeks == _grouped(conn, until), until


def test_the_answering_steps_by_key_are_the_commented_steps_of_those_keys(stored: str) -> None:
    with FlowEngine.open(stored, workflow_dirs=[BENCH]) as engine, engine.database.read() as conn:
        keys = aggregates._answer_keys(aggregates._group_keys(conn),
                                       answering([engine.declared_workflow("synthetic-chain")]))
        assert keys
        for until in [None, *_moments(conn)]:
            found = aggregates.commented_steps(conn, until, keys)
            expected: dict[tuple[str | None, ...], list[tuple[int, str]]] = {}
            for key in keys:
                expected[key] = []
            rows = conn.execute(select(events.c.from_state, events.c.trigger, events.c.to_state, events.c.proposal_pk,
                                       events.c.seq, events.c.role, events.c.comment, events.c.kind)
                                .where(*([events.c.at <= until] if until is not None else []))
                                .order_by(events.c.proposal_pk, events.c.seq))
            for source, trigger, target, pk, seq, role, comment, kind in rows:
                if kind == ADVANCED and comment and role != SYSTEM and (source, trigger, target) in expected:
                    expected[(source, trigger, target)].append((pk, seq))
            got = {(g.source, g.trigger, g.target): g for g in found}
            in_scan_order = [(source, trigger, target) for kind, source, trigger, target, *_ in _grouped(conn, until)
                             if kind == ADVANCED and expected.get((source, trigger, target))]
            assert list(got) == in_scan_order
            assert in_scan_order or until is not None  # some to compare, at least over the whole log
            for key, group in got.items():
                pairs = [(k >> aggregates.SEQ_BITS, k & ((1 << aggregates.SEQ_BITS) - 1))
                         for k in map(int, str(_text(group.events.keys)).split(","))]
                assert pairs == expected[key] and group.events.count == len(pairs)


def test_the_time_bound_is_left_out_only_where_no_event_is_later(stored: str) -> None:
    with FlowEngine.open(stored) as engine, engine.database.read() as conn:
        newest = conn.execute(select(func.max(events.c.at))).scalar_one()
        assert sqlite_scans.time_bound(conn, None) is None
        assert sqlite_scans.time_bound(conn, newest) is None
        assert sqlite_scans.time_bound(conn, newest + timedelta(days=1)) is None
        assert sqlite_scans.time_bound(conn, newest - timedelta(microseconds=1)) is not None


@pytest.mark.parametrize("moment", [datetime(2019, 1, 1, tzinfo=UTC), datetime(2021, 6, 30, 23, 59, 59, 5, tzinfo=UTC),
                                    datetime(2020, 2, 29, 1, tzinfo=timezone(timedelta(hours=2)))])
def test_the_bound_is_the_text_a_core_statement_binds(stored: str, moment: datetime) -> None:
    with FlowEngine.open(stored) as engine, engine.database.read() as conn:
        bound = conn.execute(select(func.quote(literal(moment, UTCDateTime())))).scalar_one()
        assert bound == f"'{sqlite_scans.stored_time(conn, moment)}'"


def test_every_statement_of_the_read_seeks_a_covering_or_partial_index(stored: str, tmp_path: Path) -> None:
    """The read's scans are seeks on ix_events_flow (covering) and ix_events_commented, each with
    all four group columns; none scans a table."""
    with FlowEngine.open(stored, workflow_dirs=[BENCH]) as engine, engine.database.read() as conn:
        seen: list[tuple[str, Any]] = []

        def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                     _many: bool) -> None:
            if "group_concat" in statement and "FROM events" in statement:
                seen.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", remember)
        try:
            for until in (None, _moments(conn)[1]):
                aggregates.read(conn, until, answering([engine.declared_workflow("synthetic-chain")]))
        finally:
            event.remove(conn, "before_cursor_execute", remember)
        assert seen
        for statement, parameters in seen:
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                          parameters))
            assert ("COVERING INDEX ix_events_flow (kind=? AND from_state=? AND trigger=? AND to_state=?)" in plan
                    or "INDEX ix_events_commented (kind=? AND from_state=? AND trigger=? AND to_state=?)" in plan), plan
            assert "SCAN" not in plan, plan


def test_who_acted_last_is_read_for_exactly_the_proposals_asked(stored: str) -> None:
    with FlowEngine.open(stored) as engine, engine.database.read() as conn:
        moment = _moments(conn)[1]
        found = aggregates.current(conn, [3, 1, 2, 3, 10_000_000], moment)
        assert sorted(found) == [1, 2, 3]
        for pk, current in found.items():
            newest = conn.execute(select(events.c.at, events.c.role).where(events.c.proposal_pk == pk,
                                                                            events.c.at <= moment)
                                  .order_by(events.c.seq.desc()).limit(1)).one()
            assert (current.last_at, current.last_role) == (newest[0], newest[1])


# -- parsing and spreads ---------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(moments=st.lists(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
                        min_size=1, max_size=40))
def test_times_parse_as_the_stored_text_reads(moments: list[datetime]) -> None:
    text = ",".join(moment.isoformat(sep=" ", timespec="microseconds") for moment in moments)
    expected = [(moment.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) for moment in moments]
    assert arrays.parse_micros(text, len(moments), aggregates.STORED).tolist() == expected
    assert arrays.parse_micros(text.encode(), len(moments), aggregates.STORED).tolist() == expected  # SQLite's blobs


@pytest.mark.parametrize("bad", ["2020-01-01T10:00:00.000000", "2020-01-01 10:00:00.00000x",
                                 "2020/01/01 10:00:00.000000", "2020-01-01 10:00:00.000000;2020-01-01 10:00:00.000000"])
def test_times_in_another_form_go_the_slow_way(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(arrays, "parse_micros_slowly", lambda text: asked.append(text) or np.zeros(0, dtype=np.int64))
    good = "2021-03-04 05:06:07.000008"
    text = f"{good},{bad},{good}"
    arrays.parse_micros(text, text.count(",") + 1, aggregates.STORED)
    arrays.parse_micros(text.encode(), text.count(",") + 1, aggregates.STORED)
    assert asked == [text, text.encode()]


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(-3, 40), st.floats(0, 5000, allow_nan=False)), max_size=300))
def test_spreads_by_key_are_spread_of_each_keys_values(pairs: list[tuple[int, float]]) -> None:
    keys = np.array([key for key, _ in pairs], dtype=np.int64)
    values = np.array([value for _, value in pairs], dtype=np.float64)
    expected = {key: Spread.of([value for k, value in pairs if k == key]) for key in {key for key, _ in pairs}}
    assert arrays.spreads_by_key(keys, values) == expected


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.one_of(st.integers(0, 300), st.integers(-5, 5), st.integers(2**22 - 3, 2**40)), max_size=200))
def test_counting_keys_by_a_table_is_np_unique(keys: list[int]) -> None:
    column = np.array(keys, dtype=np.int64)
    values, counts = arrays.counted(column)
    expected_values, expected_counts = np.unique(column, return_counts=True)
    assert values.tolist() == expected_values.tolist() and counts.tolist() == expected_counts.tolist()
    assert arrays.distinct(column).tolist() == expected_values.tolist()
