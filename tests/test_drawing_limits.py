"""What is sent to Graphviz's layout is bounded: a diagram beyond the limits is drawn condensed
(each stage one box; beyond that the first boxes and one for the rest), a diagram within them
unchanged, and a DOT file always whole. The limits' behaviour is tested here, not the time."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.definition.loader import build_workflow, load_workflow
from flowengine.definition.yamlsafe import read_text
from flowengine.views import drawing
from flowengine.views.condensed import MAX_DRAWN_EDGES, MAX_DRAWN_NODES, condensed, too_large
from flowengine.views.diagram import Diagram, Edge, EdgeKind, Legend, LegendNote, Look, Node, NodeKind, plain
from flowengine.views.dot import to_dot
from flowengine.views.workflow_diagram import workflow_diagram

from .conftest import REPO_ROOT
from .test_hostile_limits import star_workflow


def _star(states: int = 2000) -> Diagram:
    workflow, _ = build_workflow(read_text(star_workflow(states), "star.yaml"))
    return workflow_diagram(workflow, "en")


def _ends_exist(diagram: Diagram) -> None:
    names = {node.id for node in diagram.nodes}
    assert all(edge.tail in names and edge.head in names for edge in diagram.edges)
    assert diagram.legend is None or diagram.legend.anchor is None or diagram.legend.anchor in names


def _text(diagram: Diagram) -> str:
    return " ".join(span.text for line in diagram.title for span in line)


def test_a_diagram_within_the_limits_is_drawn_as_it_is() -> None:
    chain = workflow_diagram(load_workflow(REPO_ROOT / "workflows" / "default" / "innovation-chain.yaml"), "en")
    assert not too_large(chain)
    assert condensed(chain) is chain


def test_a_2000_state_workflow_is_drawn_one_box_per_stage() -> None:
    whole = _star()
    assert too_large(whole)
    drawn = condensed(whole)
    assert len(drawn.nodes) <= MAX_DRAWN_NODES and len(drawn.edges) <= MAX_DRAWN_EDGES
    assert not drawn.clusters  # each stage is one box now
    (panel,) = [node for node in drawn.nodes if "panel" in node.id]
    assert any(span.text == "1,999 states" for line in panel.label for span in line)
    assert "condensed for drawing: 2,002 boxes drawn as" in _text(drawn)
    _ends_exist(drawn)


def test_too_many_boxes_even_by_stage_keep_the_first_and_summarise_the_rest() -> None:
    nodes = [Node(f"n{i}", NodeKind.STATE, plain(f"state {i}")) for i in range(500)]
    edges = [Edge(f"n{i}", f"n{i + 1}", EdgeKind.TRANSITION, plain("go")) for i in range(499)]
    whole = Diagram("workflow", "", plain("Long"), "left-to-right", Look(0.3, 0.4), (*nodes, *edges),
                    Legend("legend", (LegendNote("x"),), anchor="n499"))
    drawn = condensed(whole)
    assert len(drawn.nodes) == MAX_DRAWN_NODES
    rest = drawn.nodes[-1]
    assert rest.label[0][0].text == f"… and {500 - (MAX_DRAWN_NODES - 1)} more boxes"
    assert drawn.legend is not None and drawn.legend.anchor == rest.id  # the legend stays beside the end
    assert [(e.tail, e.head) for e in drawn.edges][-1] == (f"n{MAX_DRAWN_NODES - 2}", rest.id)
    _ends_exist(drawn)


def test_too_many_arrows_are_left_out_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [Node(f"n{i}", NodeKind.STATE, plain(f"state {i}")) for i in range(10)]
    edges = [Edge(f"n{i}", f"n{j}", EdgeKind.TRANSITION) for i in range(10) for j in range(10)]
    whole = Diagram("workflow", "", plain("Dense"), "left-to-right", Look(0.3, 0.4), (*nodes, *edges))
    assert condensed(whole) is whole  # 100 arrows: within the limit
    monkeypatch.setattr("flowengine.views.condensed.MAX_DRAWN_EDGES", 30)
    drawn = condensed(whole)
    assert len(drawn.edges) == 30
    assert "70 arrows left out" in _text(drawn)


def test_graphviz_is_given_the_condensed_diagram_and_a_dot_file_keeps_every_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _star()
    sent: list[str] = []

    def fake_dot(source: str, fmt: str) -> bytes:
        sent.append(source)
        return b"<svg></svg>"

    monkeypatch.setattr(drawing, "_run_dot", fake_dot)
    drawing.draw(whole, tmp_path / "star.svg")
    assert sent == [to_dot(condensed(whole))]
    drawing.draw(whole, tmp_path / "star.dot")
    kept = (tmp_path / "star.dot").read_text(encoding="utf-8")
    assert kept == to_dot(whole)
    assert "s1999" in kept and "s1234" in kept
