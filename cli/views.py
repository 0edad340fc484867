"""Text views of proposals and histories, shared by the commands that print them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .terminal import fit, table

if TYPE_CHECKING:
    from flowengine.history.records import Event
    from flowengine.service.deadlines import Progress
    from flowengine.service.facade import AuditReport, Standing


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def fields_text(fields: dict[str, Any]) -> str:
    from flowengine.definition.fields import display
    from flowengine.history.erasure import shown

    return "; ".join(f"{name}: {shown(display(value))}" for name, value in fields.items()) or "-"


def changes_text(changes: dict[str, Any]) -> str:
    from flowengine.definition.fields import display
    from flowengine.history.erasure import shown
    from flowengine.i18n import t

    cleared = t("(cleared)")
    return ", ".join(f"{name}={cleared if value is None else shown(display(value))}" for name, value in changes.items())


def waiting_text(standing: Standing) -> str:
    from flowengine.clock import describe_span, local_text
    from flowengine.i18n import t

    entered = local_text(standing.proposal.state_entered_at)
    if standing.final:
        return t("final since {moment}", moment=entered)
    span = describe_span(standing.proposal.state_entered_at, standing.moment)
    text = t("{span} in this state, since {moment}", span=span, moment=entered)
    if standing.due_at is None:
        return text + "; " + t("no deadline declared")
    verdict = t("OVERDUE") if standing.overdue else t("on time")
    clock = standing.clock_started_at
    due = local_text(standing.due_at)
    if clock is None or clock == standing.proposal.state_entered_at:
        return text + "; " + t("deadline {deadline}, due {due} ({verdict})", deadline=standing.deadline, due=due,
                               verdict=verdict)
    return text + "; " + t("deadline {deadline} from the last progress, due {due} ({verdict})",
                           deadline=standing.deadline, due=due, verdict=verdict)


def standing_text(standing: Standing) -> str:
    from flowengine.clock import local_text
    from flowengine.history.erasure import shown
    from flowengine.i18n import t

    proposal = standing.proposal
    last = standing.last_event
    stage = f" ({t('stage {stage}', stage=standing.stage)})" if standing.stage else ""
    outcome = f", {t('outcome {outcome}', outcome=standing.outcome)}" if standing.outcome else ""
    rows = [
        (t("workflow"), t("{workflow} {version} (definition {definition})", workflow=proposal.workflow,
                          version=proposal.workflow_version, definition=proposal.definition_hash[:12])),
        (t("origin"), proposal.origin or "-"),
        (t("state"), f"{proposal.state} — {standing.state_label}{stage}{outcome}"),
        (t("waiting"), waiting_text(standing)),
        *([(t("progress"), progress_text(standing.progress))] if standing.progress else []),
        (t("owner"), t("{owner} must act", owner=standing.owner) if standing.owner and not standing.final else "-"),
        (t("last step"), t("{step} by {actor} ({role}) at {moment}", step=_step_name(last), actor=shown(last.actor),
                           role=last.role, moment=local_text(last.at))
         + (t(", recorded by the login {login}", login=last.login) if last.login else "")),
        *([(t("data erased"), erasure_text(standing.last_erasure))] if standing.last_erasure else []),
        (t("fields"), fields_text(proposal.fields)),
    ]
    if standing.missing_fields:
        rows.append((t("missing"), ", ".join(standing.missing_fields) + " (" + t(
            "set with: {command}", command=f"flowengine proposal set {proposal.id} FIELD=VALUE") + ")"))
    lines = [f"{proposal.id}  {proposal.title}", ""]
    width = max(len(label) for label, _ in rows)
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    if proposal.description:
        lines += ["", proposal.description]
    lines.append("")
    if standing.next_steps:
        lines.append(t("next steps ({command}):", command=f"flowengine advance {proposal.id} TRIGGER"))
        lines.append(table(
            [t("trigger"), t("to"), t("roles"), t("still needs")],
            [(s.trigger, s.target, ", ".join(s.roles) or t("any role"), _needs(s.missing_fields, s.needs_comment))
             for s in standing.next_steps]))
    else:
        lines.append(t("no next steps: the proposal has reached the end of its chain"))
    return fit("\n".join(lines))


def erasure_text(event: Event) -> str:
    """An erasure step as people read it: which kind of data, how many values, when, by whom and
    on whose request (never the value)."""
    from flowengine.clock import local_text
    from flowengine.history.erasure import ACTOR, COMMENT, FIELD, shown
    from flowengine.i18n import t, tn

    def kind(item: str) -> str:
        if item == ACTOR:
            return t("display names")
        if item == COMMENT:
            return t("comments")
        if item.startswith(FIELD):
            return t("field '{field}'", field=item.removeprefix(FIELD))
        return t("all personal data")

    kinds = event.details.get("erased")
    what = ", ".join(kind(str(item)) for item in kinds) if isinstance(kinds, list) and kinds else kind("all")
    values = event.details.get("values")
    if isinstance(values, int):
        what += " (" + tn("{n} value", "{n} values", values) + ")"
    text = t("{what} on {moment} by {actor} ({role})", what=what, moment=local_text(event.at),
             actor=shown(event.actor), role=event.role)
    request = event.details.get("request")
    return text + (t(", on request of {request}", request=request) if request else "")


def _needs(missing: tuple[str, ...], comment: bool) -> str:
    from flowengine.i18n import t

    needs = [*missing, *([t("a comment")] if comment else [])]
    return ", ".join(needs) or "-"


def standings_table(standings: Sequence[Standing]) -> str:
    from flowengine.i18n import t

    stage, workflow = t("stage"), t("workflow")
    return table(standings_headers(), [standing_row(s) for s in standings], optional=(stage, workflow))


def standings_headers() -> list[str]:
    from flowengine.i18n import t

    return [t("id"), t("workflow"), t("state"), t("stage"), t("owner"), t("waiting"), t("deadline"), t("title")]


def standing_row(s: Standing) -> tuple[str, str, str, str | None, str | None, str, str, str]:
    """One proposal's row of a list: as the table shows it, and as ``--all`` streams it."""
    from flowengine.clock import describe_span
    from flowengine.i18n import t

    status = t("final") if s.final else (t("OVERDUE") if s.overdue else (t("on time") if s.due_at else "-"))
    return (s.proposal.id, s.proposal.workflow, s.proposal.state, s.stage, s.owner if not s.final else None,
            describe_span(s.proposal.state_entered_at, s.moment), status, s.proposal.title)


