"""The workflow diagram: a definition as a :class:`~flowengine.views.diagram.Diagram`.

States are grouped by stage in the shared STAGES order, states and transitions in declaration
order, so the same definition and language give the same model, hence the same DOT. The layout
is left to right: the chain is read like a timeline, panel first and closed last, and the
states' stacked label lines stay short horizontally.

The stall diagram (:mod:`flowengine.views.stall_diagram`) draws the same states under the same
node names and in the same stage clusters, so the pieces both use are public here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flowengine.definition.model import STAGES, State, Transition, Workflow
from flowengine.definition.vocabulary import term
from flowengine.views.diagram import (
    Cluster,
    Diagram,
    Direction,
    Edge,
    EdgeKind,
    Element,
    Label,
    Legend,
    LegendHeading,
    LegendLine,
    LegendNote,
    LegendRow,
    LegendSwatch,
    Look,
    Node,
    NodeKind,
    Outline,
    Span,
)
from flowengine.views.dot import to_dot
from flowengine.views.drawing import draw
from flowengine.views.formats import diagram_format

__all__ = ["OUTCOME_COLOURS", "STAGE_COLOURS", "render", "workflow_diagram", "workflow_to_dot"]

# Pastels from Paul Tol's colour-blind-safe "pale"/"light" schemes, lightened where needed so
# black text stays readable on top. Neighbouring stages never share a hue.
STAGE_COLOURS = {
    "panel": "#CCEEFF",           # pale cyan
    "council": "#BBCCEE",         # pale blue
    "administration": "#EEEEBB",  # pale yellow
    "political": "#EEDDEE",       # pale purple
    "implementation": "#CCDDAA",  # pale green
    "evaluation": "#FFE4CC",      # pale orange
    "closed": "#E6E6E6",          # pale grey
}
# Outcome fills of final states. Colour is never the only carrier: the outcome is also
# written in the node, so red/green colour blindness loses nothing.
OUTCOME_COLOURS = {
    "implemented": "#66BB77",
    "partially_implemented": "#B5DD99",
    "rejected": "#EE8877",
    "withdrawn": "#BBBBBB",
    "parked": "#F5C060",
    "merged": "#77AADD",
    "transferred": "#AACCEE",
}
NO_OUTCOME_COLOUR = "#FFFFFF"
EDGE_COLOUR = "#444444"
CLUSTER_BORDER = "#AAAAAA"
_ANSWERS_COLOUR = "#0072B2"  # Okabe-Ito blue: distinct from every outcome fill
_ROLES_COLOUR = "#555555"
_INITIAL_BORDER = 2.5

START = "__start__"
ANY_STATE = "__any_open_state__"
SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
COMMENT = "a workflow drawn by flowengine (flowengine.views.workflow_diagram); generated, do not edit"


def node_names(workflow: Workflow) -> dict[str, str]:
    """Each state's node id: the state id itself, or a synthetic name where it would not be a
    safe one; synthetic names start with ``__``, like the helper nodes, so none collide."""
    return {state_id: state_id if SAFE_NAME.fullmatch(state_id) else f"__state_{index}"
            for index, state_id in enumerate(workflow.states)}


def stage_of(state: State) -> str | None:
    # The schema says final states default to closed; a hand-built model may leave it None.
    if state.stage in STAGES:
        return state.stage
    return "closed" if state.final and state.stage is None else None


def states_by_stage(workflow: Workflow) -> dict[str | None, list[State]]:
    by_stage: dict[str | None, list[State]] = {}
    for state in workflow.states.values():
        by_stage.setdefault(stage_of(state), []).append(state)
    return by_stage


def stage_clusters(workflow: Workflow, node: Callable[[State], Node], fill: Callable[[str], str], language: str,
                   *, title_left: bool = False) -> tuple[list[Element], str | None]:
    """One cluster per stage in STAGES order, then the states of no stage; and the node id of
    the last state of the last stage (where the legend goes).

    The closed states are held in one rank: one column for every ending, after the chain, rather
    than each final state drifting to the rank after its source and smearing "closed" across the page.
    """
    by_stage = states_by_stage(workflow)
    elements: list[Element] = []
    anchor: str | None = None
    for stage in STAGES:
        if stage not in by_stage:
            continue
        nodes = tuple(node(state) for state in by_stage[stage])
        same_rank = tuple(n.id for n in nodes) if stage == "closed" and len(nodes) > 1 else ()
        elements.append(Cluster(stage, ((Span(term(stage, language), bold=True),),), fill(stage), CLUSTER_BORDER,
                                nodes, same_rank, title_left))
        anchor = nodes[-1].id
    elements += [node(state) for state in by_stage.get(None, [])]
    return elements, anchor


def start_marker(workflow: Workflow, names: dict[str, str]) -> list[Element]:
    """The start point and its arrow to the initial state (nothing when there is none)."""
    initial = workflow.initial_state
    if initial is None:
        return []
    return [Node(START, NodeKind.START), Edge(START, names[initial.id], EdgeKind.START)]


def any_state_node(language: str) -> Node:
    """The node transitions declared from every open state start from."""
    return Node(ANY_STATE, NodeKind.ANY_STATE, ((Span(term("any", language), italic=True),),), shape="box",
                outline=Outline(), fill="#F4F4F4", text_size=9, border="#777777", height=0.3)


def state_detail(state: State, workflow: Workflow, language: str) -> str:
    """An open state's small print: "owner: X · 4 weeks"; a final state's outcome."""
    if state.final:
        return (f"{term('outcome', language)}: {term(state.outcome, language)}"
                if state.outcome in OUTCOME_COLOURS else "")
    owner = ""
    if state.owner:
        role = workflow.roles.get(state.owner)
        owner = f"{term('owner', language)}: {role.label(language) if role else state.owner}"
    deadline = state.deadline.describe(language) if state.deadline else ""
    return " · ".join(part for part in (owner, deadline) if part)


def state_title(state: State, workflow: Workflow, language: str, detail_size: int = 9) -> Label:
    """The state's label in bold, over its small print when it has any."""
    title = (Span(state.label(language), bold=True),)
    detail = state_detail(state, workflow, language)
    return (title, (Span(detail, size=detail_size),)) if detail else (title,)


