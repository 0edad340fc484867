"""The stall diagram: where proposals wait, drawn over the declared workflow, as a
:class:`~flowengine.views.diagram.Diagram`.

Built from the figures of :mod:`flowengine.analysis.figures` alone: the same figures, language and
privacy give the same model (fixed number formats, iteration in declaration or stage order), hence
byte-identical DOT, which is golden-tested.

What the stall diagram shows, and how:

- Open states are filled by ``StateFigures.severity`` (computed by the analysis: the median
  dwell of finished stays — or of current waits where nobody has left yet — relative to the
  slowest open state) on a sequential
  yellow-orange-brown scale (Paul Tol's colour-blind-safe YlOrBr); text turns white on the two
  darkest levels. White means nobody has stayed there; grey means too few stays to show.
- Each open state says "now N · median X d" and "over deadline K" (or, without a deadline,
  "stalled K"); a thick red border marks states with proposals over the deadline or stalled
  now, and the text says the same in bold, so colour is never the only carrier.
- Final states keep their outcome fill and say how many proposals ended there.
- Declared transitions are drawn per source state; width grows with how often a step was
  taken and the label says how often and the median days in the source before it. Declared
  steps nobody took are dashed grey; steps the history took that the workflow does not
  declare are dotted red and say so. A transition declared from any open state is drawn from
  each state it was taken from, plus one dashed edge from "any open state" for the rest.

The layout is top to bottom (stages stacked, panel first): the stall figures make nodes wide,
and a left-to-right chain of a dozen such states would be far wider than any page.

The severity scale, the flag and the legend rows that explain them are shared with the
comparison (:mod:`flowengine.views.comparison_diagram`), so both read alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flowengine.analysis.cells import cell
from flowengine.analysis.figures import NO_PRIVACY, Analysis, Privacy, Spread, StateFigures, TransitionFigures
from flowengine.definition.model import State, Transition, Workflow
from flowengine.definition.vocabulary import term
from flowengine.i18n import t
from flowengine.views.diagram import (
    Diagram,
    Edge,
    EdgeKind,
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
from flowengine.views.figure_wording import DASH, TIMES, date, median
from flowengine.views.formats import diagram_format
from flowengine.views.workflow_diagram import (
    ANY_STATE,
    OUTCOME_COLOURS,
    SAFE_NAME,
    any_state_node,
    node_names,
    outcome_fill,
    outcomes_used,
    stage_clusters,
    start_marker,
    state_title,
)

__all__ = ["SEVERITY_COLOURS", "few", "render_stall_diagram", "stall_diagram", "stall_diagram_dot", "tint"]

# Paul Tol's sequential YlOrBr scheme (colour-blind safe, prints in grey as a ramp), four of
# its nine steps; level 0 (nobody stayed) is white. The text colour keeps a WCAG contrast of
# at least 4.5:1 on each fill.
SEVERITY_COLOURS = ("#FFFFFF", "#FEE391", "#FB9A29", "#CC4C02", "#662506")
SEVERITY_TEXT = ("#555555", "#000000", "#000000", "#FFFFFF", "#FFFFFF")
HIDDEN_COLOUR = "#D9D9D9"  # too few stays to show (privacy)
HIDDEN_TEXT = "#000000"
FLAG_COLOUR = "#CC0000"  # proposals over the deadline or stalled now
JUMP_COLOUR = "#CC0000"  # steps taken that the workflow does not declare
UNUSED_COLOUR = "#999999"  # declared steps nobody took
TAKEN_COLOUR = "#444444"
CLUSTER_COLOUR = "#F7F7F7"  # stage clusters stay neutral: colour belongs to the figures
FLAG_WIDTH = 3
SOLID_STAYS = 5  # a median resting on fewer stays is drawn pale: one stay must not look like 5,000
MAX_EXTRA_WIDTH = 4.0  # the most taken step is drawn 1 + 4 points wide
LOOK = Look(node_gap=0.35, rank_gap=0.5, node_text_size=10, edge_colour=TAKEN_COLOUR)
COMMENT = "where proposals stall, drawn by flowengine (flowengine.views.stall_diagram); generated, do not edit"


# --- shared with the comparison --------------------------------------------------------------


def title(title_key: str, dates: Sequence[str], subject: str, detail: str, language: str) -> Label:
    """``subject`` in bold over "<what> as of <dates> · <detail>", or that alone in bold."""
    what = f"{term(title_key, language)} {', '.join(dates)}" + (f" · {detail}" if detail else "")
    if not subject:
        return ((Span(what, bold=True),),)
    return ((Span(subject, bold=True),), (Span(what, size=12),))


def severity_rows(heading_key: str, privacy: Privacy, language: str) -> list[LegendRow]:
    """The fill scale: a heading, one swatch per level, and grey for hidden figures when hiding."""
    rows: list[LegendRow] = [LegendHeading(term(heading_key, language))]
    rows += [LegendSwatch(SEVERITY_COLOURS[level], term(f"severity_{level}", language)) for level in range(5)]
    if privacy.min_count > 0:
        rows.append(LegendSwatch(HIDDEN_COLOUR, term("hidden", language)))
    return rows


def few_rows(language: str) -> list[LegendRow]:
    """The pale fill of a median resting on few stays."""
    return [LegendSwatch(tint(SEVERITY_COLOURS[3]), t("pale, dotted: the median rests on fewer than {n} stays "
                                                     "(n=…: how many)", language=language, n=SOLID_STAYS))]


def flag_rows(language: str) -> list[LegendRow]:
    """The red border, and what "stalled" means."""
    return [LegendSwatch("#FFFFFF", term("flag_border", language), border=FLAG_COLOUR, border_width=FLAG_WIDTH),
            LegendNote(term("stalled_means", language))]


def privacy_rows(privacy: Privacy, language: str) -> list[LegendRow]:
    """Below which count figures are hidden, when they are."""
    if privacy.min_count <= 0:
        return []
    return [LegendNote(term("privacy_counts", language).format(n=privacy.min_count))]


# --- the stall diagram -----------------------------------------------------------------------


def _width(taken: int, most: int, privacy: Privacy, key: str) -> float:
    """Edge width for a step taken ``taken`` times (``most``: the most taken of those shown); a
    suppressed count gets the thinnest line, or its width would tell it."""
    if most <= 0 or privacy.hides(taken, key):
        return 1.0
    return 1 + MAX_EXTRA_WIDTH * taken / most


def typical_cell(workflow: str, figures: StateFigures) -> str:
    """The count a state's typical stay rests on: its finished stays, else those waiting there."""
    return cell(workflow, "passed" if figures.passed.count else "now", figures.state)


