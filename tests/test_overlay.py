"""Stall and comparison diagrams: deterministic DOT (golden files), what each mark means, privacy,
escaping and real renders.

The figures are built by hand here, so these tests say what the diagrams draw for given
figures, whatever the analysis computes. Golden files live in tests/golden/overlay/; after an
intended change to the drawing, rewrite them with
``FLOWENGINE_UPDATE_GOLDEN=1 python -m pytest tests/test_overlay.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowengine.analysis.figures import (
    Analysis,
    Feedback,
    Funnel,
    FunnelStage,
    Privacy,
    Spread,
    StageFigures,
    StateFigures,
    TransitionFigures,
)
from flowengine.definition.loader import check_text
from flowengine.definition.model import Workflow
from flowengine.errors import FlowEngineError, InvalidInput
from flowengine.views.comparison_diagram import ABSENT_COLOUR, comparison_dot, render_comparison
from flowengine.views.figure_wording import DASH, TIMES
from flowengine.views.stall_diagram import (
    FLAG_COLOUR,
    HIDDEN_COLOUR,
    JUMP_COLOUR,
    SEVERITY_COLOURS,
    UNUSED_COLOUR,
    render_stall_diagram,
    stall_diagram_dot,
    tint,
)

from .conftest import MINIMAL_WORKFLOW, REPO_ROOT

GOLDEN = Path(__file__).parent / "golden" / "overlay"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
AS_OF = datetime(2019, 6, 30, 21, 59, 59, 999999, tzinfo=UTC)  # end of 30 June, Norwegian summer time

CHAIN = """\
id: stall_test
version: 1
title: Stall test chain
labels:
  en: Stall test chain
  nb: Stopptest-kjede
  sv: Stopptestkedja
roles:
  panel:
    labels: {en: User panel, nb: Brukerpanel, sv: Brukarpanel}
  council:
    labels: {en: User council, nb: Brukerråd, sv: Brukarråd}
  administration:
    labels: {en: Administration, nb: Administrasjonen, sv: Förvaltningen}
states:
  draft:
    initial: true
    stage: panel
    owner: panel
    deadline: 30d
    labels: {en: Panel draft, nb: Panelutkast, sv: Panelutkast}
  council_review:
    stage: council
    owner: council
    deadline: 8w
    labels: {en: At the user council, nb: Hos brukerrådet, sv: Hos brukarrådet}
  preparation:
    stage: administration
    owner: administration
    labels: {en: Prepared by the administration, nb: Til utredning, sv: Under beredning}
  implemented:
    final: true
    outcome: implemented
    labels: {en: Implemented, nb: Gjennomført, sv: Genomförd}
  rejected:
    final: true
    outcome: rejected
    labels: {en: Rejected, nb: Avslått, sv: Avslagen}
  withdrawn:
    final: true
    outcome: withdrawn
    labels: {en: Withdrawn, nb: Trukket, sv: Återkallad}
transitions:
  - trigger: send_to_council
    from: draft
    to: council_review
    roles: [panel]
    labels: {en: Send to the council, nb: Send til brukerrådet, sv: Skicka till brukarrådet}
  - trigger: recommend
    from: council_review
    to: preparation
    roles: [council]
    labels: {en: Recommend, nb: Anbefale, sv: Rekommendera}
  - trigger: send_back
    from: council_review
    to: draft
    roles: [council]
    requires_comment: true
    answers_panel: true
    labels: {en: Send back to the panel, nb: Sende tilbake til panelet, sv: Skicka tillbaka till panelen}
  - trigger: implement
    from: preparation
    to: implemented
    roles: [administration]
    answers_panel: true
    labels: {en: Decide and implement, nb: Vedta og gjennomføre, sv: Besluta och genomföra}
  - trigger: reject
    from: preparation
    to: rejected
    roles: [administration]
    requires_comment: true
    answers_panel: true
    labels: {en: Reject, nb: Avslå, sv: Avslå}
  - trigger: withdraw
    from: "*"
    to: withdrawn
    roles: [panel]
    labels: {en: Withdraw, nb: Trekke tilbake, sv: Dra tillbaka}
