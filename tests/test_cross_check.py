"""Every state's and transition's figures, on every real log in ``tests/fixtures/eventlogs/`` and
on each imported under a workflow ``flowengine workflow discover`` drafted from it, held to an
independent computation: the log read by the test's own readers, directly-follows durations
collected per case, and count, median and p90 computed by numpy (``np.median``,
``np.percentile(…, 90)``, linear between closest ranks) — not by flowengine's analysis.

Under a discovered workflow one thing differs from the directly-follows graph, by design: a case
whose first activity is not the initial state's is created in the initial state and stepped at
once to its first activity, a stay of zero days there and a step initial → first activity that
the log does not have. The oracle adds exactly that, so the rest must agree to 1e-9 days. The
derived log (every third case of the receipt log without its first event) has such cases.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from flowengine.analysis.figures import Analysis, Spread
from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Workflow
from flowengine.eventlog.draft import discover_workflow
from flowengine.eventlog.importer import import_log
from flowengine.service.facade import FlowEngine

from .databases import DatabaseTargets
from .test_real_log import DAY, EXAMPLES, LOGS, TOLERANCE, WORKFLOWS, Log, read_csv_log, read_xes_log

READERS = {".csv": read_csv_log, ".xes": read_xes_log}
ACTOR = "archive"


def derived_receipt(folder: Path) -> Path:
    """The receipt log with every third case's first event left out: cases that start elsewhere."""
    with (LOGS / "receipt.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    case_column = rows[0].index("case:concept:name")
    seen: dict[str, int] = {}
    kept = [rows[0]]
    for row in rows[1:]:
        case = row[case_column]
        if case not in seen:
            seen[case] = len(seen)
            if seen[case] % 3 == 2:
                continue
        kept.append(row)
    path = folder / "receipt-derived.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(kept)
    return path


@dataclass
class Expected:
    """Durations in days, keyed by state id, as the oracle computes them."""

    passed: dict[str, list[float]]
    edges: dict[tuple[str, str], list[float]]


def expected(log: Log, state_of: dict[str, str], initial: str) -> Expected:
    passed: dict[str, list[float]] = defaultdict(list)
    edges: dict[tuple[str, str], list[float]] = defaultdict(list)
    for events in log.values():
        first = state_of[events[0].activity]
        if first != initial:  # created in the initial state, stepped at once to its first activity
            passed[initial].append(0.0)
            edges[(initial, first)].append(0.0)
        for before, after in itertools.pairwise(events):
            days = (after.at - before.at) / DAY
            passed[state_of[before.activity]].append(days)
            edges[(state_of[before.activity], state_of[after.activity])].append(days)
    return Expected(passed, edges)


def assert_numpy(spread: Spread, days: list[float], what: str) -> None:
    assert spread.count == len(days), what
    if not days:
        return
    values = np.asarray(days, dtype=np.float64)
    assert spread.median == pytest.approx(float(np.median(values)), abs=TOLERANCE), what
    assert spread.p90 == pytest.approx(float(np.percentile(values, 90)), abs=TOLERANCE), what


@dataclass(frozen=True)
class Imported:
    name: str
    log: Log
    workflow: Workflow
    analysis: Analysis


SOURCES = ["receipt.csv", "roadtraffic100traces.xes", "discovered:receipt.csv",
           "discovered:roadtraffic100traces.xes", "discovered:receipt-derived.csv"]


@pytest.fixture(scope="module", params=SOURCES)
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             database_targets: DatabaseTargets) -> Iterator[Imported]:
    kind, _, name = str(request.param).rpartition(":")
    folder = tmp_path_factory.mktemp("cross-check")
    path = derived_receipt(folder) if name == "receipt-derived.csv" else LOGS / name
    log = READERS[path.suffix](path)
    as_of: datetime = max(event.at for events in log.values() for event in events)
    if kind == "discovered":
        draft, text = discover_workflow(path, workflow_id="drafted")
        (folder / "drafted.yaml").write_text(text, encoding="utf-8")
        workflows, workflow_id = folder, draft.id
    else:
        workflows, workflow_id = EXAMPLES, WORKFLOWS[name]
    target = database_targets.new(folder)
    with FlowEngine.open(target, workflow_dirs=[workflows], clock=lambda: as_of) as flow:
        report = import_log(flow, path, workflow_id, actor=ACTOR)
        assert report.cases == len(log)
        (analysis,) = flow.analyse([workflow_id], as_of=as_of)
    workflow = load_workflow(workflows / f"{workflow_id}.yaml")
    yield Imported(str(request.param), log, workflow, analysis)
    database_targets.drop(target)


def test_every_state_and_transition_agrees_with_numpy(imported: Imported) -> None:
    state_of = {state.label("en"): sid for sid, state in imported.workflow.states.items()}
    initial = imported.workflow.initial_state.id
    oracle = expected(imported.log, state_of, initial)
    for sid in imported.workflow.states:
        figures = imported.analysis.state(sid)
        assert figures is not None, sid
        assert_numpy(figures.passed, oracle.passed.get(sid, []), f"{imported.name}: time in {sid}")
    taken = {(t.source, t.target): t for t in imported.analysis.transitions if t.taken}
    assert set(taken) == set(oracle.edges), imported.name
    for edge, days in oracle.edges.items():
        assert taken[edge].taken == len(days), edge
        assert_numpy(taken[edge].days_before, days, f"{imported.name}: days before {edge}")
    assert imported.analysis.jumps == ()


def test_the_derived_log_has_cases_that_start_elsewhere(tmp_path: Path) -> None:
    path = derived_receipt(tmp_path)
    draft, _ = discover_workflow(path)
    initial = next(state for state in draft.states if state.initial)
    others = sum(state.starts for state in draft.states if not state.initial)
    assert others > 100 and initial.starts + others == len(read_csv_log(path))
