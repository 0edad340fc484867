"""What is sent to Graphviz's layout: a diagram small enough to lay out in bounded time.

Graphviz's ``dot`` takes over a minute to lay out a workflow of 2,000 states, and its time grows
faster than the diagram. A diagram of more than :data:`MAX_DRAWN_NODES` nodes or
:data:`MAX_DRAWN_EDGES` edges is drawn condensed: each stage (a cluster of the model) becomes one
box, naming how many states it holds, and the arrows between stages stand for every transition
between their states; if that is still too many, the first nodes in the builder's order are kept
and the rest summarised in one box. The title says the drawing is condensed. The DOT text of a
diagram (a ``.dot`` file) is never condensed: it keeps every state, for other tools to lay out.

Works on the model alone (:mod:`flowengine.views.diagram`), so every builder's diagram — the
workflow, the stall diagram, the comparison — is bounded the same way.
"""

from __future__ import annotations

from dataclasses import replace

from flowengine import i18n
from flowengine.i18n.formats import number
from flowengine.views.diagram import Cluster, Diagram, Edge, Element, Node, NodeKind, SameRank, Span

__all__ = ["MAX_DRAWN_EDGES", "MAX_DRAWN_NODES", "condensed", "too_large"]

MAX_DRAWN_NODES = 100
MAX_DRAWN_EDGES = 200


def too_large(diagram: Diagram) -> bool:
    """Whether Graphviz would be given more than the limits allow."""
    return len(diagram.nodes) > MAX_DRAWN_NODES or len(diagram.edges) > MAX_DRAWN_EDGES


def condensed(diagram: Diagram) -> Diagram:
    """``diagram`` itself when it is within the limits; else its condensed form (see the module)."""
    if not too_large(diagram):
        return diagram
    states = len(diagram.nodes)
    stages = _stages_collapsed(diagram)
    kept = stages if len(stages.nodes) <= MAX_DRAWN_NODES else _first_nodes_kept(stages)
    edges = [e for e in kept.elements if isinstance(e, Edge)]
    dropped = max(0, len(edges) - MAX_DRAWN_EDGES)
    if dropped:
        over = {id(e) for e in edges[MAX_DRAWN_EDGES:]}
        kept = replace(kept, elements=tuple(e for e in kept.elements if id(e) not in over))
    note = i18n.t("condensed for drawing: {states} boxes drawn as {shown}; each stage is one box",
                  states=_number(states), shown=_number(len(kept.nodes)))
    if dropped:
        note += "; " + i18n.tn("{count} arrow left out", "{count} arrows left out", dropped, count=_number(dropped))
    return replace(kept, title=(*kept.title, (Span(note, italic=True),)))


def _stages_collapsed(diagram: Diagram) -> Diagram:
    """Each cluster as one box; arrows between boxes once per (tail, head, kind)."""
    taken = {node.id for node in diagram.nodes}
    owner: dict[str, str] = {}
    elements: list[Element] = []
    for element in diagram.elements:
        if isinstance(element, Cluster):
            box = _free_name(f"{element.id}_stage", taken)
            for node in element.nodes:
                owner[node.id] = box
            count = i18n.tn("{count} state", "{count} states", len(element.nodes), count=_number(len(element.nodes)))
            elements.append(Node(box, NodeKind.STATE, (*element.label, (Span(count),)), fill=element.fill,
                                 border=element.border))
        else:
            elements.append(element)
    return _rewired(diagram, elements, owner)


def _first_nodes_kept(diagram: Diagram) -> Diagram:
    """The first nodes in the builder's order, and one box for the rest."""
    nodes = diagram.nodes
    keep = {node.id for node in nodes[:MAX_DRAWN_NODES - 1]}
    rest = _free_name("the_rest", {node.id for node in nodes})
    left = len(nodes) - len(keep)
    owner = {node.id: rest for node in nodes if node.id not in keep}
    elements: list[Element] = []
    for element in diagram.elements:
        if isinstance(element, Node) and element.id not in keep:
            continue
        if isinstance(element, Cluster):
            inside = tuple(node for node in element.nodes if node.id in keep)
            if not inside:
                continue
            element = replace(element, nodes=inside, same_rank=tuple(n for n in element.same_rank if n in keep))
        elements.append(element)
    label = i18n.tn("… and {count} more box", "… and {count} more boxes", left, count=_number(left))
    elements.append(Node(rest, NodeKind.STATE, ((Span(label, italic=True),),)))
    return _rewired(diagram, elements, owner)


def _rewired(diagram: Diagram, elements: list[Element], owner: dict[str, str]) -> Diagram:
    """``elements`` with every edge's ends moved to the box now holding them; arrows within a box
    and repeats dropped; side-by-side ranks and the legend's anchor moved the same way."""
    seen: set[tuple[str, str, str]] = set()
    rewired: list[Element] = []
    for element in elements:
        if isinstance(element, Edge):
            tail, head = owner.get(element.tail, element.tail), owner.get(element.head, element.head)
            if (tail, head) == (element.tail, element.head):
                rewired.append(element)
                continue
            key = (tail, head, element.kind.value)
            if tail == head or key in seen:
                continue
            seen.add(key)
            rewired.append(replace(element, tail=tail, head=head, label=()))
        elif isinstance(element, SameRank):
            names = tuple(dict.fromkeys(owner.get(name, name) for name in element.nodes))
            if len(names) > 1:
                rewired.append(SameRank(names))
        else:
            rewired.append(element)
    legend = diagram.legend
    if legend is not None and legend.anchor is not None:
        legend = replace(legend, anchor=owner.get(legend.anchor, legend.anchor))
    return replace(diagram, elements=tuple(rewired), legend=legend)


def _number(value: int) -> str:
    return number(value, i18n.active())


def _free_name(wanted: str, taken: set[str]) -> str:
    name, number = wanted, 1
    while name in taken:
        number += 1
        name = f"{wanted}{number}"
    taken.add(name)
    return name