"""


def load(text: str) -> Workflow:
    result = check_text(text, "test.yaml")
    assert result.workflow is not None and not result.errors, [str(i) for i in result.errors]
    return result.workflow


def spread(count: int, median: float) -> Spread:
    return Spread(count, median, median * 2.5, median * 4) if count else Spread()


def open_state(state: str, stage: str | None, *, now: int, stays: Spread, severity: int, over: int = 0,
               stalled: int = 0, deadline: float | None = None, declared: bool = True) -> StateFigures:
    return StateFigures(state=state, stage=stage, owner=None, declared=declared, final=False, deadline_days=deadline,
                        now=now, stalled_now=stalled, over_deadline_now=over, passed=stays, waiting=Spread(),
                        stays=stays, severity=severity)


def final_state(state: str, ended: int) -> StateFigures:
    return StateFigures(state=state, stage="closed", owner=None, declared=True, final=True, deadline_days=None,
                        now=ended, stalled_now=0, over_deadline_now=0, passed=Spread(), waiting=Spread(),
                        stays=Spread())


def step(source: str, trigger: str, target: str, taken: int, median: float = 4.0, *,
         declared: bool = True) -> TransitionFigures:
    return TransitionFigures(source, trigger, target, declared, taken, spread(taken, median))


def chain_analysis(workflow: Workflow | None = None) -> Analysis:
    """Figures as an analysis might give them: the council is slowest, the administration is
    stalled by the p90 rule, one declared step was never taken, and two undeclared jumps."""
    workflow = workflow or load(CHAIN)
    states = (
        open_state("draft", "panel", now=1, stays=spread(6, 2.5), severity=1, deadline=30.0),
        open_state("council_review", "council", now=4, stays=spread(9, 60.0), severity=4, over=2, stalled=2,
                   deadline=56.0),
        open_state("preparation", "administration", now=2, stays=spread(2, 25.5), severity=2, stalled=1),
        final_state("implemented", 5),
        final_state("rejected", 2),
        final_state("withdrawn", 1),
        open_state("on_hold", None, now=1, stays=spread(3, 31.0), severity=3, declared=False),
    )
    transitions = (
        step("draft", "send_to_council", "council_review", 10, 4.0),
        step("council_review", "recommend", "preparation", 7, 48.25),
        step("council_review", "send_back", "draft", 0),
        step("preparation", "implement", "implemented", 5, 12.0),
        step("preparation", "reject", "rejected", 2, 30.0),
        step("draft", "withdraw", "withdrawn", 0),
        step("council_review", "withdraw", "withdrawn", 1, 70.0),
        step("preparation", "withdraw", "withdrawn", 0),
        step("council_review", "park", "on_hold", 3, 20.0, declared=False),
        step("draft", "fast_track", "preparation", 2, 1.0, declared=False),
    )
    stages = (
        StageFigures("panel", 1, 0, 0, spread(12, 6.0), spread(1, 3.0)),
        StageFigures("council", 4, 2, 2, spread(9, 58.0), spread(4, 90.0)),
        StageFigures("administration", 2, 1, 0, spread(7, 20.0), spread(2, 10.0)),
    )
    funnel = Funnel(proposals=20, stages=(
        FunnelStage("panel", 20, (("waiting", 1),)),
        FunnelStage("council", 19, (("waiting", 4), ("withdrawn", 1))),
        FunnelStage("administration", 14, (("waiting", 2), ("rejected", 2))),
    ), implemented=5, partially_implemented=0, evaluated=0)
    return Analysis(workflow=workflow, as_of=AS_OF, proposals=20, states=states, stages=stages,
                    transitions=transitions, loops=(), funnel=funnel,
                    feedback=Feedback(20, spread(8, 40.0), 12, spread(12, 80.0)), stalls=())


def minimal_analysis() -> Analysis:
    """The small two-stage workflow of conftest: nothing in it has been taken beyond the council."""
    workflow = load(MINIMAL_WORKFLOW)
    states = (
        open_state("draft", "panel", now=0, stays=spread(4, 3.0), severity=1, deadline=30.0),
        open_state("council_review", "council", now=3, stays=spread(7, 12.0), severity=4, deadline=56.0),
        final_state("accepted", 1),
        final_state("rejected", 0),
    )
    transitions = (step("draft", "send_to_council", "council_review", 4, 3.0),
                   step("council_review", "accept", "accepted", 1, 9.0),
                   step("council_review", "reject", "rejected", 0))
    stages = (StageFigures("panel", 0, 0, 0, spread(4, 3.0), Spread()),
              StageFigures("council", 3, 0, 0, spread(1, 9.0), spread(3, 12.0)))
    funnel = Funnel(4, (FunnelStage("panel", 4, ()), FunnelStage("council", 4, (("waiting", 3),))), 1, 0, 0)
    return Analysis(workflow=workflow, as_of=AS_OF, proposals=4, states=states, stages=stages,
                    transitions=transitions, loops=(), funnel=funnel, feedback=Feedback(4, Spread(), 4, Spread()),
                    stalls=())


def node_line(dot: str, name: str) -> str:
    matches = [line for line in dot.splitlines() if line.strip().startswith(f'"{name}" [')]
    assert len(matches) == 1, f"expected one node line for {name}, got {matches}"
    return matches[0]


def edge_lines(dot: str, tail: str, head: str) -> list[str]:
    return [line for line in dot.splitlines() if line.strip().startswith(f'"{tail}" -> "{head}" [')]


def edge_line(dot: str, tail: str, head: str) -> str:
    matches = edge_lines(dot, tail, head)
    assert len(matches) == 1, f"expected one edge {tail} -> {head}, got {matches}"
    return matches[0]


def attribute(line: str, key: str) -> str | None:
    match = re.search(rf'\b{key}="([^"]*)"', line)
    return match.group(1) if match else None


def check_golden(name: str, dot: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("FLOWENGINE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(dot, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden} is missing; create it with FLOWENGINE_UPDATE_GOLDEN=1"
    assert dot == golden.read_text(encoding="utf-8"), (
        f"DOT differs from {golden.name}; if the change is intended, rerun with "
        "FLOWENGINE_UPDATE_GOLDEN=1 and review the diff"
    )


# --- golden files and determinism ------------------------------------------------------------


@pytest.mark.parametrize(("name", "language", "privacy"), [
    ("stall_en.dot", "en", Privacy()),
    ("stall_nb.dot", "nb", Privacy()),
    ("stall_sv_publication.dot", "sv", Privacy.publication()),
    ("stall_en_publication.dot", "en", Privacy.publication()),
])
def test_stall_dot_matches_golden(name: str, language: str, privacy: Privacy) -> None:
    check_golden(name, stall_diagram_dot(chain_analysis(), language, privacy))


@pytest.mark.parametrize(("name", "language", "privacy"), [
    ("comparison_en.dot", "en", Privacy()),
    ("comparison_nb_publication.dot", "nb", Privacy.publication()),
])
def test_comparison_dot_matches_golden(name: str, language: str, privacy: Privacy) -> None:
    check_golden(name, comparison_dot([chain_analysis(), minimal_analysis()], language, privacy))


_PRINT_DOTS = """
import hashlib
from flowengine.analysis.figures import Privacy
from tests.test_overlay import chain_analysis, minimal_analysis
from flowengine.views.comparison_diagram import comparison_dot
from flowengine.views.stall_diagram import stall_diagram_dot
text = stall_diagram_dot(chain_analysis(), "nb", Privacy.publication()) + comparison_dot(
    [chain_analysis(), minimal_analysis()], "sv")
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_output_is_byte_identical_across_runs_and_hash_seeds() -> None:
    first = stall_diagram_dot(chain_analysis(), "nb", Privacy.publication())
    assert first == stall_diagram_dot(chain_analysis(), "nb", Privacy.publication())
    assert comparison_dot([chain_analysis(), minimal_analysis()]) == comparison_dot(
        [chain_analysis(), minimal_analysis()])
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([sys.executable, "-c", _PRINT_DOTS], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, check=True)
        digests.add(done.stdout.strip())
    assert len(digests) == 1


