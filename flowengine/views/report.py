"""The stall report: the analysis laid out as titled tables, then written as text, Markdown,
CSV or JSON (the report formats of :mod:`flowengine.views.formats`; and as HTML by the demo's report).

Every format is built from the same :class:`Section` list, so they cannot disagree. Privacy
is applied once, here, while cells are made: a suppressed count is the text "<3" in every
format, and a spread resting on fewer stays is left empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flowengine.analysis.cells import cell
from flowengine.analysis.figures import WAITING, Analysis, Privacy, Spread
from flowengine.analysis.reference import worst_first
from flowengine.clock import as_utc, iso_utc
from flowengine.definition.model import STAGES, Workflow
from flowengine.definition.vocabulary import term
from flowengine.errors import NotFound
from flowengine.i18n import N_, marked, t
from flowengine.i18n.formats import percent, short_date
from flowengine.views.formats import report_format_names
from flowengine.views.texttable import table, wrap

Cell = str | int | float | None


@dataclass(frozen=True)
class Section:
    """One titled table. ``key`` is stable for machines; ``title`` is for people."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    workflow: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "workflow": self.workflow, "columns": list(self.columns),
                "rows": [list(row) for row in self.rows], "note": self.note}


def local_day(moment: datetime, zone: datetime | None = None) -> date:
    """The day of ``moment`` in ``zone``'s time zone (an analysis's as-of carries the reader's, or
    the demo file's), else in the machine's local zone."""
    tz = zone.tzinfo if zone is not None and zone.tzinfo is not None else None
    return as_utc(moment).astimezone(tz).date()


def local_date(moment: datetime, zone: datetime | None = None, language: str = "en") -> str:
    """:func:`local_day` as the language writes a date in a table."""
    return short_date(local_day(moment, zone), language)


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class _Cells:
    """Makes cells under one privacy setting; a count is named by its cell
    (:func:`~flowengine.analysis.cells.cell`), so a decided privacy shows or hides it by name."""

    def __init__(self, privacy: Privacy, language: str) -> None:
        self.privacy = privacy
        self.language = language

    def count(self, n: int, key: str | None = None) -> Cell:
        shown = self.privacy.count(n, key)
        return n if shown == str(n) else shown

    def spread(self, spread: Spread, key: str | None = None) -> tuple[Cell, Cell, Cell]:
        if not self.privacy.shows(spread, key):
            return None, None, None
        return _days(spread.median), _days(spread.p90), _days(spread.max)

    def share(self, part: int, part_key: str | None, whole: int, whole_key: str | None) -> Cell:
        if not whole or self.privacy.hides(part, part_key) or self.privacy.hides(whole, whole_key):
            return None
        return percent(part, whole, self.language)


def _state_label(workflow: Workflow, state_id: str, language: str) -> str:
    declared = workflow.states.get(state_id)
    return declared.label(language) if declared else t("{state} (not declared)", language=language, state=state_id)


def _role_label(workflow: Workflow, role_id: str | None, language: str) -> str | None:
    if role_id is None:
        return None
    role = workflow.roles.get(role_id)
    return role.label(language) if role else role_id


def rule_text(rule: str, language: str) -> str:
    """What a stall's limit is, in words."""
    if rule == "deadline":
        return t("deadline", language=language)
    if rule == "no progress":
        return t("no progress", language=language)
    return t("p90 of earlier stays", language=language)


def build_sections(analyses: Sequence[Analysis], *, language: str = "en",
                   privacy: Privacy | None = None) -> list[Section]:
    """Worst stalls first (across every workflow given), then each workflow's figures."""
    cells = _Cells(privacy or Privacy(), language)
    sections = [stall_section(analyses, language, cells.privacy)]
    for analysis in analyses:
        sections += _workflow_sections(analysis, language, cells)
    return sections


def stall_section(analyses: Sequence[Analysis], language: str, privacy: Privacy) -> Section:
    """The stalled proposals of every workflow, worst first."""
    workflows = {a.workflow.id: a.workflow for a in analyses}
    zone = analyses[0].as_of if analyses else None
    rows = tuple(
        (s.proposal, s.title, s.workflow, _state_label(workflows[s.workflow], s.state, language),
         _role_label(workflows[s.workflow], s.owner, language), local_date(s.since, zone, language), _days(s.days),
         _days(s.limit_days), rule_text(s.rule, language),
         _role_label(workflows[s.workflow], s.last_role, language) if privacy.roles_only
         else privacy.actor(s.last_actor, s.last_role))
        for s in worst_first(s for a in analyses for s in a.stalls)
    )
    return Section("stalls", t("Stalled proposals, worst first", language=language), (
        t("proposal", language=language), t("title", language=language), t("workflow", language=language),
        t("state", language=language), t("must act", language=language), t("waiting since", language=language),
        t("days", language=language), t("limit days", language=language), t("limit rule", language=language),
        t("last step by", language=language)), rows,
        note=t("limit: the state's deadline; 'no progress': an implementation's deadline counted from its last "
               "recorded progress; 'p90': no deadline declared, so 90 % of earlier stays were shorter",
               language=language))


