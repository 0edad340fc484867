"""Stall diagrams: where proposals wait, drawn over the declared workflow, and municipalities
compared stage by stage.

Both diagrams are DOT written by hand, like :mod:`flowengine.views.render`, from the figures of
:mod:`flowengine.analysis.figures` alone: the same figures, language and privacy give byte-identical
DOT on every machine (fixed number formats, iteration in declaration or stage order), so the
DOT is golden-tested. Every piece of user text goes through the same HTML-label escaping as
the workflow diagram.

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

Graphviz runs only in :func:`flowengine.views.render.render_dot`, which both render functions use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from flowengine.analysis.figures import (
    Analysis,
    Privacy,
    Spread,
    StageFigures,
    StateFigures,
    TransitionFigures,
    quarter,
)
from flowengine.definition.model import STAGES, State, Transition, Workflow
from flowengine.definition.vocabulary import term
from flowengine.errors import InvalidInput
from flowengine.views.render import (
    _FONT,
    _SAFE_NAME,
    OUTCOME_COLOURS,
    _attrs,
    _html,
    _node_names,
    _stage_of,
    diagram_format,
    legend_cluster,
    render_dot,
)

__all__ = [
    "SEVERITY_COLOURS",
    "comparison_dot",
    "render_comparison",
    "render_stall_diagram",
    "stall_diagram_dot",
]

# Paul Tol's sequential YlOrBr scheme (colour-blind safe, prints in grey as a ramp), four of
# its nine steps; level 0 (nobody stayed) is white. The text colour keeps a WCAG contrast of
# at least 4.5:1 on each fill.
SEVERITY_COLOURS = ("#FFFFFF", "#FEE391", "#FB9A29", "#CC4C02", "#662506")
SEVERITY_TEXT = ("#555555", "#000000", "#000000", "#FFFFFF", "#FFFFFF")
HIDDEN_COLOUR = "#D9D9D9"  # too few stays to show (privacy)
ABSENT_COLOUR = "#F2F2F2"  # comparison: the workflow has no such stage
FLAG_COLOUR = "#CC0000"  # proposals over the deadline or stalled now
JUMP_COLOUR = "#CC0000"  # steps taken that the workflow does not declare
UNUSED_COLOUR = "#999999"  # declared steps nobody took
TAKEN_COLOUR = "#444444"
CLUSTER_COLOUR = "#F7F7F7"  # stage clusters stay neutral: colour belongs to the figures
FLAG_WIDTH = "3"
MAX_EXTRA_WIDTH = 4.0  # the most taken step is drawn 1 + 4 points wide
DASH = "\u2013"  # en dash: a figure that is hidden or does not exist
TIMES = "\u00d7"  # multiplication sign: "12 times" as 12 and this sign
NO_PRIVACY = Privacy()  # every count and spread shown, as for internal use

_START = "__start__"
_ANY = "__any_open_state__"
_LEGEND = "__legend"
_COMMA_LANGUAGES = ("nb", "sv")  # decimal comma, and a space before "%"


# --- numbers and words -----------------------------------------------------------------------


def _number(value: float, language: str) -> str:
    """One decimal below 10, whole numbers above: "0.4", "3.5", "3", "12", "410"; "3,5" in nb/sv."""
    text = f"{value:.1f}".removesuffix(".0") if value < 9.95 else f"{value:.0f}"
    return text.replace(".", ",") if language in _COMMA_LANGUAGES else text


def _days(value: float | None, language: str) -> str:
    return DASH if value is None else f"{_number(value, language)} {term('days_short', language)}"


def _median(spread: Spread, privacy: Privacy, language: str) -> str:
    return _days(spread.median if privacy.shows(spread) else None, language)


def _p90(spread: Spread, privacy: Privacy, language: str) -> str:
    return _days(spread.p90 if privacy.shows(spread) else None, language)


def _share(part: int, whole: int, privacy: Privacy, language: str) -> str:
    """"12%" ("12 %" in nb/sv), or the dash when either count is suppressed."""
    if whole <= 0 or privacy.count(part) != str(part) or privacy.count(whole) != str(whole):
        return DASH
    percent = f"{100 * part / whole:.0f}"
    return f"{percent} %" if language in _COMMA_LANGUAGES else f"{percent}%"


def _date(moment: datetime) -> str:
    """The calendar date of ``moment`` in the time zone it carries (``FlowEngine.analyse`` gives the
    reader's zone, the demo its file's)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.date().isoformat()