# --- the stall diagram: states ----------------------------------------------------------------


def test_state_with_longest_median_has_darkest_fill() -> None:
    analysis = chain_analysis()
    dot = stall_diagram_dot(analysis)
    opened = [s for s in analysis.states if not s.final and s.declared]
    slowest = max(opened, key=lambda s: s.stays.median or 0.0)
    assert slowest.state == "council_review"
    assert attribute(node_line(dot, slowest.state), "fillcolor") == SEVERITY_COLOURS[-1]
    # Darker for longer: the fills follow the medians through the scale.
    by_median = sorted(opened, key=lambda s: s.stays.median or 0.0)
    pale = [tint(colour) for colour in SEVERITY_COLOURS]  # the same levels, where few stays
    fills = [attribute(node_line(dot, s.state), "fillcolor") or "" for s in by_median]
    darkness = [SEVERITY_COLOURS.index(f) if f in SEVERITY_COLOURS else pale.index(f) for f in fills]
    assert darkness == sorted(darkness) and darkness[0] < darkness[-1]


def test_darkest_levels_use_white_text() -> None:
    dot = stall_diagram_dot(chain_analysis())
    assert attribute(node_line(dot, "council_review"), "fontcolor") == "#FFFFFF"
    assert attribute(node_line(dot, "draft"), "fontcolor") == "#000000"


