"""The national data set (bench/national.py) at a tiny scale: municipal variants of the bundled
chains, histories that loop, stall and end every way, reproducible, and valid chains that the
real service accepts and moves on."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from itertools import pairwise
from types import ModuleType

import pytest

from flowengine.errors import NotFound
from flowengine.history.records import ADVANCED, CREATED, NOTED, PROGRESS, Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import queries

from .conftest import REPO_ROOT, FixedClock


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_national", REPO_ROOT / "bench" / "national.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


national = _module()
SCALE = 0.001  # 1,000 proposals, about 10,000 events


def test_each_municipality_runs_its_own_variant_of_a_bundled_chain() -> None:
    found = national.variants(14)
    assert len({v.id for v in found}) == len({v.prefix for v in found}) == len({v.digest for v in found}) == 14
    assert {v.id.rsplit("-", 1)[0] for v in found} == {"trondheim", "melhus", "stjordal", "ostersund", "timra",
                                                       "innovation-chain"}
    assert all(2 <= len(v.prefix) <= 6 and v.prefix.isupper() for v in national.variants(650))


def test_the_same_seed_gives_the_same_histories_and_another_seed_others() -> None:
    chosen = national.variants(6)

    def hashes(seed: int) -> list[str]:
        return [e.hash for _, _, events, _ in national.histories(chosen, 60, seed) for e in events]

    assert hashes(3) == hashes(3)
    assert hashes(3) != hashes(4)


def test_the_data_set_does_not_depend_on_how_many_processes_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(national, "_CHUNK", 40)
    chosen = national.variants(6)
    jobs = national.plan(chosen, 600, 3)
    assert len(jobs) > len(chosen)  # a big municipality's proposals are cut into several jobs
    assert [j.first_pk for j in jobs] == [1 + sum(len(j.borns) for j in jobs[:i]) for i in range(len(jobs))]
    for dialect in ("sqlite", "postgresql"):
        alone = list(national._prepared_in_order(chosen, jobs, dialect, 0))
        assert list(national._prepared_in_order(chosen, jobs, dialect, 2)) == alone
    by_history = [e.hash for _, _, events, _ in national.histories(chosen, 600, 3) for e in events]
    assert by_history == [e.hash for job in jobs for _, _, events, _ in national.built(chosen, job) for e in events]


def test_histories_loop_stall_note_progress_and_end_every_way() -> None:
    chosen = national.variants(6)
    built = list(national.histories(chosen, 900, 1))
    kinds = Counter(e.kind for _, _, events, _ in built for e in events)
    assert {CREATED, ADVANCED, NOTED, PROGRESS} <= set(kinds)
    assert 8 <= sum(kinds.values()) / len(built) <= 12  # about ten events a proposal
    assert any(e.trigger and "back" in e.trigger for _, _, events, _ in built for e in events)  # loops
    stays = [(b.at - a.at).days for _, _, events, _ in built for a, b in pairwise(events)
             if b.kind == ADVANCED]
    assert max(stays) > 365  # long stalls
    outcomes = Counter(events[-1].to_state for _, _, events, _ in built)
    assert {"implemented", "rejected", "withdrawn", "parked"} <= set(outcomes)


def test_the_data_set_is_accepted_by_audit_and_the_service_moves_it_on(db_target: str) -> None:
    proposals, events = national.build(db_target, scale=SCALE, municipalities=6, seed=2, workers=2)
    assert proposals == 1000 and events > 8000
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        report = engine.verify()
        assert report.ok and (report.proposals, report.events) == (proposals, events)
        open_one = next(s for s in engine.each_proposal(sort="waiting") if any(
            not step.missing_fields for step in s.next_steps))
        step = next(step for step in open_one.next_steps if not step.missing_fields)
        moved = engine.advance(open_one.proposal.id, step.trigger, actor=Actor("kari", step.roles[0]),
                               comment="Moved on")
        assert moved.proposal.state == step.target
        assert len({s.proposal.workflow for s in engine.each_proposal()}) == 6


def test_a_database_with_proposals_is_refused(db_target: str) -> None:
    national.build(db_target, scale=0.00001, municipalities=2, seed=2)
    with pytest.raises(SystemExit, match="already holds proposals"):
        national.build(db_target, scale=0.00001, municipalities=2, seed=2)


def test_state_filters_over_many_definitions_build_each_definition_once_and_then_read_a_file(
        db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine import engine as engines

    national.build(db_target, scale=0.0001, municipalities=12, seed=2)
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        first = [s.proposal.id for s in engine.each_proposal(stage="implementation")]
    built: list[str] = []
    monkeypatch.setattr(engines, "_CACHE", {})  # a new process: nothing built in memory
    real = engines.compiled
    monkeypatch.setattr(engines, "compiled", lambda digest, *rest: built.append(digest) or real(digest, *rest))
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        again = [s.proposal.id for s in engine.each_proposal(stage="implementation", sort="id")]
    assert again == first and first
    assert len(set(built)) <= len({pid.rpartition("-")[0] for pid in first})  # the rows' own, not all 12


def test_many_workflows_are_declared_at_once_as_one_at_a_time(db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis of a whole national database looks its workflows up together: the same
    definitions as one at a time, the stored ones in one statement, no workflow file parsed."""
    from flowengine.definition import registry
    from flowengine.service.lookup import declared_workflows

    national.build(db_target, scale=0.00005, municipalities=6, seed=2)
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        with engine.database.read() as conn:
            names = [*queries.workflows_in_use(conn), "trondheim"]
        parsed: list[object] = []
        real = registry.read_candidate
        monkeypatch.setattr(registry, "read_candidate", lambda path: parsed.append(path) or real(path))
        one_by_one = [engine.declared_workflow(name) for name in names]
        of_one = list(parsed)
        parsed.clear()
        together = declared_workflows(engine, names)
    assert [w.content_hash for w in together] == [w.content_hash for w in one_by_one]
    assert [w.states for w in together] == [w.states for w in one_by_one]
    assert sorted(map(str, parsed)) == sorted(map(str, set(of_one)))  # the same files, each read once


def test_a_workflow_only_the_database_stores_is_found_without_parsing_any_workflow_file(
        db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine.definition import registry

    national.build(db_target, scale=0.00005, municipalities=6, seed=2)
    parsed: list[object] = []
    real = registry.read_candidate
    monkeypatch.setattr(registry, "read_candidate", lambda path: parsed.append(path) or real(path))
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        declared = engine.declared_workflow("melhus-001")
        (analysis,) = engine.analyse(["melhus-001"])
    assert declared.id == analysis.workflow.id == "melhus-001"
    assert parsed == []
    with FlowEngine.open(db_target) as engine, pytest.raises(NotFound, match="did you mean 'melhus'"):
        engine.declared_workflow("melhuss")  # in no file and not stored: what the files declare
