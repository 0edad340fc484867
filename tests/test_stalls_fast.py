"""The stall analysis from index scans (flowengine.analysis.columnar) gives exactly the reference's figures
(flowengine.analysis.reference.analyse walking every history): on the hand-built histories of the stall
tests, on the demo, on synthetic logs cut at several moments, and on generated histories with
every kind of event, migrations and undeclared jumps included.

"Exactly": every field of the two Analysis objects is equal, floats within 1e-9 days (they
come out bit for bit equal today), and so are their as_dict() forms.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from flowengine.analysis import reference as stalls
from flowengine.analysis.columnar import analyse_all, arrays
from flowengine.analysis.figures import Analysis
from flowengine.analysis.reference import analyse
from flowengine.clock import as_utc
from flowengine.definition.durations import Duration
from flowengine.definition.model import Workflow, content_hash
from flowengine.errors import StoreError
from flowengine.history import chain
from flowengine.history.records import (
    ADVANCED,
    CREATED,
    FIELDS_SET,
    MIGRATED,
    NOTED,
    PROGRESS,
    REMINDED,
    Actor,
    Event,
    Proposal,
    Step,
    Trail,
)
from flowengine.service.facade import FlowEngine
from flowengine.store import aggregates, queries
from flowengine.store.aggregates import PHASES

from .databases import DatabaseTargets
from .stall_histories import (
    AS_OF,
    CORRECTED,
    HISTORIES,
    JUMP,
    TINY,
    busy_implementation,
    day,
    open_ended,
    p90_history,
    tiny_workflow,
    trails,
    upto,
)
from .test_synthetic import BENCH, synthetic

TOLERANCE_DAYS = 1e-9


# -- comparing -------------------------------------------------------------------------------

def differences(fast: Any, reference: Any, path: str = "analysis") -> list[str]:
    """Every place the two differ: dataclasses field by field, floats within the tolerance."""
    if isinstance(fast, Workflow) and isinstance(reference, Workflow):
        return [] if fast is reference else [f"{path}: another workflow"]
    if dataclasses.is_dataclass(fast) and not isinstance(fast, type):
        if type(fast) is not type(reference):
            return [f"{path}: {type(fast).__name__} != {type(reference).__name__}"]
        found: list[str] = []
        for item in dataclasses.fields(fast):
            found += differences(getattr(fast, item.name), getattr(reference, item.name), f"{path}.{item.name}")
        return found
    if isinstance(fast, tuple | list) and isinstance(reference, tuple | list):
        if len(fast) != len(reference):
            return [f"{path}: {len(fast)} items != {len(reference)}: {fast!r:.300} != {reference!r:.300}"]
        found = []
        for index, (one, other) in enumerate(zip(fast, reference, strict=True)):
            found += differences(one, other, f"{path}[{index}]")
        return found
    if isinstance(fast, float) and isinstance(reference, float):
        same = math.isclose(fast, reference, rel_tol=0, abs_tol=TOLERANCE_DAYS)
        return [] if same else [f"{path}: {fast!r} != {reference!r}"]
    return [] if fast == reference and type(fast) is type(reference) else [f"{path}: {fast!r} != {reference!r}"]


def assert_same(fast: Analysis, reference: Analysis) -> None:
    found = differences(fast, reference)
    assert not found, "\n".join(found[:20])
    assert fast.as_dict() == reference.as_dict()


def compare_stored(target: str, workflows: Sequence[Workflow], moment: datetime) -> list[Analysis]:
    """Both analyses of every given workflow over one database; returns the fast ones."""
    with FlowEngine.open(target) as engine, engine.database.read() as conn:
        fast = analyse_all(conn, workflows, moment)
        for workflow, got in zip(workflows, fast, strict=True):
            assert_same(got, analyse(workflow, queries.trails(conn, until=moment, workflow=workflow.id), moment))
    return fast


# -- writing histories -------------------------------------------------------------------------

def sealed(trail: Trail, definition: str, workflow: Workflow) -> tuple[Proposal, list[Event]]:
    """A trail as the store keeps it: events in a hash chain, each with the entry of its stay."""
    made: list[Event] = []
    prev, entered = chain.GENESIS, trail.steps[0].at
    fields: dict[str, Any] = {}
    for seq, step in enumerate(trail.steps, start=1):
        if step.kind == CREATED:
            entered = step.at
        details: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        if step.kind == CREATED:
            details = {"title": trail.title, "description": "", "origin": "", "workflow": workflow.id,
                       "workflow_version": workflow.version, "definition": definition}
        elif step.kind == MIGRATED:
            details = {"from_definition": definition, "to_definition": definition, "map": {}}
        elif step.kind == FIELDS_SET:
            changes = {"note": f"set {seq}"}
        unsealed = Event(trail.proposal, seq, step.kind, step.trigger, step.source, step.target, step.actor,
                         step.role, as_utc(step.at), as_utc(entered), "because" if step.commented else "", changes,
                         details, None, prev, "")
        event = dataclasses.replace(unsealed, hash=chain.recompute(unsealed))
        made.append(event)
        prev = event.hash
        fields.update(changes)
        if step.kind == ADVANCED:
            entered = step.at
    last = made[-1]
    proposal = Proposal(
        id=trail.proposal, workflow=workflow.id, workflow_version=workflow.version, definition_hash=definition,
        title=trail.title, description="", origin="", state=last.to_state, fields=fields, created_at=made[0].at,
        updated_at=last.at, state_entered_at=as_utc(entered), version=last.seq, head_hash=last.hash,
        created_by=made[0].actor)
    return proposal, made


def store(target: str, histories: Sequence[Trail], text: str = TINY) -> None:
    workflow = tiny_workflow()
    definition = content_hash(text)
    synthetic.write_database(target, [sealed(t, definition, workflow) for t in histories], text=text,
                             source="tiny.yaml")


@pytest.fixture(scope="module")
def tiny() -> Workflow:
    return tiny_workflow()


_MIDWAY = Trail("TINY-8", "Midway", "tiny", (
    Step(ADVANCED, "submit", "draft", "council_review", "kari", "panel", day(1), False),
    Step(ADVANCED, "recommend", "council_review", "admin_review", "rita", "council", day(4), False)))
_SOURCELESS = Trail("TINY-8", "Sourceless", "tiny", (
    Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
    Step(ADVANCED, "submit", None, "council_review", "kari", "panel", day(3), False)))

SCENARIOS: dict[str, tuple[list[Trail], list[float], bool]] = {  # trails, days to look at, open-ended
    "the five tiny histories": (trails(), [-1, 0, 4.5, 9, 12, 26, 38, 40, 400], False),
    "without progress": (trails({**HISTORIES, "TINY-5": (3, [(5, "submit"), (7, "recommend"), (9, "approve")])}),
                         [38, 40], False),
    "everyone stuck in the council": (trails({f"TINY-{n}": (0, [(1, "submit")]) for n in range(1, 4)}), [41], False),
    "p90 where no deadline is declared": (trails(p90_history()), [4.5, 5.7, 30], False),
    "p90 in implementation from the last progress": (busy_implementation(), [100, 106], True),
    "little history": (trails({"TINY-1": (0, [(0, "submit"), (0, "recommend")])}), [400], False),
    "an undeclared jump": ([*trails(), JUMP], [40], False),
    "a correction of fields": ([CORRECTED], [6], False),
    # Histories flowengine never writes, which the column-wise view hands to the reference:
    "a history that starts after its creation": ([*trails(), _MIDWAY], [2, 40], False),
    "a step that names no source state": ([*trails(), _SOURCELESS], [40], False),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_stall_tests_histories_give_the_reference_figures(name: str, db_target: str, tiny: Workflow) -> None:
    histories, days, wide_open = SCENARIOS[name]
    store(db_target, histories)
    workflow = open_ended(tiny) if wide_open else tiny
    for when in days:
        moment = day(when)
        (fast,) = compare_stored(db_target, [workflow], moment)
        assert_same(fast, analyse(workflow, upto(moment, histories), moment))


def test_the_figures_through_the_service_are_the_references(db_target: str, tmp_path: Path, tiny: Workflow) -> None:
    store(db_target, trails())
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    told: list[int] = []
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path], clock=lambda: day(100)) as engine:
        (through,) = engine.analyse(as_of=AS_OF, meter=told.append)
    assert sum(told) == PHASES + 1
    assert through.as_of.utcoffset() is not None and through.as_of == AS_OF
    assert_same(dataclasses.replace(through, workflow=tiny, as_of=as_utc(through.as_of)),
                analyse(tiny, trails(), AS_OF))


# -- the second reader -------------------------------------------------------------------------

def _readings(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              beside: Callable[[FlowEngine], Callable[[], AbstractContextManager[Connection]]]
              ) -> tuple[aggregates.Reading, aggregates.Reading, list[bool]]:
    """The reading on one connection, and with ``beside``; and for each read of the answering
    steps, whether it ran on the main connection."""
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    answering = stalls.answering([tiny_workflow()])
    on_main: list[bool] = []
    with FlowEngine.open(target, workflow_dirs=[tmp_path], clock=lambda: day(100)) as engine:
        with engine.database.read() as conn:
            alone = aggregates.read(conn, AS_OF, answering)
        original = aggregates.commented_steps

        def watched(other: Connection, *args: Any) -> list[aggregates.StepGroup]:
            on_main.append(other is main)
            return original(other, *args)

        monkeypatch.setattr(aggregates, "commented_steps", watched)
        with engine.database.read() as main:
            together = aggregates.read(main, AS_OF, answering, beside=beside(engine))
    return alone, together, on_main


@pytest.mark.sqlite_only
def test_a_second_reader_on_the_same_snapshot_reads_the_answers_beside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "beside.db")
    store(target, trails())
    alone, together, on_main = _readings(target, tmp_path, monkeypatch, lambda engine: engine.database.read)
    assert on_main == [False]
    assert together == alone and alone.answers and alone.members


@pytest.mark.sqlite_only
def test_a_second_reader_that_sees_a_later_commit_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "later.db")
    store(target, trails())

    def after_a_new_proposal(engine: FlowEngine) -> Callable[[], AbstractContextManager[Connection]]:
        def opener() -> AbstractContextManager[Connection]:
            engine.new_proposal("tiny", title="Written meanwhile", actor=Actor("kari", "panel"))
            return engine.database.read()
        return opener

    alone, together, on_main = _readings(target, tmp_path, monkeypatch, after_a_new_proposal)
    assert on_main == [True]  # the answers were read again on the main snapshot
    assert together == alone  # which knows nothing of the new proposal
    with FlowEngine.open(target, workflow_dirs=[tmp_path]) as engine, engine.database.read() as conn:
        assert sum(m.count for m in aggregates.members(conn)) == sum(m.count for m in alone.members) + 1


@pytest.mark.sqlite_only
def test_a_second_reader_that_fails_leaves_the_work_to_the_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = str(tmp_path / "fails.db")
    store(target, trails())

    def broken(engine: FlowEngine) -> Callable[[], AbstractContextManager[Connection]]:
        def opener() -> AbstractContextManager[Connection]:
            raise StoreError("the second connection could not be opened")
        return opener

    alone, together, on_main = _readings(target, tmp_path, monkeypatch, broken)
    assert on_main == [True] and together == alone


# -- the demo and synthetic logs ---------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[tuple[str, Any]]:
    from flowengine.demo import load_demo, read_demo

    data = read_demo()
    target = database_targets.new(tmp_path_factory.mktemp("demo"), "demo.db")
    with FlowEngine.open(target, clock=lambda: data.as_of) as engine:
        load_demo(engine, data)
    yield target, data
    database_targets.drop(target)


def test_the_demo_gives_the_reference_figures(demo: tuple[str, Any]) -> None:
    target, data = demo
    with FlowEngine.open(target) as engine:
        with engine.database.read() as conn:
            names = queries.workflows_in_use(conn)
        workflows = [engine.declared_workflow(name) for name in names]
    for moment in (data.as_of, data.as_of - timedelta(days=400), datetime(2017, 6, 30, 12, tzinfo=UTC)):
        found = compare_stored(target, workflows, moment)
        if moment == data.as_of:
            assert sum(len(a.stalls) for a in found) > 0  # the demo's point: proposals stalled


@pytest.mark.parametrize("batch_events", [1, 1_000_000])
def test_many_workflows_ask_the_database_once_per_batch_and_need(
        demo: tuple[str, Any], batch_events: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Who acted last and the latest progress are read for a batch of workflows at once: all of
    the demo's in one batch, or one workflow a batch; the figures are the reference's either way."""
    from flowengine.analysis.columnar import batches

    target, data = demo
    asked: list[str] = []

    def counting(name: str) -> Callable[..., Any]:
        read = getattr(aggregates, name)

        def counted(*args: Any) -> Any:
            asked.append(name)
            return read(*args)
        return counted

    for name in ("current", "latest_progress", "latest_progress_seqs"):
        monkeypatch.setattr(aggregates, name, counting(name))
    monkeypatch.setattr(batches, "BATCH_EVENTS", batch_events)
    with FlowEngine.open(target) as engine:
        with engine.database.read() as conn:
            names = queries.workflows_in_use(conn)
        workflows = [engine.declared_workflow(name) for name in names]
    found = compare_stored(target, workflows, data.as_of)
    stalled = [a for a in found if a.stalls or a.quiet]
    assert len(stalled) > 1  # several workflows have someone to name
    if batch_events == 1:  # a batch a workflow: at most one statement each per workflow
        assert asked.count("current") == len(stalled)
    else:  # one batch: one statement per need, however many workflows
        assert asked.count("current") == 1
        assert asked.count("latest_progress") <= 1 and asked.count("latest_progress_seqs") <= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_logs_give_the_reference_figures(seed: int, db_target: str) -> None:
    synthetic.write_database(db_target, synthetic.generate(150, seed=seed))
    with FlowEngine.open(db_target, workflow_dirs=[BENCH]) as engine:
        workflow = engine.declared_workflow("synthetic-chain")
    moments = [synthetic.END, synthetic.END - timedelta(days=700, hours=5), datetime(2020, 3, 1, tzinfo=UTC),
               synthetic.START + timedelta(days=20), synthetic.START - timedelta(days=1)]
    for moment in moments:
        (fast,) = compare_stored(db_target, [workflow], moment)
        if moment == synthetic.END:  # its long waits have no record since: gone quiet, not stalled
            assert fast.quiet and fast.loops and fast.funnel.implemented


