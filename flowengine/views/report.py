"""The stall report: the analysis laid out as titled tables (:class:`~flowengine.views.sections.Section`), which
:mod:`flowengine.views.report_writers` writes as text, Markdown, CSV or JSON (the report formats of
:mod:`flowengine.views.formats`) and :mod:`flowengine.views.site` as the published site.

Every format is built from the same list of sections, so they cannot disagree. Privacy
is applied once, here, while cells are made: a suppressed count is the text "<3" in every
format, and a spread resting on fewer stays is left empty. Cells carry figures at full
precision (days as floats, named so in the column): JSON and CSV write them as they are, and
only the tables people read (text, Markdown, HTML) round them, to :data:`READING_DIGITS`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

from flowengine.analysis.cells import cell
from flowengine.analysis.figures import CARRIED_ON, WAITING, Analysis, Privacy, Spread, Stall, StateFigures
from flowengine.analysis.provenance import Marks
from flowengine.analysis.reference import worst_first
from flowengine.definition.model import STAGES, Workflow
from flowengine.definition.vocabulary import term
from flowengine.history.erasure import shown as erased
from flowengine.history.provenance import kind_word, weakest
from flowengine.history.records import id_order
from flowengine.i18n import N_, marked, t
from flowengine.i18n.formats import percent
from flowengine.views.figure_wording import local_date
from flowengine.views.sections import Cell, Section

READING_DIGITS = 1  # decimals of days in a table read by people; JSON and CSV keep every digit


def source_note(language: str) -> str:
    """What the source column means."""
    return t("source: the weakest step the row rests on — stated (the source says so), inferred (read from it) "
             "or illustrative (invented so the chain can run); '-': no recorded step", language=language)


def _days(value: float | None) -> float | None:
    """Days as computed: rounding is for the tables people read (:func:`for_reading`)."""
    return value


def for_reading(value: Cell) -> Cell:
    """A cell as a table shows it: days rounded to :data:`READING_DIGITS` decimals."""
    return round(value, READING_DIGITS) if isinstance(value, float) else value


class _Cells:
    """Makes cells under one privacy setting; a count is named by its cell
    (:func:`~flowengine.analysis.cells.cell`), so a decided privacy shows or hides it by name."""

    def __init__(self, privacy: Privacy, language: str) -> None:
        self.privacy = privacy
        self.language = language
        # No decision and no threshold above 1: :meth:`count` gives every count back as it is.
        self.shows_every_count = privacy.hidden is None and privacy.min_count <= 1

    def count(self, n: int, key: str | None = None) -> Cell:
        if self.privacy.hidden is None and not 0 < n < self.privacy.min_count:
            return n  # nothing hides it (the common case, worth not making its text: a report has millions)
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


def build_sections(analyses: Sequence[Analysis], *, language: str = "en", privacy: Privacy | None = None,
                   marks: Mapping[str, Marks] | None = None, listed: Collection[str] | None = None) -> list[Section]:
    """Worst stalls first (across every workflow given), then the proposals that have gone
    quiet, then each workflow's figures. ``marks`` (by workflow id): where the histories were
    rebuilt from a source, each row says which kind of step it rests on, in a "source" column.
    ``listed``: the workflows whose stalled and quiet proposals are listed one by one (default:
    all; a published report lists only those whose workflow publishes its proposals)."""
    return list(iter_sections(analyses, language=language, privacy=privacy, marks=marks, listed=listed))


def iter_sections(analyses: Sequence[Analysis], *, language: str = "en", privacy: Privacy | None = None,
                  marks: Mapping[str, Marks] | None = None, listed: Collection[str] | None = None
                  ) -> Iterator[Section]:
    """:func:`build_sections` one at a time, each workflow's made when it is wanted: a report of
    hundreds of workflows is written as it is made, never held whole."""
    cells = _Cells(privacy or Privacy(), language)
    shown = {wid: found for wid, found in (marks or {}).items() if found.any}
    named = [a for a in analyses if listed is None or a.workflow.id in listed]
    yield stall_section(named, language, cells.privacy, shown)
    yield quiet_section(named, language, cells.privacy, shown)
    for analysis in analyses:
        yield from _workflow_sections(analysis, language, cells, shown.get(analysis.workflow.id))


def _marked(section: Section, kinds: Sequence[str | None] | None, language: str) -> Section:
    """The section with a source column (``kinds``, one per row), or as it is without marks."""
    if kinds is None:
        return section
    rows = tuple((*row, kind_word(kind, language) if kind else "-")
                 for row, kind in zip(section.rows, kinds, strict=True))
    note = f"{section.note}; {source_note(language)}" if section.note else source_note(language)
    return Section(section.key, section.title, (*section.columns, t("source", language=language)), rows,
                   section.workflow, note, tuple(kinds))


def _last_by(workflow: Workflow, stall: Stall, privacy: Privacy, language: str) -> str | None:
    if privacy.roles_only:
        return _role_label(workflow, stall.last_role, language)
    return privacy.actor(erased(stall.last_actor, language), stall.last_role)


def _stall_kinds(stalls: Sequence[Stall], marks: Mapping[str, Marks]) -> list[str | None] | None:
    if not marks:
        return None
    return [marks[s.workflow].stalls.get(s.proposal) if s.workflow in marks else None for s in stalls]


def stall_section(analyses: Sequence[Analysis], language: str, privacy: Privacy,
                  marks: Mapping[str, Marks] | None = None) -> Section:
    """The stalled proposals of every workflow, worst first."""
    workflows = {a.workflow.id: a.workflow for a in analyses}
    zone = analyses[0].as_of if analyses else None
    stalls = worst_first(s for a in analyses for s in a.stalls)
    rows = tuple(
        (s.proposal, s.title, s.workflow, _state_label(workflows[s.workflow], s.state, language),
         _role_label(workflows[s.workflow], s.owner, language), local_date(s.since, zone, language), _days(s.days),
         _days(s.limit_days), rule_text(s.rule, language), _last_by(workflows[s.workflow], s, privacy, language))
        for s in stalls
    )
    return _marked(Section("stalls", t("Stalled proposals, worst first", language=language), (
        t("proposal", language=language), t("title", language=language), t("workflow", language=language),
        t("state", language=language), t("must act", language=language), t("waiting since", language=language),
        t("days", language=language), t("limit days", language=language), t("limit rule", language=language),
        t("last step by", language=language)), rows,
        note=t("stalled: over its limit, and heard of within it, so the owner is known to be waiting. limit: the "
               "state's deadline; 'no progress': an implementation's deadline counted from its last recorded "
               "progress; 'p90': no deadline declared, so 90 % of earlier stays were shorter", language=language)),
        _stall_kinds(stalls, marks or {}), language)


def quiet_section(analyses: Sequence[Analysis], language: str, privacy: Privacy,
                  marks: Mapping[str, Marks] | None = None) -> Section:
    """The proposals gone quiet (over the limit, no record since), longest silent first."""
    workflows = {a.workflow.id: a.workflow for a in analyses}
    zone = analyses[0].as_of if analyses else None
    quiet = sorted((s for a in analyses for s in a.quiet), key=lambda s: (-s.heard_days, id_order(s.proposal)))
    rows = tuple(
        (s.proposal, s.title, s.workflow, _state_label(workflows[s.workflow], s.state, language),
         _role_label(workflows[s.workflow], s.owner, language), local_date(s.since, zone, language),
         local_date(s.last_heard, zone, language), _days(s.heard_days), _days(s.limit_days),
         _last_by(workflows[s.workflow], s, privacy, language))
        for s in quiet
    )
    return _marked(Section("quiet", t("Gone quiet: over the limit, and no record since", language=language), (
        t("proposal", language=language), t("title", language=language), t("workflow", language=language),
        t("state", language=language), t("owner", language=language), t("in it since", language=language),
        t("last heard of", language=language), t("days since", language=language),
        t("limit days", language=language), t("last record by", language=language)), rows,
        note=t("no record for longer than the limit: a gap in the records, not a stall. The records cannot tell a "
               "body that failed to act from a step nobody wrote down; a note when you hear of the proposal says "
               "which", language=language)), _stall_kinds(quiet, marks or {}), language)


def _workflow_sections(analysis: Analysis, language: str, cells: _Cells, mark: Marks | None) -> list[Section]:
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
         cells.count(s.quiet_now, cell(wid, "stage_quiet", s.stage)),
         cells.count(s.passed.count, cell(wid, "stage_passed", s.stage)),
         *cells.spread(s.passed, cell(wid, "stage_passed", s.stage)),
         cells.spread(s.waiting, cell(wid, "stage_now", s.stage))[0])
        for s in analysis.stages
    )
    shown_states = [s for s in analysis.states if s.now or s.passed.count or not s.final]

    def open_cell(what: str, state: str, final: bool) -> str | None:
        return None if final else cell(wid, what, state)

    state_rows = tuple(
        (s.state, _state_label(wf, s.state, language), term(s.stage, language) if s.stage else None,
         _role_label(wf, s.owner, language), cells.count(s.now, cell(wid, "now", s.state)),
         cells.count(s.stalled_now, open_cell("stalled", s.state, s.final)),
         cells.count(s.over_deadline_now, open_cell("over", s.state, s.final)),
         cells.count(s.quiet_now, open_cell("quiet", s.state, s.final)),
         cells.count(s.passed.count, open_cell("passed", s.state, s.final)),
         *cells.spread(s.passed, open_cell("passed", s.state, s.final)), _days(s.deadline_days), s.severity)
        for s in shown_states
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
    detailed = not cells.privacy.decided  # how each was lost, and the flows: not among the published cells
    funnel_rows: list[tuple[Cell, ...]] = [
        (term(row.stage, language), cells.count(row.reached, cell(wid, "reached", row.stage)),
         cells.count(row.lost_total, cell(wid, "lost", row.stage)),
         cells.share(row.lost_total, cell(wid, "lost", row.stage), row.reached, cell(wid, "reached", row.stage)),
         (", ".join(f"{_how(how, language)} {cells.count(n)}" for how, n in row.lost) or None) if detailed else None,
         cells.count(row.carried_on, cell(wid, "carried", row.stage)))
        for row in funnel.stages
    ]
    funnel_rows += [
        (label, cells.count(n, cell(wid, key)), None, cells.share(n, cell(wid, key), funnel.proposals, total_key),
         None, None) for label, key, n in (
            (term("implemented", language), "implemented", funnel.implemented),
            (term("partially_implemented", language), "partially_implemented", funnel.partially_implemented),
            (t("being implemented, progress recorded", language=language), "in_progress", funnel.in_progress),
            (t("reached evaluation (taken into use)", language=language), "evaluated", funnel.evaluated),
            (t("carried on elsewhere (transferred)", language=language), "carried_on", funnel.carried_on))
    ]
    feedback = analysis.feedback
    answered = feedback.answered
    feedback_rows = ((cells.count(feedback.proposals, total_key), cells.count(answered.count, cell(wid, "answered")),
                      *cells.spread(answered, cell(wid, "answered"))[:2],
                      cells.count(feedback.unanswered, cell(wid, "unanswered")),
                      cells.share(feedback.unanswered, cell(wid, "unanswered"), feedback.proposals, total_key),
                      cells.spread(feedback.unanswered_waiting, cell(wid, "unanswered"))[0]),)
    flow_rows = tuple(row for s in analysis.states for row in _flow_rows(s, cells)) if detailed else ()
    days = (t("median days", language=language), t("p90 days", language=language), t("max days", language=language))
    proposals = cells.privacy.count(analysis.proposals, total_key)
    sections = [
        Section("stages", t("{workflow}: stages as of {date} ({proposals} proposals)", language=language,
                            workflow=name, date=as_of, proposals=proposals),
                (tr(N_("stage")), tr(N_("now")), tr(N_("stalled")), tr(N_("over deadline")), tr(N_("gone quiet")),
                 tr(N_("passed")), *days, tr(N_("waiting median days"))), stage_rows, wid),
        Section("states", t("{workflow}: states", language=language, workflow=name),
                (tr(N_("state")), tr(N_("label")), tr(N_("stage")), tr(N_("owner")), tr(N_("now")),
                 tr(N_("stalled")), tr(N_("over deadline")), tr(N_("gone quiet")), tr(N_("passed")), *days,
                 tr(N_("deadline days")), tr(N_("severity"))), state_rows, wid,
                note=t("days: finished stays; severity 1-4: median of finished stays (current waits where "
                       "nobody has left yet) relative to the slowest state; final states count proposals that "
                       "ended there", language=language)),
        Section("transitions", t("{workflow}: transitions", language=language, workflow=name),
                (tr(N_("from")), tr(N_("trigger")), tr(N_("to")), tr(N_("taken")), tr(N_("median days before")),
                 tr(N_("declared"))), transition_rows, wid,
                note=t("{unused} declared transitions never taken; {jumps} steps no transition declares",
                       language=language, unused=len(analysis.unused), jumps=len(analysis.jumps))),
        Section("loops", t("{workflow}: sent back", language=language, workflow=name),
                (tr(N_("from")), tr(N_("to")), tr(N_("times")), tr(N_("proposals"))), loop_rows, wid,
                note=t("a step back to an earlier state of the chain", language=language)),
        Section("funnel", t("{workflow}: funnel", language=language, workflow=name),
                (tr(N_("stage")), tr(N_("reached")), tr(N_("lost here")), tr(N_("share lost")), tr(N_("how")),
                 tr(N_("carried on"))), tuple(funnel_rows), wid,
                note=t("reached: got at least this far; lost here: this was the furthest stage and the proposal "
                       "was neither implemented nor carried on elsewhere; carried on: handed on to another "
                       "process or project (transferred), not lost", language=language)),
        Section("feedback", t("{workflow}: feedback loop", language=language, workflow=name), (
            tr(N_("proposals")), tr(N_("answered")), tr(N_("median days to answer")), tr(N_("p90 days to answer")),
            tr(N_("without answer")), tr(N_("share without")), tr(N_("median days without"))), feedback_rows, wid,
            note=t("a reasoned answer: the first step that answers the panel, with its comment", language=language)),
    ]
    if detailed:
        sections.append(Section("flow", t("{workflow}: entered and left per month (UTC)", language=language,
                                          workflow=name),
                                (tr(N_("state")), tr(N_("month")), tr(N_("entered")), tr(N_("left"))), flow_rows,
                                wid))
    if mark is None:
        return sections
    kinds: dict[str, list[str | None]] = {
        "stages": [mark.stages.get(s.stage) for s in analysis.stages],
        "states": [mark.states.get(s.state) or (mark.funnel.get(s.state) if s.final else None)
                   for s in shown_states],
        "transitions": [mark.transitions.get((x.source, x.trigger, x.target)) for x in analysis.transitions],
        "loops": [mark.loops.get((loop.source, loop.target)) for loop in analysis.loops],
        "funnel": [*(mark.funnel.get(row.stage) for row in funnel.stages),
                   mark.funnel.get("implemented"), mark.funnel.get("partially_implemented"),
                   mark.stages.get("implementation"), mark.funnel.get("evaluation"),
                   weakest([mark.funnel.get(outcome) for outcome in CARRIED_ON])],
        "feedback": [mark.feedback],
        "flow": [mark.flow.get((row[0], row[1])) for row in flow_rows if isinstance(row[0], str)
                 and isinstance(row[1], str)],
    }
    return [_marked(section, kinds[section.key], language) for section in sections]


def _flow_rows(state: StateFigures, cells: _Cells) -> list[tuple[Cell, ...]]:
    """A state's entries and exits per month, every month with either."""
    entered, left = dict(state.entered_by_month), dict(state.left_by_month)
    months = sorted(entered.keys() | left.keys())
    sid = state.state
    if cells.shows_every_count:  # the common case, a national report's most rows: no count to look at
        return [(sid, month, entered.get(month, 0), left.get(month, 0)) for month in months]
    count = cells.count
    return [(sid, month, count(entered.get(month, 0)), count(left.get(month, 0))) for month in months]


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
            median, p90, _ = (for_reading(value) for value in cells.spread(figures.passed, key))
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
