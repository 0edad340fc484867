"""Changing a proposal: register it, fire a trigger, set fields, record progress, note something.

Each is one transaction through the façade's write helper: the proposal row and its new event
(built by :class:`flowengine.history.steps.ChainBuilder`) are written together or not at all,
under an optimistic lock on the row's version. A request carrying an idempotency key that was
used before is answered with its earlier result, never applied twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowengine.clock import local_text
from flowengine.definition.fields import coerce_fields, coerce_value, missing
from flowengine.definition.model import Workflow
from flowengine.engine import CompiledWorkflow
from flowengine.errors import InvalidInput, NotFound, Refused, Remedy, TransitionRefused
from flowengine.history import chain, inputs
from flowengine.history.provenance import Provenance, with_provenance
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, NOTED, PROGRESS, Actor, Event, Proposal
from flowengine.history.steps import ChainBuilder, creation_details
from flowengine.i18n import N_, marked, pt, t
from flowengine.service.context import Engine
from flowengine.service.lookup import compiled_of, current_definition, load
from flowengine.service.results import StepResult
from flowengine.service.writing import Opened, commit_step, conflict, effective, next_event, open_step, personal_fields
from flowengine.store import Connection, queries
from flowengine.suggest import either


def new_proposal(engine: Engine, workflow: str, *, title: str, actor: Actor, description: str = "",
                 origin: str = "", fields: Mapping[str, Any] | None = None, idempotency_key: str | None = None,
                 at: datetime | None = None, from_proposal: str | None = None,
                 provenance: Provenance | None = None) -> StepResult:
    title = inputs.title(title)
    description = inputs.text("description", description)
    origin = inputs.one_line("origin", origin, longer=Remedy("description"))
    key = inputs.idempotency_key(idempotency_key)
    compiled, text, source = current_definition(engine, workflow)
    wf = compiled.workflow
    definition = wf.content_hash
    compiled.check_role(actor)
    values = {k: v for k, v in coerce_fields(wf, fields or {}).items() if v is not None}
    lacking = missing([fid for fid, spec in wf.fields.items() if spec.required], values)
    if lacking:
        raise Refused(t("cannot create a proposal under {workflow}", workflow=wf.id),
                      [t("required field '{field}' is missing", field=name) for name in lacking],
                      t("give a value for each")).fixed_by(*(Remedy("field", name) for name in lacking))
    prefix = wf.proposal_prefix

    def write(conn: Connection) -> StepResult:
        engine.permissions(conn).check_actor(wf.id, actor)
        if key and (done := queries.event_by_key(conn, key)):
            return _repeat(conn, done, None, None, created=(wf.id, title))
        stamp = engine.stamp(conn)
        moment = effective(stamp, at)
        if not queries.has_definition(conn, definition):
            queries.insert_definition(conn, content_hash=definition, workflow=wf.id, version=wf.version,
                                      source=source, text=text, at=moment)
        came_from = _origin(conn, from_proposal, moment) if from_proposal else None
        number = queries.next_number(conn, prefix)
        pid = f"{prefix}-{number}"
        details = creation_details(title=title, description=description, origin=origin, workflow=wf.id,
                                   workflow_version=wf.version, definition=definition, came_from=came_from,
                                   provenance=provenance)
        builder = ChainBuilder(pid, stamp, personal_fields(conn, wf))
        event = builder.create(compiled.initial, actor.name, actor.role, moment, details=details, fields=values,
                               key=key).event()
        proposal = Proposal(
            id=pid, workflow=wf.id, workflow_version=wf.version, definition_hash=definition, title=title,
            description=description, origin=origin, state=compiled.initial, fields=values, created_at=moment,
            updated_at=moment, state_entered_at=moment, version=1, head_hash=event.hash, created_by=actor.name,
            came_from=came_from, provenance=provenance.kind if provenance else None)
        pk = queries.insert_proposal(conn, proposal, prefix=prefix, number=number)
        queries.insert_event(conn, pk, event)
        return StepResult(proposal, event)

    return engine.transaction(write, operation=t("new proposal"), key=key)


def advance(engine: Engine, proposal_id: str, trigger: str, *, actor: Actor, comment: str = "",
            fields: Mapping[str, Any] | None = None, expected_version: int | None = None,
            idempotency_key: str | None = None, at: datetime | None = None,
            provenance: Provenance | None = None) -> StepResult:
    comment = inputs.text("comment", comment)
    key = inputs.idempotency_key(idempotency_key)

    def write(conn: Connection) -> StepResult:
        opened = open_step(engine, conn, proposal_id, key)
        if isinstance(opened, Event):
            return _repeat(conn, opened, proposal_id, trigger, kind=ADVANCED)
        pk, proposal, compiled, changes = _prepare(conn, opened, actor, fields or {}, expected_version)
        merged = chain.apply_changes(proposal.fields, changes)
        try:
            new_state = compiled.fire(proposal.id, proposal.state, trigger, actor, merged, comment)
        except TransitionRefused as refused:
            raise _explained(conn, pk, proposal, actor, refused) from None
        stamp = opened.stamp()
        event = next_event(proposal, ADVANCED, actor, effective(stamp, at, opened), stamp=stamp, trigger=trigger,
                           to_state=new_state,
                           comment=comment, changes=changes, key=key, details=with_provenance({}, provenance),
                           personal=personal_fields(conn, compiled.workflow, opened.erasable))
        return StepResult(commit_step(conn, pk, proposal, event, last=True), event)

    return engine.transaction(write, operation=pt("operation", "advance"), key=key)


def set_fields(engine: Engine, proposal_id: str, fields: Mapping[str, Any], *, actor: Actor, comment: str = "",
               expected_version: int | None = None, idempotency_key: str | None = None,
               at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
    if not fields:
        raise InvalidInput(t("name at least one field and its value to set, e.g. cost_estimate=25000")).fixed_by(
            Remedy("field", "cost_estimate"))
    comment = inputs.text("comment", comment)
    key = inputs.idempotency_key(idempotency_key)

    def write(conn: Connection) -> StepResult:
        opened = open_step(engine, conn, proposal_id, key)
        if isinstance(opened, Event):
            return _repeat(conn, opened, proposal_id, None, kind=FIELDS_SET)
        pk, proposal, compiled, changes = _prepare(conn, opened, actor, fields, expected_version)
        if not changes:
            return StepResult(proposal, None)
        stamp = opened.stamp()
        event = next_event(proposal, FIELDS_SET, actor, effective(stamp, at, opened), stamp=stamp, comment=comment,
                           changes=changes, key=key, details=with_provenance({}, provenance),
                           personal=personal_fields(conn, compiled.workflow, opened.erasable))
        return StepResult(commit_step(conn, pk, proposal, event, last=True), event)

    return engine.transaction(write, operation=t("change of fields"), key=key)


def note(engine: Engine, proposal_id: str, comment: str, *, actor: Actor, expected_version: int | None = None,
         idempotency_key: str | None = None, at: datetime | None = None,
         provenance: Provenance | None = None) -> StepResult:
    text = inputs.text("note", comment)
    if not text:
        raise InvalidInput(t("a note needs its text, e.g. \"Still waiting for the committee's meeting\""))
    key = inputs.idempotency_key(idempotency_key)

    def write(conn: Connection) -> StepResult:
        opened = open_step(engine, conn, proposal_id, key)
        if isinstance(opened, Event):
            return _repeat(conn, opened, proposal_id, None, kind=NOTED)
        pk, proposal, compiled, _ = _prepare(conn, opened, actor, {}, expected_version)
        stamp = opened.stamp()
        event = next_event(proposal, NOTED, actor, effective(stamp, at, opened), stamp=stamp, comment=text,
                           key=key, details=with_provenance({}, provenance),
                           personal=personal_fields(conn, compiled.workflow, opened.erasable))
        return StepResult(commit_step(conn, pk, proposal, event, last=True), event)

    return engine.transaction(write, operation=pt("operation", "note"), key=key)


def record_progress(engine: Engine, proposal_id: str, percent: int | str | None, *, actor: Actor, note: str = "",
                    milestone: str | None = None, milestone_date: str | None = None,
                    expected_version: int | None = None, idempotency_key: str | None = None,
                    at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
    from flowengine.service import deadlines  # only progress needs it: a plain step never pays for it

    value = deadlines.parse_percent(percent)
    note = inputs.text("note", note)
    name = inputs.one_line("milestone", milestone or "", longer=Remedy("note")) or None
    day = _milestone_date(milestone_date)
    if day is not None and name is None:
        raise InvalidInput(t("a milestone date needs the milestone's name")).fixed_by(Remedy("milestone"))
    key = inputs.idempotency_key(idempotency_key)

    def write(conn: Connection) -> StepResult:
        opened = open_step(engine, conn, proposal_id, key)
        if isinstance(opened, Event):
            return _repeat(conn, opened, proposal_id, None, kind=PROGRESS)
        pk, proposal, compiled, _ = _prepare(conn, opened, actor, {}, expected_version)
        state = compiled.workflow.states.get(proposal.state)
        if state is None or state.stage != deadlines.IMPLEMENTATION or state.final:
            raise _not_implementing(compiled.workflow, proposal)
        stamp = opened.stamp()
        event = next_event(proposal, PROGRESS, actor, effective(stamp, at, opened), stamp=stamp, key=key,
                           details=with_provenance({
            "percent": value, "note": note, "milestone": name, "milestone_date": day}, provenance),
                           personal=personal_fields(conn, compiled.workflow, opened.erasable))
        return StepResult(commit_step(conn, pk, proposal, event, last=True), event)

    return engine.transaction(write, operation=t("progress record"), key=key)


# -- inside -----------------------------------------------------------------------------------

def _origin(conn: Connection, proposal_id: str, moment: datetime) -> str:
    """The id of the proposal a new one comes from: it must exist, and be older."""
    origin = load(conn, proposal_id, kind=t("proposal it came from"))[1]
    if origin.created_at > moment:
        raise InvalidInput(t("{proposal} was registered at {registered}, after {moment}: a proposal can only come "
                             "from one registered before it", proposal=origin.id,
                             registered=local_text(origin.created_at), moment=local_text(moment)))
    return origin.id


def _prepare(conn: Connection, opened: Opened, actor: Actor, fields: Mapping[str, Any],
             expected_version: int | None) -> tuple[int, Proposal, CompiledWorkflow, dict[str, Any]]:
    """What every change to a proposal checks first (it exists, as :func:`open_step` found it):
    the login may act in that role there, nobody moved it since the caller looked, the role is
    the workflow's, and the field values are valid; returns the field changes."""
    perms, pk, proposal = opened.permissions, opened.pk, opened.proposal
    if not perms.may_read(proposal.workflow):  # as if it were not there: its id is not the login's to know
        raise NotFound("proposal", proposal.id, []).fixed_by(Remedy("list_proposals"))
    if expected_version is not None and proposal.version != expected_version:
        raise conflict(conn, pk, proposal)
    compiled = compiled_of(conn, proposal)
    compiled.check_role(actor)
    perms.check_actor(proposal.workflow, actor)
    changes = {name: value for name, value in coerce_fields(compiled.workflow, fields).items()
               if proposal.fields.get(name) != value}
    cleared = [name for name, value in changes.items() if value is None and compiled.workflow.fields[name].required]
    if cleared:  # a required field stays filled: neither a correction nor a step may empty it
        raise Refused(t("cannot clear {fields} of {proposal}", fields=", ".join(cleared), proposal=proposal.id),
                      [t("'{field}' is a required field", field=name) for name in cleared],
                      t("give a new value instead"))
    return pk, proposal, compiled, changes


