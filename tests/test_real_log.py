"""The stall analysis on two real public event logs, imported with ``flowengine import`` and held
to an independent process-mining computation.

The logs (``tests/fixtures/eventlogs/``, provenance in the README there) are imported under the
workflows written for them (``examples/eventlogs/``): one state per activity, labelled with the
activity's name; the transitions are the directly-follows pairs of the log; the final states are
the activities no event ever follows. The import reads a log the way process mining does: each
case is a proposal; the state after an event is the activity just completed; the case's first
event creates it in that state; a directly-follows pair (a → b) is a step from ``a`` to ``b``,
taken ``time(b) - time(a)`` after ``a`` was entered; a case's events are sorted stably by time,
so events with equal timestamps keep the order of the file. So the time in a state is exactly the
durations of the directly-follows edges leaving its activity (PM4Py's performance DFG), and a
case the log leaves at an activity that leads on elsewhere counts as *waiting* there.

The as-of moment is the log's last event, so no directly-follows pair is cut off and every
pair is a finished ("passed") stay; the waiting stays only count toward ``stays`` and the
severity.

The oracle computes the same figures by another route, from the files alone: its own CSV and
XES readers, durations collected per case with ``itertools.pairwise`` and ``timedelta``
division, keyed by activity name (not by state id), and summarised with :mod:`statistics` (its
``inclusive`` quantiles are numpy's and PM4Py's linear interpolation).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import statistics
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flowengine.analysis.figures import Analysis, Spread
from flowengine.definition.model import Workflow
from flowengine.eventlog.importer import import_log
from flowengine.service.facade import FlowEngine

from .cli_support import make_run, ok
from .conftest import REPO_ROOT
from .databases import DatabaseTargets

LOGS = Path(__file__).resolve().parent / "fixtures" / "eventlogs"
EXAMPLES = REPO_ROOT / "examples" / "eventlogs"
DAY = timedelta(days=1)
TOLERANCE = 1e-9  # days


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
    target: str  # the database the log was imported into
    as_of: datetime


READERS = {"receipt.csv": read_csv_log, "roadtraffic100traces.xes": read_xes_log}
SIZES = {"receipt.csv": (1434, 8577), "roadtraffic100traces.xes": (100, 390)}
WORKFLOWS = {"receipt.csv": "receipt", "roadtraffic100traces.xes": "road-traffic-fines"}
ACTOR = "police-office"  # the road-traffic log names who acted only when a fine is created


@pytest.fixture(scope="module", params=sorted(READERS))
def real(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         database_targets: DatabaseTargets) -> Iterator[Case]:
    name: str = request.param
    log = READERS[name](LOGS / name)
    as_of = max(event.at for events in log.values() for event in events)
    target = database_targets.new(tmp_path_factory.mktemp("real-log"))
    with FlowEngine.open(target, workflow_dirs=[EXAMPLES], clock=lambda: as_of) as flow:
        report = import_log(flow, LOGS / name, WORKFLOWS[name], actor=ACTOR)
        assert report.cases == len(log)
        (analysis,) = flow.analyse([WORKFLOWS[name]], as_of=as_of)
        workflow = flow.declared_workflow(WORKFLOWS[name])
    state_of = {state.label("en"): sid for sid, state in workflow.states.items()}
    yield Case(name, log, workflow, analysis, oracle(log, as_of), state_of, target, as_of)
    database_targets.drop(target)


# -- the tests -------------------------------------------------------------------------------

def test_each_log_is_read_whole_with_aware_times_in_order(real: Case) -> None:
    cases, events = SIZES[real.name]
    assert len(real.log) == cases == real.analysis.proposals
    assert sum(len(found) for found in real.log.values()) == events
    for found in real.log.values():
        assert all(before.at <= after.at for before, after in itertools.pairwise(found))


def test_the_workflow_declares_every_activity_and_every_directly_follows_pair(real: Case) -> None:
    assert set(real.state_of) == real.oracle.activities
    declared = {(source, t.trigger, t.target) for t in real.workflow.transitions for source in t.sources}
    assert declared == {(real.state_of[a], real.state_of[b], real.state_of[b]) for a, b in real.oracle.edges}
    finals = {sid for sid, state in real.workflow.states.items() if state.final}
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
    assert real.analysis.unused == ()


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


def test_the_stall_report_of_the_command_line_gives_the_same_figures_at_full_precision(real: Case) -> None:
    """JSON and CSV carry every digit (the README promises the full figures), to 1e-9 days."""
    run = make_run(real.target, real.as_of.isoformat())
    options = ("--workflows", str(EXAMPLES), "--workflow", WORKFLOWS[real.name])
    report = json.loads(ok(run("stalls", "report", *options, "--format", "json")).stdout)
    (figures,) = report["figures"]
    by_state = {state["state"]: state for state in figures["states"]}
    long_form = list(csv.DictReader(io.StringIO(ok(run("stalls", "report", *options, "--format", "csv")).stdout)))
    in_csv = {(row["row"], row["column"]): row["value"] for row in long_form if row["section"] == "states"}
    for activity, sid in real.state_of.items():
        days = real.oracle.dwell.get(activity, [])
        passed = by_state[sid]["passed"]
        assert passed["count"] == len(days), sid
        if days:
            _, median, p90, longest = summary(days)
            assert passed["median_days"] == pytest.approx(median, abs=TOLERANCE), sid
            assert passed["p90_days"] == pytest.approx(p90, abs=TOLERANCE), sid
            assert passed["max_days"] == pytest.approx(longest, abs=TOLERANCE), sid
            assert float(in_csv[(sid, "median days")]) == pytest.approx(median, abs=TOLERANCE), sid
            assert float(in_csv[(sid, "p90 days")]) == pytest.approx(p90, abs=TOLERANCE), sid
    assert figures["proposals"] == len(real.log)
    assert "note" not in report  # as of the log's end: nothing to say


def test_a_report_as_of_today_on_a_log_long_past_says_so_first(real: Case) -> None:
    run = make_run(real.target, "2026-12-07T12:00")
    options = ("--workflows", str(EXAMPLES), "--workflow", WORKFLOWS[real.name])
    newest = real.as_of.astimezone().strftime("%Y-%m-%d")
    note = f"as of 2026-12-07; the newest event is {newest} — --as-of {newest} reads the history as it stood then"
    assert ok(run("stalls", "report", *options)).stdout.startswith(note + "\n")
    assert json.loads(ok(run("stalls", "report", *options, "--format", "json")).stdout)["note"] == note
    assert note in ok(run("stalls", "report", *options, "--format", "csv")).stdout.splitlines()[1]
    assert "note" not in json.loads(ok(run("stalls", "report", *options, "--as-of", newest, "--format",
                                           "json")).stdout)


# What the README says of each log ("Two real public logs"), as of the log's last event: the
# states where cases are left waiting and how many of them are over their limit there (every
# one has gone quiet: an extract of a log records nothing after its cases' last events), the
# final states' counts, and the slowest states' medians (and the longest stay) in days.
README_FIGURES = {
    "receipt.csv": {
        "waiting": {"T10 Determine necessity to stop indication": (828, 820),
                    "T05 Print and send confirmation of receipt": (400, 392),
                    "Confirmation of receipt": (116, 116)},
        "ended": {"T15 Print document X request unlicensed": 39},
        "slowest": {},
    },
    "roadtraffic100traces.xes": {
        "waiting": {"Payment": (47, 47), "Send Fine": (17, 17)},
        "ended": {"Send for Credit Collection": 36},
        "slowest": {"Add penalty": (379, 840), "Create Fine": (60, None), "Insert Fine Notification": (60, None)},
    },
}


def test_the_figures_the_readme_gives_for_each_log(real: Case) -> None:
    expected = README_FIGURES[real.name]
    assert real.analysis.stalls == ()  # nothing is known to be waiting: the log just stops
    stalled = Counter(stall.state for stall in real.analysis.quiet)
    waiting = {}
    for activity, sid in real.state_of.items():
        figures = real.analysis.state(sid)
        assert figures is not None
        if figures.final:
            assert {activity: figures.now} == {activity: expected["ended"].get(activity, 0)}
        elif figures.now:
            waiting[activity] = (figures.now, stalled[sid])
    largest = dict(sorted(waiting.items(), key=lambda item: -item[1][0])[:len(expected["waiting"])])
    assert largest == expected["waiting"]
    assert max(stalled.values()) == max(count for _, count in expected["waiting"].values())  # they head the list
    for activity, (median, longest) in expected["slowest"].items():
        figures = real.analysis.state(real.state_of[activity])
        assert figures is not None and figures.passed.median is not None and figures.passed.max is not None
        assert round(figures.passed.median) == median, activity
        assert longest is None or round(figures.passed.max) == longest, activity
    if expected["slowest"]:
        worst = max(real.analysis.states, key=lambda s: s.passed.median or 0.0)
        assert (worst.state, worst.severity) == (real.state_of[next(iter(expected["slowest"]))], 4)
    else:  # receipt: the work itself is fast, the median stay under a day and the p90 at most 11 days
        assert all((s.passed.median or 0) < 1 and (s.passed.p90 or 0) <= 11 for s in real.analysis.states)