def few(spread: Spread) -> bool:
    """Whether a median rests on too few stays to be drawn in full colour."""
    return 0 < spread.count < SOLID_STAYS


def tint(colour: str) -> str:
    """``colour`` mixed half and half with white: the same hue, visibly paler."""
    channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{(c + 255) // 2:02X}" for c in channels)


def _fill(figures: StateFigures | None, privacy: Privacy, workflow: str) -> tuple[str, str]:
    """(fill, text colour) of an open state; pale where its median rests on few stays."""
    if figures is None or figures.severity <= 0 or not figures.typical.count:
        return SEVERITY_COLOURS[0], SEVERITY_TEXT[0]
    if not privacy.shows(figures.typical, typical_cell(workflow, figures)):
        return HIDDEN_COLOUR, HIDDEN_TEXT
    level = min(figures.severity, len(SEVERITY_COLOURS) - 1)
    if few(figures.typical):
        return tint(SEVERITY_COLOURS[level]), "#000000"
    return SEVERITY_COLOURS[level], SEVERITY_TEXT[level]


def _flagged(figures: StateFigures | None) -> bool:
    return figures is not None and (figures.over_deadline_now > 0 or figures.stalled_now > 0)


def _figure_lines(state: str, figures: StateFigures | None, has_deadline: bool, privacy: Privacy, language: str,
                  workflow: str) -> Label:
    """"now N · median X d (n=S)" and "over deadline K" (or "no deadline · stalled K"), the second
    in bold when the state is flagged; S is how many stays the median rests on."""
    now = figures.now if figures else 0
    stays = figures.typical if figures else Spread()
    rests = typical_cell(workflow, figures) if figures else cell(workflow, "passed", state)
    first = (f"{term('now', language)} {privacy.count(now, cell(workflow, 'now', state))} · "
             f"{term('median', language)} {median(stays, privacy, language, rests)}")
    if stays.count and privacy.shows(stays, rests):
        first += f" (n={privacy.count(stays.count, rests)})"
    if has_deadline:
        over = figures.over_deadline_now if figures else 0
        second = f"{term('over_deadline', language)} {privacy.count(over, cell(workflow, 'over', state))}"
    else:
        stalled = figures.stalled_now if figures else 0
        second = (f"{term('no_deadline', language)} · {term('stalled', language)} "
                  f"{privacy.count(stalled, cell(workflow, 'stalled', state))}")
    return (Span(first),), (Span(second, bold=_flagged(figures)),)


def _flag(figures: StateFigures | None) -> tuple[str | None, float | None]:
    return (FLAG_COLOUR, FLAG_WIDTH) if _flagged(figures) else (None, None)


def _open_node(state: State, figures: StateFigures | None, workflow: Workflow, name: str, privacy: Privacy,
               language: str) -> Node:
    label = state_title(state, workflow, language) + _figure_lines(state.id, figures, state.deadline is not None,
                                                                   privacy, language, workflow.id)
    fill, text = _fill(figures, privacy, workflow.id)
    border, width = _flag(figures)
    outline = Outline(dash="dotted") if figures is not None and few(figures.typical) and fill != HIDDEN_COLOUR \
        else None
    return Node(name, NodeKind.STATE, label, state.id, outline=outline, fill=fill, text_colour=text, border=border,
                border_width=width)


def _final_node(state: State, figures: StateFigures | None, workflow: Workflow, name: str, privacy: Privacy,
                language: str) -> Node:
    ended_here = privacy.count(figures.now if figures else 0, cell(workflow.id, "now", state.id))
    ended = f"{term('ended_here', language)}: {ended_here}"
    label = (*state_title(state, workflow, language), (Span(ended),))
    return Node(name, NodeKind.FINAL, label, state.id, shape="doubleoctagon", outline=Outline(rounded=False),
                fill=outcome_fill(state))


def _undeclared_node(state_id: str, figures: StateFigures | None, name: str, privacy: Privacy,
                     language: str, workflow: str) -> Node:
    """A state the history uses but the workflow does not declare: dotted red, and it says so."""
    label: Label = ((Span(state_id or DASH, bold=True),), (Span(term("not_declared", language), italic=True, size=9),))
    fill, text = _fill(figures, privacy, workflow)
    return Node(name, NodeKind.UNDECLARED, label + _figure_lines(state_id, figures, False, privacy, language,
                                                                 workflow), state_id,
                outline=Outline(dash="dotted"), fill=fill, text_colour=text, border=JUMP_COLOUR,
                border_width=FLAG_WIDTH if _flagged(figures) else 2)


def _edge_label(text: str, taken: int, days: Spread, privacy: Privacy, language: str, key: str,
                note: str = "") -> Label:
    figures = f"{privacy.count(taken, key)}{TIMES}"
    if taken:
        figures += f" · {term('median', language)} {median(days, privacy, language, key)}"
    label: Label = ((Span(text),), (Span(figures, size=8),))
    return (*label, (Span(note, italic=True, size=8),)) if note else label


def _taken_edge(tail: str, head: str, label: str, figures: TransitionFigures, most: int, privacy: Privacy,
                language: str, key: str) -> Edge:
    return Edge(tail, head, EdgeKind.TAKEN, _edge_label(label, figures.taken, figures.days_before, privacy, language,
                                                        key), width=_width(figures.taken, most, privacy, key))


def _untaken_edge(tail: str, head: str, label: str, privacy: Privacy, language: str, key: str) -> Edge:
    return Edge(tail, head, EdgeKind.UNTAKEN, _edge_label(label, 0, Spread(), privacy, language, key),
                colour=UNUSED_COLOUR, text_colour="#666666", dash="dashed")


def _declared_edges(workflow: Workflow, analysis: Analysis, names: dict[str, str], most: int, privacy: Privacy,
                    language: str) -> tuple[list[Edge], bool]:
    """Edges of the declared transitions, and whether the "any open state" node is needed."""
    figures = {(t.source, t.trigger, t.target): t for t in analysis.transitions}
    taken_from: dict[tuple[str, str], list[str]] = {}  # the states a step from any state was taken from
    for step in analysis.transitions:
        if step.taken > 0:
            taken_from.setdefault((step.trigger, step.target), []).append(step.source)
    edges: list[Edge] = []
    drawn: set[tuple[str, str, str]] = set()
    uses_any = False
    for transition in workflow.transitions:
        if transition.target not in names:
            continue  # validation reports dangling targets; the diagram leaves them out
        head = names[transition.target]
        label = transition.label(language)
        rest = []
        # From any state: only the states it was taken from get an edge of their own, the rest one
        # edge from "any open state" (never one edge per state: that would be n² edges).
        sources = transition.sources
        if transition.from_any:
            used = [s for s in taken_from.get((transition.trigger, transition.target), []) if s in names]
            if len(used) < len(sources):
                rest.append("*")
            sources = tuple(used)
        for source in sources:
            key = (source, transition.trigger, transition.target)
            if source not in names or key in drawn:
                continue
            drawn.add(key)
            taken = figures.get(key)
            named = cell(workflow.id, "taken", *key)
            if taken is not None and taken.taken > 0:
                edges.append(_taken_edge(names[source], head, label, taken, most, privacy, language, named))
            elif transition.from_any:
                rest.append(source)
            else:
                edges.append(_untaken_edge(names[source], head, label, privacy, language, named))
        if rest:
            uses_any = True
            edges.append(_untaken_edge(ANY_STATE, head, label, privacy, language, cell(workflow.id, "taken", "*",
                                                                                   transition.trigger,
                                                                                   transition.target)))
    return edges, uses_any


def _trigger_label(workflow: Workflow, trigger: str, language: str) -> str:
    declared: Transition | None = next((t for t in workflow.transitions if t.trigger == trigger), None)
    return declared.label(language) if declared is not None else trigger


def _legend(workflow: Workflow, privacy: Privacy, language: str, anchor: str | None) -> Legend:
    outcomes = outcomes_used(workflow)
    rows = [*severity_rows("fill_states", privacy, language), *few_rows(language), *flag_rows(language)]
    if outcomes:
        rows += [LegendHeading(term("outcomes", language)),
                 *(LegendSwatch(OUTCOME_COLOURS[o], term(o, language)) for o in outcomes)]
    rows += [
        LegendHeading(term("edges", language)),
        LegendLine(TAKEN_COLOUR, 3, term("edge_taken", language)),
        LegendLine(UNUSED_COLOUR, 1, term("edge_unused", language), "dashed"),
        LegendLine(JUMP_COLOUR, 2, term("edge_jump", language), "dotted"),
        *privacy_rows(privacy, language),
    ]
    return Legend(term("legend", language), tuple(rows), anchor, lines_left=True)


def stall_diagram(analysis: Analysis, language: str = "en", privacy: Privacy = NO_PRIVACY) -> Diagram:
    """``analysis.workflow`` with where its proposals wait drawn over it.

    Same node names, stage clusters and final-state column as
    :func:`flowengine.views.workflow_diagram.workflow_diagram`, laid out top to bottom. Counts go
    through ``privacy.count`` and spreads resting on too few stays are shown as a dash (and their
    fill grey); see the module docstring for what each mark means.
    """
    workflow = analysis.workflow
    names = node_names(workflow)
    by_id = {s.state: s for s in analysis.states}

    def node(state: State) -> Node:
        build = _final_node if state.final else _open_node
        return build(state, by_id.get(state.id), workflow, names[state.id], privacy, language)

    elements, anchor = stage_clusters(workflow, node, lambda stage: CLUSTER_COLOUR, language, title_left=True)

    # States the history uses but the workflow does not declare, in the analysis's order,
    # then any other end of an undeclared jump.
    undeclared: list[str] = [s.state for s in analysis.states if s.state not in workflow.states]
    for jump in analysis.jumps:
        undeclared += [end for end in (jump.source, jump.target)
                       if end not in workflow.states and end not in undeclared]
    for index, state_id in enumerate(undeclared):
        names[state_id] = state_id if SAFE_NAME.fullmatch(state_id) else f"__undeclared_{index}"
        elements.append(_undeclared_node(state_id, by_id.get(state_id), names[state_id], privacy, language,
                                         workflow.id))

    elements += start_marker(workflow, names)
    most = max((t.taken for t in analysis.transitions
                if not privacy.hides(t.taken, cell(workflow.id, "taken", t.source, t.trigger, t.target))), default=0)
    edges, uses_any = _declared_edges(workflow, analysis, names, most, privacy, language)
    if uses_any:
        elements.append(any_state_node(language))
    elements += edges
    for jump in analysis.jumps:
        key = cell(workflow.id, "taken", jump.source, jump.trigger, jump.target)
        label = _edge_label(_trigger_label(workflow, jump.trigger, language), jump.taken, jump.days_before, privacy,
                            language, key, term("not_declared", language))
        elements.append(Edge(names[jump.source], names[jump.target], EdgeKind.UNDECLARED, label, JUMP_COLOUR,
                             JUMP_COLOUR, _width(jump.taken, most, privacy, key), "dotted"))

    detail = f"{privacy.count(analysis.proposals, cell(workflow.id, 'proposals'))} {term('proposals', language)}"
    heading = title("stalls_as_of", [date(analysis.as_of)], workflow.label(language), detail, language)
    return Diagram("stalls", COMMENT, heading, "top-to-bottom", LOOK, tuple(elements),
                   _legend(workflow, privacy, language, anchor))


def stall_diagram_dot(analysis: Analysis, language: str = "en", privacy: Privacy = NO_PRIVACY) -> str:
    """Deterministic DOT of :func:`stall_diagram`."""
    return to_dot(stall_diagram(analysis, language, privacy))


def render_stall_diagram(analysis: Analysis, output: Path, language: str = "en",
                         privacy: Privacy = NO_PRIVACY) -> Path:
    """Draw the stall diagram to ``output`` (.svg, .png, .pdf or .dot, atomically); returns it."""
    diagram_format(output)  # refuse a bad suffix before building anything
    return draw(stall_diagram(analysis, language, privacy), Path(output))
