"""Loading a demo file into a database: every proposal and step written through the public
:class:`~flowengine.service.facade.FlowEngine` API, on the file's dates (``at=``) and with each
step's provenance, so the demo database is what a project leader would have recorded — and says
which of it the source states, which is inferred and which is illustrative.

A step the workflow refuses is reported with the engine's own refusal, prefixed with its
file:line:column. A library module: it never prints and never exits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from flowengine.clock import iso_utc
from flowengine.definition.registry import discover, search_dirs
from flowengine.definition.yamlsafe import PathKey
from flowengine.demo.data import FIELDS, NOTE, PROGRESS, ContextItem, DemoData, DemoStep
from flowengine.demo.reading import read_demo
from flowengine.errors import (
    AmbiguousWorkflow,
    FlowEngineError,
    InvalidInput,
    NotFound,
    Refused,
    Remedy,
    TransitionRefused,
)
from flowengine.history.records import Proposal
from flowengine.issues import printable
from flowengine.service.facade import FlowEngine, StepResult

T = TypeVar("T")


@dataclass(frozen=True)
class LoadedProposal:
    id: str
    workflow: str
    title: str
    state: str  # where it stands after its last step
    steps: int  # steps after registration that wrote an event
    came_from: str | None  # the id of the proposal it came from
    location: str  # file:line:column of its entry in the demo file
    proposal: Proposal  # the record as its last step left it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "workflow": self.workflow, "title": self.title, "state": self.state,
                "steps": self.steps, "from": self.came_from, "location": self.location}


@dataclass(frozen=True)
class DemoLoad:
    """What :func:`load_demo` wrote: proposals in file order, events in all, and the as-of moment."""

    path: Path
    title: str
    description: str
    source: str
    as_of: datetime  # the end of the as-of day in the file's UTC offset: the moment analyses stand at
    as_of_day: date  # that day, as the file writes it
    proposals: tuple[LoadedProposal, ...]
    events: int
    provenance: dict[str, int]  # how many registrations and steps are stated, inferred, illustrative
    context: tuple[ContextItem, ...]

    @property
    def by_workflow(self) -> dict[str, tuple[LoadedProposal, ...]]:
        """Proposals per workflow id, workflows sorted by id, proposals in file order."""
        grouped: dict[str, list[LoadedProposal]] = {}
        for loaded in self.proposals:
            grouped.setdefault(loaded.workflow, []).append(loaded)
        return {wid: tuple(grouped[wid]) for wid in sorted(grouped)}

    @property
    def illustrative_share(self) -> float:
        """The share of registrations and steps invented so that the chains can run."""
        total = sum(self.provenance.values())
        return self.provenance.get("illustrative", 0) / total if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "title": self.title, "source": self.source, "as_of": iso_utc(self.as_of),
                "as_of_day": self.as_of_day.isoformat(),
                "proposals": len(self.proposals), "events": self.events, "provenance": dict(self.provenance),
                "illustrative_share": round(self.illustrative_share, 4),
                "workflows": {wid: [p.id for p in found] for wid, found in self.by_workflow.items()},
                "loaded": [p.as_dict() for p in self.proposals], "context": [c.as_dict() for c in self.context]}


def load_demo(engine: FlowEngine, path: Path | DemoData | None = None) -> DemoLoad:
    """Register every proposal of a demo file (the bundled one by default) and apply its steps,
    through the engine's public API, on the file's dates and with each step's provenance. The
    database must hold no proposals.

    Raises InvalidInput (file:line:column, what is wrong, what to do) for a mistake in the file
    or a step its workflow refuses; DefinitionError when a workflow file it names is invalid.
    """
    data = path if isinstance(path, DemoData) else read_demo(path)
    already = engine.proposals()
    if already:
        raise Refused(f"cannot load the demo into a database that holds {len(already)} proposal(s)",
                      [f"the demo's proposal ids and dates assume a fresh database ({already[0].proposal.id} exists)"],
                      "give a new database file")
    files = _workflow_files(engine, data)
    loaded: list[LoadedProposal] = []
    ids: dict[str, str] = {}  # a proposal's key in the file → its id
    events = 0
    for spec in data.proposals:
        came_from = ids[spec.came_from] if spec.came_from else None
        created = _guarded(data, spec.path, partial(
            engine.new_proposal, files[spec.workflow], title=spec.title, description=spec.description,
            origin=spec.origin, actor=spec.actor, fields=spec.fields, at=spec.at, from_proposal=came_from,
            provenance=spec.provenance))
        record = created.proposal
        if spec.key:
            ids[spec.key] = record.id
        events += 1
        steps = 0
        for step in spec.steps:
            result = _guarded(data, step.path, partial(_apply, engine, record.id, step))
            record = result.proposal
            if result.event is not None:
                events += 1
                steps += 1
        loaded.append(LoadedProposal(record.id, record.workflow, record.title, record.state, steps, came_from,
                                     str(data.where(spec.path)), record))
    return DemoLoad(data.path, data.title, data.description, data.source, data.as_of, data.as_of_day, tuple(loaded),
                    events, data.counts(), data.context)


def _apply(engine: FlowEngine, proposal_id: str, step: DemoStep) -> StepResult:
    """One step of the file through the API call its action names."""
    common: dict[str, Any] = {"actor": step.actor, "at": step.at, "provenance": step.provenance}
    if step.action == NOTE:
        return engine.note(proposal_id, step.comment, **common)
    if step.action == PROGRESS:
        return engine.record_progress(proposal_id, step.percent, note=step.comment, **common)
    if step.action == FIELDS:
        return engine.set_fields(proposal_id, step.fields, comment=step.comment, **common)
    assert step.trigger is not None
    return engine.advance(proposal_id, step.trigger, comment=step.comment, fields=step.fields, **common)


def _workflow_files(engine: FlowEngine, data: DemoData) -> dict[str, str]:
    """The file of each workflow the demo names, found in one pass over the folders (as
    ``registry.locate_workflow`` finds one): ids are looked up once, not once per proposal."""
    entries = discover(search_dirs(engine.workflow_dirs))
    files: dict[str, str] = {}
    for spec in data.proposals:
        wid = spec.workflow
        if wid in files:
            continue
        if Path(wid).suffix in (".yaml", ".yml") or os.sep in wid:  # a path, as the API accepts
            files[wid] = wid
            continue
        matches = [entry for entry in entries if entry.id == wid and not entry.shadowed]
        if len(matches) > 1:
            raise _placed(data, (*spec.path, "workflow"), AmbiguousWorkflow(wid, [m.path for m in matches]))
        if not matches:
            raise _placed(data, (*spec.path, "workflow"), NotFound(
                "workflow", wid, [e.id for e in entries if not e.shadowed])).fixed_by(Remedy("list_workflows"))
        files[wid] = str(matches[0].path)
    return files


def _guarded(data: DemoData, path: PathKey, call: Callable[[], T]) -> T:
    """Run one API call; a refusal or a bad value becomes one line at the place in the file."""
    try:
        return call()
    except TransitionRefused as exc:
        raise _placed(data, (*path, "trigger"), exc) from exc
    except (NotFound, AmbiguousWorkflow, InvalidInput, Refused) as exc:
        raise _placed(data, _blame(path, exc), exc) from exc


def _blame(path: PathKey, exc: FlowEngineError) -> PathKey:
    """The key in the file an error is about, as near as its kind and message tell."""
    if isinstance(exc, NotFound):
        return {"role": (*path, "role"), "field": (*path, "fields", exc.wanted),
                "workflow": (*path, "workflow"), "workflow file": (*path, "workflow"),
                "proposal it came from": (*path, "from")}.get(exc.kind, path)
    if isinstance(exc, AmbiguousWorkflow):
        return (*path, "workflow")
    text = str(exc)
    named = re.search(r"field '([^']+)'|'([^']+)' is a required field", text)
    if named:
        return (*path, "fields", next(group for group in named.groups() if group))
    for key, said in (("comment", "the comment"), ("title", "the title"), ("description", "the description"),
                      ("origin", "the origin"), ("note", "a note"), ("progress", "progress")):
        if said in text:
            return (*path, key)
    return path


def _placed(data: DemoData, path: PathKey, exc: FlowEngineError) -> InvalidInput:
    return InvalidInput(printable(f"{data.where(path)}: {exc}"))