def _width(taken: int, most: int, privacy: Privacy) -> str:
    """Edge width for a step taken ``taken`` times; a suppressed count gets the thinnest line."""
    if most <= 0 or privacy.count(taken) != str(taken):
        return "1.0"
    return f"{1 + MAX_EXTRA_WIDTH * taken / most:.1f}"


def _small(text: str, colour: str | None = None) -> str:
    colour_attr = f' COLOR="{colour}"' if colour else ""
    return f'<FONT POINT-SIZE="9"{colour_attr}>{text}</FONT>'


# --- the stall diagram -----------------------------------------------------------------------


def _fill(figures: StateFigures | None, privacy: Privacy) -> tuple[str, str]:
    """(fill, text colour) of an open state."""
    if figures is None or figures.severity <= 0 or not figures.typical.count:
        return SEVERITY_COLOURS[0], SEVERITY_TEXT[0]
    if not privacy.shows(figures.typical):
        return HIDDEN_COLOUR, "#000000"
    level = min(figures.severity, len(SEVERITY_COLOURS) - 1)
    return SEVERITY_COLOURS[level], SEVERITY_TEXT[level]


def _flagged(figures: StateFigures | None) -> bool:
    return figures is not None and (figures.over_deadline_now > 0 or figures.stalled_now > 0)


def _figure_lines(figures: StateFigures | None, has_deadline: bool, privacy: Privacy, language: str) -> str:
    """"now N · median X d" and "over deadline K" (or "no deadline · stalled K")."""
    now = figures.now if figures else 0
    stays = figures.typical if figures else Spread()
    first = (f"{term('now', language)} {privacy.count(now)} · "
             f"{term('median', language)} {_median(stays, privacy, language)}")
    if has_deadline:
        over = figures.over_deadline_now if figures else 0
        second = f"{term('over_deadline', language)} {privacy.count(over)}"
    else:
        stalled = figures.stalled_now if figures else 0
        second = f"{term('no_deadline', language)} · {term('stalled', language)} {privacy.count(stalled)}"
    second = _html(second)
    if _flagged(figures):
        second = f"<B>{second}</B>"
    return f"{_html(first)}<BR/>{second}"


def _open_node(state: State, figures: StateFigures | None, workflow: Workflow, name: str,
               privacy: Privacy, language: str) -> str:
    owner = ""
    if state.owner:
        role = workflow.roles.get(state.owner)
        owner = f"{term('owner', language)}: {role.label(language) if role else state.owner}"
    deadline = state.deadline.describe(language) if state.deadline else ""
    detail = " · ".join(part for part in (owner, deadline) if part)
    label = f"<B>{_html(state.label(language))}</B>"
    if detail:
        label += "<BR/>" + _small(_html(detail))
    label += "<BR/>" + _figure_lines(figures, state.deadline is not None, privacy, language)
    fill, text = _fill(figures, privacy)
    attrs = {"label": f"<{label}>", "fillcolor": fill, "fontcolor": text}
    if _flagged(figures):
        attrs.update(color=FLAG_COLOUR, penwidth=FLAG_WIDTH)
    return f'    "{name}" {_attrs(**attrs)};'