def test_state_nobody_stayed_in_is_white() -> None:
    analysis = chain_analysis()
    states = tuple(dataclasses.replace(s, now=0, passed=Spread(), waiting=Spread(), stays=Spread(), severity=0)
                   if s.state == "draft" else s
                   for s in analysis.states)
    dot = stall_diagram_dot(dataclasses.replace(analysis, states=states))
    line = node_line(dot, "draft")
    assert attribute(line, "fillcolor") == SEVERITY_COLOURS[0] == "#FFFFFF"
    assert f"now 0 · median {DASH}" in line


def test_open_state_shows_now_median_and_over_deadline() -> None:
    dot = stall_diagram_dot(chain_analysis())
    council = node_line(dot, "council_review")
    assert "<B>At the user council</B>" in council
    assert "owner: User council · 8 weeks" in council
    assert "now 4 · median 60 d" in council
    assert "<B>over deadline 2</B>" in council  # bold: the text says it, not only the border
    draft = node_line(dot, "draft")
    assert "now 1 · median 2.5 d (n=6)<BR/>over deadline 0" in draft  # n: the stays the median rests on


def test_state_without_deadline_shows_stalled_by_history() -> None:
    line = node_line(stall_diagram_dot(chain_analysis()), "preparation")
    assert "now 2 · median 26 d" in line
    assert "<B>no deadline · stalled 1</B>" in line


def test_stalled_or_overdue_states_get_a_red_border_and_others_none() -> None:
    dot = stall_diagram_dot(chain_analysis())
    for flagged in ("council_review", "preparation"):
        line = node_line(dot, flagged)
        assert attribute(line, "color") == FLAG_COLOUR and attribute(line, "penwidth") == "3"
    draft = node_line(dot, "draft")
    assert attribute(draft, "color") is None and attribute(draft, "penwidth") is None
    legend = dot.split("subgraph cluster_legend {")[1]
    assert f'BORDER="3" COLOR="{FLAG_COLOUR}"' in legend
    assert "red border: proposals over the deadline or stalled now" in legend


def test_final_states_keep_outcome_fill_and_count_endings() -> None:
    dot = stall_diagram_dot(chain_analysis())
    implemented = node_line(dot, "implemented")
    assert attribute(implemented, "fillcolor") == "#66BB77"
    assert attribute(implemented, "shape") == "doubleoctagon"
    assert "outcome: implemented" in implemented and "ended here: 5" in implemented


def test_layout_follows_the_declared_diagram() -> None:
    dot = stall_diagram_dot(chain_analysis())
    clusters = re.findall(r"subgraph cluster_(\w+) \{", dot)
    assert clusters == ["panel", "council", "administration", "closed", "legend"]
    assert '{ rank=same; "implemented"; "rejected"; "withdrawn"; }' in dot
    assert '"__start__" -> "draft";' in dot
    assert 'rankdir="TB"' in dot