def _workflow_sections(analysis: Analysis, language: str, cells: _Cells) -> list[Section]:
    wf = analysis.workflow
    wid = wf.id
    name = f"{wf.label(language)} ({wid})"
    as_of = local_date(analysis.as_of, analysis.as_of, language)

    def tr(message: str) -> str:
        return marked(message, language=language)

    stage_rows = tuple(
        (term(s.stage, language), cells.count(s.now, cell(wid, "stage_now", s.stage)),
         cells.count(s.stalled_now, cell(wid, "stage_stalled", s.stage)),
         cells.count(s.over_deadline_now, cell(wid, "stage_over", s.stage)),
         cells.count(s.passed.count, cell(wid, "stage_passed", s.stage)),
         *cells.spread(s.passed, cell(wid, "stage_passed", s.stage)), cells.spread(s.waiting, cell(
             wid, "stage_now", s.stage))[0])
        for s in analysis.stages
    )
    state_rows = tuple(
        (s.state, _state_label(wf, s.state, language), term(s.stage, language) if s.stage else None,
         _role_label(wf, s.owner, language), cells.count(s.now, cell(wid, "now", s.state)),
         cells.count(s.stalled_now, None if s.final else cell(wid, "stalled", s.state)),
         cells.count(s.over_deadline_now, None if s.final else cell(wid, "over", s.state)),
         cells.count(s.passed.count, None if s.final else cell(wid, "passed", s.state)),
         *cells.spread(s.passed, None if s.final else cell(wid, "passed", s.state)),
         _days(s.deadline_days), s.severity)
        for s in analysis.states if s.now or s.passed.count or not s.final
    )
    transition_rows = tuple(
        (t_.source, t_.trigger, t_.target, cells.count(t_.taken, cell(wid, "taken", t_.source, t_.trigger, t_.target)),
         cells.spread(t_.days_before, cell(wid, "taken", t_.source, t_.trigger, t_.target))[0],
         tr(N_("yes")) if t_.declared else tr(N_("NO — not declared")))
        for t_ in analysis.transitions
    )
    loop_rows = tuple((loop.source, loop.target, cells.count(loop.times, cell(wid, "loop_times", loop.source,
                                                                                  loop.target)),
                       cells.count(loop.proposals, cell(wid, "loop_proposals", loop.source, loop.target)))
                      for loop in analysis.loops)
    funnel = analysis.funnel
    total_key = cell(wid, "proposals")
    detailed = not cells.privacy.decided  # how each was lost: not among the published cells
    funnel_rows: list[tuple[Cell, ...]] = [
        (term(row.stage, language), cells.count(row.reached, cell(wid, "reached", row.stage)),
         cells.count(row.lost_total, cell(wid, "lost", row.stage)),
         cells.share(row.lost_total, cell(wid, "lost", row.stage), row.reached, cell(wid, "reached", row.stage)),
         (", ".join(f"{_how(how, language)} {cells.count(n)}" for how, n in row.lost) or None) if detailed else None)
        for row in funnel.stages
    ]
    funnel_rows += [
        (term("implemented", language), cells.count(funnel.implemented, cell(wid, "implemented")), None,
         cells.share(funnel.implemented, cell(wid, "implemented"), funnel.proposals, total_key), None),
        (term("partially_implemented", language),
         cells.count(funnel.partially_implemented, cell(wid, "partially_implemented")), None,
         cells.share(funnel.partially_implemented, cell(wid, "partially_implemented"), funnel.proposals, total_key),
         None),
        (t("evaluated", language=language), cells.count(funnel.evaluated, cell(wid, "evaluated")), None,
         cells.share(funnel.evaluated, cell(wid, "evaluated"), funnel.proposals, total_key), None),
    ]
    feedback = analysis.feedback
    answered = feedback.answered
    feedback_rows = ((cells.count(feedback.proposals, total_key), cells.count(answered.count, cell(wid, "answered")),
                      *cells.spread(answered, cell(wid, "answered"))[:2],
                      cells.count(feedback.unanswered, cell(wid, "unanswered")),
                      cells.share(feedback.unanswered, cell(wid, "unanswered"), feedback.proposals, total_key),
                      cells.spread(feedback.unanswered_waiting, cell(wid, "unanswered"))[0]),)
    flow_rows = tuple(
        (s.state, month, cells.count(dict(s.entered_by_month).get(month, 0)),
         cells.count(dict(s.left_by_month).get(month, 0)))
        for s in analysis.states
        for month in sorted({m for m, _ in s.entered_by_month} | {m for m, _ in s.left_by_month})
    ) if detailed else ()
    days = (t("median days", language=language), t("p90 days", language=language), t("max days", language=language))
    proposals = cells.privacy.count(analysis.proposals, total_key)
    sections = [
        Section("stages", t("{workflow}: stages as of {date} ({proposals} proposals)", language=language,
                            workflow=name, date=as_of, proposals=proposals),
                (t("stage", language=language), t("now", language=language), t("stalled", language=language),
                 t("over deadline", language=language), t("passed", language=language), *days,
                 t("waiting median days", language=language)), stage_rows, wid),
        Section("states", t("{workflow}: states", language=language, workflow=name),
                (t("state", language=language), t("label", language=language), t("stage", language=language),
                 t("owner", language=language), t("now", language=language), t("stalled", language=language),
                 t("over deadline", language=language), t("passed", language=language), *days,
                 t("deadline days", language=language), t("severity", language=language)), state_rows, wid,
                note=t("days: finished stays; severity 1-4: median of finished stays (current waits where "
                       "nobody has left yet) relative to the slowest state; final states count proposals that "
                       "ended there", language=language)),
        Section("transitions", t("{workflow}: transitions", language=language, workflow=name),
                (t("from", language=language), t("trigger", language=language), t("to", language=language),
                 t("taken", language=language), t("median days before", language=language),
                 t("declared", language=language)), transition_rows, wid,
                note=t("{unused} declared transitions never taken; {jumps} steps no transition declares",
                       language=language, unused=len(analysis.unused), jumps=len(analysis.jumps))),
        Section("loops", t("{workflow}: sent back", language=language, workflow=name),
                (t("from", language=language), t("to", language=language), t("times", language=language),
                 t("proposals", language=language)), loop_rows, wid,
                note=t("a step back to an earlier state of the chain", language=language)),
        Section("funnel", t("{workflow}: funnel", language=language, workflow=name),
                (t("stage", language=language), t("reached", language=language), t("lost here", language=language),
                 t("share lost", language=language), t("how", language=language)), tuple(funnel_rows), wid,
                note=t("reached: got at least this far; lost here: this was the furthest stage and the proposal "
                       "was not implemented; evaluated: reached an evaluation stage", language=language)),
        Section("feedback", t("{workflow}: feedback loop", language=language, workflow=name), (
            t("proposals", language=language), t("answered", language=language),
            t("median days to answer", language=language), t("p90 days to answer", language=language),
            t("without answer", language=language), t("share without", language=language),
            t("median days without", language=language)), feedback_rows, wid,
            note=t("a reasoned answer: the first step that answers the panel, with its comment", language=language)),
    ]
    if detailed:
        sections.append(Section("flow", t("{workflow}: entered and left per month (UTC)", language=language,
                                          workflow=name),
                                (t("state", language=language), t("month", language=language),
                                 t("entered", language=language), t("left", language=language)), flow_rows, wid))
    return sections


