"""The DOT renderer: a :class:`~flowengine.views.diagram.Diagram` as Graphviz DOT text.

This is the only module that writes DOT. It reads the diagram model and nothing else (not the
engine, the definition or the figures), and writes it deterministically: the same model gives
the same bytes on every machine and with every version of the ``graphviz`` package, which is
what lets the DOT be golden-tested and lets the bundled diagrams in ``diagrams/`` carry a
freshness stamp (the SHA-256 of their DOT) instead of being compared with whatever the local
Graphviz would draw today.

Every piece of text goes into an HTML-like label (``label=<...>``) after XML escaping, because
DOT's quoted strings cannot represent every text (a trailing backslash ends up escaping the
closing quote, and ``\\n``, ``\\l``, ``\\N`` are interpreted). Names (node, cluster and graph ids)
are the model's, which allows letters, digits and ``_`` only.

The order of attributes follows the DOT these diagrams were first written with, per kind of node
and edge, and so do two number formats; Graphviz does not care, but the bytes (the golden files,
the stamps of the bundled diagrams) stay what they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeGuard

from flowengine.views.diagram import (
    Cluster,
    Diagram,
    Edge,
    EdgeKind,
    Element,
    Label,
    Legend,
    LegendHeading,
    LegendNote,
    LegendRow,
    LegendSwatch,
    Node,
    NodeKind,
    Outline,
    SameRank,
    Span,
)

__all__ = ["to_dot"]

# Characters XML 1.0 forbids (Graphviz's HTML-label parser is an XML parser) and lone
# surrogates (they cannot be encoded as UTF-8); tabs become spaces, newlines become <BR/>.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_ESCAPING = re.compile('[\x00-\x1f&<>"\ud800-\udfff\ufffe\uffff]')  # most texts have none

_RANKDIR = {"left-to-right": "LR", "top-to-bottom": "TB"}
_LEGEND_NODE = "__legend"
_LEGEND_FRAME = {"style": "rounded,filled", "fillcolor": "#FFFFFF", "color": "#999999", "fontsize": "12"}
_LEGEND_TEXT_SIZE = "10"
_SAMPLE_WIDTH = "36"  # points: the width of a legend's swatch or line sample

# Attribute orders (see the module docstring). A node or edge writes those of its attributes
# that are set, in its kind's order.
_GRAPH_ORDER = {
    "left-to-right": ("charset", "rankdir", "newrank", "fontname", "fontsize", "labelloc", "labeljust", "label",
                      "nodesep", "ranksep", "pad"),
    "top-to-bottom": ("charset", "newrank", "fontname", "fontsize", "labelloc", "labeljust", "label", "pad",
                      "rankdir", "nodesep", "ranksep"),
}
_FIGURE_ORDER = ("label", "fillcolor", "fontcolor", "style", "color", "penwidth")
_SHAPE_ORDER = ("label", "shape", "style", "fillcolor", "fontsize", "color", "penwidth", "height")
_NODE_ORDER = {
    NodeKind.STATE: _FIGURE_ORDER,
    NodeKind.UNDECLARED: _FIGURE_ORDER,
    NodeKind.CELL: _FIGURE_ORDER,
    NodeKind.FINAL: _SHAPE_ORDER,
    NodeKind.ANY_STATE: _SHAPE_ORDER,
    NodeKind.HEADING: _SHAPE_ORDER,
    NodeKind.ABSENT: ("label", "fillcolor", "fontcolor", "color", "style"),
}
_START_NODE = '[shape=point, width=0.12, label="", tooltip="start"]'
_DECLARED_ORDER = ("label", "color", "fontcolor", "penwidth", "style")
_FIGURE_EDGE_ORDER = ("label", "style", "color", "fontcolor", "penwidth")
_EDGE_ORDER = {
    EdgeKind.TRANSITION: _DECLARED_ORDER,
    EdgeKind.START: _DECLARED_ORDER,
    EdgeKind.TAKEN: _FIGURE_EDGE_ORDER,
    EdgeKind.UNTAKEN: _FIGURE_EDGE_ORDER,
    EdgeKind.UNDECLARED: _FIGURE_EDGE_ORDER,
}
# Edges whose width grades a figure print it with one decimal ("1.0"), the others as short as may be.
_GRADED_WIDTH = frozenset({EdgeKind.TAKEN, EdgeKind.UNTAKEN, EdgeKind.UNDECLARED})


def to_dot(diagram: Diagram) -> str:
    """The DOT text of ``diagram``: same model, same bytes."""
    look = diagram.look
    graph = {"charset": "UTF-8", "rankdir": _RANKDIR[diagram.direction], "newrank": "true", "fontname": look.font,
             "fontsize": str(look.title_size), "labelloc": "t", "labeljust": "l", "label": _label(diagram.title),
             "nodesep": _number(look.node_gap), "ranksep": _number(look.rank_gap), "pad": "0.3"}
    lines = [
        "// " + " ".join(diagram.comment.splitlines()),
        f"digraph {diagram.name} {{",
        f"  graph {_attrs((key, graph[key]) for key in _GRAPH_ORDER[diagram.direction])};",
        "  node " + _attrs([("fontname", look.font), ("fontsize", str(look.node_text_size)), ("shape", "box"),
                            ("style", "rounded,filled"), ("fillcolor", look.node_fill), ("color", look.node_border),
                            ("margin", "0.14,0.06")]) + ";",
        "  edge " + _attrs([("fontname", look.font), ("fontsize", str(look.edge_text_size)),
                            ("color", look.edge_colour), ("arrowsize", "0.7")]) + ";",
    ]
    if look.min_node_size is not None:
        width, height = look.min_node_size
        lines.append(f"  node {_attrs([('width', _number(width)), ('height', _number(height))])};")
    lines += _elements(diagram.elements, look.cluster_title_size)
    if diagram.legend is not None:
        lines += _legend(diagram.legend)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    """Escape text for the inside of an HTML-like label; newlines become line breaks."""
    if not _NEEDS_ESCAPING.search(text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _XML_INVALID.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return "<BR/>".join(text.split("\n"))


def _span(span: Span) -> str:
    text = _escaped(span.text)
    if span.italic:
        text = f"<I>{text}</I>"
    if span.bold:
        text = f"<B>{text}</B>"
    if span.size is not None or span.colour is not None:
        size = f' POINT-SIZE="{span.size}"' if span.size is not None else ""
        colour = f' COLOR="{_escaped(span.colour)}"' if span.colour is not None else ""
        text = f"<FONT{size}{colour}>{text}</FONT>"
    return text


def _label(label: Label) -> str:
    return "<" + "<BR/>".join("".join(_span(span) for span in line) for line in label) + ">"


def _number(value: float) -> str:
    return f"{value:g}"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', r"\"") + '"'


def _attrs(attributes: Iterable[tuple[str, str]]) -> str:
    """``[key=value, ...]`` in the order given; a ``label`` is an HTML-like label, made by :func:`_label`
    (or the legend's table) from escaped text, every other value is quoted."""
    parts = [f"{key}={value if key == 'label' else _quoted(value)}" for key, value in attributes]
    return "[" + ", ".join(parts) + "]"


def _style(outline: Outline) -> str:
    return ",".join([*(["rounded"] if outline.rounded else []), *(["filled"] if outline.filled else []),
                     *([outline.dash] if outline.dash else [])])


def _node(node: Node, indent: str) -> str:
    if node.kind is NodeKind.START:
        return f'{indent}"{node.id}" {_START_NODE};'
    values = {
        "label": _label(node.label) if node.label else None,
        "shape": node.shape,
        "style": _style(node.outline) if node.outline is not None else None,
        "fillcolor": node.fill,
        "fontcolor": node.text_colour,
        "fontsize": None if node.text_size is None else str(node.text_size),
        "color": node.border,
        "penwidth": None if node.border_width is None else _number(node.border_width),
        "height": None if node.height is None else _number(node.height),
    }
    return f'{indent}"{node.id}" {_attrs(_present(values, _NODE_ORDER[node.kind]))};'


def _edge(edge: Edge) -> str:
    if edge.kind is EdgeKind.LAYOUT:
        return f'  "{edge.tail}" -> "{edge.head}" {_layout(edge)};'
    width = edge.width
    values = {
        "label": _label(edge.label) if edge.label else None,
        "style": edge.dash,
        "color": edge.colour,
        "fontcolor": edge.text_colour,
        "penwidth": None if width is None else f"{width:.1f}" if edge.kind in _GRADED_WIDTH else _number(width),
    }
    attributes = _present(values, _EDGE_ORDER[edge.kind])
    return f'  "{edge.tail}" -> "{edge.head}"' + (f" {_attrs(attributes)};" if attributes else ";")


def _present(values: dict[str, str | None], order: Sequence[str]) -> list[tuple[str, str]]:
    return [(key, value) for key in order if (value := values[key]) is not None]


def _layout(edge: Edge) -> str:
    return "[style=invis" + (f", weight={edge.weight}]" if edge.weight is not None else "]")


def _elements(elements: Sequence[Element], cluster_title_size: int) -> list[str]:
    """The statements of ``elements``; a run of layout edges that continue one another with one
    weight is one path (``a -> b -> c``)."""
    lines: list[str] = []
    index = 0
    while index < len(elements):
        element = elements[index]
        if isinstance(element, Node):
            lines.append(_node(element, "  "))
        elif isinstance(element, Cluster):
            lines += _cluster(element, cluster_title_size)
        elif isinstance(element, SameRank):
            lines.append(_same_rank(element.nodes, "  "))
        elif element.kind is EdgeKind.LAYOUT:
            path = [element]
            while index + 1 < len(elements):
                following = elements[index + 1]
                if not _extends(following, path[-1]):
                    break
                path.append(following)
                index += 1
            lines.append("  " + " -> ".join(f'"{e.tail}"' for e in path) + f' -> "{path[-1].head}" '
                         + _layout(element) + ";")
        else:
            lines.append(_edge(element))
        index += 1
    return lines


def _extends(element: Element, edge: Edge) -> TypeGuard[Edge]:
    """Whether ``element`` is a layout edge that goes on from ``edge`` with its weight."""
    return (isinstance(element, Edge) and element.kind is EdgeKind.LAYOUT and element.tail == edge.head
            and element.weight == edge.weight)


def _same_rank(nodes: Sequence[str], indent: str) -> str:
    return indent + "{ rank=same; " + "; ".join(f'"{name}"' for name in nodes) + "; }"


def _cluster(cluster: Cluster, title_size: int) -> list[str]:
    graph = [("label", _label(cluster.label)), ("style", "rounded,filled"), ("fillcolor", cluster.fill),
             ("color", cluster.border), ("fontsize", str(title_size))]
    if cluster.title_left:
        graph.append(("labeljust", "l"))
    lines = [f"  subgraph cluster_{cluster.id} {{", f"    graph {_attrs(graph)};"]
    lines += [_node(node, "    ") for node in cluster.nodes]
    if cluster.same_rank:
        lines.append(_same_rank(cluster.same_rank, "    "))
    lines.append("  }")
    return lines


def _legend(legend: Legend) -> list[str]:
    """A cluster holding one table of samples and their meanings.

    Line samples are cell borders of the same colour, width and dash as the real edges, so the
    sample is what the reader sees. One node (rather than sample edges between helper nodes)
    keeps the legend compact and its place predictable: an invisible edge from the anchor puts
    it after the chain.
    """
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
             + "".join(_legend_row(row, legend.lines_left) for row in legend.rows) + "</TABLE>>")
    title = _label(((Span(legend.title, bold=True),),))
    legend_node = [("shape", "plaintext"), ("style", ""), ("fontsize", _LEGEND_TEXT_SIZE), ("label", table)]
    lines = [
        "  subgraph cluster_legend {",
        f"    graph {_attrs([('label', title), *_LEGEND_FRAME.items()])};",
        f'    "{_LEGEND_NODE}" {_attrs(legend_node)};',
        "  }",
    ]
    if legend.anchor is not None:
        lines.append(f'  "{legend.anchor}" -> "{_LEGEND_NODE}" [style=invis];')
    return lines


