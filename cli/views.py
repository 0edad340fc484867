"""Text views of proposals and histories, shared by the commands that print them."""

from __future__ import annotations

import json
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

    return "; ".join(f"{name}: {display(value)}" for name, value in fields.items()) or "-"


def changes_text(changes: dict[str, Any]) -> str:
    from flowengine.definition.fields import display

    return ", ".join(f"{name}={'(cleared)' if value is None else display(value)}" for name, value in changes.items())


def waiting_text(standing: Standing) -> str:
    from flowengine.clock import describe_span, local_text

    span = describe_span(standing.proposal.state_entered_at, standing.moment)
    text = f"{span} in this state, since {local_text(standing.proposal.state_entered_at)}"
    if standing.final:
        return f"final since {local_text(standing.proposal.state_entered_at)}"
    if standing.due_at is None:
        return text + "; no deadline declared"
    verdict = "OVERDUE" if standing.overdue else "on time"
    clock = standing.clock_started_at
    since = "" if clock is None or clock == standing.proposal.state_entered_at else " from the last progress"
    return text + f"; deadline {standing.deadline}{since}, due {local_text(standing.due_at)} ({verdict})"


def standing_text(standing: Standing) -> str:
    from flowengine.clock import local_text

    proposal = standing.proposal
    last = standing.last_event
    stage = f" (stage {standing.stage})" if standing.stage else ""
    outcome = f", outcome {standing.outcome}" if standing.outcome else ""
    rows = [
        ("workflow", f"{proposal.workflow} {proposal.workflow_version} (definition {proposal.definition_hash[:12]})"),
        ("origin", proposal.origin or "-"),
        ("state", f"{proposal.state} — {standing.state_label}{stage}{outcome}"),
        ("waiting", waiting_text(standing)),
        *([("progress", progress_text(standing.progress))] if standing.progress else []),
        ("owner", f"{standing.owner} must act" if standing.owner and not standing.final else "-"),
        ("last step", f"{_step_name(last)} by {last.actor} ({last.role}) at {local_text(last.at)}"),
        ("fields", fields_text(proposal.fields)),
    ]
    if standing.missing_fields:
        rows.append(("missing", ", ".join(standing.missing_fields)
                     + f" (set with: flowengine proposal set {proposal.id} FIELD=VALUE)"))
    lines = [f"{proposal.id}  {proposal.title}", ""]
    width = max(len(label) for label, _ in rows)
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    if proposal.description:
        lines += ["", proposal.description]
    lines.append("")
    if standing.next_steps:
        lines.append("next steps (flowengine advance " + proposal.id + " TRIGGER):")
        lines.append(table(
            ["trigger", "to", "roles", "still needs"],
            [(s.trigger, s.target, ", ".join(s.roles) or "any role", _needs(s.missing_fields, s.needs_comment))
             for s in standing.next_steps]))
    else:
        lines.append("no next steps: the proposal has reached the end of its chain")
    return fit("\n".join(lines))


def _needs(missing: tuple[str, ...], comment: bool) -> str:
    needs = [*missing, *(["a comment"] if comment else [])]
    return ", ".join(needs) or "-"


def standings_table(standings: list[Standing]) -> str:
    from flowengine.clock import describe_span

    rows = []
    for s in standings:
        status = "final" if s.final else ("OVERDUE" if s.overdue else ("on time" if s.due_at else "-"))
        rows.append((s.proposal.id, s.proposal.workflow, s.proposal.state, s.stage, s.owner if not s.final else None,
                     describe_span(s.proposal.state_entered_at, s.moment), status, s.proposal.title))
    return table(["id", "workflow", "state", "stage", "owner", "waiting", "deadline", "title"], rows,
                 optional=("stage", "workflow"))


def audit_text(report: AuditReport) -> tuple[list[str], str]:
    """What an audit found, a line per damaged proposal or altered definition, and its verdict."""
    findings = [f"{broken.proposal}: {'history' if broken.seq is None else f'event {broken.seq}'}: {broken.problem}"
                for broken in report.breaks]
    findings += [f"definition {definition}: its text does not match its hash (altered in the database)"
                 for definition in report.altered_definitions]
    verdict = "every chain holds" if report.ok else (
        f"{len(report.breaks)} damaged proposal(s), {len(report.altered_definitions)} altered definition(s)")
    return findings, f"{report.proposals} proposal(s), {report.events} event(s) checked: {verdict}"


def _step_name(event: Event) -> str:
    from flowengine.history.records import CREATED, FIELDS_SET, MIGRATED, NOTED, PROGRESS, REMINDED

    if event.kind == CREATED:
        return "created"
    if event.kind == FIELDS_SET:
        return "fields set"
    if event.kind == NOTED:
        return "note"
    if event.kind == PROGRESS:
        percent = event.details.get("percent")
        return "progress in part" if percent is None else f"progress {percent} %"
    if event.kind == REMINDED:
        return f"reminder after {event.details.get('after')}"
    if event.kind == MIGRATED:
        from flowengine.definition.versions import version_label

        details = event.details
        before, after = (version_label(str(details.get(f"{side}_version") or ""),
                                       str(details.get(f"{side}_definition"))) for side in ("from", "to"))
        return f"migrated {before} → {after}"
    return event.trigger or event.kind


def progress_text(done: Progress) -> str:
    from flowengine.clock import local_text

    text = f"{done.share} at {local_text(done.at)} by {done.actor} ({done.role})"
    details = _progress_text(done.note, done.milestone, done.milestone_date)
    return f"{text}: {details}" if details else text


def _progress_text(note: str, milestone: str | None, milestone_date: str | None) -> str:
    reached = f"milestone '{milestone}'" + (f" ({milestone_date})" if milestone_date else "") if milestone else ""
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
    from flowengine.history.provenance import Provenance

    sources = {event.seq: Provenance.of(event.details) for event in events}
    marked = any(sources.values())
    rows = []
    for event in events:
        unmoved = event.from_state in (None, event.to_state)
        move = event.to_state if unmoved else f"{event.from_state} → {event.to_state}"
        source = sources[event.seq]
        mark = (source.kind if source else "-",) if marked else ()
        held = set(source.placeholders) if source else set()
        fields = ", ".join(changes_text({name: value}) + (" (placeholder)" if name in held else "")
                           for name, value in event.changes.items())
        rows.append((event.seq, local_text(event.at), _step_name(event), move, f"{event.actor} ({event.role})",
                     fields, _comment(event), *mark))
    text = table(["#", "when", "step", "state", "by", "fields", "comment", *(("source",) if marked else ())], rows,
                 optional=("fields",))
    if not marked:
        return text
    return text + "\n\n" + provenance_notes(events)


def provenance_notes(events: list[Event]) -> str:
    """Each step's source in full, then what the three words mean."""
    from flowengine.history.provenance import KINDS, LEGEND, Provenance

    lines = ["sources:"]
    for event in events:
        source = Provenance.of(event.details)
        lines.append(f"  #{event.seq} {source.describe() if source else '- (no source recorded)'}")
    lines.append("")
    lines += [f"{kind}: {LEGEND[kind]}" for kind in KINDS]
    lines.append("Where a source gives only a season or a period (time: …), the step's date was chosen to fit it.")
    return "\n".join(lines)
