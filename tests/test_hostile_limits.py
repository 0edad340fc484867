"""Hostile sizes: pathological workflows (thousands of states, transitions from "*", tens of
thousands of mistakes) and logs (huge fields, lines, values, nesting, traces) are either handled
in time linear in what is written or refused with one clear message naming where, exit 1,
nothing written. Times and memory are measured by the benchmarks in bench/, never here."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import networkx as nx
import pytest

from flowengine.definition.graph import bypass_paths, trap_states, unreachable_states
from flowengine.definition.loader import MAX_STATES, MAX_TRANSITIONS, build_workflow, check_text
from flowengine.definition.model import Workflow
from flowengine.definition.yamlsafe import read_text
from flowengine.errors import InvalidInput
from flowengine.eventlog import csv_reader, xes_reader
from flowengine.eventlog.csv_reader import CsvLog
from flowengine.eventlog.xes_reader import XesLog

from .test_hostile_time import digest, flowengine

HEADER = "case:concept:name,concept:name,time:timestamp,org:resource,org:role\n"


def star_workflow(states: int, *, council: bool = False) -> str:
    """``states`` states, each but the first the target of a transition from "*"."""
    lines = ["id: star", "version: 1", "prefix: STAR", "roles:", "  panel: {kind: panel}",
             "  council: {kind: council}", "states:"]
    for index in range(states):
        if index == states - 1:
            lines.append(f"  s{index}: {{final: true, outcome: implemented}}")
        else:
            owner = "council" if council and index == 1 else "panel"
            lines.append(f"  s{index}: {{stage: panel, owner: {owner}, deadline: 30d"
                         f"{', initial: true' if index == 0 else ''}}}")
    lines.append("transitions:")
    lines += [f'  - {{trigger: go{index}, from: "*", to: s{index}, roles: [panel]}}' for index in range(1, states)]
    return "\n".join(lines) + "\n"


def random_workflow(seed: int) -> Workflow:
    rng = random.Random(seed)
    count = rng.randint(2, 7)
    names = [f"s{i}" for i in range(count)]
    finals = set(rng.sample(names[1:], rng.randint(1, count - 1)))
    lines = ["id: w", "roles:", "  panel: {kind: panel}", "  council: {kind: council}", "states:"]
    for index, name in enumerate(names):
        if name in finals:
            lines.append(f"  {name}: {{final: true, outcome: {rng.choice(['implemented', 'rejected'])}}}")
        else:
            owner = rng.choice(["panel", "council"])
            answers = ", answers_panel: true" if rng.random() < 0.2 else ""
            lines.append(f"  {name}: {{owner: {owner}{', initial: true' if index == 0 else ''}{answers}}}")
    lines.append("transitions:")
    for number in range(rng.randint(1, 8)):
        target = rng.choice(names)
        source = '"*"' if rng.random() < 0.3 else rng.choice([n for n in names if n not in finals])
        answers = ", answers_panel: true" if rng.random() < 0.2 else ""
        lines.append(f"  - {{trigger: t{number}, from: {source}, to: {target}{answers}}}")
    workflow, _ = build_workflow(read_text("\n".join(lines) + "\n", "w.yaml"))
    return workflow


def expanded(workflow: Workflow, keep: object = None) -> nx.MultiDiGraph:
    """The oracle: one edge per (source, transition), as the graph checks once built it."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(workflow.states)
    for transition in workflow.transitions:
        if callable(keep) and not keep(transition):
            continue
        for source in transition.sources:
            if source in workflow.states and transition.target in workflow.states:
                graph.add_edge(source, transition.target)
    return graph


@pytest.mark.parametrize("seed", range(200))
def test_graph_checks_agree_with_the_fully_expanded_graph(seed: int) -> None:
    workflow = random_workflow(seed)
    initial = workflow.initial_state
    assert initial is not None
    graph = expanded(workflow)
    reached = nx.descendants(graph, initial.id) | {initial.id}
    assert unreachable_states(workflow) == [s for s in workflow.states if s not in reached]
    finals = [s for s, state in workflow.states.items() if state.final]
    can_finish = set(finals).union(*(nx.ancestors(graph, f) for f in finals)) if finals else set()
    assert trap_states(workflow) == ([s for s, state in workflow.states.items() if not state.final
                                      and s not in can_finish] if finals else [])
    targets = finals
    paths = bypass_paths(workflow, lambda s: s.answers_panel, lambda t: t.answers_panel, targets)
    kept = expanded(workflow, lambda t: not t.answers_panel)
    kept.remove_nodes_from([s for s, state in workflow.states.items() if state.answers_panel and s not in targets])
    for target in targets:
        if initial.answers_panel or target not in kept or not nx.has_path(kept, initial.id, target):
            assert target not in paths
            continue
        path = paths[target]
        assert len(path) == nx.shortest_path_length(kept, initial.id, target) + 1
        assert path[0] == initial.id and path[-1] == target
        assert all(kept.has_edge(a, b) for a, b in itertools.pairwise(path))


def test_two_thousand_states_from_star_validate_with_the_governance_warnings_only() -> None:
    result = check_text(star_workflow(2000), "star.yaml")
    assert result.ok, [issue.format() for issue in result.errors]
    assert {issue.code for issue in result.warnings} == {"FE302", "FE303"}