# -- generated histories ---------------------------------------------------------------------------

_OPEN = ["draft", "council_review", "admin_review", "implementation"]
_NAMES = [*_OPEN, "done", "rejected", "withdrawn", "limbo", "draft_v2", "old_review"]  # limbo & co: undeclared
_TRIGGERS = ["submit", "send_back", "recommend", "approve", "reject", "finish", "withdraw", "shortcut"]
_ROLES = ["panel", "council", "admin", "service", "system"]

_step = st.tuples(
    st.sampled_from([ADVANCED, ADVANCED, ADVANCED, PROGRESS, FIELDS_SET, REMINDED, MIGRATED, NOTED]),
    st.sampled_from(_TRIGGERS), st.sampled_from(_NAMES), st.sampled_from(_ROLES), st.booleans(),
    st.sampled_from([0, 0, 1, 2, 3, 5, 8, 13, 40, 95, 200]),  # hours after the step before: ties too
    st.integers(0, 59))  # and a few seconds more, microseconds included
_history = st.tuples(st.integers(0, 100), st.lists(_step, max_size=12))


def _generated(number: int, start_hours: int, steps: list[tuple[str, str, str, str, bool, int, int]]) -> Trail:
    base = day(0) + timedelta(hours=start_hours)
    made = [Step(CREATED, None, None, "draft", "kari", "panel", base, False)]
    state, at = "draft", base
    for kind, trigger, target, role, commented, hours, seconds in steps:
        at = at + timedelta(hours=hours, seconds=seconds, microseconds=seconds * 7919)
        if kind == ADVANCED:
            made.append(Step(ADVANCED, trigger, state, target, f"{role}-1", role, at, commented))
            state = target
        elif kind == MIGRATED:
            made.append(Step(MIGRATED, None, state, target, "system", "system", at, False))
            state = target
        else:
            made.append(Step(kind, None, state, state, f"{role}-2", role, at, commented))
    return Trail(f"TINY-{number}", f"Idea {number}", "tiny", tuple(made))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(_history, min_size=1, max_size=7), look=st.integers(-10, 2200), wide_open=st.booleans())