def build_comparison(analyses: Sequence[Analysis], *, language: str = "en",
                     privacy: Privacy | None = None) -> list[Section]:
    """Workflows side by side on the shared stage model: days per stage, then the funnel."""
    cells = _Cells(privacy or Privacy(), language)
    names = tuple(a.workflow.id for a in analyses)
    stages = [stage for stage in STAGES if any(s.stage == stage for a in analyses for s in a.stages)]
    day_rows = []
    for stage in stages:
        row: list[Cell] = [term(stage, language)]
        for analysis in analyses:
            figures = next((s for s in analysis.stages if s.stage == stage), None)
            if figures is None:
                row.append(None)
                continue
            key = cell(analysis.workflow.id, "stage_passed", stage)
            median, p90, _ = cells.spread(figures.passed, key)
            row.append(None if median is None else f"{median} / {p90} ({cells.count(figures.passed.count, key)})")
        day_rows.append(tuple(row))
    funnel_rows = []
    for stage in stages:
        row = [term(stage, language)]
        for analysis in analyses:
            wid = analysis.workflow.id
            found = next((f for f in analysis.funnel.stages if f.stage == stage), None)
            row.append(None if found is None else t(
                "{reached} reached, {lost} lost", language=language,
                reached=cells.count(found.reached, cell(wid, "reached", stage)),
                lost=cells.count(found.lost_total, cell(wid, "lost", stage))))
        funnel_rows.append(tuple(row))
    for outcome in ("implemented", "partially_implemented"):
        row = [term(outcome, language)]
        for analysis in analyses:
            wid = analysis.workflow.id
            n = getattr(analysis.funnel, outcome)
            share = cells.share(n, cell(wid, outcome), analysis.funnel.proposals, cell(wid, "proposals"))
            text = t("{part} of {whole}", language=language, part=cells.count(n, cell(wid, outcome)),
                     whole=cells.count(analysis.funnel.proposals, cell(wid, "proposals")))
            row.append(f"{text} ({share})" if share else text)
        funnel_rows.append(tuple(row))
    as_of = local_date(analyses[0].as_of, analyses[0].as_of, language) if analyses else ""
    return [
        Section("compare_days", t("Days per stage as of {date}: median / p90 (stays)", language=language,
                                  date=as_of), (t("stage", language=language), *names),
                tuple(day_rows), note=t("finished stays in the stage; consecutive states of one stage count as one "
                                        "stay", language=language)),
        Section("compare_funnel", t("Funnel side by side", language=language), (t("stage", language=language),
                                                                                  *names), tuple(funnel_rows)),
    ]


