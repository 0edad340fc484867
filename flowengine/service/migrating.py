"""Workflow versions, and moving running proposals to a new definition of their workflow
(planned by :mod:`flowengine.service.migration_plan`, written here in one transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from pathlib import Path

from flowengine import engine as engines
from flowengine.definition.model import Workflow
from flowengine.definition.versions import DefinitionVersion, definition_versions
from flowengine.engine import CompiledWorkflow
from flowengine.errors import ConflictError, DefinitionError, InvalidInput, NotFound, Remedy
from flowengine.history import inputs
from flowengine.history.records import MIGRATED, Actor, Event
from flowengine.i18n import t
from flowengine.meter import Meter
from flowengine.service.context import Engine
from flowengine.service.lookup import compiled_of, file_hash, load
from flowengine.service.migration_plan import Migration, Plan, Running, plan
from flowengine.service.writing import conflict, effective, next_event
from flowengine.store import Connection, erasable, queries

ATTEMPTS = 3  # a migration planned again when a concurrent step moved a planned proposal


def workflow_versions(engine: Engine, workflow: str) -> list[DefinitionVersion]:
    with engine.database.read() as conn:
        stored = queries.definitions_of(conn, workflow)
        if not stored:
            known = queries.workflows_in_use(conn)
            raise NotFound("workflow", workflow, known,
                           hint="versions are stored when proposals are created; workflows with some: "
                           + (", ".join(known) or "none yet"))
        states = queries.states_by_definition(conn, workflow)
    compiled = [(d, engines.compiled(d.content_hash, d.text, d.source).workflow) for d in stored]
    return definition_versions(compiled, states, file_hash(engine, workflow))


def migrate(engine: Engine, workflow: str, to: str | Path, *, actor: Actor | None,
            mapping: Mapping[str, str] | None = None, dry_run: bool = False, comment: str = "",
            at: datetime | None = None, meter: Meter | None = None) -> Migration:
    compiled, text, source = _target(engine, workflow, to)
    if actor is not None:
        compiled.check_role(actor)
    elif not dry_run:
        raise InvalidInput(t("say who migrates: a name and a role of the new definition; only a dry run needs "
                             "nobody")).fixed_by(Remedy("actor"))
    comment = inputs.text("comment", comment)
    if not dry_run:
        with engine.database.read() as conn:
            perms = engine.permissions(conn)
        perms.check_admin(t("migrate a workflow's proposals"))
        assert actor is not None
        perms.check_actor(workflow, actor)
    lost: ConflictError | None = None
    for attempt in range(1, ATTEMPTS + 1):
        with engine.database.read() as conn:
            planned = _plan(conn, compiled.workflow, dict(mapping or {}), source)
        refusal = planned.refusal()
        if refusal is not None:
            raise refusal
        if dry_run or not planned.moves:
            return Migration(planned, (), dry_run, attempt)
        assert actor is not None
        try:
            events = engine.transaction(partial(_write, engine=engine, plan=planned, text=text, actor=actor,
                                                comment=comment, at=at, meter=meter),
                                        operation="migration")
        except ConflictError as error:
            lost = error
            continue
        return Migration(planned, tuple(events), False, attempt)
    assert lost is not None
    raise lost


def _target(engine: Engine, workflow: str, to: str | Path) -> tuple[CompiledWorkflow, str, str]:
    """The definition to migrate to, checked in full (warnings allowed), declaring ``workflow``."""
    from flowengine.definition.loader import check_document, check_file
    from flowengine.definition.registry import locate_workflow, search_dirs

    candidate = locate_workflow(str(to), search_dirs(engine.workflow_dirs))
    if candidate.document is None:
        raise DefinitionError(check_file(candidate.path).issues)
    result = check_document(candidate.document, file_stem=candidate.path.stem)
    if not result.ok:
        raise DefinitionError(result.errors)
    compiled = engines.compiled_document(candidate.document)
    if compiled.workflow.id != workflow:
        raise InvalidInput(t("{file} declares workflow '{declared}', not '{workflow}'; a migration moves proposals "
                             "between definitions of one workflow: give a file whose id is {workflow}",
                             file=candidate.path, declared=compiled.workflow.id, workflow=workflow))
    return compiled, candidate.document.text, str(candidate.path)


def _plan(conn: Connection, target: Workflow, mapping: dict[str, str], source: str) -> Plan:
    stored = queries.definitions_of(conn, target.id)
    if not stored:
        known = queries.workflows_in_use(conn)
        raise NotFound("workflow", target.id, known, hint="only a workflow with proposals can be migrated")
    states = {sid for d in stored for sid in engines.compiled(d.content_hash, d.text, d.source).workflow.states}
    running = [Running(p, compiled_of(conn, p).workflow) for p in queries.load_proposals(conn, workflow=target.id)]
    states |= {r.proposal.state for r in running}
    return plan(target, running, mapping, known_states=states, source=source)


def _write(conn: Connection, *, engine: Engine, plan: Plan, text: str, actor: Actor, comment: str,
           at: datetime | None, meter: Meter | None) -> list[Event]:
    """Every planned move, in the caller's one transaction; a row changed since it was planned
    raises ConflictError, which rolls the whole migration back."""
    stamp = engine.stamp(conn)
    at = effective(stamp, at)
    apart = frozenset[str]() if erasable.kept_apart(conn) else None  # a migration sets no field: names, comment
    if not queries.has_definition(conn, plan.to_definition):
        queries.insert_definition(conn, content_hash=plan.to_definition, workflow=plan.workflow,
                                  version=plan.to_version, source=plan.source, text=text, at=at)
    written = []
    for move in plan.moves:
        planned = move.proposal
        pk, proposal = load(conn, planned.id)
        if proposal.version != planned.version:
            raise conflict(conn, pk, proposal)
        details = {"from_definition": planned.definition_hash, "to_definition": plan.to_definition,
                   "from_version": planned.workflow_version, "to_version": plan.to_version, "map": plan.mapping}
        newest = queries.newest_at(conn, pk, proposal)  # an erasure step after the last real step, too
        event = next_event(planned, MIGRATED, actor, max(at, newest), stamp=stamp, to_state=move.to_state,
                           comment=comment, details=details, personal=apart)
        if not queries.move_proposal(conn, pk, planned.version, definition_hash=plan.to_definition,
                                     state=move.to_state, updated_at=event.at, head_hash=event.hash):
            raise conflict(conn, pk, proposal)
        queries.insert_event(conn, pk, event)
        written.append(event)
        if meter is not None:
            meter(1)
    return written