def test_generated_histories_give_the_reference_figures(
        histories: list[tuple[int, list[Any]]], look: int, wide_open: bool,
        tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets, tiny: Workflow) -> None:
    made = [_generated(number, start, steps) for number, (start, steps) in enumerate(histories, start=1)]
    target = database_targets.new(tmp_path_factory.mktemp("generated"), "generated.db")
    try:
        store(target, made)
        workflow = open_ended(tiny) if wide_open else tiny
        moment = day(0) + timedelta(hours=look, microseconds=look * 13)
        (fast,) = compare_stored(target, [workflow], moment)
        assert_same(fast, analyse(workflow, upto(moment, made), moment))
    finally:
        database_targets.drop(target)


# -- calendar arithmetic on columns ----------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(moments=st.lists(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2400, 12, 31)),
                        min_size=1, max_size=20),
       months=st.integers(0, 40), days=st.integers(0, 400), seconds=st.integers(0, 86399))
def test_adding_a_duration_to_a_column_of_times_is_duration_add_to(
        moments: list[datetime], months: int, days: int, seconds: int) -> None:
    duration = Duration(f"P{months}M{days}DT{seconds}S", months, timedelta(days=days, seconds=seconds))
    times = [moment.replace(tzinfo=UTC) for moment in moments]
    # Month ends and 29 February, where the clamp matters, whatever the draw.
    times += [datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC),
              datetime(2023, 8, 31, 12, tzinfo=UTC), datetime(1969, 12, 31, 23, tzinfo=UTC)]
    micros = np.array([(t - _EPOCH) // timedelta(microseconds=1) for t in times], dtype=np.int64)
    expected = [(duration.add_to(t) - _EPOCH) // timedelta(microseconds=1) for t in times]
    assert arrays.add_duration(duration, micros).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(moments=st.lists(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), min_size=1,
                        max_size=30),
       spread_over_millennia=st.booleans())
def test_months_of_a_column_of_times_are_the_calendars(moments: list[datetime], spread_over_millennia: bool) -> None:
    """Both ways of working them out: per day through a table, and per event when the times span
    more days than the table may hold."""
    times = [moment.replace(tzinfo=UTC) for moment in moments]
    if spread_over_millennia:
        times += [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)]
    micros = np.array([(t - _EPOCH) // timedelta(microseconds=1) for t in times], dtype=np.int64)
    expected = [(t.year - 1970) * 12 + t.month - 1 for t in times]
    assert arrays.month_codes(micros).tolist() == expected


# -- the command line --------------------------------------------------------------------------

def test_the_stalls_commands_draw_a_bar_on_a_terminal_and_not_with_quiet(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine_cli import meter

    from flowengine.service import quick

    from .cli_support import make_run, ok

    store(db_target, trails())
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    run = make_run(db_target, "2019-02-10T12:00")
    monkeypatch.setattr(meter, "bar_wanted", lambda quiet: not quiet)  # as if standard error were a terminal
    diagram = str(tmp_path / "tiny-stalls.dot")
    for args in (["stalls", "report", "--workflow", "tiny"], ["stalls", "diagram", "tiny", "-o", diagram],
                 ["stalls", "compare", "tiny"]):
        drawn = ok(run(*args, env={"FLOWENGINE_WORKFLOWS": str(tmp_path)}))
        if args[1] == "diagram":  # a small workflow is read in a fraction of a second: no bar
            assert drawn.stderr == "", args
            with monkeypatch.context() as larger:  # a larger one goes through the engine, with its bar
                larger.setattr(quick, "SMALL_EVENTS", 0)
                drawn = ok(run(*args, env={"FLOWENGINE_WORKFLOWS": str(tmp_path)}))
                assert drawn.stderr.startswith("analysing"), args
                quiet = ok(run(*args, "--quiet", env={"FLOWENGINE_WORKFLOWS": str(tmp_path)}))
                assert quiet.stderr == "" and quiet.stdout == drawn.stdout, args
        else:
            assert drawn.stderr.startswith("analysing"), args
        quiet = ok(run(*args, "--quiet", env={"FLOWENGINE_WORKFLOWS": str(tmp_path)}))
        assert quiet.stderr == "" and quiet.stdout == drawn.stdout, args


def test_a_workflow_without_a_step_yet_beside_a_variant_that_sent_one_back_gives_the_reference_figures(
        db_target: str) -> None:
    """A batch's step groups are read for all its workflows at once: a workflow whose proposals had
    taken no step by the moment, beside a variant of the same chain that had sent one back, once
    ended in an internal error (the largest key of no steps) — at these moments of this data set."""
    from .test_national import national

    national.build(db_target, scale=0.0001, municipalities=6, seed=2, workers=0)
    with FlowEngine.open(db_target) as engine:
        with engine.database.read() as conn:
            names = queries.workflows_in_use(conn)
        workflows = [engine.declared_workflow(name) for name in names]
    for moment in (datetime(2017, 4, 1, tzinfo=UTC), datetime(2017, 10, 1, tzinfo=UTC)):
        found = compare_stored(db_target, workflows, moment)
        assert any(not a.loops for a in found) and any(a.loops for a in found)
