"""Histories as tables: every step of each proposal, and where it comes from when the history
was rebuilt from a source; and the proposals that came from others (an audit's findings).

Built as :class:`~flowengine.views.report.Section` objects, so the HTML report and Markdown
write them as they write the stall report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flowengine.definition.fields import display
from flowengine.definition.model import Workflow
from flowengine.history.provenance import KINDS, LEGEND, STATED, Provenance
from flowengine.history.records import (
    CREATED,
    FIELDS_SET,
    FROM_KEY,
    MIGRATED,
    NOTED,
    PROGRESS,
    REMINDED,
    Event,
    Proposal,
)
from flowengine.views.report import SOURCE, Cell, Section, local_date

LEGEND_NOTE = "; ".join(f"{kind}: {LEGEND[kind]}" for kind in KINDS)


def history_section(proposal: Proposal, events: Sequence[Event], workflow: Workflow | None, *,
                    language: str = "en", zone: datetime | None = None, led_to: Sequence[str] = ()) -> Section:
    """One proposal's steps, oldest first. Where its steps record their provenance, a source
    column says which kind each is, and the next column quotes the source's words (stated) or
    says what the step is read from (inferred) or why it was invented (illustrative)."""
    sources = [Provenance.of(event.details) for event in events]
    marked = any(sources)
    rows: list[tuple[Cell, ...]] = []
    for event, source in zip(events, sources, strict=True):
        row: tuple[Cell, ...] = (event.seq, local_date(event.at, zone), _step(event),
                                 _state(workflow, event, language), f"{event.actor} ({event.role})",
                                 _changes(event, source), _comment(event))
        if marked:
            row += (source.kind if source else "-", _basis(source))
        rows.append(row)
    columns = ("#", "date", "step", "state", "by", "fields", "comment", *((SOURCE, "its words, or basis")
                                                                         if marked else ()))
    label = workflow.label(language) if workflow else proposal.workflow
    notes = []
    came_from = events[0].details.get(FROM_KEY) if events else None
    if came_from:
        notes.append(f"came from {came_from}")
    if led_to:
        notes.append(f"led to {', '.join(led_to)}")
    if marked:
        notes.append(LEGEND_NOTE)
    return Section("history", f"{proposal.id} {proposal.title} ({label})", columns, tuple(rows), proposal.workflow,
                   note="; ".join(notes))


def lineage_section(lines: Sequence[tuple[Proposal, Sequence[Proposal]]], workflows: Mapping[str, Workflow], *,
                    language: str = "en") -> Section:
    """Proposals per audit (or any proposal others came from), and where they went: each line is
    a proposal and those registered as coming from it, as they stood at the report's moment."""
    def where(proposal: Proposal) -> str:
        workflow = workflows.get(proposal.workflow)
        state = workflow.states.get(proposal.state) if workflow else None
        return state.label(language) if state else proposal.state

    rows = tuple(
        (source.id, source.title, source.workflow, len(led_to),
         "; ".join(f"{p.id} {p.title}: {where(p)}" for p in led_to))
        for source, led_to in lines
    )
    return Section("lineage", "From audits to proposals", (
        "proposal", "title", "workflow", "proposals it led to", "where they are"), rows,
        note="proposals registered as coming from another: a user-asks-user audit's findings that became "
             "proposals in a municipal chain")


def _step(event: Event) -> str:
    if event.kind == CREATED:
        return "registered"
    if event.kind == FIELDS_SET:
        return "fields set"
    if event.kind == NOTED:
        return "note"
    if event.kind == PROGRESS:
        percent = event.details.get("percent")
        return "progress, in part" if percent is None else f"progress {percent} %"
    if event.kind == REMINDED:
        return "reminder"
    if event.kind == MIGRATED:
        return "moved to a new definition"
    return event.trigger or event.kind


def _state(workflow: Workflow | None, event: Event, language: str) -> str:
    def label(state_id: str) -> str:
        state = workflow.states.get(state_id) if workflow else None
        return state.label(language) if state else state_id

    if event.from_state in (None, event.to_state):
        return label(event.to_state)
    return f"{label(event.from_state or '')} → {label(event.to_state)}"


def _changes(event: Event, source: Provenance | None) -> str:
    held = set(source.placeholders) if source else set()
    return ", ".join(f"{name}={'(cleared)' if value is None else display(value)}"
                     + (" (placeholder)" if name in held else "") for name, value in event.changes.items())


def _comment(event: Event) -> str:
    if event.kind == PROGRESS:
        return str(event.details.get("note") or "")
    return event.comment


def _basis(source: Provenance | None) -> str:
    if source is None:
        return ""
    where = f" ({source.section})" if source.section else ""
    words = f"“{source.text}”" if source.kind == STATED else source.text
    when = f" [time: {source.when}]" if source.when else ""
    return f"{words}{where}{when}"
