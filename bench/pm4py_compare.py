"""A discovered workflow's figures against PM4Py's on the same log: where they agree, where they
differ, and why.

    python bench/pm4py_compare.py [LOG …]   (default: both logs in tests/fixtures/eventlogs/)

Needs ``pip install -e '.[bench]'`` (PM4Py is AGPL: used by this script only, never by
flowengine or its tests). For each log: ``flowengine workflow discover`` drafts a workflow, the
log is imported under it into a fresh SQLite file and analysed as of its last event; PM4Py
reads the same file (``pm4py.read_xes``, or ``pandas.read_csv`` + ``format_dataframe``) and
computes its directly-follows graph with raw durations (``discover_performance_dfg``), its
start and end activities, and per activity the durations of the edges leaving it (the sojourn
a process-mining tool ranks states by). Prints, per log, the edges and activities whose count,
median or p90 differ beyond 1e-9 days, and every edge only one side has.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
LOGS = (ROOT / "tests" / "fixtures" / "eventlogs" / "receipt.csv",
        ROOT / "tests" / "fixtures" / "eventlogs" / "roadtraffic100traces.xes")
DAY = 86_400.0
TOLERANCE = 1e-9


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * 0.9
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pm4py_figures(log: Path) -> tuple[dict[tuple[str, str], list[float]], dict[str, int], dict[str, int]]:
    import pandas as pd
    import pm4py

    if log.suffix == ".xes":
        frame = pm4py.read_xes(str(log))
    else:
        frame = pd.read_csv(log)
        frame = pm4py.format_dataframe(frame, case_id="case:concept:name", activity_key="concept:name",
                                       timestamp_key="time:timestamp")
    dfg, starts, ends = pm4py.discover_performance_dfg(frame, perf_aggregation_key="raw_values")
    edges = {edge: [seconds / DAY for seconds in values] for edge, values in dfg.items()}
    return edges, dict(starts), dict(ends)


def flowengine_figures(log: Path, folder: Path) -> tuple[Any, dict[str, str], str]:
    from flowengine.eventlog.draft import discover_workflow
    from flowengine.eventlog.importer import import_log
    from flowengine.service.facade import FlowEngine

    draft, text = discover_workflow(log, workflow_id="drafted")
    (folder / "drafted.yaml").write_text(text, encoding="utf-8")
    with FlowEngine.open(str(folder / "flowengine.db"), workflow_dirs=[folder]) as flow:
        report = import_log(flow, log, "drafted", actor="archive")
        assert report.last_at is not None
        (analysis,) = flow.analyse(["drafted"], as_of=report.last_at)
    activity_of = {state.id: state.activity for state in draft.states}
    initial = next(state.activity for state in draft.states if state.initial)
    return analysis, activity_of, initial


def compare(log: Path) -> list[str]:
    edges, starts, ends = pm4py_figures(log)
    with tempfile.TemporaryDirectory() as tmp:
        analysis, activity_of, initial = flowengine_figures(log, Path(tmp))
    lines = [f"## {log.name}", "",
             f"PM4Py: {len(edges)} directly-follows edges, {sum(len(v) for v in edges.values()):,} pairs; "
             f"start activities {starts}; {len(ends)} end activities", ""]
    ours = {(activity_of[t.source], activity_of[t.target]): t for t in analysis.transitions if t.taken}
    differ = 0
    for edge in sorted(set(edges) | set(ours)):
        days = edges.get(edge)
        figures = ours.get(edge)
        if days is None or figures is None:
            side = "flowengine only" if days is None else "PM4Py only"
            taken = figures.taken if figures is not None else len(days or [])
            lines.append(f"- {edge[0]} → {edge[1]}: {side} ({taken} times)")
            differ += 1
            continue
        spread = figures.days_before
        theirs = (len(days), statistics.median(days), p90(days))
        if spread.count != theirs[0] or abs((spread.median or 0) - theirs[1]) > TOLERANCE \
                or abs((spread.p90 or 0) - theirs[2]) > TOLERANCE:
            lines.append(f"- {edge[0]} → {edge[1]}: flowengine {spread.count} / {spread.median} / {spread.p90}, "
                         f"PM4Py {theirs[0]} / {theirs[1]} / {theirs[2]} (count / median / p90 days)")
            differ += 1
    sojourn: dict[str, list[float]] = defaultdict(list)
    for (source, _), days in edges.items():
        sojourn[source] += days
    for state in analysis.states:
        activity = activity_of.get(state.state)
        theirs_days = sojourn.get(activity or "", [])
        if state.passed.count != len(theirs_days) or (theirs_days and abs(
                (state.passed.median or 0) - statistics.median(theirs_days)) > TOLERANCE):
            lines.append(f"- time in {activity or state.state}: flowengine {state.passed.count} stays, median "
                         f"{state.passed.median}; PM4Py {len(theirs_days)} edges leaving it, median "
                         f"{statistics.median(theirs_days) if theirs_days else None}")
            differ += 1
    others = {a: n for a, n in starts.items() if a != initial}
    lines += ["", f"{differ} difference(s); cases that start elsewhere than the initial state ({initial}): "
              f"{sum(others.values())}", ""]
    return lines


def main() -> None:
    import pm4py

    logs = [Path(arg) for arg in sys.argv[1:]] or list(LOGS)
    print(f"PM4Py {pm4py.__version__}")
    for log in logs:
        print("\n".join(compare(log)))


if __name__ == "__main__":
    main()