def test_title_names_workflow_date_and_proposals() -> None:
    assert ('label=<<B>Stall test chain</B><BR/><FONT POINT-SIZE="12">where proposals stall, as of 2019-06-30'
            ' · 20 proposals</FONT>>') in stall_diagram_dot(chain_analysis())
    assert "Stopptest-kjede</B><BR/><FONT POINT-SIZE=\"12\">hvor forslagene stopper opp, per 2019-06-30" in (
        stall_diagram_dot(chain_analysis(), "nb"))


def test_words_and_numbers_follow_the_language() -> None:
    nb = stall_diagram_dot(chain_analysis(), "nb")
    assert "nå 4 · median 60 d" in node_line(nb, "council_review")
    assert "over fristen 2" in node_line(nb, "council_review")
    assert "nå 1 · median 2,5 d" in node_line(nb, "draft")  # decimal comma
    assert "endte her: 5" in node_line(nb, "implemented")
    assert "Tegnforklaring" in nb
    sv = stall_diagram_dot(chain_analysis(), "sv")
    assert "nu 4 · median 60 d" in node_line(sv, "council_review")
    assert "över tidsfristen 2" in node_line(sv, "council_review")
    assert "Hos brukarrådet" in node_line(sv, "council_review")


def test_legend_explains_the_fill_and_what_median_means() -> None:
    legend = stall_diagram_dot(chain_analysis()).split("subgraph cluster_legend {")[1]
    assert "median days spent in the state by proposals that left it" in legend
    for colour in SEVERITY_COLOURS:
        assert f'BGCOLOR="{colour}"' in legend
    assert "nobody has stayed here" in legend and "the slowest" in legend
    assert "dashed grey: in the workflow, never taken" in legend
    assert "dotted red: taken, but not in the workflow" in legend
    assert 'STYLE="dashed"' in legend and 'STYLE="dotted"' in legend
    assert "counts below" not in legend  # no privacy, no privacy note


# --- the stall diagram: transitions -----------------------------------------------------------


def test_edge_width_grows_with_how_often_taken() -> None:
    dot = stall_diagram_dot(chain_analysis())
    busiest = edge_line(dot, "draft", "council_review")
    assert attribute(busiest, "penwidth") == "5.0"  # 1 + 4 · 10/10
    assert f"10{TIMES} · median 4 d" in busiest
    recommend = edge_line(dot, "council_review", "preparation")
    assert attribute(recommend, "penwidth") == "3.8"  # 1 + 4 · 7/10
    assert "Recommend<BR/>" in recommend and f"7{TIMES} · median 48 d" in recommend


def test_declared_but_unused_transitions_are_dashed_grey() -> None:
    dot = stall_diagram_dot(chain_analysis())
    unused = edge_line(dot, "council_review", "draft")
    assert attribute(unused, "style") == "dashed" and attribute(unused, "color") == UNUSED_COLOUR
    assert f"0{TIMES}" in unused
    used = edge_line(dot, "preparation", "implemented")
    assert attribute(used, "style") is None


def test_from_any_transition_drawn_where_taken_and_dashed_from_any_for_the_rest() -> None:
    dot = stall_diagram_dot(chain_analysis())
    taken = edge_line(dot, "council_review", "withdrawn")
    assert f"1{TIMES} · median 70 d" in taken and attribute(taken, "style") is None
    rest = edge_line(dot, "__any_open_state__", "withdrawn")
    assert attribute(rest, "style") == "dashed"
    assert not edge_lines(dot, "draft", "withdrawn") and not edge_lines(dot, "preparation", "withdrawn")
    # Taken from every state: no "any" node at all.
    analysis = chain_analysis()
    transitions = tuple(dataclasses.replace(t, taken=1) if t.trigger == "withdraw" else t
                        for t in analysis.transitions)
    everywhere = stall_diagram_dot(dataclasses.replace(analysis, transitions=transitions))
    assert "__any_open_state__" not in everywhere
    assert len([line for line in everywhere.splitlines() if '-> "withdrawn"' in line]) == 3


