"""The stall analysis on two real public event logs, held to an independent process-mining computation.

The logs (``tests/fixtures/eventlogs/``, provenance in the README there) are read as workflow
histories the way process mining reads them: each case is a proposal; the state after an
event is the activity just completed; the case's first event creates it in that state; a
directly-follows pair (a → b) is a step from ``a`` to ``b`` with trigger ``b``, taken
``time(b) - time(a)`` after ``a`` was entered. The events of a case are sorted stably by time,
so events with equal timestamps keep the order of the file.

The workflow is generated from what the log shows, so that the time in a state is exactly
the durations of the directly-follows edges leaving its activity (PM4Py's performance DFG):

- one state per activity (id: the activity's name as a slug; label: the name itself). The
  initial state is the activity every case starts with (the language allows one initial
  state; both logs have a single start activity);
- an activity that never leads anywhere is final (outcome ``transferred``: the case leaves the
  log there). An activity that ends some cases but leads on in others cannot be final (a
  final state has no way out, FE209), so it stays open and the cases that end there count as
  *waiting* there. To keep every open state able to reach a final one (FE208), each of these
  gets a declared transition ``end`` to a synthetic final state ``ended`` that no case takes;
- the other declared transitions are exactly the directly-follows pairs seen, in the order
  first seen. No deadlines are declared: a log knows none.

The as-of moment is the log's last event, so no directly-follows pair is cut off and every
pair is a finished ("passed") stay; the waiting stays only count toward ``stays`` and the
severity.

The oracle computes the same figures by another route: durations collected per case with
``itertools.pairwise`` and ``timedelta`` division, keyed by activity name (not by state id),
and summarised with :mod:`statistics` (its ``inclusive`` quantiles are numpy's and PM4Py's
linear interpolation).
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import statistics
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowengine.figures import Analysis, Spread
from flowengine.loader import check_text
from flowengine.model import Workflow
from flowengine.records import ADVANCED, CREATED, Step, Trail
from flowengine.stalls import analyse

LOGS = Path(__file__).resolve().parent / "fixtures" / "eventlogs"
DAY = timedelta(days=1)
TOLERANCE = 1e-9  # days
ROLE = "office"
END, ENDED = "end", "ended"  # the synthetic way out of activities that end some cases but not all
RESERVED = ("trigger", "state", END, ENDED)


# -- reading a log ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LogEvent:
    case: str
    activity: str
    at: datetime
    resource: str


Log = dict[str, list[LogEvent]]  # case id → its events, oldest first


def _by_case(events: Iterable[LogEvent]) -> Log:
    cases: dict[str, list[LogEvent]] = {}
    for event in events:
        cases.setdefault(event.case, []).append(event)
    return {case: sorted(found, key=lambda e: e.at) for case, found in cases.items()}  # stable


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"timestamp {text!r} has no offset"
    return moment


def read_csv_log(path: Path) -> Log:
    """A CSV log with XES column names."""
    with path.open(newline="", encoding="utf-8") as handle:
        return _by_case(LogEvent(row["case:concept:name"], row["concept:name"], _moment(row["time:timestamp"]),
                                 row.get("org:resource") or "")
                        for row in csv.DictReader(handle))


def _tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]  # with or without the XES namespace


def _attributes(element: ET.Element) -> dict[str, str]:
    return {child.get("key", ""): child.get("value", "") for child in element if child.get("key")}


def read_xes_log(path: Path) -> Log:
    """An XES log: ``<trace>`` elements of the ``<log>``, each with its ``<event>`` elements."""
    events = []
    for trace in (child for child in ET.parse(path).getroot() if _tag(child) == "trace"):
        case = _attributes(trace)["concept:name"]
        for event in (child for child in trace if _tag(child) == "event"):
            found = _attributes(event)
            events.append(LogEvent(case, found["concept:name"], _moment(found["time:timestamp"]),
                                   found.get("org:resource", "")))
    return _by_case(events)


# -- the log as a workflow and its histories -------------------------------------------------

def slug(activity: str) -> str:
    """A state id (``[a-z][a-z0-9_]*``) for an activity name."""
    text = re.sub(r"[^a-z0-9]+", "_", activity.lower()).strip("_")
    if not text[:1].isalpha() or text in RESERVED or text.startswith(("is_", "to_", "may_")):
        text = f"a_{text}"
    return text


def workflow_text(workflow_id: str, log: Log) -> str:
    activities: dict[str, str] = {}  # state id → activity, in the order first seen
    pairs: dict[tuple[str, str], None] = {}
    starts: set[str] = set()
    ends: set[str] = set()
    for events in log.values():
        ids = [slug(event.activity) for event in events]
        for sid, event in zip(ids, events, strict=True):
            assert activities.setdefault(sid, event.activity) == event.activity, f"two activities share id {sid}"
        starts.add(ids[0])
        ends.add(ids[-1])
        for source, target in itertools.pairwise(ids):
            pairs.setdefault((source, target))
    assert len(starts) == 1, f"one initial state is allowed, the log starts with {sorted(starts)}"
    leading = {source for source, _ in pairs}
    open_ends = [sid for sid in activities if sid in ends and sid in leading]
    lines = [f"id: {workflow_id}", "version: 1", "prefix: LOG", f"title: {json.dumps(workflow_id)}",
             "roles:", f"  {ROLE}: {{kind: administration}}", "states:"]
    for sid, activity in activities.items():
        label = f"labels: {{en: {json.dumps(activity)}}}"
        if sid not in leading:
            lines.append(f"  {sid}: {{final: true, outcome: transferred, {label}}}")
        else:
            initial = "initial: true, " if sid in starts else ""
            lines.append(f"  {sid}: {{{initial}stage: administration, owner: {ROLE}, {label}}}")
    if open_ends:
        lines.append(f"  {ENDED}: {{final: true, outcome: transferred}}")
    lines.append("transitions:")
    lines += [f"  - {{trigger: {target}, from: {source}, to: {target}, roles: [{ROLE}]}}" for source, target in pairs]
    if open_ends:
        lines.append(f"  - {{trigger: {END}, from: [{', '.join(open_ends)}], to: {ENDED}, roles: [{ROLE}]}}")
    return "\n".join(lines) + "\n"


def trails(workflow_id: str, log: Log) -> list[Trail]:
    result = []
    for case, events in log.items():
        first = events[0]
        steps = [Step(CREATED, None, None, slug(first.activity), first.resource or "unknown", ROLE,
                      first.at.astimezone(UTC), False)]
        for event in events[1:]:
            state = slug(event.activity)
            steps.append(Step(ADVANCED, state, steps[-1].target, state, event.resource or "unknown", ROLE,
                              event.at.astimezone(UTC), False))
        result.append(Trail(case, case, workflow_id, tuple(steps)))
    return result


# -- the oracle ------------------------------------------------------------------------------

@dataclass
class Oracle:
    """Directly-follows durations in days, keyed by activity name."""

    dwell: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # edges leaving it
    edges: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # open cases, to as-of
    ended: Counter[str] = field(default_factory=Counter)
    activities: set[str] = field(default_factory=set)

    @property
    def sinks(self) -> set[str]:
        return self.activities - {source for source, _ in self.edges}


def oracle(log: Log, as_of: datetime) -> Oracle:
    found = Oracle()
    for events in log.values():
        found.activities.update(event.activity for event in events)
        for before, after in itertools.pairwise(events):
            days = (after.at - before.at) / DAY
            found.dwell[before.activity].append(days)
            found.edges[(before.activity, after.activity)].append(days)
    for events in log.values():
        last = events[-1]
        if last.activity in found.sinks:
            found.ended[last.activity] += 1
        else:
            found.waiting[last.activity].append((as_of - last.at) / DAY)
    return found


def summary(days: list[float]) -> tuple[int, float, float, float]:
    """Count, median, p90 (linear between closest ranks) and max."""
    p90 = statistics.quantiles(days, n=10, method="inclusive")[8] if len(days) > 1 else days[0]
    return len(days), statistics.median(days), p90, max(days)


def assert_spread(spread: Spread, days: list[float], what: str) -> None:
    if not days:
        assert spread == Spread(), what
        return
    count, median, p90, longest = summary(days)
    assert spread.count == count, what
    assert spread.median == pytest.approx(median, abs=TOLERANCE), what
    assert spread.p90 == pytest.approx(p90, abs=TOLERANCE), what
    assert spread.max == pytest.approx(longest, abs=TOLERANCE), what


# -- fixtures --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str  # the log's file name
    log: Log
    workflow: Workflow
    analysis: Analysis
    oracle: Oracle
    state_of: dict[str, str]  # activity → state id, read back from the workflow's labels


READERS = {"receipt.csv": read_csv_log, "roadtraffic100traces.xes": read_xes_log}
SIZES = {"receipt.csv": (1434, 8577), "roadtraffic100traces.xes": (100, 390)}


@pytest.fixture(scope="module", params=sorted(READERS))
def real(request: pytest.FixtureRequest) -> Case:
    name: str = request.param
    log = READERS[name](LOGS / name)
    workflow_id = name.partition(".")[0]
    result = check_text(workflow_text(workflow_id, log), f"{workflow_id}.yaml")
    assert result.workflow is not None and not result.errors, [str(issue) for issue in result.errors]
    workflow = result.workflow
    as_of = max(event.at for events in log.values() for event in events)
    state_of = {state.label("en"): sid for sid, state in workflow.states.items() if sid != ENDED}
    return Case(name, log, workflow, analyse(workflow, trails(workflow_id, log), as_of), oracle(log, as_of), state_of)


# -- the tests -------------------------------------------------------------------------------

def test_each_log_is_read_whole_with_aware_times_in_order(real: Case) -> None:
    cases, events = SIZES[real.name]
    assert len(real.log) == cases == real.analysis.proposals
    assert sum(len(found) for found in real.log.values()) == events
    for found in real.log.values():
        assert all(before.at <= after.at for before, after in itertools.pairwise(found))


def test_the_workflow_declares_every_activity_and_every_directly_follows_pair(real: Case) -> None:
    assert set(real.state_of) == real.oracle.activities
    declared = {(t.sources, t.trigger, t.target) for t in real.workflow.transitions if t.trigger != END}
    assert declared == {((real.state_of[a],), real.state_of[b], real.state_of[b]) for a, b in real.oracle.edges}
    finals = {sid for sid, state in real.workflow.states.items() if state.final and sid != ENDED}
    assert finals == {real.state_of[activity] for activity in real.oracle.sinks}


def test_time_in_each_state_is_the_durations_of_the_edges_leaving_it(real: Case) -> None:
    for activity, sid in real.state_of.items():
        figures = real.analysis.state(sid)
        assert figures is not None and figures.declared
        assert_spread(figures.passed, real.oracle.dwell.get(activity, []), f"passed in {sid}")


def test_each_transition_is_its_directly_follows_edge(real: Case) -> None:
    taken = {(t.source, t.trigger, t.target): t for t in real.analysis.transitions if t.taken}
    expected = {(real.state_of[a], real.state_of[b], real.state_of[b]): days
                for (a, b), days in real.oracle.edges.items()}
    assert set(taken) == set(expected)
    for key, days in expected.items():
        assert taken[key].taken == len(days), key
        assert_spread(taken[key].days_before, days, f"days before {key}")
    assert real.analysis.jumps == ()
    assert {(t.trigger, t.target) for t in real.analysis.unused} <= {(END, ENDED)}


def test_cases_that_do_not_end_in_a_final_state_wait_until_the_last_event_of_the_log(real: Case) -> None:
    for activity, sid in real.state_of.items():
        figures = real.analysis.state(sid)
        assert figures is not None
        waiting = real.oracle.waiting.get(activity, [])
        assert_spread(figures.waiting, waiting, f"waiting in {sid}")
        assert figures.now == (real.oracle.ended[activity] if figures.final else len(waiting)), sid
        assert_spread(figures.stays, real.oracle.dwell.get(activity, []) + waiting, f"stays in {sid}")
    assert not any(s.state not in real.workflow.states for s in real.analysis.states)


def test_the_state_with_the_longest_median_stay_is_the_worst(real: Case) -> None:
    # The dwell a process-mining tool ranks by: finished stays, else (nobody left yet) current waits.
    medians = {sid: statistics.median(real.oracle.dwell.get(activity) or real.oracle.waiting.get(activity, []))
               for activity, sid in real.state_of.items() if not real.workflow.states[sid].final}
    severity = {s.state: s.severity for s in real.analysis.states}
    assert severity[max(medians, key=medians.__getitem__)] == 4
    for first, second in itertools.permutations(medians, 2):
        if medians[first] <= medians[second]:
            assert severity[first] <= severity[second], (first, second)
    assert all(severity[sid] == 0 for sid, state in real.workflow.states.items() if state.final)
    assert all(1 <= severity[sid] <= 4 for sid in medians)