def _final_node(state: State, figures: StateFigures | None, name: str, privacy: Privacy, language: str) -> str:
    detail = (f"{term('outcome', language)}: {term(state.outcome, language)}"
              if state.outcome in OUTCOME_COLOURS else "")
    ended = f"{term('ended_here', language)}: {privacy.count(figures.now if figures else 0)}"
    label = f"<B>{_html(state.label(language))}</B>"
    if detail:
        label += "<BR/>" + _small(_html(detail))
    label += f"<BR/>{_html(ended)}"
    attrs = {"label": f"<{label}>", "shape": "doubleoctagon", "style": "filled",
             "fillcolor": OUTCOME_COLOURS.get(state.outcome or "", "#FFFFFF")}
    return f'    "{name}" {_attrs(**attrs)};'


def _undeclared_node(state_id: str, figures: StateFigures | None, name: str, privacy: Privacy,
                     language: str) -> str:
    """A state the history uses but the workflow does not declare: dotted red, and it says so."""
    label = (f"<B>{_html(state_id or DASH)}</B><BR/>" + _small(f"<I>{_html(term('not_declared', language))}</I>")
             + "<BR/>" + _figure_lines(figures, False, privacy, language))
    fill, text = _fill(figures, privacy)
    attrs = {"label": f"<{label}>", "fillcolor": fill, "fontcolor": text, "style": "rounded,filled,dotted",
             "color": JUMP_COLOUR, "penwidth": FLAG_WIDTH if _flagged(figures) else "2"}
    return f'  "{name}" {_attrs(**attrs)};'


def _edge_label(text: str, taken: int, days: Spread, privacy: Privacy, language: str,
                note: str = "") -> str:
    figures = f"{privacy.count(taken)}{TIMES}"
    if taken:
        figures += f" · {term('median', language)} {_median(days, privacy, language)}"
    label = _html(text) + "<BR/>" + f'<FONT POINT-SIZE="8">{_html(figures)}</FONT>'
    if note:
        label += f'<BR/><FONT POINT-SIZE="8"><I>{_html(note)}</I></FONT>'
    return f"<{label}>"


def _taken_edge(tail: str, head: str, label: str, figures: TransitionFigures, most: int,
                privacy: Privacy, language: str) -> str:
    attrs = {"label": _edge_label(label, figures.taken, figures.days_before, privacy, language),
             "penwidth": _width(figures.taken, most, privacy)}
    return f'  "{tail}" -> "{head}" {_attrs(**attrs)};'


def _unused_edge(tail: str, head: str, label: str, privacy: Privacy, language: str) -> str:
    attrs = {"label": _edge_label(label, 0, Spread(), privacy, language), "style": "dashed",
             "color": UNUSED_COLOUR, "fontcolor": "#666666"}
    return f'  "{tail}" -> "{head}" {_attrs(**attrs)};'


def _declared_edges(workflow: Workflow, analysis: Analysis, names: dict[str, str], most: int,
                    privacy: Privacy, language: str) -> tuple[list[str], bool]:
    """Edges of the declared transitions, and whether the "any open state" node is needed."""
    figures = {(t.source, t.trigger, t.target): t for t in analysis.transitions}
    lines: list[str] = []
    drawn: set[tuple[str, str, str]] = set()
    uses_any = False
    for transition in workflow.transitions:
        if transition.target not in names:
            continue  # validation reports dangling targets; the diagram leaves them out
        head = names[transition.target]
        label = transition.label(language)
        rest = []
        for source in transition.sources:
            key = (source, transition.trigger, transition.target)
            if source not in names or key in drawn:
                continue
            drawn.add(key)
            taken = figures.get(key)
            if taken is not None and taken.taken > 0:
                lines.append(_taken_edge(names[source], head, label, taken, most, privacy, language))
            elif transition.from_any:
                rest.append(source)
            else:
                lines.append(_unused_edge(names[source], head, label, privacy, language))
        if rest:
            uses_any = True
            lines.append(_unused_edge(_ANY, head, label, privacy, language))
    return lines, uses_any


def _trigger_label(workflow: Workflow, trigger: str, language: str) -> str:
    declared: Transition | None = next((t for t in workflow.transitions if t.trigger == trigger), None)
    return declared.label(language) if declared is not None else trigger


