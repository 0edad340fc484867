"""The diagram model on its own: what the builders put in it, and what the one DOT renderer makes
of a model built by hand. (What each diagram looks like is golden-tested in test_render.py and
test_overlay.py.)"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Workflow
from flowengine.definition.registry import bundled_dir, discover
from flowengine.views.comparison_diagram import COMPARED_STAGES, comparison_diagram
from flowengine.views.diagram import (
    Cluster,
    Diagram,
    Edge,
    EdgeKind,
    Legend,
    LegendHeading,
    LegendLine,
    LegendNote,
    LegendSwatch,
    Look,
    Node,
    NodeKind,
    Outline,
    SameRank,
    Span,
    plain,
)
from flowengine.views.dot import to_dot
from flowengine.views.drawing import draw
from flowengine.views.stall_diagram import stall_diagram
from flowengine.views.workflow_diagram import ANY_STATE, START, stage_of, workflow_diagram

from .conftest import REPO_ROOT
from .test_overlay import chain_analysis, minimal_analysis
from .test_render import make_workflow

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def bundled_workflows() -> list[Workflow]:
    return [load_workflow(entry.path, document=entry.document) for entry in discover([bundled_dir()])]


def declared_edges(workflow: Workflow) -> list[tuple[str, str]]:
    """(tail state, head state) of every declared transition source; "*" for a from-any one."""
    return [("*" if t.from_any else source, t.target) for t in workflow.transitions
            for source in (("*",) if t.from_any else t.sources)]


# --- what the builders put in the model ------------------------------------------------------


@pytest.mark.parametrize("workflow", [make_workflow(), *bundled_workflows()], ids=lambda w: w.id)
def test_workflow_model_has_one_node_per_state_and_one_edge_per_declared_transition_source(
        workflow: Workflow) -> None:
    diagram = workflow_diagram(workflow, "nb")
    by_id = {node.id: node for node in diagram.nodes}
    assert len(by_id) == len(diagram.nodes)  # ids are unique
    state_nodes = [node for node in diagram.nodes if node.state is not None]
    assert sorted(node.state or "" for node in state_nodes) == sorted(workflow.states)
    for node in state_nodes:
        assert node.kind is (NodeKind.FINAL if workflow.states[node.state or ""].final else NodeKind.STATE)

    def state_of(node_id: str) -> str:
        return "*" if node_id == ANY_STATE else by_id[node_id].state or ""

    transitions = [e for e in diagram.edges if e.kind is EdgeKind.TRANSITION]
    assert sorted((state_of(e.tail), state_of(e.head)) for e in transitions) == sorted(declared_edges(workflow))
    (start,) = [e for e in diagram.edges if e.kind is EdgeKind.START]
    assert (start.tail, by_id[start.head].state) == (START, workflow.initial_state.id if workflow.initial_state
                                                     else None)


@pytest.mark.parametrize("workflow", [make_workflow(), *bundled_workflows()], ids=lambda w: w.id)
def test_each_state_sits_in_its_own_stage_s_cluster(workflow: Workflow) -> None:
    for cluster in workflow_diagram(workflow).clusters:
        assert {stage_of(workflow.states[n.state or ""]) for n in cluster.nodes} == {cluster.id}


def test_labels_are_already_in_the_chosen_language() -> None:
    texts = {span.text for node in workflow_diagram(make_workflow(), "nb").nodes for line in node.label
             for span in line}
    assert "Til behandling i administrasjonen" in texts and "In administration" not in texts


def test_stall_model_draws_every_declared_source_once_and_the_rest_from_any_open_state() -> None:
    analysis = chain_analysis()
    workflow = analysis.workflow
    diagram = stall_diagram(analysis)
    by_id = {node.id: node for node in diagram.nodes}
    assert {n.state for n in diagram.nodes if n.kind in (NodeKind.STATE, NodeKind.FINAL)} == set(workflow.states)
    figures = [e for e in diagram.edges if e.kind in (EdgeKind.TAKEN, EdgeKind.UNTAKEN)]
    drawn = {(by_id[e.tail].state if e.tail != ANY_STATE else "*", by_id[e.head].state) for e in figures}
    for tail, head in declared_edges(workflow):
        if tail != "*":
            assert (tail, head) in drawn
    withdrawn_from = {t for t, h in drawn if h == "withdrawn"}
    assert "*" in withdrawn_from or withdrawn_from >= {s for s, st in workflow.states.items() if not st.final}
    assert all(e.width is not None and e.width >= 1 for e in figures if e.kind is EdgeKind.TAKEN)


def test_comparison_model_is_a_grid_of_one_row_per_analysis_and_one_column_per_stage() -> None:
    diagram = comparison_diagram([chain_analysis(), minimal_analysis()])
    rows = [e for e in diagram.elements if isinstance(e, SameRank)]
    assert len(rows) == 3  # the header, then one per analysis
    assert all(len(row.nodes) == len(COMPARED_STAGES) + 2 for row in rows)  # name, stages, funnel
    layout = [e for e in diagram.edges if e.kind is EdgeKind.LAYOUT]
    assert {e.weight for e in layout} == {10, 100}
    assert diagram.look.min_node_size is not None


# --- the renderer, on a model built by hand --------------------------------------------------


def hand_built(label_text: str = "Panel") -> Diagram:
    return Diagram(
        name="sample", comment="a sample", title=((Span("Sample", bold=True), Span(" · 2", size=11)),),
        direction="left-to-right", look=Look(node_gap=0.3, rank_gap=0.5),
        elements=(
            Cluster("panel", plain("Stage"), "#CCEEFF", "#AAAAAA",
                    (Node("a", NodeKind.STATE, ((Span(label_text, bold=True),), (Span("4 weeks", size=9),)), "a"),)),
            Node("b", NodeKind.FINAL, plain("Done"), "b", shape="doubleoctagon", outline=Outline(rounded=False),
                 fill="#66BB77"),
            Edge("a", "b", EdgeKind.TRANSITION, plain("finish"), "#0072B2", "#0072B2", 2, "dashed"),
        ),
        legend=Legend("Legend", (LegendHeading("Edges"), LegendLine("#444444", 1, "step", "dashed"),
                                 LegendSwatch("#66BB77", "done"), LegendNote("bold: start")), anchor="b"),
    )


def test_renderer_writes_a_hand_built_model_as_this_exact_dot() -> None:
    font = "Helvetica,Arial,sans-serif"
    assert to_dot(hand_built()) == "\n".join([
        "// a sample",
        "digraph sample {",
        f'  graph [charset="UTF-8", rankdir="LR", newrank="true", fontname="{font}", fontsize="16", labelloc="t", '
        'labeljust="l", label=<<B>Sample</B><FONT POINT-SIZE="11"> · 2</FONT>>, nodesep="0.3", ranksep="0.5", '
        'pad="0.3"];',
        f'  node [fontname="{font}", fontsize="11", shape="box", style="rounded,filled", fillcolor="#FFFFFF", '
        'color="#555555", margin="0.14,0.06"];',
        f'  edge [fontname="{font}", fontsize="9", color="#444444", arrowsize="0.7"];',
        "  subgraph cluster_panel {",
        '    graph [label=<Stage>, style="rounded,filled", fillcolor="#CCEEFF", color="#AAAAAA", fontsize="12"];',
        '    "a" [label=<<B>Panel</B><BR/><FONT POINT-SIZE="9">4 weeks</FONT>>];',
        "  }",
        '  "b" [label=<Done>, shape="doubleoctagon", style="filled", fillcolor="#66BB77"];',
        '  "a" -> "b" [label=<finish>, color="#0072B2", fontcolor="#0072B2", penwidth="2", style="dashed"];',
        "  subgraph cluster_legend {",
        '    graph [label=<<B>Legend</B>>, style="rounded,filled", fillcolor="#FFFFFF", color="#999999", '
        'fontsize="12"];',
        '    "__legend" [shape="plaintext", style="", fontsize="10", label=<<TABLE BORDER="0" CELLBORDER="0" '
        'CELLSPACING="3" CELLPADDING="2"><TR><TD COLSPAN="2" ALIGN="LEFT"><B>Edges</B></TD></TR>'
        '<TR><TD SIDES="B" BORDER="1" COLOR="#444444" STYLE="dashed" WIDTH="36"> </TD><TD ALIGN="LEFT">step</TD></TR>'
        '<TR><TD BORDER="1" COLOR="#888888" BGCOLOR="#66BB77" WIDTH="36"> </TD><TD ALIGN="LEFT">done</TD></TR>'
        '<TR><TD COLSPAN="2" ALIGN="LEFT">bold: start</TD></TR></TABLE>>];',
        "  }",
        '  "b" -> "__legend" [style=invis];',
        "}",
        "",
    ])


HOSTILE = 'He said "hi" \\ <b>bold</b> & more\nsecond: æøå\x00\x1b\r\n\tend\ud800'


def test_renderer_escapes_every_text_it_is_given() -> None:
    diagram = hand_built(HOSTILE)
    dot = to_dot(Diagram(diagram.name, "one\nline", diagram.title, diagram.direction, diagram.look,
                         diagram.elements, Legend(HOSTILE, (LegendNote(HOSTILE),))))
    assert dot.startswith("// one line\ndigraph sample {\n")
    escaped = "He said &quot;hi&quot; \\ &lt;b&gt;bold&lt;/b&gt; &amp; more<BR/>second: æøå<BR/> end"
    assert f'"a" [label=<<B>{escaped}</B><BR/>' in dot
    assert f"<B>{escaped}</B>>, style=" in dot  # the legend's title
    assert f'ALIGN="LEFT">{escaped}</TD>' in dot  # a legend row
    assert "<b>" not in dot and "\x00" not in dot and "\ud800" not in dot


@needs_dot
def test_graphviz_draws_a_hand_built_model_with_hostile_text(tmp_path: Path) -> None:
    svg = draw(hand_built(HOSTILE), tmp_path / "sample.svg").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in svg and "æøå" in svg


def test_layout_edges_that_continue_one_another_with_one_weight_are_one_path() -> None:
    nodes = tuple(Node(name, NodeKind.CELL) for name in "abcd")
    edges = (Edge("a", "b", EdgeKind.LAYOUT, weight=10), Edge("b", "c", EdgeKind.LAYOUT, weight=10),
             Edge("c", "d", EdgeKind.LAYOUT, weight=100), Edge("a", "c", EdgeKind.LAYOUT, weight=100),
             Edge("c", "d", EdgeKind.LAYOUT))
    dot = to_dot(Diagram("grid", "grid", plain("Grid"), "top-to-bottom", Look(0.1, 0.1), (*nodes, SameRank(("a", "b")),
                                                                                          *edges)))
    assert '  { rank=same; "a"; "b"; }\n' in dot
    assert ('  "a" -> "b" -> "c" [style=invis, weight=10];\n  "c" -> "d" [style=invis, weight=100];\n'
            '  "a" -> "c" [style=invis, weight=100];\n  "c" -> "d" [style=invis];\n') in dot


@pytest.mark.parametrize("name", ['a"b', "a b", "", "1a", "a-b", "æ", "a\n"])
def test_a_name_the_renderer_would_write_that_is_not_a_plain_name_is_refused(name: str) -> None:
    for make in (lambda: Node(name, NodeKind.STATE), lambda: Edge("a", name, EdgeKind.TRANSITION),
                 lambda: SameRank(("a", name)), lambda: Legend("Legend", (), anchor=name),
                 lambda: Cluster(name, plain("x"), "#FFFFFF", "#AAAAAA", ())):
        with pytest.raises(ValueError, match="not a name"):
            make()


# --- one module writes DOT -------------------------------------------------------------------

DOT_SYNTAX = re.compile(r"\bdigraph\b|\bsubgraph\b|\s->\s|\"->\"|rank=same|style=invis|label=<|\bcluster_")
RENDERER = Path("flowengine/views/dot.py")


def _string_constants(tree: ast.AST) -> list[str]:
    """Every string in the code but docstrings (f-strings give their literal parts)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_only_the_dot_renderer_writes_dot() -> None:
    writers = set()
    for path in sorted([*(REPO_ROOT / "flowengine").rglob("*.py"), *(REPO_ROOT / "cli").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(DOT_SYNTAX.search(text) for text in _string_constants(tree)):
            writers.add(path.relative_to(REPO_ROOT))
    assert writers == {RENDERER}


def test_the_renderer_reads_the_diagram_model_and_nothing_else_of_flowengine() -> None:
    tree = ast.parse((REPO_ROOT / RENDERER).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {name for name in imported if name.startswith("flowengine")} == {"flowengine.views.diagram"}