def _legend_row(row: LegendRow, lines_left: bool) -> str:
    if isinstance(row, LegendHeading | LegendNote):
        text = _escaped(row.text)
        if isinstance(row, LegendHeading):
            text = f"<B>{text}</B>"
        balign = ' BALIGN="LEFT"' if lines_left else ""
        return f'<TR><TD COLSPAN="2" ALIGN="LEFT"{balign}>{text}</TD></TR>'
    if isinstance(row, LegendSwatch):
        sample = (f'<TD BORDER="{row.border_width}" COLOR="{_escaped(row.border)}" BGCOLOR="{_escaped(row.fill)}" '
                  f'WIDTH="{_SAMPLE_WIDTH}">{_escaped(row.mark) or " "}</TD>')
        return f'<TR>{sample}<TD ALIGN="LEFT">{_escaped(row.text)}</TD></TR>'
    dash = f' STYLE="{row.dash}"' if row.dash else ""
    text = _escaped(row.text)
    if row.text_colour is not None:
        text = f'<FONT COLOR="{_escaped(row.text_colour)}">{text}</FONT>'
    return (f'<TR><TD SIDES="B" BORDER="{row.width}" COLOR="{_escaped(row.colour)}"{dash} '
            f'WIDTH="{_SAMPLE_WIDTH}"> </TD>'
            f'<TD ALIGN="LEFT">{text}</TD></TR>')