def _stall_legend(workflow: Workflow, analysis: Analysis, privacy: Privacy, language: str,
                  anchor: str | None) -> list[str]:
    outcomes = [o for o in OUTCOME_COLOURS
                if any(st.final and st.outcome == o for st in workflow.states.values())]
    rows = [_legend_text("fill_states", language)]
    rows += [_swatch(SEVERITY_COLOURS[level], term(f"severity_{level}", language)) for level in range(5)]
    if privacy.min_count > 0:
        rows.append(_swatch(HIDDEN_COLOUR, term("hidden", language)))
    rows += [
        _swatch("#FFFFFF", term("flag_border", language), border=FLAG_COLOUR, width=FLAG_WIDTH),
        _legend_text("stalled_means", language, bold=False),
    ]
    if outcomes:
        rows += [_legend_text("outcomes", language), *(_swatch(OUTCOME_COLOURS[o], term(o, language))
                                                        for o in outcomes)]
    rows += [
        _legend_text("edges", language),
        _line_sample(TAKEN_COLOUR, "3", "", term("edge_taken", language)),
        _line_sample(UNUSED_COLOUR, "1", "dashed", term("edge_unused", language)),
        _line_sample(JUMP_COLOUR, "2", "dotted", term("edge_jump", language)),
    ]
    if privacy.min_count > 0:
        rows.append(_legend_text("privacy_counts", language, bold=False, n=privacy.min_count))
    return legend_cluster(rows, language, anchor)


# --- shared legend pieces --------------------------------------------------------------------


def _legend_text(key: str, language: str, *, bold: bool = True, n: int = 0) -> str:
    text = _html(term(key, language).format(n=n) if n else term(key, language))
    if bold:
        text = f"<B>{text}</B>"
    return f'<TR><TD COLSPAN="2" ALIGN="LEFT" BALIGN="LEFT">{text}</TD></TR>'


def _swatch(colour: str, text: str, *, border: str = "#888888", width: str = "1", content: str = " ") -> str:
    return (f'<TR><TD BORDER="{width}" COLOR="{border}" BGCOLOR="{colour}" WIDTH="36">{content}</TD>'
            f'<TD ALIGN="LEFT">{_html(text)}</TD></TR>')


def _line_sample(colour: str, width: str, style: str, text: str) -> str:
    dash = f' STYLE="{style}"' if style else ""
    return (f'<TR><TD SIDES="B" BORDER="{width}" COLOR="{colour}"{dash} WIDTH="36"> </TD>'
            f'<TD ALIGN="LEFT">{_html(text)}</TD></TR>')




def _header(title_key: str, dates: Sequence[str], subject: str, detail: str, language: str) -> str:
    """The graph title: ``subject`` in bold over "<what> as of <dates> · <detail>", or that alone in bold."""
    what = f"{term(title_key, language)} {', '.join(dates)}" + (f" · {detail}" if detail else "")
    if not subject:
        return f"<<B>{_html(what)}</B>>"
    return f'<<B>{_html(subject)}</B><BR/><FONT POINT-SIZE="12">{_html(what)}</FONT>>'


def _preamble(comment: str, graph_name: str, label: str, **graph: str) -> list[str]:
    return [
        f"// {comment}; generated by flowengine.overlay, do not edit",
        f"digraph {graph_name} {{",
        "  " + _attrs(charset="UTF-8", newrank="true", fontname=_FONT, fontsize="16", labelloc="t",
                      labeljust="l", label=label, pad="0.3", **graph).join(["graph ", ";"]),
        "  " + _attrs(fontname=_FONT, fontsize="10", shape="box", style="rounded,filled",
                      fillcolor="#FFFFFF", color="#555555", margin="0.14,0.06").join(["node ", ";"]),
        "  " + _attrs(fontname=_FONT, fontsize="9", color=TAKEN_COLOUR,
                      arrowsize="0.7").join(["edge ", ";"]),
    ]