def test_undeclared_jumps_are_dotted_red_and_say_so() -> None:
    dot = stall_diagram_dot(chain_analysis())
    jump = edge_line(dot, "draft", "preparation")
    assert attribute(jump, "style") == "dotted" and attribute(jump, "color") == JUMP_COLOUR
    assert "fast_track" in jump and "not in the workflow" in jump and f"2{TIMES} · median 1 d" in jump
    park = edge_line(dot, "council_review", "on_hold")
    assert attribute(park, "style") == "dotted"
    # The undeclared state the history uses is drawn too, dotted red, with its figures.
    on_hold = node_line(dot, "on_hold")
    assert attribute(on_hold, "style") == "rounded,filled,dotted" and attribute(on_hold, "color") == JUMP_COLOUR
    assert "not in the workflow" in on_hold and "now 1 · median 31 d" in on_hold
    assert attribute(on_hold, "fillcolor") == tint(SEVERITY_COLOURS[3])  # one stay: pale


def test_jump_between_states_with_unsafe_names_gets_synthetic_node_names() -> None:
    analysis = chain_analysis()
    jumps = (step("draft", "x", "Send Fine", 1, declared=False), step("Send Fine", "y", "", 1, declared=False))
    dot = stall_diagram_dot(dataclasses.replace(analysis, transitions=analysis.transitions + jumps))
    assert "Send Fine</B>" in node_line(dot, "__undeclared_1")
    node_line(dot, "__undeclared_2")  # an empty state id still gets a node
    edge_line(dot, "draft", "__undeclared_1")
    edge_line(dot, "__undeclared_1", "__undeclared_2")


# --- privacy ----------------------------------------------------------------------------------


def test_publication_privacy_hides_small_counts_as_less_than_three() -> None:
    dot = stall_diagram_dot(chain_analysis(), "en", Privacy.publication())
    preparation = html_text(node_line(dot, "preparation"))
    assert f"now <3 · median {DASH}" in preparation and "stalled <3" in preparation
    assert "now <3" in html_text(node_line(dot, "draft"))
    assert "ended here: <3" in html_text(node_line(dot, "rejected"))
    assert "ended here: 5" in node_line(dot, "implemented")
    reject = edge_line(dot, "preparation", "rejected")
    assert f"<3{TIMES} · median {DASH}" in html_text(reject)
    assert attribute(reject, "penwidth") == "1.0"  # the width would tell 1 from 2
    assert f"&lt;3{TIMES}" in edge_line(dot, "draft", "preparation")  # undeclared jumps too
    legend = dot.split("subgraph cluster_legend {")[1]
    assert "counts below 3 are shown as &lt;3" in legend
    assert f'BGCOLOR="{HIDDEN_COLOUR}"' in legend


def test_publication_privacy_greys_fills_resting_on_too_few_stays() -> None:
    dot = stall_diagram_dot(chain_analysis(), "en", Privacy.publication())
    assert attribute(node_line(dot, "preparation"), "fillcolor") == HIDDEN_COLOUR  # 2 stays
    assert attribute(node_line(dot, "council_review"), "fillcolor") == SEVERITY_COLOURS[4]  # 9 stays


def html_text(line: str) -> str:
    return line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- escaping ---------------------------------------------------------------------------------

HOSTILE = 'He said "hi" \\ <b>bold</b> & more\nsecond line: æøå'


def hostile_analysis() -> Analysis:
    text = (CHAIN.replace("en: Stall test chain", "en: 'Chain <b>&amp;</b>'")
            .replace("en: At the user council", "en: 'Council \"<i>x</i>\" & co'")
            .replace("en: Recommend", "en: '<Recommend>'")
            .replace("{en: User council, nb", "{en: '<script>', nb"))
    analysis = chain_analysis(load(text))
    states = tuple(dataclasses.replace(s, state=HOSTILE) if s.state == "on_hold" else s for s in analysis.states)
    transitions = tuple(dataclasses.replace(t, target=HOSTILE, trigger=HOSTILE) if t.trigger == "park" else t
                        for t in analysis.transitions)
    return dataclasses.replace(analysis, states=states, transitions=transitions)