def tab_line(cells: Sequence[object]) -> str:
    """Cells separated by tabs, for a stream that `cut`, `sort` and spreadsheets read; a tab or a
    line break inside a cell becomes a space, an empty cell stays empty."""
    return "\t".join("" if c is None else str(c).translate(_TAB_SAFE) for c in cells)


_TAB_SAFE = str.maketrans("\t\r\n", "   ")


def audit_text(report: AuditReport) -> tuple[list[str], str]:
    """What an audit found, a line per damaged proposal or altered definition, and its verdict."""
    from flowengine.i18n import t, tn

    findings = [f"{broken.proposal}: "
                + (t("history") if broken.seq is None else t("event {seq}", seq=broken.seq)) + f": {broken.problem}"
                for broken in report.breaks]
    findings += [t("definition {definition}: its text does not match its hash (altered in the database)",
                   definition=definition) for definition in report.altered_definitions]
    findings += [t("access log: {problem}", problem=problem) for problem in report.access_problems]
    verdict = t("every chain holds") if report.ok else t(
        "{damaged}, {altered}", damaged=tn("{n} damaged proposal", "{n} damaged proposals", len(report.breaks)),
        altered=tn("{n} altered definition", "{n} altered definitions", len(report.altered_definitions)))
    if report.access_problems:
        verdict += ", " + tn("{n} problem in the access log", "{n} problems in the access log",
                             len(report.access_problems))
    return findings, t("{proposals}, {events} checked: {verdict}", verdict=verdict,
                       proposals=tn("{n} proposal", "{n} proposals", report.proposals),
                       events=tn("{n} event", "{n} events", report.events))


