"""The diagram model: what a diagram shows, in plain frozen data, before any drawing format.

Builders (:mod:`~flowengine.views.workflow_diagram`, :mod:`~flowengine.views.stall_diagram`,
:mod:`~flowengine.views.comparison_diagram`) make a :class:`Diagram` once from a definition and
figures; renderers turn it into a format (:mod:`~flowengine.views.dot` into DOT) and never look at
the engine, the definition or the figures. So a second renderer (HTML, SVG, a phone layout) needs
nothing but this model, and what a mark means is decided in one place.

Texts are already in the reader's language and are plain text: the renderer escapes them for its
format. A newline in a span's text is a line break inside that span's style.

Elements keep the order the builder gave them: a layout engine reads declaration order as a hint,
so the order is part of the diagram, and it is what makes the output byte-identical run after run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "Cluster", "Dash", "Diagram", "Direction", "Edge", "EdgeKind", "Element", "Label", "Legend", "LegendHeading",
    "LegendLine", "LegendNote", "LegendRow", "LegendSwatch", "Line", "Look", "Node", "NodeKind", "Outline",
    "SameRank", "Span", "plain",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Direction = Literal["left-to-right", "top-to-bottom"]
Dash = Literal["dashed", "dotted"]


@dataclass(frozen=True)
class Span:
    """A run of text in one style; ``size`` in points and ``colour`` when not the element's own."""

    text: str
    bold: bool = False
    italic: bool = False
    size: int | None = None
    colour: str | None = None


Line = tuple[Span, ...]
Label = tuple[Line, ...]


def plain(text: str) -> Label:
    """A label of one line of unstyled text."""
    return ((Span(text),),)


class NodeKind(StrEnum):
    """What a node stands for; renderers may draw each kind its own way."""

    STATE = "state"  # an open state of the workflow
    FINAL = "final"  # a final state (an outcome)
    UNDECLARED = "undeclared"  # a state the history uses that the workflow does not declare
    START = "start"  # where proposals start: a point with an arrow to the initial state
    ANY_STATE = "any_state"  # stands for every open state (transitions declared from any of them)
    CELL = "cell"  # a figure in a grid (the comparison)
    ABSENT = "absent"  # a grid cell for something that does not exist (a stage a workflow lacks)
    HEADING = "heading"  # text without a frame: a row's or a column's heading


class EdgeKind(StrEnum):
    """What an edge stands for."""

    TRANSITION = "transition"  # a declared transition (the workflow diagram)
    TAKEN = "taken"  # a declared transition the history took (width grows with how often)
    UNTAKEN = "untaken"  # a declared transition nobody took
    UNDECLARED = "undeclared"  # a step the history took that the workflow does not declare
    START = "start"  # from the start point to the initial state
    LAYOUT = "layout"  # invisible: only holds nodes in place


@dataclass(frozen=True)
class Outline:
    """A node's frame: rounded corners, filled, and a dashed or dotted border (solid when None)."""

    rounded: bool = True
    filled: bool = True
    dash: Dash | None = None


@dataclass(frozen=True)
class Node:
    """One box. ``None`` means "as the diagram's look says" (see :class:`Look`).

    ``id`` is a name unique in the diagram (letters, digits, ``_``), safe in any format; ``state``
    is the workflow state the node draws, when it draws one.
    """

    id: str
    kind: NodeKind
    label: Label = ()
    state: str | None = None
    shape: Literal["box", "doubleoctagon", "plaintext"] | None = None
    outline: Outline | None = None
    fill: str | None = None
    text_colour: str | None = None
    text_size: int | None = None
    border: str | None = None
    border_width: float | None = None
    height: float | None = None

    def __post_init__(self) -> None:
        _check_name(self.id, "node id")