def _how(how: str, language: str) -> str:
    if how == WAITING:
        return term("waiting", language)
    return term(how, language) if how in _OUTCOME_TERMS else how


_OUTCOME_TERMS = ("implemented", "partially_implemented", "rejected", "withdrawn", "merged", "parked", "transferred")


# -- writers --------------------------------------------------------------------------------

def as_text(sections: Sequence[Section], width: int | None = None) -> str:
    """The sections as text tables, each no wider than ``width`` characters when it is given."""
    parts = []
    for section in sections:
        body = table(section.columns, section.rows, width=width) if section.rows else t("(none)")
        note = f"\n{_within(section.note, width)}" if section.note else ""
        parts.append(f"{_within(section.title, width)}\n\n{body}{note}")
    return "\n\n".join(parts) + "\n"


def _within(text: str, width: int | None) -> str:
    if width is None:
        return text
    return "\n".join(part for line in text.split("\n") for part in wrap(line, width))


def as_markdown(sections: Sequence[Section]) -> str:
    parts = []
    for section in sections:
        lines = [f"## {_md(section.title)}", ""]
        if section.rows:
            lines.append("| " + " | ".join(_md(c) for c in section.columns) + " |")
            lines.append("|" + "|".join(" --- " for _ in section.columns) + "|")
            lines += ["| " + " | ".join(_md(_text(v)) for v in row) + " |" for row in section.rows]
        else:
            lines.append(t("(none)"))
        if section.note:
            lines += ["", f"*{_md(section.note)}*"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def as_csv(sections: Sequence[Section]) -> str:
    """Long form, one value per line (section, workflow, row, column, value): every section
    fits one sheet and pivots back into its table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "workflow", "row", "column", "value"))
    for section in sections:
        for row in section.rows:
            key = _text(row[0])
            for column, value in zip(section.columns[1:], row[1:], strict=True):
                writer.writerow((section.key, section.workflow or "", key, column, _text(value)))
    return out.getvalue()


def as_json_data(sections: Sequence[Section], analyses: Sequence[Analysis], privacy: Privacy) -> dict[str, Any]:
    """The sections; the full figures too unless privacy holds some back."""
    data: dict[str, Any] = {
        "as_of": iso_utc(analyses[0].as_of) if analyses else None,
        "privacy": {"roles_only": privacy.roles_only, "min_count": privacy.min_count},
        "sections": [s.as_dict() for s in sections],
    }
    if not privacy.roles_only and not privacy.min_count:
        data["figures"] = [a.as_dict() for a in analyses]
    return data


def as_format(name: str, sections: Sequence[Section], data: dict[str, Any] | None = None, *,
              width: int | None = None) -> str:
    """``sections`` written in report format ``name`` (one of
    :data:`~flowengine.views.formats.REPORT_FORMATS`); JSON writes ``data`` when given (e.g.
    :func:`as_json_data`), else the sections alone; tables are no wider than ``width``, if given."""
    if name == "table":
        return as_text(sections, width)
    if name == "json":
        chosen = data if data is not None else {"sections": [s.as_dict() for s in sections]}
        return json.dumps(chosen, indent=2, ensure_ascii=False) + "\n"
    writer = _TEXT_WRITERS.get(name)
    if writer is None:
        raise NotFound("report format", name, report_format_names())
    return writer(sections)


_TEXT_WRITERS: dict[str, Callable[[Sequence[Section]], str]] = {
    "table": as_text, "csv": as_csv, "markdown": as_markdown}


def _text(value: Cell) -> str:
    if value is None:
        return "-"
    return str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