def _step_name(event: Event) -> str:
    from flowengine.history.records import CREATED, MIGRATED, REMINDED
    from flowengine.i18n import t
    from flowengine.views.histories import step_name

    if event.kind == CREATED:
        return t("created")
    if event.kind == REMINDED:
        return t("reminder after {after}", after=event.details.get("after"))
    if event.kind == MIGRATED:
        from flowengine.definition.versions import version_label

        details = event.details
        before, after = (version_label(str(details.get(f"{side}_version") or ""),
                                       str(details.get(f"{side}_definition"))) for side in ("from", "to"))
        return t("migrated {before} → {after}", before=before, after=after)
    return step_name(event)


def progress_text(done: Progress) -> str:
    from flowengine.clock import local_text
    from flowengine.history.erasure import shown
    from flowengine.i18n import t

    text = t("{share} at {moment} by {actor} ({role})", share=done.share, moment=local_text(done.at),
             actor=shown(done.actor), role=done.role)
    details = _progress_text(done.note, done.milestone, done.milestone_date)
    return f"{text}: {details}" if details else text


def _progress_text(note: str, milestone: str | None, milestone_date: str | None) -> str:
    from flowengine.i18n import t

    reached = ""
    if milestone:
        reached = (t("milestone '{milestone}' ({date})", milestone=milestone, date=milestone_date) if milestone_date
                   else t("milestone '{milestone}'", milestone=milestone))
    return "; ".join(part for part in (note, reached) if part)


def _comment(event: Event) -> str:
    from flowengine.history.records import PROGRESS

    if event.kind == PROGRESS:
        details = event.details
        return _progress_text(str(details.get("note") or ""), details.get("milestone"), details.get("milestone_date"))
    return event.comment


def history_table(events: list[Event]) -> str:
    """The steps as a table; where steps record their provenance (a history rebuilt from a
    source), a column says which, and each step's source follows the table, with a legend."""
    from flowengine.clock import local_text
    from flowengine.history.erasure import shown
    from flowengine.history.provenance import Provenance, kind_word
    from flowengine.i18n import t

    sources = {event.seq: Provenance.of(event.details) for event in events}
    marked = any(sources.values())
    placeholder = t("(placeholder)")
    rows = []
    for event in events:
        unmoved = event.from_state in (None, event.to_state)
        move = event.to_state if unmoved else f"{event.from_state} → {event.to_state}"
        source = sources[event.seq]
        mark = (kind_word(source.kind) if source else "-",) if marked else ()
        held = set(source.placeholders) if source else set()
        fields = ", ".join(changes_text({name: value}) + (f" {placeholder}" if name in held else "")
                           for name, value in event.changes.items())
        rows.append((event.seq, local_text(event.at), _step_name(event), move, f"{shown(event.actor)} ({event.role})",
                     fields, shown(_comment(event)), _recorded(event), *mark))
    field_column, recorded = t("fields"), t("recorded by")
    text = table([t("#"), t("when"), t("step"), t("state"), t("by"), field_column, t("comment"), recorded,
                  *((t("source"),) if marked else ())], rows, optional=(field_column, recorded))
    if not marked:
        return text
    return text + "\n\n" + provenance_notes(events)


def _recorded(event: Event) -> str:
    """The authenticated login that recorded a step, and when, where that is not when it took
    effect; "-" for a step recorded before logins were (event format 1)."""
    from flowengine.clock import local_text

    if event.login is None or event.recorded_at is None:
        return "-"
    when = local_text(event.recorded_at)
    return event.login if when == local_text(event.at) else f"{event.login}, {when}"


def provenance_notes(events: list[Event]) -> str:
    """Each step's source in full, then what the three words mean."""
    from flowengine.history.provenance import Provenance, legend_lines
    from flowengine.i18n import t

    lines = [t("sources:")]
    for event in events:
        source = Provenance.of(event.details)
        lines.append(f"  #{event.seq} {source.describe() if source else t('- (no source recorded)')}")
    lines.append("")
    lines += legend_lines()
    lines.append(t("Where a source gives only a season or a period (time: …), the step's date was chosen to fit it."))
    return "\n".join(lines)