def _explained(conn: Connection, pk: int, proposal: Proposal, actor: Actor,
               refused: TransitionRefused) -> TransitionRefused:
    """Say who put the proposal where it is, when that was someone else: the usual cause of
    a surprise refusal is a colleague who acted first (an erasure since moved nothing)."""
    last = queries.last_step(conn, pk)
    if last is None or last.actor == actor.name:
        return refused
    moved = t("{actor} ({role}) at {moment}", actor=last.actor, role=last.role, moment=local_text(last.at))
    return TransitionRefused(proposal.id, proposal.state, refused.trigger, refused.reasons, refused.allowed,
                             last_change=moved).fixed_by(*refused.remedies)


def _repeat(conn: Connection, done: Event, proposal_id: str | None, trigger: str | None,
            created: tuple[str, str] | None = None, kind: str | None = None) -> StepResult:
    """The answer to a request whose key was used before: the earlier result if it was this same
    request (``created``: the workflow and title of a new proposal), else a refusal."""
    registered = (done.details.get("workflow"), done.details.get("title"))
    same = (proposal_id is None and done.kind == CREATED and created in (None, registered)) or (
        proposal_id is not None and done.proposal == proposal_id.strip().upper() and done.trigger == trigger
        and done.kind != CREATED and kind in (None, done.kind))
    if not same:
        what = {CREATED: N_("to register {proposal} ('{title}')"), FIELDS_SET: N_("to set fields of {proposal}"),
                NOTED: N_("for a note on {proposal}"), PROGRESS: N_("to record progress of {proposal}")}.get(
            done.kind, N_("for {trigger} of {proposal}"))
        used = marked(what, proposal=done.proposal, title=registered[1], trigger=done.trigger)
        raise InvalidInput(t("idempotency key '{key}' was already used {what} at {moment}; nothing was written — use "
                             "a new key for a new request", key=done.idempotency_key, what=used,
                             moment=local_text(done.at)))
    return StepResult(load(conn, done.proposal)[1], done, repeated=True)


def _not_implementing(workflow: Workflow, proposal: Proposal) -> Refused:
    from flowengine.service import deadlines

    state = workflow.states.get(proposal.state)
    where = t("{state} (stage {stage})", state=proposal.state, stage=state.stage) if state is not None and \
        state.stage else proposal.state
    implementing = [sid for sid, s in workflow.states.items() if s.stage == deadlines.IMPLEMENTATION and not s.final]
    hint = (t("record it once {proposal} is in {states}", proposal=proposal.id, states=either(implementing))
            if implementing else t("{workflow} has no state of stage implementation", workflow=workflow.id))
    return Refused(t("cannot record progress of {proposal}", proposal=proposal.id),
                   [t("it is in {state}; progress is recorded only in a state of stage implementation", state=where)],
                   hint)


def _milestone_date(value: str | None) -> str | None:
    try:
        day: str | None = coerce_value("milestone_date", "date", (), value)
    except InvalidInput:
        raise InvalidInput(t("the milestone date takes a date written YYYY-MM-DD, e.g. 2024-05-01; got '{value}'",
                             value=value)) from None
    return day

