"""What a demo data file says, once read and checked: plain frozen data, nothing written yet.

The bundled file (``workflows/demo/interreg-2016-2019.yaml``; its header comment describes the
format) rebuilds the Interreg project's proposals from its final report. Every step, and every
proposal's registration, says where it comes from (:class:`~flowengine.history.provenance.Provenance`):
the loader refuses a step that does not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from flowengine.definition.registry import bundled_dir
from flowengine.definition.yamlsafe import LocatedDocument, PathKey
from flowengine.history.provenance import KINDS, Provenance
from flowengine.history.records import Actor
from flowengine.issues import Location

DEMO_NAME = "interreg-2016-2019.yaml"
FORMAT_HINT = "see the comment at the top of the bundled demo file for the format"

# What a step does; exactly one per step (fields may go with a trigger).
TRIGGER = "trigger"
FIELDS = "fields"
NOTE = "note"
PROGRESS = "progress"


def demo_file() -> Path:
    """The bundled demo data file (installed with the bundled workflows)."""
    return bundled_dir() / "demo" / DEMO_NAME


@dataclass(frozen=True)
class DemoStep:
    """One step of a proposal: a trigger to fire, fields to set, a note, or progress."""

    path: PathKey
    at: datetime
    actor: Actor
    action: str  # TRIGGER, FIELDS, NOTE or PROGRESS
    trigger: str | None
    comment: str  # a trigger's comment, a field change's reason, the note, or the progress note
    fields: dict[str, Any]
    percent: int | str | None  # progress only: a share, or "partly"
    provenance: Provenance


@dataclass(frozen=True)
class DemoProposal:
    path: PathKey
    key: str | None  # the name other proposals of the file use to say they came from this one
    came_from: str | None  # the key of the proposal it came from
    workflow: str
    title: str
    description: str
    origin: str
    at: datetime
    actor: Actor
    fields: dict[str, Any]
    provenance: Provenance  # of its registration
    steps: tuple[DemoStep, ...]


@dataclass(frozen=True)
class ContextItem:
    """Something the source tells besides the proposals (a decision on how services are
    organised, a panel set up, who evaluates): shown beside the histories, never as a step."""

    path: PathKey
    workflow: str | None  # the municipality's workflow it is about; None: the whole project
    when: str  # the source's own words for the time, if any
    text: str  # what it says, in the demo's language
    provenance: Provenance

    def as_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "when": self.when, "text": self.text,
                "provenance": self.provenance.as_details()}


@dataclass(frozen=True)
class DemoData:
    """A demo file read and checked; nothing written yet."""

    document: LocatedDocument
    path: Path
    title: str
    description: str
    source: str  # the document the histories are rebuilt from
    as_of: datetime  # the end of the as-of day, in the file's UTC offset
    offset: timezone
    context: tuple[ContextItem, ...]
    proposals: tuple[DemoProposal, ...]

    @property
    def as_of_day(self) -> date:
        """The as-of day as the file writes it."""
        return self.as_of.astimezone(self.offset).date()

    def where(self, path: PathKey) -> Location:
        return self.document.value_at(path)

    def counts(self) -> dict[str, int]:
        """How many registrations and steps are stated, inferred and illustrative."""
        found = Counter(p.provenance.kind for p in self.proposals)
        found.update(step.provenance.kind for p in self.proposals for step in p.steps)
        return {kind: found[kind] for kind in KINDS}