@dataclass(frozen=True)
class Edge:
    """An arrow from ``tail`` to ``head`` (node ids). ``width`` in points; ``weight`` (layout
    edges) says how hard the layout keeps the two ends in line."""

    tail: str
    head: str
    kind: EdgeKind
    label: Label = ()
    colour: str | None = None
    text_colour: str | None = None
    width: float | None = None
    dash: Dash | None = None
    weight: int | None = None

    def __post_init__(self) -> None:
        _check_name(self.tail, "edge tail")
        _check_name(self.head, "edge head")

    @property
    def invisible(self) -> bool:
        return self.kind is EdgeKind.LAYOUT


@dataclass(frozen=True)
class Cluster:
    """A framed group of nodes (a stage). ``same_rank`` names nodes held side by side in one rank;
    ``title_left`` says the title is put left explicitly rather than wherever the diagram's is."""

    id: str
    label: Label
    fill: str
    border: str
    nodes: tuple[Node, ...]
    same_rank: tuple[str, ...] = ()
    title_left: bool = False

    def __post_init__(self) -> None:
        _check_name(self.id, "cluster id")
        for name in self.same_rank:
            _check_name(name, "node id")


@dataclass(frozen=True)
class SameRank:
    """Nodes held side by side in one rank (a row of a grid, drawn top to bottom)."""

    nodes: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in self.nodes:
            _check_name(name, "node id")


Element = Node | Edge | Cluster | SameRank


@dataclass(frozen=True)
class LegendHeading:
    """A heading in the legend."""

    text: str


@dataclass(frozen=True)
class LegendNote:
    """A line of text in the legend."""

    text: str


@dataclass(frozen=True)
class LegendSwatch:
    """A sample of a node's fill (and border), then what it means; ``mark`` is drawn inside it."""

    fill: str
    text: str
    border: str = "#888888"
    border_width: int = 1
    mark: str = ""


@dataclass(frozen=True)
class LegendLine:
    """A sample of an edge's line, then what it means (in ``text_colour`` when given)."""

    colour: str
    width: int
    text: str
    dash: Dash | None = None
    text_colour: str | None = None


LegendRow = LegendHeading | LegendNote | LegendSwatch | LegendLine


@dataclass(frozen=True)
class Legend:
    """What the marks mean, row by row, kept beside node ``anchor`` (the end of the chain).

    ``lines_left`` aligns the lines of a broken heading or note left rather than centred.
    """

    title: str
    rows: tuple[LegendRow, ...]
    anchor: str | None = None
    lines_left: bool = False

    def __post_init__(self) -> None:
        if self.anchor is not None:
            _check_name(self.anchor, "legend anchor")


@dataclass(frozen=True)
class Look:
    """How the diagram looks overall: its font, text sizes, default colours and spacing (inches).

    ``min_node_size`` (width, height) makes every node at least that big: equal cells keep the
    columns of a grid straight.
    """

    node_gap: float
    rank_gap: float
    font: str = "Helvetica,Arial,sans-serif"
    title_size: int = 16
    node_text_size: int = 11
    edge_text_size: int = 9
    cluster_title_size: int = 12
    node_fill: str = "#FFFFFF"
    node_border: str = "#555555"
    edge_colour: str = "#444444"
    min_node_size: tuple[float, float] | None = None


@dataclass(frozen=True)
class Diagram:
    """A whole diagram. ``name`` is a machine name ("workflow", "stalls"); ``comment`` is the
    note written at the top of a file made from it (what it is, what made it)."""

    name: str
    comment: str
    title: Label
    direction: Direction
    look: Look
    elements: tuple[Element, ...]
    legend: Legend | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "diagram name")

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, those in clusters included, in order."""
        return tuple(self._nodes())

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple(e for e in self.elements if isinstance(e, Edge))

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        return tuple(e for e in self.elements if isinstance(e, Cluster))

    def _nodes(self) -> Iterator[Node]:
        for element in self.elements:
            if isinstance(element, Node):
                yield element
            elif isinstance(element, Cluster):
                yield from element.nodes


def _check_name(name: str, what: str) -> None:
    # Builders make these names (from state ids only where those are safe); one that is not safe
    # is a programming error, never user input, so it is not a FlowEngineError.
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a name of letters, digits and '_'")