def outcome_fill(state: State) -> str:
    return OUTCOME_COLOURS.get(state.outcome or "", NO_OUTCOME_COLOUR)


def outcomes_used(workflow: Workflow) -> list[str]:
    """The outcomes the workflow's final states have, in OUTCOME_COLOURS order (for legends)."""
    return [o for o in OUTCOME_COLOURS if any(st.final and st.outcome == o for st in workflow.states.values())]


def _state_node(state: State, workflow: Workflow, name: str, language: str) -> Node:
    width = _INITIAL_BORDER if state.initial else None
    label = state_title(state, workflow, language)
    if state.final:
        return Node(name, NodeKind.FINAL, label, state.id, shape="doubleoctagon", outline=Outline(rounded=False),
                    fill=outcome_fill(state), border_width=width)
    return Node(name, NodeKind.STATE, label, state.id, border_width=width)


def _transition_edges(transition: Transition, workflow: Workflow, names: dict[str, str],
                      language: str) -> list[Element]:
    if transition.target not in names:
        return []  # validation reports dangling targets; the diagram just leaves them out
    label: Label = ((Span(transition.label(language)),),)
    if transition.roles:
        roles = ", ".join(workflow.roles[r].label(language) if r in workflow.roles else r for r in transition.roles)
        label += ((Span(roles, size=8, colour=_ROLES_COLOUR),),)
    # from_any edges need no look of their own: their tail, the "any open state" node, says it,
    # and they stay free to show the comment and answer markings like any other edge.
    answers = transition.answers_panel
    colour = _ANSWERS_COLOUR if answers else None
    tails = [ANY_STATE] if transition.from_any else [names[s] for s in transition.sources if s in names]
    return [Edge(tail, names[transition.target], EdgeKind.TRANSITION, label, colour, colour,
                 2 if answers else None, "dashed" if transition.requires_comment else None) for tail in tails]


def _legend(workflow: Workflow, language: str, anchor: str | None) -> Legend:
    """Stage colours, outcome colours and the edge looks; only the stages and outcomes the
    workflow uses are listed."""
    by_stage = states_by_stage(workflow)
    outcomes = outcomes_used(workflow)
    rows: list[LegendRow] = [LegendHeading(term("stages", language))]
    rows += [LegendSwatch(STAGE_COLOURS[s], term(s, language)) for s in STAGES if s in by_stage]
    if outcomes:
        rows += [LegendHeading(term("outcomes", language)),
                 *(LegendSwatch(OUTCOME_COLOURS[o], term(o, language)) for o in outcomes)]
    rows += [
        LegendHeading(term("edges", language)),
        LegendLine(EDGE_COLOUR, 1, term("edge", language)),
        LegendLine(EDGE_COLOUR, 1, term("comment", language), "dashed"),
        LegendLine(_ANSWERS_COLOUR, 2, term("answers", language), text_colour=_ANSWERS_COLOUR),
        LegendNote(term("initial", language)),
    ]
    return Legend(term("legend", language), tuple(rows), anchor)


def workflow_diagram(workflow: Workflow, language: str = "en", direction: Direction = "left-to-right") -> Diagram:
    """The diagram of ``workflow`` in ``language``: stage clusters, the start, every declared
    transition, and a legend; read left to right like a timeline, or top to bottom where the
    page is narrow (a phone)."""
    names = node_names(workflow)
    title: list[Span] = [Span(workflow.label(language), bold=True)]
    if workflow.version:
        title.append(Span(f" · {term('version', language)} {workflow.version}", size=11))
    elements, anchor = stage_clusters(
        workflow, lambda state: _state_node(state, workflow, names[state.id], language), STAGE_COLOURS.__getitem__,
        language)
    elements += start_marker(workflow, names)
    if any(t.from_any for t in workflow.transitions):
        elements.append(any_state_node(language))
    for transition in workflow.transitions:
        elements += _transition_edges(transition, workflow, names, language)
    return Diagram("workflow", COMMENT, (tuple(title),), direction, Look(node_gap=0.3, rank_gap=0.55),
                   tuple(elements), _legend(workflow, language, anchor))


def workflow_to_dot(workflow: Workflow, language: str = "en") -> str:
    """Deterministic DOT for ``workflow``: same definition and language, same bytes."""
    return to_dot(workflow_diagram(workflow, language))


def render(workflow: Workflow, output: Path, language: str = "en") -> Path:
    """Draw ``workflow`` to ``output``; the file's suffix picks the format (.svg, .png, .pdf or
    .dot, written atomically). Returns ``output``."""
    diagram_format(output)  # refuse a bad suffix before building anything
    return draw(workflow_diagram(workflow, language), Path(output))