def stall_diagram_dot(analysis: Analysis, language: str = "en", privacy: Privacy = NO_PRIVACY) -> str:
    """Deterministic DOT of ``analysis.workflow`` with where its proposals wait drawn over it.

    Same node names, stage clusters and final-state column as
    :func:`flowengine.views.render.workflow_to_dot`, laid out top to bottom. Counts go through
    ``privacy.count`` and spreads resting on too few stays are shown as a dash (and their fill
    grey); see the module docstring for what each mark means.
    """
    workflow = analysis.workflow
    names = _node_names(workflow)
    by_id = {s.state: s for s in analysis.states}
    detail = f"{privacy.count(analysis.proposals)} {term('proposals', language)}"
    label = _header("stalls_as_of", [_date(analysis.as_of)], workflow.label(language), detail, language)
    lines = _preamble("flowengine stall diagram", "stalls", label, rankdir="TB", nodesep="0.35",
                      ranksep="0.5")

    by_stage: dict[str | None, list[State]] = {}
    for state in workflow.states.values():
        by_stage.setdefault(_stage_of(state), []).append(state)

    def node(state: State) -> str:
        figures = by_id.get(state.id)
        if state.final:
            return _final_node(state, figures, names[state.id], privacy, language)
        return _open_node(state, figures, workflow, names[state.id], privacy, language)

    anchor: str | None = None
    for stage in STAGES:
        if stage not in by_stage:
            continue
        lines.append(f"  subgraph cluster_{stage} {{")
        lines.append("    " + _attrs(label=f"<<B>{_html(term(stage, language))}</B>>", style="rounded,filled",
                                     fillcolor=CLUSTER_COLOUR, color="#AAAAAA", fontsize="12",
                                     labeljust="l").join(["graph ", ";"]))
        lines += [node(s) for s in by_stage[stage]]
        if stage == "closed" and len(by_stage[stage]) > 1:
            lines.append("    { rank=same; " + "; ".join(f'"{names[s.id]}"' for s in by_stage[stage]) + "; }")
        lines.append("  }")
        anchor = names[by_stage[stage][-1].id]
    lines += [node(s).removeprefix("  ") for s in by_stage.get(None, [])]

    # States the history uses but the workflow does not declare, in the analysis's order,
    # then any other end of an undeclared jump.
    undeclared: list[str] = [s.state for s in analysis.states if s.state not in workflow.states]
    for jump in analysis.jumps:
        undeclared += [end for end in (jump.source, jump.target)
                       if end not in workflow.states and end not in undeclared]
    for index, state_id in enumerate(undeclared):
        names[state_id] = state_id if _SAFE_NAME.fullmatch(state_id) else f"__undeclared_{index}"
        lines.append(_undeclared_node(state_id, by_id.get(state_id), names[state_id], privacy, language))

    initial = workflow.initial_state
    if initial is not None:
        lines.append(f'  "{_START}" [shape=point, width=0.12, label="", tooltip="start"];')
        lines.append(f'  "{_START}" -> "{names[initial.id]}";')

    most = max((t.taken for t in analysis.transitions), default=0)
    edges, uses_any = _declared_edges(workflow, analysis, names, most, privacy, language)
    if uses_any:
        any_attrs = _attrs(label=f"<<I>{_html(term('any', language))}</I>>", shape="box", style="rounded,filled",
                           fillcolor="#F4F4F4", fontsize="9", color="#777777", height="0.3")
        lines.append(f'  "{_ANY}" {any_attrs};')
    lines += edges
    for jump in analysis.jumps:
        attrs = {"label": _edge_label(_trigger_label(workflow, jump.trigger, language), jump.taken,
                                      jump.days_before, privacy, language, term("not_declared", language)),
                 "style": "dotted", "color": JUMP_COLOUR, "fontcolor": JUMP_COLOUR,
                 "penwidth": _width(jump.taken, most, privacy)}
        lines.append(f'  "{names[jump.source]}" -> "{names[jump.target]}" {_attrs(**attrs)};')

    lines += _stall_legend(workflow, analysis, privacy, language, anchor)
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the comparison diagram ------------------------------------------------------------------

