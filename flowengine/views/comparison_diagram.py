"""The comparison: workflows (municipalities) side by side on the shared stages, as a
:class:`~flowengine.views.diagram.Diagram` — a grid of one row per analysis and one column per
stage from panel to evaluation, then the funnel.

Cells are graded on the stall diagram's severity scale and flagged with its red border
(:mod:`flowengine.views.stall_diagram`), so both diagrams read alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from flowengine.analysis.cells import cell
from flowengine.analysis.figures import NO_PRIVACY, Analysis, Privacy, StageFigures, quarter
from flowengine.definition.model import STAGES
from flowengine.definition.vocabulary import term
from flowengine.errors import InvalidInput
from flowengine.i18n import t
from flowengine.views.diagram import (
    Diagram,
    Edge,
    EdgeKind,
    Element,
    Label,
    Legend,
    LegendNote,
    LegendRow,
    LegendSwatch,
    Node,
    NodeKind,
    Outline,
    SameRank,
    Span,
    plain,
)
from flowengine.views.dot import to_dot
from flowengine.views.drawing import draw
from flowengine.views.figure_wording import date, median, p90, share
from flowengine.views.formats import diagram_format
from flowengine.views.stall_diagram import (
    FLAG_COLOUR,
    FLAG_WIDTH,
    HIDDEN_COLOUR,
    HIDDEN_TEXT,
    LOOK,
    SEVERITY_COLOURS,
    SEVERITY_TEXT,
    flag_rows,
    privacy_rows,
    severity_rows,
    title,
)

__all__ = ["ABSENT_COLOUR", "COMPARED_STAGES", "comparison_diagram", "comparison_dot", "render_comparison"]

COMPARED_STAGES = tuple(stage for stage in STAGES if stage != "closed")
ABSENT_COLOUR = "#F2F2F2"  # the workflow has no such stage
ABSENT_MARK = "\u2014"  # em dash
CELL_SIZE = (2.1, 0.5)  # inches, a minimum: equal cells keep the columns straight
COMMENT = "stages compared, drawn by flowengine (flowengine.views.comparison_diagram); generated, do not edit"
_SQUARE = Outline(rounded=False)
_BARE = Outline(rounded=False, filled=False)
_ROW_WEIGHT = 10  # how hard the layout keeps a row's cells in order
_COLUMN_WEIGHT = 100  # ... and a column's cells above one another


def _rests_on(workflow: str, stage: StageFigures) -> str:
    return cell(workflow, "stage_passed" if stage.passed.count else "stage_now", stage.stage)


def _cell_value(workflow: str, stage: StageFigures, privacy: Privacy) -> float | None:
    """The stage's typical stay (finished stays, else current waits), as the stall diagram colours
    states; None when privacy hides it."""
    return stage.typical.median if privacy.shows(stage.typical, _rests_on(workflow, stage)) else None


def _stage_cell(name: str, workflow: str, stage: StageFigures | None, slowest: float, privacy: Privacy,
                language: str) -> Node:
    if stage is None:
        return Node(name, NodeKind.ABSENT, plain(ABSENT_MARK), outline=Outline(rounded=False, dash="dashed"),
                    fill=ABSENT_COLOUR, text_colour="#888888", border="#BBBBBB")
    passed = cell(workflow, "stage_passed", stage.stage)
    now = cell(workflow, "stage_now", stage.stage)
    first = (f"{term('median', language)} {median(stage.passed, privacy, language, passed)} · "
             f"p90 {p90(stage.passed, privacy, language, passed)}")
    second = (f"{term('now', language)} {privacy.count(stage.now, now)} · "
              f"{term('waiting', language)} {median(stage.waiting, privacy, language, now)}")
    label: Label = ((Span(first),), (Span(second),))
    flagged = stage.stalled_now > 0 or stage.over_deadline_now > 0
    if flagged:
        stalled = privacy.count(stage.stalled_now, cell(workflow, "stage_stalled", stage.stage))
        label += ((Span(f"{term('stalled', language)} {stalled}", bold=True),),)
    value = _cell_value(workflow, stage, privacy)
    if not stage.passed.count and not stage.waiting.count:
        fill, text = SEVERITY_COLOURS[0], SEVERITY_TEXT[0]
    elif value is None:
        fill, text = HIDDEN_COLOUR, HIDDEN_TEXT
    else:
        level = quarter(value, slowest)
        fill, text = SEVERITY_COLOURS[level], SEVERITY_TEXT[level]
    return Node(name, NodeKind.CELL, label, outline=_SQUARE, fill=fill, text_colour=text,
                border=FLAG_COLOUR if flagged else None, border_width=FLAG_WIDTH if flagged else None)


def _funnel_cell(name: str, analysis: Analysis, privacy: Privacy, language: str) -> Node:
    funnel = analysis.funnel
    wid = analysis.workflow.id
    panel = next((s for s in funnel.stages if s.stage == "panel"), None)
    reached = panel.reached if panel else funnel.proposals
    reached_key = cell(wid, "reached", "panel") if panel else cell(wid, "proposals")
    implemented_key = cell(wid, "implemented")
    first = f"{term('panel', language)}: {privacy.count(reached, reached_key)}"
    second = (f"{term('implemented', language)}: {privacy.count(funnel.implemented, implemented_key)} "
              f"({share(funnel.implemented, reached, privacy, language, implemented_key, reached_key)})")
    return Node(name, NodeKind.CELL, ((Span(first),), (Span(second),)), outline=_SQUARE)


def _heading(name: str, label: Label) -> Node:
    return Node(name, NodeKind.HEADING, label, shape="plaintext", outline=_BARE)


def _legend(privacy: Privacy, language: str, anchor: str) -> Legend:
    rows: list[LegendRow] = severity_rows("fill_stages", privacy, language)
    rows += [
        LegendSwatch(ABSENT_COLOUR, term("absent_stage", language), mark=ABSENT_MARK),
        *flag_rows(language),
        LegendNote(term("cell_lines", language)),
        LegendNote(term("funnel_means", language)),
        *privacy_rows(privacy, language),
    ]
    return Legend(term("legend", language), tuple(rows), anchor, lines_left=True)


def _line_up(names: Sequence[str], weight: int) -> list[Edge]:
    """Invisible edges holding ``names`` in this order, one after another."""
    return [Edge(tail, head, EdgeKind.LAYOUT, weight=weight) for tail, head in itertools.pairwise(names)]


def comparison_diagram(analyses: Sequence[Analysis], language: str = "en",
                       privacy: Privacy = NO_PRIVACY) -> Diagram:
    """One row per analysis (in the order given), one column per stage from panel to evaluation,
    then the funnel.

    Each cell shows the median and p90 of finished stays in the stage, how many proposals are
    there now and the median of their current wait; its fill grades the stage's typical stay
    (finished stays, else current waits) against the slowest cell of the whole diagram. A stage
    the workflow lacks is a grey "—". Rows are held level in one rank and columns straight with
    equal cell sizes and heavy invisible edges between the rows.
    """
    if not analyses:
        raise InvalidInput(t("nothing to compare: give at least one workflow"))
    stage_maps = [{s.stage: s for s in a.stages} for a in analyses]
    values = [_cell_value(a.workflow.id, s, privacy) for a, stages in zip(analyses, stage_maps, strict=True)
              for s in stages.values() if s.stage in COMPARED_STAGES]
    slowest = max((v for v in values if v is not None), default=0.0)
    dates = sorted({date(a.as_of) for a in analyses})

    columns = [*COMPARED_STAGES, "funnel"]
    header = [f"__head_{c}" for c in ["name", *columns]]
    elements: list[Element] = [_heading(header[0], plain(" "))]
    elements += [_heading(name, ((Span(term(column, language), bold=True),),))
                 for name, column in zip(header[1:], columns, strict=True)]
    grid = [header]
    for row, (analysis, stages) in enumerate(zip(analyses, stage_maps, strict=True)):
        names = [f"__row{row}_{c}" for c in ["name", *columns]]
        shown = privacy.count(analysis.proposals, cell(analysis.workflow.id, "proposals"))
        count = f"{shown} {term('proposals', language)}"
        elements.append(_heading(names[0], ((Span(analysis.workflow.label(language), bold=True),),
                                            (Span(count, size=9),))))
        elements += [_stage_cell(names[index + 1], analysis.workflow.id, stages.get(stage), slowest, privacy, language)
                     for index, stage in enumerate(COMPARED_STAGES)]
        elements.append(_funnel_cell(names[-1], analysis, privacy, language))
        grid.append(names)
    for names in grid:
        elements += [SameRank(tuple(names)), *_line_up(names, _ROW_WEIGHT)]
    for index in range(len(grid[0])):
        elements += _line_up([cells[index] for cells in grid], _COLUMN_WEIGHT)
    look = replace(LOOK, node_gap=0.12, rank_gap=0.18, min_node_size=CELL_SIZE)
    return Diagram("comparison", COMMENT, title("stages_as_of", dates, "", "", language), "top-to-bottom", look,
                   tuple(elements), _legend(privacy, language, grid[-1][0]))


def comparison_dot(analyses: Sequence[Analysis], language: str = "en", privacy: Privacy = NO_PRIVACY) -> str:
    """Deterministic DOT of :func:`comparison_diagram`."""
    return to_dot(comparison_diagram(analyses, language, privacy))


def render_comparison(analyses: Sequence[Analysis], output: Path, language: str = "en",
                      privacy: Privacy = NO_PRIVACY) -> Path:
    """Draw the comparison to ``output`` (.svg, .png, .pdf or .dot, atomically); returns it."""
    diagram_format(output)  # refuse a bad suffix before building anything
    return draw(comparison_diagram(analyses, language, privacy), Path(output))