def test_every_label_is_escaped() -> None:
    dot = stall_diagram_dot(hostile_analysis())
    for raw in ("<b>", "<i>", "<script>", "<Recommend>", '"hi"', "& more", "& co"):
        assert raw not in dot
    assert "Chain &lt;b&gt;&amp;amp;&lt;/b&gt;" in dot
    assert "Council &quot;&lt;i&gt;x&lt;/i&gt;&quot; &amp; co" in node_line(dot, "council_review")
    assert "&lt;script&gt;" in node_line(dot, "council_review")
    assert "&lt;Recommend&gt;" in edge_line(dot, "council_review", "preparation")
    hostile = node_line(dot, "__undeclared_0")
    assert "He said &quot;hi&quot; \\ &lt;b&gt;bold&lt;/b&gt; &amp; more<BR/>second line: æøå" in hostile
    assert "He said &quot;hi&quot;" in edge_line(dot, "council_review", "__undeclared_0")


def test_comparison_escapes_workflow_labels() -> None:
    analysis = hostile_analysis()
    dot = comparison_dot([analysis])
    assert "<b>" not in dot and "Chain &lt;b&gt;&amp;amp;&lt;/b&gt;" in dot


@needs_dot
def test_hostile_labels_render_with_graphviz(tmp_path: Path) -> None:
    svg = render_stall_diagram(hostile_analysis(), tmp_path / "hostile.svg").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in svg and "æøå" in svg
    assert "<svg" in render_comparison([hostile_analysis()], tmp_path / "c.svg").read_text(encoding="utf-8")


# --- the comparison diagram -------------------------------------------------------------------


def test_comparison_has_one_row_per_workflow_and_stage_columns_in_order() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()])
    headings = re.findall(r'"__head_(\w+)" \[label=<(?:<B>)?([^<>]*)', dot)
    assert [h[0] for h in headings] == ["name", "panel", "council", "administration", "political",
                                        "implementation", "evaluation", "funnel"]
    assert "closed" not in [h[0] for h in headings]
    rows = re.findall(r"\{ rank=same; (.*); \}", dot)
    assert len(rows) == 3  # header and two workflows
    assert rows[1].startswith('"__row0_name"; "__row0_panel"; "__row0_council"')
    assert "<B>Stall test chain</B>" in node_line(dot, "__row0_name")
    assert "<B>minimal</B>" in node_line(dot, "__row1_name")


def test_comparison_cells_show_median_p90_now_and_waiting() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()])
    council = node_line(dot, "__row0_council")
    assert "median 58 d · p90 145 d<BR/>now 4 · waiting 90 d" in council
    assert "<B>stalled 2</B>" in council and attribute(council, "color") == FLAG_COLOUR


def test_comparison_absent_stage_is_an_empty_grey_cell() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()])
    absent = node_line(dot, "__row1_administration")
    assert attribute(absent, "fillcolor") == ABSENT_COLOUR and "label=<—>" in absent
    for stage in ("political", "implementation", "evaluation"):
        assert attribute(node_line(dot, f"__row0_{stage}"), "fillcolor") == ABSENT_COLOUR


def test_comparison_colours_by_the_slowest_cell_across_workflows() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()])
    # The chain's council: a median of 64 d over all its stays, the slowest cell of the diagram.
    assert attribute(node_line(dot, "__row0_council"), "fillcolor") == SEVERITY_COLOURS[4]
    assert attribute(node_line(dot, "__row0_administration"), "fillcolor") == SEVERITY_COLOURS[2]  # 18/64
    assert attribute(node_line(dot, "__row1_panel"), "fillcolor") == SEVERITY_COLOURS[1]  # 3/64
    # Alone, the minimal workflow's council is its own slowest cell.
    alone = comparison_dot([minimal_analysis()])
    assert attribute(node_line(alone, "__row0_council"), "fillcolor") == SEVERITY_COLOURS[4]


def test_comparison_funnel_shows_proposals_and_share_implemented() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()])
    assert "user panel: 20<BR/>implemented: 5 (25%)" in node_line(dot, "__row0_funnel")
    nb = comparison_dot([chain_analysis()], "nb")
    assert "brukerpanel: 20<BR/>gjennomført: 5 (25\u00a0%)" in node_line(nb, "__row0_funnel")


