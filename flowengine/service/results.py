"""What the façade's operations answer with: plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowengine.clock import iso_utc
from flowengine.engine import NextStep
from flowengine.history.chain import ChainBreak
from flowengine.history.records import Event, Proposal

if TYPE_CHECKING:
    from flowengine.service.deadlines import Progress


@dataclass(frozen=True)
class Standing:
    """Where a proposal stands at a moment: the "why is this stuck" view."""

    proposal: Proposal
    moment: datetime
    state_label: str
    stage: str | None
    owner: str | None
    final: bool
    outcome: str | None
    deadline: str | None
    due_at: datetime | None  # the deadline counted from ``clock_started_at``
    next_steps: tuple[NextStep, ...]
    last_event: Event  # the last step: an erasure step is no activity of the proposal, never this
    progress: Progress | None = None  # the latest progress recorded in this stay
    clock_started_at: datetime | None = None  # entering the state, or (implementation) the latest progress
    last_erasure: Event | None = None  # the newest erasure step, whenever it was recorded

    @property
    def waiting_days(self) -> float:
        return max(0.0, (self.moment - self.proposal.state_entered_at).total_seconds() / 86400)

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and not self.final and self.moment > self.due_at

    @property
    def missing_fields(self) -> tuple[str, ...]:
        """Fields some next step still needs, in the order the steps name them."""
        seen: dict[str, None] = {}
        for step in self.next_steps:
            seen.update(dict.fromkeys(step.missing_fields))
        return tuple(seen)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.proposal.as_dict(),
            "as_of": iso_utc(self.moment), "state_label": self.state_label, "stage": self.stage,
            "owner": self.owner, "final": self.final, "outcome": self.outcome,
            "waiting_days": round(self.waiting_days, 2), "deadline": self.deadline,
            "due_at": iso_utc(self.due_at) if self.due_at else None, "overdue": self.overdue,
            "missing_fields": list(self.missing_fields), "next_steps": [s.as_dict() for s in self.next_steps],
            "last_event": self.last_event.as_dict(),
            "last_erasure": self.last_erasure.as_dict() if self.last_erasure else None,
            "progress": self.progress.as_dict() if self.progress else None,
            "clock_started_at": iso_utc(self.clock_started_at) if self.clock_started_at else None,
        }


@dataclass(frozen=True)
class ProposalPage:
    """One page of a proposal list, and the proposal to continue after (None on the last page)."""

    standings: tuple[Standing, ...]
    next_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"proposals": [s.as_dict() for s in self.standings], "next_after": self.next_after}


@dataclass(frozen=True)
class Lineage:
    """A proposal that others came from (an audit whose findings became proposals), and where
    each of them stands, at one moment."""

    source: Standing
    led_to: tuple[Standing, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"proposal": self.source.proposal.id, "title": self.source.proposal.title,
                "workflow": self.source.proposal.workflow, "state": self.source.proposal.state,
                "led_to": [{"proposal": s.proposal.id, "workflow": s.proposal.workflow, "state": s.proposal.state,
                            "stage": s.stage, "outcome": s.outcome} for s in self.led_to]}


@dataclass(frozen=True)
class StepResult:
    """A write's outcome. ``repeated``: the idempotency key had been used; nothing new was written."""

    proposal: Proposal
    event: Event | None
    repeated: bool = False


@dataclass(frozen=True)
class AuditReport:
    proposals: int
    events: int
    breaks: tuple[ChainBreak, ...]
    altered_definitions: tuple[str, ...]
    access_entries: int = 0  # entries of the access log
    access_problems: tuple[str, ...] = ()  # its broken link, grants it does not account for

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.altered_definitions and not self.access_problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "proposals": self.proposals, "events": self.events,
                "breaks": [b.as_dict() for b in self.breaks], "altered_definitions": list(self.altered_definitions),
                "access_log": {"entries": self.access_entries, "problems": list(self.access_problems)}}
