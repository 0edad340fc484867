"""The rendered diagrams of the bundled workflows in ``diagrams/``, and whether they are current.

Each SVG carries a digest of the DOT it was drawn from, so "current" means "drawn from what
the YAML says today", whatever Graphviz version drew it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Workflow
from flowengine.definition.registry import bundled_dir, discover


@dataclass(frozen=True)
class DiagramStatus:
    workflow: Workflow
    diagram: Path
    current: bool


def bundled_diagram_status(out_dir: Path, language: str = "en") -> list[DiagramStatus]:
    """For every bundled workflow: where its diagram goes and whether the one there is current."""
    from flowengine.views.drawing import svg_is_current
    from flowengine.views.workflow_diagram import workflow_to_dot

    statuses = []
    for entry in discover([bundled_dir()]):
        workflow = load_workflow(entry.path, document=entry.document)
        target = out_dir / f"{workflow.id}.svg"
        current = target.is_file() and svg_is_current(target, workflow_to_dot(workflow, language))
        statuses.append(DiagramStatus(workflow, target, current))
    return statuses


def write_bundled_diagrams(out_dir: Path, language: str = "en") -> list[DiagramStatus]:
    """Redraw the diagrams that are out of date; returns the status before redrawing."""
    from flowengine.views.workflow_diagram import render

    out_dir.mkdir(parents=True, exist_ok=True)
    statuses = bundled_diagram_status(out_dir, language)
    for status in statuses:
        if not status.current:
            render(status.workflow, status.diagram, language)
    return statuses