COMPARED_STAGES = tuple(stage for stage in STAGES if stage != "closed")
CELL_WIDTH = "2.1"  # inches, a minimum: equal cells keep the columns straight


def _cell_value(stage: StageFigures, privacy: Privacy) -> float | None:
    """The stage's typical stay (finished stays, else current waits), as the stall diagram colours
    states; None when privacy hides it."""
    return stage.typical.median if privacy.shows(stage.typical) else None


def _stage_cell(name: str, stage: StageFigures | None, slowest: float, privacy: Privacy,
                language: str) -> str:
    if stage is None:
        attrs = {"label": "<—>", "fillcolor": ABSENT_COLOUR, "fontcolor": "#888888", "color": "#BBBBBB",
                 "style": "filled,dashed"}
        return f'  "{name}" {_attrs(**attrs)};'
    first = (f"{term('median', language)} {_median(stage.passed, privacy, language)} · "
             f"p90 {_p90(stage.passed, privacy, language)}")
    second = (f"{term('now', language)} {privacy.count(stage.now)} · "
              f"{term('waiting', language)} {_median(stage.waiting, privacy, language)}")
    label = f"{_html(first)}<BR/>{_html(second)}"
    flagged = stage.stalled_now > 0 or stage.over_deadline_now > 0
    if flagged:
        stalled = f"{term('stalled', language)} {privacy.count(stage.stalled_now)}"
        label += f"<BR/><B>{_html(stalled)}</B>"
    value = _cell_value(stage, privacy)
    if not stage.passed.count and not stage.waiting.count:
        fill, text = SEVERITY_COLOURS[0], SEVERITY_TEXT[0]
    elif value is None:
        fill, text = HIDDEN_COLOUR, "#000000"
    else:
        level = quarter(value, slowest)
        fill, text = SEVERITY_COLOURS[level], SEVERITY_TEXT[level]
    attrs = {"label": f"<{label}>", "fillcolor": fill, "fontcolor": text, "style": "filled"}
    if flagged:
        attrs.update(color=FLAG_COLOUR, penwidth=FLAG_WIDTH)
    return f'  "{name}" {_attrs(**attrs)};'


def _funnel_cell(name: str, analysis: Analysis, privacy: Privacy, language: str) -> str:
    funnel = analysis.funnel
    reached = next((s.reached for s in funnel.stages if s.stage == "panel"), funnel.proposals)
    first = f"{term('panel', language)}: {privacy.count(reached)}"
    second = (f"{term('implemented', language)}: {privacy.count(funnel.implemented)} "
              f"({_share(funnel.implemented, reached, privacy, language)})")
    attrs = {"label": f"<{_html(first)}<BR/>{_html(second)}>", "style": "filled"}
    return f'  "{name}" {_attrs(**attrs)};'


def _comparison_legend(privacy: Privacy, language: str, anchor: str) -> list[str]:
    rows = [_legend_text("fill_stages", language)]
    rows += [_swatch(SEVERITY_COLOURS[level], term(f"severity_{level}", language)) for level in range(5)]
    if privacy.min_count > 0:
        rows.append(_swatch(HIDDEN_COLOUR, term("hidden", language)))
    rows += [
        _swatch(ABSENT_COLOUR, term("absent_stage", language), content="—"),
        _swatch("#FFFFFF", term("flag_border", language), border=FLAG_COLOUR, width=FLAG_WIDTH),
        _legend_text("stalled_means", language, bold=False),
        _legend_text("cell_lines", language, bold=False),
        _legend_text("funnel_means", language, bold=False),
    ]
    if privacy.min_count > 0:
        rows.append(_legend_text("privacy_counts", language, bold=False, n=privacy.min_count))
    return legend_cluster(rows, language, anchor)


