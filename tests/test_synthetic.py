"""The benchmarks' synthetic histories (bench/synthetic.py): deterministic, realistic, and valid
chains that the real service accepts."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from flowengine.definition.loader import check_file
from flowengine.history import chain
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, PROGRESS
from flowengine.service.facade import FlowEngine

from .conftest import REPO_ROOT

BENCH = REPO_ROOT / "bench"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_synthetic", BENCH / "synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


synthetic = _module()


def test_the_same_seed_gives_the_same_histories_and_another_seed_others() -> None:
    first = [(p, [e.hash for e in events]) for p, events in synthetic.generate(40, seed=3)]
    again = [(p, [e.hash for e in events]) for p, events in synthetic.generate(40, seed=3)]
    other = [(p, [e.hash for e in events]) for p, events in synthetic.generate(40, seed=4)]
    assert first == again
    assert first != other


def test_every_event_is_sealed_as_the_engine_seals_it() -> None:
    for _, events in synthetic.generate(30, seed=5):
        for event in events:
            assert chain.recompute(event) == event.hash


def test_the_histories_loop_stall_progress_and_end_every_way() -> None:
    histories = list(synthetic.generate(600, seed=1))
    kinds = Counter(e.kind for _, events in histories for e in events)
    triggers = Counter(e.trigger for _, events in histories for e in events if e.kind == ADVANCED)
    states = Counter(p.state for p, _ in histories)
    assert set(kinds) == {CREATED, ADVANCED, PROGRESS, FIELDS_SET}
    assert 8 <= sum(kinds.values()) / len(histories) <= 12  # about ten events a proposal
    assert {"send_back", "escalate", "return_to_administration", "continue_implementation"} <= set(triggers)
    finals = {"implemented", "partially_implemented", "rejected", "parked", "transferred", "withdrawn"}
    assert finals <= set(states)
    assert set(states) - finals  # some are still open
    escalations = [e for _, events in histories for e in events if e.trigger == "escalate"]
    assert all(e.role == "system" for e in escalations)
    longest = max((e.at - e.entered_at).days for _, events in histories for e in events if e.kind == ADVANCED)
    assert longest > 365  # long stalls


def test_the_workflow_of_the_histories_is_valid() -> None:
    assert check_file(BENCH / "synthetic-chain.yaml").ok


def test_a_database_written_through_the_store_passes_the_audit(db_target: str) -> None:
    events = synthetic.write_database(db_target, synthetic.generate(60, seed=2))
    with FlowEngine.open(db_target, workflow_dirs=[BENCH]) as engine:
        report = engine.verify()
        assert report.ok, report.as_dict()
        assert (report.proposals, report.events) == (60, events)
        (analysis,) = engine.analyse()
    assert analysis.workflow.id == "synthetic-chain" and analysis.proposals == 60


@pytest.mark.sqlite_only
def test_a_database_written_with_executemany_passes_the_audit(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.db"
    events = synthetic.write_sqlite(path, 80, seed=9)
    with FlowEngine.open(str(path), workflow_dirs=[BENCH]) as engine:
        report = engine.verify()
    assert report.ok, report.as_dict()
    assert (report.proposals, report.events) == (80, events)
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored == events


def test_the_csv_holds_one_row_per_state_entered(tmp_path: Path) -> None:
    histories = list(synthetic.generate(20, seed=6))
    rows = synthetic.write_csv(tmp_path / "log.csv", histories)
    lines = (tmp_path / "log.csv").read_text(encoding="utf-8").splitlines()
    entered = sum(1 for _, events in histories for e in events if e.kind in (CREATED, ADVANCED))
    assert rows == entered == len(lines) - 1
    assert lines[0] == "case:concept:name,concept:name,time:timestamp,trigger"