@pytest.mark.parametrize(("what", "text"), [
    ("states", star_workflow(MAX_STATES + 1)),
    ("transitions", "id: many\nstates:\n  a: {initial: true}\n  z: {final: true, outcome: implemented}\n"
                    "transitions:\n" + "".join(f"  - {{trigger: t{i}, from: a, to: z}}\n"
                                               for i in range(MAX_TRANSITIONS + 1))),
])
def test_a_workflow_beyond_the_limits_is_refused_with_one_finding(what: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    done = flowengine("workflow", "validate", str(path))
    assert done.returncode == 1
    assert "error FE013: the workflow declares" in done.stdout and what in done.stdout
    assert len(done.stdout.splitlines()) == 1


def test_tens_of_thousands_of_findings_list_a_hundred_then_a_count(tmp_path: Path) -> None:
    path = tmp_path / "mistakes.yaml"
    transitions = "".join(f"  - {{trigger: t{i}, from: q{i}, to: r{i}}}\n" for i in range(MAX_TRANSITIONS))
    path.write_text("id: mistakes\nstates:\n  a: {initial: true}\n  z: {final: true, outcome: implemented}\n"
                    "transitions:\n" + transitions, encoding="utf-8")
    done = flowengine("workflow", "validate", str(path))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 101
    assert lines[-1].startswith("… and ") and "more finding(s), not listed" in lines[-1]
    everything = flowengine("workflow", "validate", "--all", str(path))
    assert len(everything.stdout.splitlines()) > 2 * MAX_TRANSITIONS


# -- logs ----------------------------------------------------------------------------------------

def import_refused(tmp_path: Path, log: Path, expected: str) -> None:
    database = tmp_path / "x.db"
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "C1,panel_work,2017-10-18T11:00:00+00:00,lead,prosjektleder\n", encoding="utf-8")
    assert flowengine("import", str(good), "--workflow", "trondheim", "--db", str(database)).returncode == 0
    before = digest(database)
    done = flowengine("import", str(log), "--workflow", "trondheim", "--db", str(database))
    assert done.returncode == 1, done.stderr
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert digest(database) == before


def test_a_csv_line_longer_than_the_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    log = tmp_path / "long.csv"
    with log.open("w", encoding="utf-8") as out:
        out.write(HEADER + "C1,panel_work,2017-10-18T11:00:00+00:00,lead,prosjektleder\n")
        out.write("," * (csv_reader.MAX_LINE_CHARS + 10) + "\n")
    import_refused(tmp_path, log, "long.csv:3: the line is longer than")


def test_a_csv_header_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "header.csv"
    log.write_text("a" * (csv_reader.MAX_LINE_CHARS + 10), encoding="utf-8")
    import_refused(tmp_path, log, "header.csv:1: the line is longer than")


def test_a_csv_field_longer_than_the_limit_is_refused_even_spread_over_short_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "MAX_FIELD_CHARS", 1000)
    log = tmp_path / "field.csv"
    log.write_text(HEADER + 'C1,panel_work,2017-10-18T11:00:00+00:00,lead,"' + "x\n" * 600 + '"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"field\.csv:2: a field is longer than 1,000 characters"):
        list(CsvLog(log).rows(["case:concept:name"]))


XES = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016">{body}</log>\n'
EVENT = '<event><string key="concept:name" value="{activity}"/><date key="time:timestamp" value="{time}"/></event>'


def test_an_xes_value_longer_than_the_limit_is_refused_with_its_trace_and_event(tmp_path: Path) -> None:
    log = tmp_path / "value.xes"
    big = EVENT.format(activity="x" * (xes_reader.MAX_VALUE_CHARS + 1), time="2017-10-18T11:00:00+00:00")
    log.write_text(XES.format(body=f"<trace><string key=\"concept:name\" value=\"C1\"/>{big}</trace>"),
                   encoding="utf-8")
    import_refused(tmp_path, log, "value.xes: trace 1, event 1: the value of 'concept:name' is longer than")


def test_an_xes_token_longer_than_the_parser_may_buffer_is_refused_at_its_line(tmp_path: Path) -> None:
    log = tmp_path / "token.xes"
    size = xes_reader.MAX_SILENT_BYTES + 1_000_000
    log.write_text(XES.format(body='<trace><string key="concept:name" value="' + "y" * size + '"/></trace>'),
                   encoding="utf-8")
    import_refused(tmp_path, log, "token.xes:2: more than 16 MB without an element starting or ending")


def test_xes_nesting_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "deep.xes"
    depth = xes_reader.MAX_DEPTH + 5
    log.write_text(XES.format(body="<trace>" + '<list key="l">' * depth + "</list>" * depth + "</trace>"),
                   encoding="utf-8")
    import_refused(tmp_path, log, "deep.xes: trace 1, event 1: elements nested deeper than")


def test_a_trace_with_more_events_than_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xes_reader, "MAX_EVENTS_PER_TRACE", 10)
    log = tmp_path / "long.xes"
    events = "".join(EVENT.format(activity="panel_work", time="2017-10-18T11:00:00+00:00") for _ in range(11))
    log.write_text(XES.format(body=f'<trace><string key="concept:name" value="C1"/>{events}</trace>'),
                   encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"long\.xes: trace 1, event 11: the trace has more than 10 events"):
        list(XesLog(log).rows(["concept:name"]))


def test_an_xes_trace_keeps_only_the_attributes_asked_for(tmp_path: Path) -> None:
    log = tmp_path / "wide.xes"
    noise = "".join(f'<string key="noise{i}" value="{"n" * 1000}"/>' for i in range(50))
    event = EVENT.format(activity="panel_work", time="2017-10-18T11:00:00+00:00")
    event = event.replace("</event>", noise + "</event>")
    log.write_text(XES.format(body=f'<trace><string key="concept:name" value="C1"/>{event}</trace>'),
                   encoding="utf-8")
    rows = list(XesLog(log).rows(["case:concept:name", "concept:name", "noise3", None]))
    assert rows == [((1, 1), ["C1", "panel_work", "n" * 1000, ""])]
