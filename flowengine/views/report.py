"""The stall report: the analysis laid out as titled tables, then written as text, Markdown,
CSV or JSON (the report formats of :mod:`flowengine.views.formats`; and as HTML by the demo's report).

Every format is built from the same :class:`Section` list, so they cannot disagree. Privacy
is applied once, here, while cells are made: a suppressed count is the text "<3" in every
format, and a spread resting on fewer stays is left empty. Cells carry figures at full
precision (days as floats, named so in the column): JSON and CSV write them as they are, and
only the tables people read (text, Markdown, HTML) round them, to :data:`READING_DIGITS`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.analysis.figures import CARRIED_ON, WAITING, Analysis, Privacy, Spread, Stall, long_past
from flowengine.analysis.provenance import Marks
from flowengine.analysis.reference import worst_first
from flowengine.clock import as_utc, iso_utc
from flowengine.definition.model import STAGES, Workflow
from flowengine.definition.vocabulary import term
from flowengine.errors import NotFound, Remedy
from flowengine.history.provenance import weakest
from flowengine.history.records import id_order
from flowengine.views.formats import report_format_names
from flowengine.views.texttable import table, wrap

Cell = str | int | float | None
READING_DIGITS = 1  # decimals of days in a table read by people; JSON and CSV keep every digit
SOURCE = "source"  # the column that says which kind of step a row rests on, in rebuilt histories
SOURCE_NOTE = ("source: the weakest step the row rests on — stated (the source says so), inferred (read from "
               "it) or illustrative (invented so the chain can run); '-': no recorded step")


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


def local_date(moment: datetime, zone: datetime | None = None) -> str:
    """The day of ``moment`` in ``zone``'s time zone (an analysis's as-of carries the reader's, or
    the demo file's), else in the machine's local zone."""
    tz = zone.tzinfo if zone is not None and zone.tzinfo is not None else None
    return as_utc(moment).astimezone(tz).strftime("%Y-%m-%d")


def _days(value: float | None) -> float | None:
    """Days as computed: rounding is for the tables people read (:func:`for_reading`)."""
    return value


def for_reading(value: Cell) -> Cell:
    """A cell as a table shows it: days rounded to :data:`READING_DIGITS` decimals."""
    return round(value, READING_DIGITS) if isinstance(value, float) else value


def _reading_rows(section: Section) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(for_reading(value) for value in row) for row in section.rows)


class _Cells:
    """Makes cells under one privacy setting."""

    def __init__(self, privacy: Privacy) -> None:
        self.privacy = privacy

    def count(self, n: int) -> Cell:
        shown = self.privacy.count(n)
        return n if shown == str(n) else shown

    def spread(self, spread: Spread) -> tuple[Cell, Cell, Cell]:
        if not self.privacy.shows(spread):
            return None, None, None
        return _days(spread.median), _days(spread.p90), _days(spread.max)

    def share(self, part: int, whole: int) -> Cell:
        if not whole or (self.privacy.min_count and 0 < part < self.privacy.min_count):
            return None
        return f"{100 * part / whole:.0f} %"


def _state_label(workflow: Workflow, state_id: str, language: str) -> str:
    declared = workflow.states.get(state_id)
    return declared.label(language) if declared else f"{state_id} (not declared)"


def _role_label(workflow: Workflow, role_id: str | None, language: str) -> str | None:
    if role_id is None:
        return None
    role = workflow.roles.get(role_id)
    return role.label(language) if role else role_id


def build_sections(analyses: Sequence[Analysis], *, language: str = "en", privacy: Privacy | None = None,
                   marks: Mapping[str, Marks] | None = None) -> list[Section]:
    """Worst stalls first (across every workflow given), then the proposals that have gone
    quiet, then each workflow's figures. ``marks`` (by workflow id): where the histories were
    rebuilt from a source, each row says which kind of step it rests on, in a "source" column."""
    cells = _Cells(privacy or Privacy())
    shown = {wid: found for wid, found in (marks or {}).items() if found.any}
    sections = [_stall_section(analyses, language, cells, shown), _quiet_section(analyses, language, cells, shown)]
    for analysis in analyses:
        sections += _workflow_sections(analysis, language, cells, shown.get(analysis.workflow.id))
    return sections


def _marked(section: Section, kinds: Sequence[str | None] | None) -> Section:
    """The section with a source column (``kinds``, one per row), or as it is without marks."""
    if kinds is None:
        return section
    rows = tuple((*row, kind or "-") for row, kind in zip(section.rows, kinds, strict=True))
    note = f"{section.note}; {SOURCE_NOTE}" if section.note else SOURCE_NOTE
    return Section(section.key, section.title, (*section.columns, SOURCE), rows, section.workflow, note)


def _stall_section(analyses: Sequence[Analysis], language: str, cells: _Cells,
                   marks: Mapping[str, Marks]) -> Section:
    workflows = {a.workflow.id: a.workflow for a in analyses}
    zone = analyses[0].as_of if analyses else None
    stalls = worst_first(s for a in analyses for s in a.stalls)
    rows = tuple(
        (s.proposal, s.title, s.workflow, _state_label(workflows[s.workflow], s.state, language),
         _role_label(workflows[s.workflow], s.owner, language), local_date(s.since, zone), _days(s.days),
         _days(s.limit_days), s.rule, cells.privacy.actor(s.last_actor, s.last_role))
        for s in stalls
    )
    return _marked(Section("stalls", "Stalled proposals, worst first", (
        "proposal", "title", "workflow", "state", "must act", "waiting since", "days", "limit days", "limit rule",
        "last step by"), rows,
        note="stalled: over its limit, and heard of within it, so the owner is known to be waiting. limit: the "
             "state's deadline; 'no progress': an implementation's deadline counted from its last recorded "
             "progress; 'p90': no deadline declared, so 90 % of earlier stays were shorter"),
        _stall_kinds(stalls, marks))


def _stall_kinds(stalls: Sequence[Stall], marks: Mapping[str, Marks]) -> list[str | None] | None:
    if not marks:
        return None
    return [marks[s.workflow].stalls.get(s.proposal) if s.workflow in marks else None for s in stalls]


def _quiet_section(analyses: Sequence[Analysis], language: str, cells: _Cells,
                   marks: Mapping[str, Marks]) -> Section:
    workflows = {a.workflow.id: a.workflow for a in analyses}
    zone = analyses[0].as_of if analyses else None
    quiet = sorted((s for a in analyses for s in a.quiet), key=lambda s: (-s.heard_days, id_order(s.proposal)))
    rows = tuple(
        (s.proposal, s.title, s.workflow, _state_label(workflows[s.workflow], s.state, language),
         _role_label(workflows[s.workflow], s.owner, language), local_date(s.since, zone),
         local_date(s.last_heard, zone), _days(s.heard_days), _days(s.limit_days),
         cells.privacy.actor(s.last_actor, s.last_role))
        for s in quiet
    )
    return _marked(Section("quiet", "Gone quiet: over the limit, and no record since", (
        "proposal", "title", "workflow", "state", "owner", "in it since", "last heard of", "days since",
        "limit days", "last record by"), rows,
        note="no record for longer than the limit: a gap in the records, not a stall. The records cannot tell "
             "a body that failed to act from a step nobody wrote down; a note (flowengine note) when you hear "
             "of the proposal says which"), _stall_kinds(quiet, marks))


def _workflow_sections(analysis: Analysis, language: str, cells: _Cells, mark: Marks | None) -> list[Section]:
    wf = analysis.workflow
    name = f"{wf.label(language)} ({wf.id})"
    as_of = local_date(analysis.as_of, analysis.as_of)
    stage_rows = tuple(
        (term(s.stage, language), cells.count(s.now), cells.count(s.stalled_now), cells.count(s.over_deadline_now),
         cells.count(s.quiet_now), cells.count(s.passed.count), *cells.spread(s.passed), cells.spread(s.waiting)[0])
        for s in analysis.stages
    )
    state_rows = tuple(
        (s.state, _state_label(wf, s.state, language), term(s.stage, language) if s.stage else None,
         _role_label(wf, s.owner, language), cells.count(s.now), cells.count(s.stalled_now),
         cells.count(s.over_deadline_now), cells.count(s.quiet_now), cells.count(s.passed.count),
         *cells.spread(s.passed), _days(s.deadline_days), s.severity)
        for s in analysis.states if s.now or s.passed.count or not s.final
    )
    transition_rows = tuple(
        (t.source, t.trigger, t.target, cells.count(t.taken), cells.spread(t.days_before)[0],
         "yes" if t.declared else "NO — not declared")
        for t in analysis.transitions
    )
    loop_rows = tuple((loop.source, loop.target, cells.count(loop.times), cells.count(loop.proposals))
                      for loop in analysis.loops)
    funnel = analysis.funnel
    funnel_rows: list[tuple[Cell, ...]] = [
        (term(row.stage, language), cells.count(row.reached), cells.count(row.lost_total),
         cells.share(row.lost_total, row.reached),
         ", ".join(f"{_how(how, language)} {cells.count(n)}" for how, n in row.lost) or None,
         cells.count(row.carried_on))
        for row in funnel.stages
    ]
    funnel_rows += [
        (label, cells.count(n), None, cells.share(n, funnel.proposals), None, None) for label, n in (
            (term("implemented", language), funnel.implemented),
            (term("partially_implemented", language), funnel.partially_implemented),
            ("being implemented, progress recorded", funnel.in_progress),
            ("reached evaluation (taken into use)", funnel.evaluated),
            ("carried on elsewhere (transferred)", funnel.carried_on))
    ]
    feedback = analysis.feedback
    answered = feedback.answered
    feedback_rows = ((cells.count(feedback.proposals), cells.count(answered.count), *cells.spread(answered)[:2],
                      cells.count(feedback.unanswered), cells.share(feedback.unanswered, feedback.proposals),
                      cells.spread(feedback.unanswered_waiting)[0]),)
    flow_rows = tuple(
        (s.state, month, cells.count(dict(s.entered_by_month).get(month, 0)),
         cells.count(dict(s.left_by_month).get(month, 0)))
        for s in analysis.states
        for month in sorted({m for m, _ in s.entered_by_month} | {m for m, _ in s.left_by_month})
    )
    days = ("median days", "p90 days", "max days")
    sections = [
        Section("stages", f"{name}: stages as of {as_of} ({analysis.proposals} proposals)",
                ("stage", "now", "stalled", "over deadline", "gone quiet", "passed", *days, "waiting median days"),
                stage_rows, wf.id),
        Section("states", f"{name}: states",
                ("state", "label", "stage", "owner", "now", "stalled", "over deadline", "gone quiet", "passed",
                 *days, "deadline days", "severity"), state_rows, wf.id,
                note="days: finished stays; severity 1-4: median of finished stays (current waits where "
                     "nobody has left yet) relative to the slowest state; final states count proposals that "
                     "ended there"),
        Section("transitions", f"{name}: transitions", ("from", "trigger", "to", "taken", "median days before",
                                                         "declared"), transition_rows, wf.id,
                note=f"{len(analysis.unused)} declared transitions never taken; "
                     f"{len(analysis.jumps)} steps no transition declares"),
        Section("loops", f"{name}: sent back", ("from", "to", "times", "proposals"), loop_rows, wf.id,
                note="a step back to an earlier state of the chain"),
        Section("funnel", f"{name}: funnel", ("stage", "reached", "lost here", "share lost", "how",
                                              "carried on"),
                tuple(funnel_rows), wf.id,
                note="reached: got at least this far; lost here: this was the furthest stage and the proposal "
                     "was neither implemented nor carried on elsewhere; carried on: handed on to another "
                     "process or project (transferred), not lost"),
        Section("feedback", f"{name}: feedback loop", (
            "proposals", "answered", "median days to answer", "p90 days to answer", "without answer",
            "share without", "median days without"), feedback_rows, wf.id,
            note="a reasoned answer: the first step that answers the panel, with its comment"),
        Section("flow", f"{name}: entered and left per month (UTC)", ("state", "month", "entered", "left"),
                flow_rows, wf.id),
    ]
    if mark is None:
        return sections
    shown_states = [s for s in analysis.states if s.now or s.passed.count or not s.final]
    kinds: dict[str, list[str | None]] = {
        "stages": [mark.stages.get(s.stage) for s in analysis.stages],
        "states": [mark.states.get(s.state) or (mark.funnel.get(s.state) if s.final else None)
                   for s in shown_states],
        "transitions": [mark.transitions.get((t.source, t.trigger, t.target)) for t in analysis.transitions],
        "loops": [mark.loops.get((loop.source, loop.target)) for loop in analysis.loops],
        "funnel": [*(mark.funnel.get(row.stage) for row in funnel.stages),
                   mark.funnel.get("implemented"), mark.funnel.get("partially_implemented"),
                   mark.stages.get("implementation"), mark.funnel.get("evaluation"),
                   weakest([mark.funnel.get(outcome) for outcome in CARRIED_ON])],
        "feedback": [mark.feedback],
        "flow": [mark.flow.get((row[0], row[1])) for row in flow_rows if isinstance(row[0], str)
                 and isinstance(row[1], str)],
    }
    return [_marked(section, kinds[section.key]) for section in sections]


def build_comparison(analyses: Sequence[Analysis], *, language: str = "en",
                     privacy: Privacy | None = None) -> list[Section]:
    """Workflows side by side on the shared stage model: days per stage, then the funnel."""
    cells = _Cells(privacy or Privacy())
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
            median, p90, _ = (for_reading(value) for value in cells.spread(figures.passed))
            row.append(None if median is None else f"{median} / {p90} ({cells.count(figures.passed.count)})")
        day_rows.append(tuple(row))
    funnel_rows = []
    for stage in stages:
        row = [term(stage, language)]
        for analysis in analyses:
            found = next((f for f in analysis.funnel.stages if f.stage == stage), None)
            row.append(None if found is None else
                       f"{cells.count(found.reached)} reached, {cells.count(found.lost_total)} lost")
        funnel_rows.append(tuple(row))
    for outcome in ("implemented", "partially_implemented"):
        row = [term(outcome, language)]
        for analysis in analyses:
            n = getattr(analysis.funnel, outcome)
            share = cells.share(n, analysis.funnel.proposals)
            text = f"{cells.count(n)} of {cells.count(analysis.funnel.proposals)}"
            row.append(f"{text} ({share})" if share else text)
        funnel_rows.append(tuple(row))
    as_of = local_date(analyses[0].as_of, analyses[0].as_of) if analyses else ""
    return [
        Section("compare_days", f"Days per stage as of {as_of}: median / p90 (stays)", ("stage", *names),
                tuple(day_rows), note="finished stays in the stage; consecutive states of one stage count as one stay"),
        Section("compare_funnel", "Funnel side by side", ("stage", *names), tuple(funnel_rows)),
    ]


def _how(how: str, language: str) -> str:
    if how == WAITING:
        return term("waiting", language)
    return term(how, language) if how in _OUTCOME_TERMS else how


_OUTCOME_TERMS = ("implemented", "partially_implemented", "rejected", "withdrawn", "merged", "parked", "transferred")


# -- a history that ended long ago ------------------------------------------------------------

def as_of_note(analyses: Sequence[Analysis], newest: datetime | None, hint: Callable[[Remedy], str]) -> str | None:
    """What a report as of today must say of a history whose newest event is long past (an
    imported log): every case still open would count as waiting since then. ``hint`` writes
    the remedy as the reader types it."""
    if not analyses or newest is None or not long_past(newest, analyses[0].as_of):
        return None
    day = local_date(newest, analyses[0].as_of)
    return (f"as of {local_date(analyses[0].as_of, analyses[0].as_of)}; the newest event is {day} — "
            f"{hint(Remedy('as_of', value=day))} reads the history as it stood then")


def with_note(fmt: str, text: str, note: str | None) -> str:
    """``text`` in report format ``fmt`` with ``note`` stated first (JSON carries it as a field)."""
    if note is None or fmt == "json":
        return text
    if fmt == "csv":
        header, _, body = text.partition("\n")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(("note", "", "as_of", "note", note))
        return f"{header}\n{out.getvalue()}{body}"
    if fmt == "markdown":
        return f"> {_md(note)}\n\n{text}"
    return f"{note}\n\n{text}"


# -- writers --------------------------------------------------------------------------------

def as_text(sections: Sequence[Section], width: int | None = None) -> str:
    """The sections as text tables, each no wider than ``width`` characters when it is given."""
    parts = []
    for section in sections:
        body = table(section.columns, _reading_rows(section), width=width) if section.rows else "(none)"
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
            lines += ["| " + " | ".join(_md(_text(v)) for v in row) + " |" for row in _reading_rows(section)]
        else:
            lines.append("(none)")
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
    """A cell as text; a float with every digit Python keeps (``repr``: it reads back equal)."""
    if value is None:
        return "-"
    return repr(value) if isinstance(value, float) else str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

