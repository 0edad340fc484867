"""Histories as tables: every step of each proposal, and where it comes from when the history
was rebuilt from a source; and the proposals that came from others (an audit's findings).

Built as :class:`~flowengine.views.sections.Section` objects, so Markdown and the site write them
as they write the stall report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flowengine.definition.fields import display
from flowengine.definition.model import Workflow
from flowengine.history.erasure import shown as erased
from flowengine.history.provenance import Provenance, kind_word, legend_lines
from flowengine.history.records import (
    CREATED,
    ERASED_STEP,
    FIELDS_SET,
    FROM_KEY,
    MIGRATED,
    NOTED,
    PROGRESS,
    REMINDED,
    Event,
    Proposal,
)
from flowengine.i18n import t
from flowengine.views.figure_wording import local_date
from flowengine.views.sections import Cell, Section

__all__ = ["history_section", "legend_note", "lineage_section", "step_name"]


def legend_note(language: str | None = None) -> str:
    """What stated, inferred and illustrative mean, in one line."""
    return "; ".join(legend_lines(language))


def history_section(proposal: Proposal, events: Sequence[Event], workflow: Workflow | None, *,
                    language: str = "en", zone: datetime | None = None, led_to: Sequence[str] = ()) -> Section:
    """One proposal's steps, oldest first. Where its steps record their provenance, a source
    column says which kind each is, and the next column quotes the source's words (stated) or
    says what the step is read from (inferred) or why it was invented (illustrative)."""
    sources = [Provenance.of(event.details) for event in events]
    marked = any(sources)
    rows: list[tuple[Cell, ...]] = []
    for event, source in zip(events, sources, strict=True):
        row: tuple[Cell, ...] = (event.seq, local_date(event.at, zone, language), step_name(event, language),
                                 _state(workflow, event, language), f"{erased(event.actor, language)} ({event.role})",
                                 _changes(event, source, language), erased(_comment(event), language))
        if marked:
            row += (source.basis(language) if source else "", kind_word(source.kind, language) if source else "-")
        rows.append(row)
    columns = (t("#", language=language), t("date", language=language), t("step", language=language),
               t("state", language=language), t("by", language=language), t("fields", language=language),
               t("comment", language=language),
               *((t("its words, or basis", language=language), t("source", language=language)) if marked else ()))
    label = workflow.label(language) if workflow else proposal.workflow
    notes = []
    came_from = events[0].details.get(FROM_KEY) if events else None
    if came_from:
        notes.append(t("came from {proposal}", language=language, proposal=came_from))
    if led_to:
        notes.append(t("led to {proposals}", language=language, proposals=", ".join(led_to)))
    if marked:
        notes.append(legend_note(language))
    return Section("history", f"{proposal.id} {proposal.title} ({label})", columns, tuple(rows), proposal.workflow,
                   note="; ".join(notes), sources=tuple(s.kind if s else None for s in sources) if marked else ())


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
    return Section("lineage", t("From audits to proposals", language=language), (
        t("proposal", language=language), t("title", language=language), t("workflow", language=language),
        t("proposals it led to", language=language), t("where they are", language=language)), rows,
        note=t("proposals registered as coming from another: a user-asks-user audit's findings that became "
               "proposals in a municipal chain", language=language))


def step_name(event: Event, language: str | None = None) -> str:
    """What kind of step an event is, in a word or two."""
    if event.kind == CREATED:
        return t("registered", language=language)
    if event.kind == FIELDS_SET:
        return t("fields set", language=language)
    if event.kind == NOTED:
        return t("note", language=language)
    if event.kind == PROGRESS:
        percent = event.details.get("percent")
        return (t("progress in part", language=language) if percent is None
                else t("progress {percent} %", language=language, percent=percent))
    if event.kind == REMINDED:
        return t("reminder", language=language)
    if event.kind == MIGRATED:
        return t("moved to a new definition", language=language)
    if event.kind == ERASED_STEP:
        return t("personal data erased", language=language)
    return event.trigger or event.kind


def _state(workflow: Workflow | None, event: Event, language: str) -> str:
    def label(state_id: str) -> str:
        state = workflow.states.get(state_id) if workflow else None
        return state.label(language) if state else state_id

    if event.from_state in (None, event.to_state):
        return label(event.to_state)
    return f"{label(event.from_state or '')} → {label(event.to_state)}"


def _changes(event: Event, source: Provenance | None, language: str) -> str:
    held = set(source.placeholders) if source else set()
    cleared = t("(cleared)", language=language)
    placeholder = t("(placeholder)", language=language)
    return ", ".join(f"{name}={cleared if value is None else erased(display(value), language)}"
                     + (f" {placeholder}" if name in held else "") for name, value in event.changes.items())


def _comment(event: Event) -> str:
    if event.kind == PROGRESS:
        return str(event.details.get("note") or "")
    return event.comment