def test_comparison_privacy_hides_small_counts_and_their_shares() -> None:
    dot = comparison_dot([chain_analysis(), minimal_analysis()], "en", Privacy.publication())
    assert f"user panel: 4<BR/>implemented: &lt;3 ({DASH})" in node_line(dot, "__row1_funnel")
    council = node_line(dot, "__row1_council")
    assert f"median {DASH} · p90 {DASH}" in council  # one finished stay
    assert "now 3 · waiting 12 d" in council
    assert "counts below 3 are shown as &lt;3" in dot


def test_comparison_title_has_the_dates() -> None:
    later = dataclasses.replace(minimal_analysis(), as_of=datetime(2020, 1, 31, 12, tzinfo=UTC))
    dot = comparison_dot([chain_analysis(), later])
    assert "where proposals stall, stage by stage, as of 2019-06-30, 2020-01-31" in dot


def test_comparison_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="nothing to compare"):
        comparison_dot([])


@needs_dot
def test_comparison_columns_are_aligned(tmp_path: Path) -> None:
    import graphviz

    dot = comparison_dot([chain_analysis(), minimal_analysis(), chain_analysis()])
    plain = graphviz.pipe("dot", "plain", dot.encode("utf-8")).decode("utf-8")
    positions = {}
    for line in plain.splitlines():
        parts = line.split()
        if parts[0] == "node":
            positions[parts[1].strip('"')] = (float(parts[2]), float(parts[3]))
    for column in ("panel", "council", "administration", "political", "implementation", "evaluation", "funnel"):
        xs = {round(positions[f"__row{row}_{column}"][0], 2) for row in range(3)}
        xs.add(round(positions[f"__head_{column}"][0], 2))
        assert len(xs) == 1, f"column {column} is not straight: {xs}"
    for row in range(3):
        ys = {round(y, 2) for name, (_, y) in positions.items() if name.startswith(f"__row{row}_")}
        assert len(ys) == 1


# --- rendering to files -----------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [
    (".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph stalls {"),
])
def test_stall_diagram_renders_each_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    output = tmp_path / f"stalls{suffix}"
    assert render_stall_diagram(chain_analysis(), output, "nb", Privacy.publication()) == output
    data = output.read_bytes()
    assert magic in data[:2048] if suffix in (".svg", ".dot") else data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [output.name]  # no temporary file left over


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [
    (".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph comparison {"),
])
def test_comparison_renders_each_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    output = tmp_path / f"compare{suffix}"
    assert render_comparison([chain_analysis(), minimal_analysis()], output, "sv") == output
    data = output.read_bytes()
    assert magic in data[:2048] if suffix in (".svg", ".dot") else data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [output.name]


@needs_dot
def test_stall_svg_carries_the_freshness_stamp(tmp_path: Path) -> None:
    from flowengine.views.drawing import svg_is_current

    svg = render_stall_diagram(chain_analysis(), tmp_path / "stalls.svg")
    assert svg_is_current(svg, stall_diagram_dot(chain_analysis()))


def test_dot_output_needs_no_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    output = render_stall_diagram(chain_analysis(), tmp_path / "stalls.DOT", "en")
    assert output.read_text(encoding="utf-8") == stall_diagram_dot(chain_analysis())
    compared = render_comparison([minimal_analysis()], tmp_path / "compare.dot")
    assert compared.read_text(encoding="utf-8") == comparison_dot([minimal_analysis()])


@pytest.mark.parametrize("name", ["stalls.jpg", "stalls"])
def test_unsupported_extension_is_refused_before_drawing(tmp_path: Path, name: str) -> None:
    with pytest.raises(FlowEngineError, match=r"\.svg, \.png, \.pdf or \.dot"):
        render_stall_diagram(chain_analysis(), tmp_path / name)
    with pytest.raises(FlowEngineError, match=r"\.svg, \.png, \.pdf or \.dot"):
        render_comparison([chain_analysis()], tmp_path / name)
    assert list(tmp_path.iterdir()) == []