def comparison_dot(analyses: Sequence[Analysis], language: str = "en",
                   privacy: Privacy = NO_PRIVACY) -> str:
    """Deterministic DOT comparing workflows on the shared stage model: one row per analysis
    (in the order given), one column per stage from panel to evaluation, then the funnel.

    Each cell shows the median and p90 of finished stays in the stage, how many proposals are
    there now and the median of their current wait; its fill grades the stage's typical stay
    (finished stays, else current waits) against the slowest cell of the whole diagram. A stage the workflow lacks is a
    grey "—". Rows are held level with ``rank=same`` and columns straight with equal cell
    widths and heavy invisible edges between the rows.
    """
    if not analyses:
        raise InvalidInput("nothing to compare: give at least one workflow")
    stage_maps = [{s.stage: s for s in a.stages} for a in analyses]
    values = [_cell_value(s, privacy) for stages in stage_maps for s in stages.values()
              if s.stage in COMPARED_STAGES]
    slowest = max((v for v in values if v is not None), default=0.0)
    dates = sorted({_date(a.as_of) for a in analyses})
    lines = _preamble("flowengine stage comparison", "comparison",
                      _header("stages_as_of", dates, "", "", language),
                      rankdir="TB", nodesep="0.12", ranksep="0.18")
    lines.append("  " + _attrs(width=CELL_WIDTH, height="0.5").join(["node ", ";"]))

    columns = [*COMPARED_STAGES, "funnel"]
    header = [f"__head_{c}" for c in ["name", *columns]]
    lines.append(f'  "{header[0]}" {_attrs(label="< >", shape="plaintext", style="")};')
    for name, column in zip(header[1:], columns, strict=True):
        heading = f"<<B>{_html(term(column, language))}</B>>"
        lines.append(f'  "{name}" {_attrs(label=heading, shape="plaintext", style="")};')
    grid = [header]
    for row, (analysis, stages) in enumerate(zip(analyses, stage_maps, strict=True)):
        names = [f"__row{row}_{c}" for c in ["name", *columns]]
        count = f"{privacy.count(analysis.proposals)} {term('proposals', language)}"
        row_label = f"<B>{_html(analysis.workflow.label(language))}</B><BR/>{_small(_html(count))}"
        lines.append(f'  "{names[0]}" {_attrs(label=f"<{row_label}>", shape="plaintext", style="")};')
        for index, stage in enumerate(COMPARED_STAGES):
            lines.append(_stage_cell(names[index + 1], stages.get(stage), slowest, privacy, language))
        lines.append(_funnel_cell(names[-1], analysis, privacy, language))
        grid.append(names)
    for names in grid:
        lines.append("  { rank=same; " + "; ".join(f'"{n}"' for n in names) + "; }")
        lines.append("  " + " -> ".join(f'"{n}"' for n in names) + " [style=invis, weight=10];")
    for index in range(len(grid[0])):
        lines.append("  " + " -> ".join(f'"{cells[index]}"' for cells in grid) + " [style=invis, weight=100];")
    lines += _comparison_legend(privacy, language, grid[-1][0])
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- files -----------------------------------------------------------------------------------


def render_stall_diagram(analysis: Analysis, output: Path, language: str = "en",
                         privacy: Privacy = NO_PRIVACY) -> Path:
    """Draw the stall diagram to ``output`` (.svg, .png, .pdf or .dot, atomically); returns it."""
    output = Path(output)
    diagram_format(output)  # refuse a bad extension before building anything
    return render_dot(stall_diagram_dot(analysis, language, privacy), output)


def render_comparison(analyses: Sequence[Analysis], output: Path, language: str = "en",
                      privacy: Privacy = NO_PRIVACY) -> Path:
    """Draw the comparison diagram to ``output`` (.svg, .png, .pdf or .dot, atomically); returns it."""
    output = Path(output)
    diagram_format(output)
    return render_dot(comparison_dot(analyses, language, privacy), output)
