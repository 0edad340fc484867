"""``tick``: apply every escalation due and hand out every reminder due, each once, as events by
the engine's own actor (:data:`flowengine.history.records.SYSTEM`). Everything is worked out from
the stored history, so it is safe to run from cron any number of times, and from several
processes at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from flowengine.clock import as_utc, iso_utc
from flowengine.engine import CompiledWorkflow
from flowengine.errors import ConflictError, NotFound, TransitionRefused
from flowengine.history.records import ADVANCED, REMINDED, SYSTEM, SYSTEM_ACTOR, Event, Proposal, Stamp
from flowengine.service import deadlines
from flowengine.service.context import Engine
from flowengine.service.lookup import compiled_of, load
from flowengine.service.writing import commit_step, next_event, personal_fields, proposal_after
from flowengine.store import Connection, queries


def tick(engine: Engine, *, as_of: datetime | None = None, dry_run: bool = False,
         workflow: str | None = None) -> deadlines.TickReport:
    now = engine.clock()
    moment = as_utc(as_of) if as_of is not None else now
    if not dry_run:
        moment = min(moment, now)  # what is still to come cannot be recorded as done
    with engine.database.read() as conn:
        if workflow and workflow not in (known := queries.workflows_in_use(conn)):
            raise NotFound("workflow", workflow, known, hint="tick knows the workflows that have proposals: "
                           + (", ".join(known) or "none yet"))
        perms = engine.permissions(conn)  # the engine's own steps take the system capability
        wanted = [workflow] if workflow else queries.workflows_in_use(conn)
        mine = [w for w in wanted if perms.holds(w, SYSTEM)]
        if wanted and not mine:
            perms.check(wanted[0], SYSTEM)
        candidates = [p.id for w in mine for p in queries.load_proposals(conn, workflow=w)
                      if p.created_at <= moment and _open(conn, p)]
    log = deadlines.TickLog()
    for proposal_id in candidates:
        _tick_proposal(engine, proposal_id, moment, now, dry_run, log)
    return log.report(moment, dry_run, len(candidates))


@dataclass(frozen=True)
class _Planned:
    """What ``tick`` found due for a proposal (None: it was left alone), and the event recording it
    (None when nothing is written)."""

    record: deadlines.Escalated | deadlines.Reminder | deadlines.Blocked | None
    event: Event | None


def _open(conn: Connection, proposal: Proposal) -> bool:
    state = compiled_of(conn, proposal).workflow.states.get(proposal.state)
    return state is not None and not state.final


def _tick_proposal(engine: Engine, proposal_id: str, moment: datetime, now: datetime, dry_run: bool,
                   log: deadlines.TickLog) -> None:
    """Everything due for one proposal, one transaction per event: escalations while one is due
    (each starts a new state's clock, which may be due too), then at most one reminder. A
    proposal someone moved meanwhile is looked at again, never an error."""
    held: list[tuple[Proposal, list[Event]]] = []  # a dry run's proposal and events, changed in memory
    escalate = True
    for _ in range(deadlines.MAX_STEPS):
        step = partial(_tick_step, engine=engine, proposal_id=proposal_id, moment=moment, now=now, dry_run=dry_run,
                       escalate=escalate, held=held)
        try:
            with engine.database.read() as conn:  # most proposals have nothing due: no write lock for them
                planned = step(conn, commit=False)
            if planned is not None and planned.event is not None and not dry_run:
                planned = engine.transaction(partial(step, commit=True), operation="tick")  # again, under the lock
        except ConflictError:
            continue  # someone moved it between reading and writing: look again
        if planned is None:
            return
        record = planned.record
        if record is None:
            log.left_alone.append(proposal_id)
            return
        if isinstance(record, deadlines.Reminder):
            log.reminders.append(record)
            return
        if isinstance(record, deadlines.Blocked):
            log.blocked.append(record)
            escalate = False  # a reminder may still be due
        else:
            log.escalations.append(record)
    log.unfinished.append(proposal_id)


def _tick_step(conn: Connection, *, engine: Engine, proposal_id: str, moment: datetime, now: datetime, dry_run: bool,
               escalate: bool, held: list[tuple[Proposal, list[Event]]], commit: bool) -> _Planned | None:
    """The one thing due now for a proposal: written with ``commit``, kept in ``held`` in a dry run."""
    pk, proposal = load(conn, proposal_id)
    compiled = compiled_of(conn, proposal)
    proposal, events = held[-1] if held else (proposal, queries.events_of(conn, pk))
    if events[-1].at > moment:
        return _Planned(None, None)  # it has a step (or an erasure) after the moment asked about: left alone
    due = deadlines.next_due(compiled.workflow, proposal, events, moment, escalate=escalate)
    if due is None:
        return None
    planned = _planned(compiled, proposal, due, moment, now, events[-1].at, engine.stamp(conn),
                       personal_fields(conn, compiled.workflow))
    if planned.event is not None and dry_run:
        held.append((proposal_after(proposal, planned.event), [*events, planned.event]))
    elif planned.event is not None and commit:
        commit_step(conn, pk, proposal, planned.event)
    return planned


def _planned(compiled: CompiledWorkflow, proposal: Proposal, due: deadlines.Due, moment: datetime,
             now: datetime, newest: datetime, stamp: Stamp, personal: frozenset[str] | None = None) -> _Planned:
    """The event that applies an escalation or hands out a reminder. Deterministic keys make a
    second tick that raced this one fail on the optimistic lock instead of writing it again."""
    state = due.state
    if due.kind == deadlines.REMIND:
        reminder = deadlines.Reminder(proposal.id, proposal.title, proposal.workflow, state.id, state.label("en"),
                                      state.owner, due.after, due.due, due.clock.started_at, moment)
        event = next_event(proposal, REMINDED, SYSTEM_ACTOR, moment, stamp=stamp,
                           details={"after": due.after, "due": iso_utc(due.due)},
                           key=f"tick:remind:{proposal.id}:{due.clock.started_by}", personal=personal)
        return _Planned(reminder, event)
    comment = deadlines.escalation_comment(due, compiled.workflow.language)
    try:  # the workflow's author declared the step: no role applies, but it must still lead out of here
        target = compiled.fire(proposal.id, state.id, due.trigger, SYSTEM_ACTOR, proposal.fields, comment,
                               any_role=True)
    except TransitionRefused as refused:
        return _Planned(deadlines.Blocked(proposal.id, state.id, due.trigger, refused.reasons), None)
    at = max(due.due, newest)  # when it fell due, but never before the step (or erasure) before it
    event = next_event(proposal, ADVANCED, SYSTEM_ACTOR, at, stamp=stamp, trigger=due.trigger, to_state=target,
                       comment=comment, key=f"tick:escalate:{proposal.id}:{proposal.version}",
                       details={"escalation": {"after": due.after, "due": iso_utc(due.due),
                                               "applied_at": iso_utc(now)}}, personal=personal)
    return _Planned(deadlines.Escalated(proposal.id, proposal.title, proposal.workflow, state.id, target,
                                        due.trigger, due.after, due.due, at), event)
