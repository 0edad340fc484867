"""The façade the command line (and any Python caller) uses: load → check → fire → store.

Every write is one transaction: the proposal row and its new event are written together or
not at all, under an optimistic lock on the row's version. Reads can look at any past moment
(``as_of``) by replaying the event chain, which is the truth the row is checked against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from flowengine import engine
from flowengine.clock import Clock, as_utc, iso_utc, local_text, system_clock
from flowengine.definition.fields import check_printable, coerce_fields, coerce_value, missing
from flowengine.definition.model import Workflow, content_hash
from flowengine.engine import CompiledWorkflow, NextStep
from flowengine.errors import (
    ConflictError,
    DefinitionError,
    FlowEngineError,
    InvalidInput,
    NotFound,
    Refused,
    StoreError,
    TransitionRefused,
)
from flowengine.history import chain
from flowengine.history.provenance import Provenance, with_provenance
from flowengine.history.records import (
    ADVANCED,
    CREATED,
    FIELDS_SET,
    FROM_KEY,
    MIGRATED,
    NOTED,
    PROGRESS,
    REMINDED,
    Actor,
    Event,
    Proposal,
    id_order,
)
from flowengine.history.seal import seal
from flowengine.store import migrate, queries
from flowengine.store.database import Database, resolve_url

if TYPE_CHECKING:  # what a one-step command never needs is imported where it is used
    from flowengine.analysis.figures import Analysis
    from flowengine.analysis.provenance import Marks
    from flowengine.definition.versions import DefinitionVersion
    from flowengine.meter import Meter
    from flowengine.service import deadlines
    from flowengine.service.migration_plan import Migration, Plan

MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 20_000
MAX_KEY_CHARS = 200
_WRITE_ATTEMPTS = 5  # a new proposal number taken by a concurrent writer: try the next one
_MIGRATE_ATTEMPTS = 3  # a migration planned again when a concurrent step moved a planned proposal
SORTS = ("id", "waiting", "updated", "state")

T = TypeVar("T")


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
    last_event: Event
    progress: deadlines.Progress | None = None  # the latest progress recorded in this stay
    clock_started_at: datetime | None = None  # entering the state, or (implementation) the latest progress

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
            "progress": self.progress.as_dict() if self.progress else None,
            "clock_started_at": iso_utc(self.clock_started_at) if self.clock_started_at else None,
        }


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
    breaks: tuple[chain.ChainBreak, ...]
    altered_definitions: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.altered_definitions

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "proposals": self.proposals, "events": self.events,
                "breaks": [b.as_dict() for b in self.breaks], "altered_definitions": list(self.altered_definitions)}


class FlowEngine:
    """Proposals on their workflows, in one database. Use :meth:`open`; close when done."""

    def __init__(self, database: Database, *, workflow_dirs: Sequence[str | Path] = (),
                 clock: Clock = system_clock) -> None:
        self.database = database
        self.workflow_dirs = tuple(workflow_dirs)
        self.clock = clock

    @classmethod
    def open(cls, target: str | None = None, *, workflow_dirs: Sequence[str | Path] = (),
             clock: Clock | None = None) -> FlowEngine:
        """``target``: a file path or database URL; None means ``$FLOWENGINE_DB`` or the default file.
        A new database is created; an old SQLite one is upgraded."""
        database = Database(resolve_url(target))
        try:
            migrate.ensure_schema(database)
        except BaseException:  # do not leave the engine's connections open
            database.dispose()
            raise
        return cls(database, workflow_dirs=workflow_dirs, clock=clock or system_clock)

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> FlowEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def new_proposal(self, workflow: str, *, title: str, actor: Actor, description: str = "", origin: str = "",
                     fields: Mapping[str, Any] | None = None, idempotency_key: str | None = None,
                     at: datetime | None = None, from_proposal: str | None = None,
                     provenance: Provenance | None = None) -> StepResult:
        """Register a proposal under the workflow as its file reads now; it keeps that definition.
        ``from_proposal``: the proposal it came from (an audit whose finding it is), which must
        exist; the link is sealed into the creation event, and :meth:`led_to` finds it again."""
        title = _one_line("title", title, MAX_TITLE_CHARS)
        description = _text("description", description)
        origin = _one_line("origin", origin, MAX_TITLE_CHARS)
        key = _key(idempotency_key)
        compiled, text, source = self.definition(workflow)
        wf = compiled.workflow
        definition = wf.content_hash
        compiled.check_role(actor)
        values = {k: v for k, v in coerce_fields(wf, fields or {}).items() if v is not None}
        lacking = missing([fid for fid, spec in wf.fields.items() if spec.required], values)
        if lacking:
            raise Refused(f"cannot create a proposal under {wf.id}",
                          [f"required field '{name}' is missing" for name in lacking],
                          "give it with " + " ".join(f"--set {name}=…" for name in lacking))
        moment = as_utc(at) if at else self.clock()
        prefix = wf.prefix or derived_prefix(wf.id)

        def write(conn: Connection) -> StepResult:
            if key and (done := queries.event_by_key(conn, key)):
                return self._repeat(conn, done, None, None, created=(wf.id, title))
            if not queries.has_definition(conn, definition):
                queries.insert_definition(conn, content_hash=definition, workflow=wf.id, version=wf.version,
                                          source=source, text=text, at=moment)
            came_from = self._origin(conn, from_proposal, moment) if from_proposal else None
            number = queries.next_number(conn, prefix)
            pid = f"{prefix}-{number}"
            details = {"title": title, "description": description, "origin": origin, "workflow": wf.id,
                       "workflow_version": wf.version, "definition": definition,
                       **({FROM_KEY: came_from} if came_from else {})}
            event = _event(pid, 1, CREATED, None, None, compiled.initial, actor, moment, moment, "", values,
                           with_provenance(details, provenance), key, chain.GENESIS)
            proposal = Proposal(
                id=pid, workflow=wf.id, workflow_version=wf.version, definition_hash=definition, title=title,
                description=description, origin=origin, state=compiled.initial, fields=values, created_at=moment,
                updated_at=moment, state_entered_at=moment, version=1, head_hash=event.hash, created_by=actor.name,
                came_from=came_from, provenance=provenance.kind if provenance else None)
            pk = queries.insert_proposal(conn, proposal, prefix=prefix, number=number)
            queries.insert_event(conn, pk, event)
            return StepResult(proposal, event)

        return self._write(write, key, "new proposal")

    def advance(self, proposal_id: str, trigger: str, *, actor: Actor, comment: str = "",
                fields: Mapping[str, Any] | None = None, expected_version: int | None = None,
                idempotency_key: str | None = None, at: datetime | None = None,
                provenance: Provenance | None = None) -> StepResult:
        """Fire a trigger. Refused (naming every reason) or written with its event, never half."""
        comment = _text("comment", comment)
        key = _key(idempotency_key)

        def write(conn: Connection) -> StepResult:
            if key and (done := queries.event_by_key(conn, key)):
                return self._repeat(conn, done, proposal_id, trigger, kind=ADVANCED)
            pk, proposal, compiled, changes = self._prepare(conn, proposal_id, actor, fields or {}, expected_version)
            merged = chain.apply_changes(proposal.fields, changes)
            try:
                new_state = compiled.fire(proposal.id, proposal.state, trigger, actor, merged, comment)
            except TransitionRefused as refused:
                raise self._explained(conn, pk, proposal, actor, refused) from None
            moment = self._moment(proposal, at)
            event = _next_event(proposal, ADVANCED, actor, moment, trigger=trigger, to_state=new_state,
                                comment=comment, changes=changes, key=key, details=with_provenance({}, provenance))
            return StepResult(self._commit_step(conn, pk, proposal, event), event)

        return self._write(write, key, "advance")

    def set_fields(self, proposal_id: str, fields: Mapping[str, Any], *, actor: Actor, comment: str = "",
                   expected_version: int | None = None, idempotency_key: str | None = None,
                   at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
        """Fill in or correct fields; recorded as an event like any step. No change, no event."""
        if not fields:
            raise InvalidInput("name at least one field=value to set, e.g. cost_estimate=25000")
        comment = _text("comment", comment)
        key = _key(idempotency_key)

        def write(conn: Connection) -> StepResult:
            if key and (done := queries.event_by_key(conn, key)):
                return self._repeat(conn, done, proposal_id, None, kind=FIELDS_SET)
            pk, proposal, _, changes = self._prepare(conn, proposal_id, actor, fields, expected_version)
            if not changes:
                return StepResult(proposal, None)
            moment = self._moment(proposal, at)
            event = _next_event(proposal, FIELDS_SET, actor, moment, comment=comment, changes=changes, key=key,
                                details=with_provenance({}, provenance))
            return StepResult(self._commit_step(conn, pk, proposal, event), event)

        return self._write(write, key, "change of fields")

    def note(self, proposal_id: str, comment: str, *, actor: Actor, expected_version: int | None = None,
             idempotency_key: str | None = None, at: datetime | None = None,
             provenance: Provenance | None = None) -> StepResult:
        """Record something heard of a proposal that moves nothing ("still waiting for the
        committee"): no state, field or deadline clock changes, but the history has a record of
        that moment, so the stall analysis knows the proposal was still waiting then."""
        text = _text("note", comment)
        if not text:
            raise InvalidInput("a note needs its text, e.g. \"Still waiting for the committee's meeting\"")
        key = _key(idempotency_key)

        def write(conn: Connection) -> StepResult:
            if key and (done := queries.event_by_key(conn, key)):
                return self._repeat(conn, done, proposal_id, None, kind=NOTED)
            pk, proposal, _, _ = self._prepare(conn, proposal_id, actor, {}, expected_version)
            moment = self._moment(proposal, at)
            event = _next_event(proposal, NOTED, actor, moment, comment=text, key=key,
                                details=with_provenance({}, provenance))
            return StepResult(self._commit_step(conn, pk, proposal, event), event)

        return self._write(write, key, "note")

    def record_progress(self, proposal_id: str, percent: int | str | None, *, actor: Actor, note: str = "",
                        milestone: str | None = None, milestone_date: str | None = None,
                        expected_version: int | None = None, idempotency_key: str | None = None,
                        at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
        """Record how far an implementation has come (0 to 100 %, "40%" accepted; None or "partly"
        where only "in part" is known), with a note and perhaps a milestone reached and its date
        (YYYY-MM-DD). Only in a state of stage implementation; it restarts that state's deadline
        clock, reminders and escalations."""
        from flowengine.service import deadlines
        value = deadlines.parse_percent(percent)
        note = _text("note", note)
        name = _milestone(milestone)
        day = _milestone_date(milestone_date)
        if day is not None and name is None:
            raise InvalidInput("a milestone date needs the milestone's name: --milestone NAME --milestone-date …")
        key = _key(idempotency_key)

        def write(conn: Connection) -> StepResult:
            if key and (done := queries.event_by_key(conn, key)):
                return self._repeat(conn, done, proposal_id, None, kind=PROGRESS)
            pk, proposal, compiled, _ = self._prepare(conn, proposal_id, actor, {}, expected_version)
            state = compiled.workflow.states.get(proposal.state)
            if state is None or state.stage != deadlines.IMPLEMENTATION or state.final:
                raise _not_implementing(compiled.workflow, proposal)
            moment = self._moment(proposal, at)
            event = _next_event(proposal, PROGRESS, actor, moment, key=key, details=with_provenance({
                "percent": value, "note": note, "milestone": name, "milestone_date": day}, provenance))
            return StepResult(self._commit_step(conn, pk, proposal, event), event)

        return self._write(write, key, "progress record")

    def tick(self, *, as_of: datetime | None = None, dry_run: bool = False,
             workflow: str | None = None) -> deadlines.TickReport:
        """Apply every escalation due by ``as_of`` (default: now) and hand out every reminder due,
        each once, as events by the actor ``system``; all worked out from the stored history, so it
        is safe to run from cron any number of times, and from several processes at once.
        An ``as_of`` after now means now, except in a ``dry_run``, which writes nothing and reports
        what would happen, and so may look ahead. A proposal with a step after ``as_of`` is left alone."""
        from flowengine.service import deadlines
        now = self.clock()
        moment = as_utc(as_of) if as_of is not None else now
        if not dry_run:
            moment = min(moment, now)  # what is still to come cannot be recorded as done
        with self.database.read() as conn:
            if workflow and workflow not in (known := queries.workflows_in_use(conn)):
                raise NotFound("workflow", workflow, known, hint="tick knows the workflows that have proposals: "
                               + (", ".join(known) or "none yet"))
            candidates = [p.id for p in queries.load_proposals(conn, workflow=workflow)
                          if p.created_at <= moment and self._open(conn, p)]
        log = deadlines.TickLog()
        for proposal_id in candidates:
            self._tick_proposal(proposal_id, moment, now, dry_run, log)
        return log.report(moment, dry_run, len(candidates))

    # -- reading -------------------------------------------------------------------------

    def standing(self, proposal_id: str, *, as_of: datetime | None = None, language: str = "en") -> Standing:
        """Where one proposal stands now, or at the end of a past moment."""
        with self.database.read() as conn:
            pk, proposal = self._load(conn, proposal_id)
            events = queries.events_of(conn, pk, until=as_of)
            if not events:
                raise _not_yet(proposal, as_of or self.clock())
            return self._standing(conn, _as_of(proposal, events) if as_of else proposal, events[-1], as_of, language,
                                  events)

    def proposals(self, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
                  owner: str | None = None, overdue: bool = False, as_of: datetime | None = None,
                  sort: str = "id", language: str = "en") -> list[Standing]:
        """Proposals matching every filter given, sorted (``id``, ``waiting``, ``updated`` or ``state``)."""
        if sort not in SORTS:
            raise InvalidInput(f"cannot sort by '{sort}'; choose one of: {', '.join(SORTS)}")
        with self.database.read() as conn:
            if as_of is None:
                rows = queries.load_proposals(conn, workflow=workflow, state=state)
                lasts = queries.last_events(conn, workflow=workflow)
                found = [self._standing(conn, p, lasts[p.id], as_of, language) for p in rows if p.id in lasts]
            else:
                found = []
                for current, events in queries.histories(conn, until=as_of, workflow=workflow):
                    past = _as_of(current, events) if events else None
                    if past is not None and (not state or past.state == state):
                        found.append(self._standing(conn, past, events[-1], as_of, language, events))
        found = [s for s in found if (not stage or s.stage == stage) and (not owner or s.owner == owner)
                 and (not overdue or s.overdue)]
        keys: dict[str, Callable[[Standing], Any]] = {
            "id": lambda s: id_order(s.proposal.id),
            "waiting": lambda s: (s.final, -s.waiting_days, id_order(s.proposal.id)),
            "updated": lambda s: (-s.proposal.updated_at.timestamp(), id_order(s.proposal.id)),
            "state": lambda s: (s.proposal.workflow, s.proposal.state, id_order(s.proposal.id)),
        }
        return sorted(found, key=keys[sort])

    def history(self, proposal_id: str, *, as_of: datetime | None = None) -> tuple[Proposal, list[Event]]:
        """A proposal's events in order; with ``as_of``, those up to that moment and the proposal as it was."""
        with self.database.read() as conn:
            pk, proposal = self._load(conn, proposal_id)
            events = queries.events_of(conn, pk, until=as_of)
        if as_of is None:
            return proposal, events
        if not events:
            raise _not_yet(proposal, as_of)
        return _as_of(proposal, events), events

    def led_to(self, proposal_id: str, *, as_of: datetime | None = None) -> list[Proposal]:
        """The proposals registered as coming from this one (``from_proposal``), in id order; with
        ``as_of``, those registered by then."""
        with self.database.read() as conn:
            source = self._load(conn, proposal_id)[1].id
            return queries.derived_from(conn, [source], until=as_of).get(source, [])

    def links(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None) -> dict[str, list[Proposal]]:
        """Every proposal that led to others (among ``workflows``' proposals, or all), mapped to
        those it led to, as registered by ``as_of``."""
        with self.database.read() as conn:
            return queries.derived_from(conn, None, until=as_of, workflows=workflows)

    def lineage(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
                language: str = "en") -> list[Lineage]:
        """Each proposal that others came from (among ``workflows``' proposals, or all), with where
        it and each of them stood at ``as_of`` (now by default); sources in id order."""
        links = self.links(workflows, as_of=as_of)
        return [Lineage(self.standing(source, as_of=as_of, language=language),
                        tuple(self.standing(p.id, as_of=as_of, language=language) for p in found))
                for source, found in sorted(links.items(), key=lambda item: id_order(item[0]))]

    def workflow_of(self, proposal: Proposal) -> CompiledWorkflow:
        """The definition a proposal runs under (not the file as it reads today)."""
        with self.database.read() as conn:
            return self._compiled(conn, proposal)

    def analyse(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
                meter: Meter | None = None) -> list[Analysis]:
        """Where proposals stall, per workflow (every workflow with proposals when none is named),
        measured against each workflow as its file declares it now, as of a moment. Computed
        from index scans (:mod:`flowengine.analysis.columnar`), equal to :func:`flowengine.analysis.reference.analyse`
        over every history; ``meter`` is told ``aggregates.PHASES`` units, then one per workflow."""
        from flowengine.analysis import preload
        from flowengine.analysis import reference as stalls
        from flowengine.meter import no_meter
        from flowengine.store import aggregates

        meter = meter or no_meter
        moment = min(as_utc(as_of), self.clock()) if as_of else self.clock()
        with self.database.read() as conn:
            names = list(dict.fromkeys(workflows)) or queries.workflows_in_use(conn)
        if not names:
            return []
        declared = [self.declared_workflow(name) for name in names]
        numpy_ready = preload.in_background("flowengine.analysis.columnar")
        with self.database.read() as conn:
            # SQLite: a second reader on the second core (see aggregates.read; not on PostgreSQL).
            beside = self.database.read if self.database.dialect == "sqlite" else None
            reading = aggregates.read(conn, moment, stalls.answering(declared), meter, beside=beside)
            numpy_ready()
            from flowengine.analysis.columnar import analyse_all

            found = analyse_all(conn, declared, moment, meter, reading=reading)
        # The same instant in the reader's zone, so titles name the day they asked about.
        return [replace(analysis, as_of=analysis.as_of.astimezone()) for analysis in found]

    def provenance_marks(self, analyses: Sequence[Analysis]) -> dict[str, Marks]:
        """For histories rebuilt from a source (whose steps record their provenance): which kind
        of step each figure of each analysis rests on, by workflow id. Empty when no proposal of
        those workflows records one: then only their creation events are looked at."""
        from flowengine.analysis.provenance import marks

        with self.database.read() as conn:
            marked = set(queries.workflows_with_provenance(conn, [a.workflow.id for a in analyses]))
            return {a.workflow.id: marks(a.workflow, queries.histories(conn, until=a.as_of, workflow=a.workflow.id),
                                         a.as_of)
                    for a in analyses if a.workflow.id in marked}

    def declared_workflow(self, workflow: str, *, spanning: bool = True) -> Workflow:
        """A workflow as its file declares it now; the newest stored definition when no file has it
        (a workflow whose file was removed still has a history worth reading). ``spanning``: plus
        the states only older stored definitions declare, as the newest of them declares them, so
        figures over proposals on every version match states by name (see :func:`versions.spanning`)."""
        try:
            current = self.definition(workflow)[0].workflow
        except NotFound:
            with self.database.read() as conn:
                stored = queries.newest_definition(conn, workflow)
            if stored is None:
                raise
            current = engine.compiled(*stored).workflow
        if not spanning:
            return current
        from flowengine.definition.versions import spanning as spanning_view

        with self.database.read() as conn:
            older = [engine.compiled(d.content_hash, d.text, d.source).workflow
                     for d in queries.definitions_of(conn, workflow) if d.content_hash != current.content_hash]
        return spanning_view(current, older)

    def verify(self) -> AuditReport:
        """Walk every chain; report the first broken link of each damaged proposal."""
        breaks: list[chain.ChainBreak] = []
        count_proposals = count_events = 0
        with self.database.read() as conn:
            altered = tuple(queries.altered_definitions(conn))
            for proposal, events in queries.histories(conn):
                count_proposals += 1
                count_events += len(events)
                broken = chain.first_break(proposal, events)
                if broken:
                    breaks.append(broken)
        return AuditReport(count_proposals, count_events, tuple(breaks), altered)

    # -- inside -------------------------------------------------------------------------

    def definition(self, workflow: str) -> tuple[CompiledWorkflow, str, str]:
        """A workflow as its file reads now, compiled, with its text and source; the file is read
        once, and checked in full only the first time its exact text is stored."""
        from flowengine.definition.registry import locate_workflow, search_dirs

        candidate = locate_workflow(workflow, search_dirs(self.workflow_dirs))
        document = candidate.document
        if document is None:  # unreadable: let the loader say exactly why
            from flowengine.definition.loader import check_file

            raise DefinitionError(check_file(candidate.path).issues)
        if engine.cached(content_hash(document.text)) is None:
            with self.database.read() as conn:
                known = queries.has_definition(conn, content_hash(document.text))
            if not known:
                from flowengine.definition.loader import check_document

                result = check_document(document, file_stem=candidate.path.stem)
                if not result.ok:
                    raise DefinitionError(result.errors)
        return engine.compiled_document(document), document.text, str(candidate.path)

    def _write(self, work: Callable[[Connection], T], key: str | None, operation: str) -> T:
        """One write transaction; a unique-key race becomes a conflict, a repeat or a retry.
        ``operation`` names the write in the message of a transaction that gave up.

        Every ``work`` here reads what it needs inside the transaction and keeps nothing between
        calls, so a transaction the database rolled back because of concurrent writers (a
        serialization failure or deadlock) is simply run again by :meth:`Database.run_write`."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                return self.database.run_write(work, operation=operation)
            except IntegrityError as error:
                if key and attempt + 1 < _WRITE_ATTEMPTS:
                    with self.database.read() as conn:
                        taken = queries.event_by_key(conn, key) is not None
                    if taken:  # the same request, applied by a concurrent retry: answer as a repeat
                        continue
                # A proposal number, or a first use of a definition, that a concurrent writer got to
                # first (PostgreSQL does not queue writers as SQLite does): look again and go on.
                taken_first = any(name in str(error.orig) for name in (
                    "uq_proposals_prefix_number", "proposals.number", "definitions_pkey", "definitions.content_hash"))
                if taken_first and attempt + 1 < _WRITE_ATTEMPTS:
                    continue
                raise StoreError(f"a concurrent write collided with this one ({_first_line(error)}); "
                                 "nothing was written — try again") from error
        raise StoreError("could not find a free proposal number; nothing was written — try again")

    def _prepare(self, conn: Connection, proposal_id: str, actor: Actor, fields: Mapping[str, Any],
                 expected_version: int | None) -> tuple[int, Proposal, CompiledWorkflow, dict[str, Any]]:
        """What every change to a proposal checks first: it exists, nobody moved it since the
        caller looked, the role is the workflow's, and the field values are valid; returns the
        field changes."""
        pk, proposal = self._load(conn, proposal_id)
        self._check_version(conn, pk, proposal, expected_version)
        compiled = self._compiled(conn, proposal)
        compiled.check_role(actor)
        changes = _changed(proposal.fields, coerce_fields(compiled.workflow, fields))
        _refuse_clearing_required(compiled.workflow, proposal.id, changes)
        return pk, proposal, compiled, changes

    def _origin(self, conn: Connection, proposal_id: str, moment: datetime) -> str:
        """The id of the proposal a new one comes from: it must exist, and be older."""
        origin = self._load(conn, proposal_id, role="proposal it came from")[1]
        if origin.created_at > moment:
            raise InvalidInput(f"{origin.id} was registered at {local_text(origin.created_at)}, after "
                               f"{local_text(moment)}: a proposal can only come from one registered before it")
        return origin.id

    def _load(self, conn: Connection, proposal_id: str, role: str = "proposal") -> tuple[int, Proposal]:
        wanted = proposal_id.strip().upper()  # ids are capitals; "inn-7" means INN-7
        found = queries.load_proposal(conn, wanted)
        if found is None:
            raise NotFound(role, wanted, queries.proposal_ids(conn),
                           hint="run 'flowengine proposal list' to see them")
        return found

    def _compiled(self, conn: Connection, proposal: Proposal) -> CompiledWorkflow:
        cached = engine.cached(proposal.definition_hash)
        if cached is not None:
            return cached
        stored = queries.definition_text(conn, proposal.definition_hash)
        if stored is None:
            raise StoreError(f"the definition {proposal.definition_hash[:12]} of {proposal.id} is missing "
                             "from the database; restore it from a backup")
        return engine.compiled(proposal.definition_hash, *stored)

    def _check_version(self, conn: Connection, pk: int, proposal: Proposal, expected: int | None) -> None:
        if expected is not None and proposal.version != expected:
            raise self._conflict(conn, pk, proposal)

    def _conflict(self, conn: Connection, pk: int, proposal: Proposal) -> ConflictError:
        # Everything from the newest event: under PostgreSQL's READ COMMITTED the row read a
        # moment ago may already be older than it, and the message must not mix the two.
        last = queries.last_event(conn, pk)
        if last is None:
            return ConflictError(proposal.id, "?", "?", "?", proposal.state)
        return ConflictError(proposal.id, last.actor, last.role, local_text(last.at), last.to_state)

    def _commit_step(self, conn: Connection, pk: int, proposal: Proposal, event: Event) -> Proposal:
        """Write the row as the event leaves it, and the event, under the optimistic lock."""
        after = _after(proposal, event)
        if not queries.update_proposal(conn, pk, proposal.version, {
                "state": after.state, "fields": after.fields, "updated_at": after.updated_at,
                "state_entered_at": after.state_entered_at, "head_hash": after.head_hash}):
            raise self._conflict(conn, pk, proposal)
        queries.insert_event(conn, pk, event)
        return after

    def _moment(self, proposal: Proposal, at: datetime | None) -> datetime:
        """When a step happens: never before the proposal's last event, so its history stays in order."""
        if at is not None:
            moment = as_utc(at)
            if moment < proposal.updated_at:
                raise InvalidInput(f"{local_text(moment)} is before the last step of {proposal.id} "
                                   f"({local_text(proposal.updated_at)}); steps are recorded in order")
            return moment
        return max(self.clock(), proposal.updated_at)  # a clock behind another writer's: keep order

    def _explained(self, conn: Connection, pk: int, proposal: Proposal, actor: Actor,
                   refused: TransitionRefused) -> TransitionRefused:
        """Say who put the proposal where it is, when that was someone else: the usual cause of
        a surprise refusal is a colleague who acted first."""
        last = queries.last_event(conn, pk)
        if last is None or last.actor == actor.name:
            return refused
        moved = f"{last.actor} ({last.role}) at {local_text(last.at)}"
        return TransitionRefused(proposal.id, proposal.state, refused.trigger, refused.reasons, refused.allowed,
                                 last_change=moved)

    def _repeat(self, conn: Connection, done: Event, proposal_id: str | None, trigger: str | None,
                created: tuple[str, str] | None = None, kind: str | None = None) -> StepResult:
        """The answer to a request whose key was used before: the earlier result if it was this same
        request (``created``: the workflow and title of a new proposal), else a refusal."""
        registered = (done.details.get("workflow"), done.details.get("title"))
        same = (proposal_id is None and done.kind == CREATED and created in (None, registered)) or (
            proposal_id is not None and done.proposal == proposal_id.strip().upper() and done.trigger == trigger
            and done.kind != CREATED and kind in (None, done.kind))
        if not same:
            what = {CREATED: f"to register {done.proposal} ('{registered[1]}')",
                    FIELDS_SET: f"to set fields of {done.proposal}",
                    NOTED: f"for a note on {done.proposal}",
                    PROGRESS: f"to record progress of {done.proposal}"}.get(done.kind,
                                                                          f"for {done.trigger} of {done.proposal}")
            raise InvalidInput(f"idempotency key '{done.idempotency_key}' was already used {what} at "
                               f"{local_text(done.at)}; nothing was written — use a new key for a new request")
        return StepResult(self._load(conn, done.proposal)[1], done, repeated=True)

    def _standing(self, conn: Connection, proposal: Proposal, last: Event, as_of: datetime | None,
                  language: str, events: Sequence[Event] | None = None) -> Standing:
        compiled = self._compiled(conn, proposal)
        state = compiled.workflow.states.get(proposal.state)
        moment = min(as_utc(as_of), self.clock()) if as_of else self.clock()  # a naive as_of is UTC, as everywhere
        clock = self._deadline_clock(conn, compiled.workflow, proposal, last, events)
        due = state.deadline.add_to(clock.started_at) if state and state.deadline else None
        return Standing(
            proposal=proposal, moment=moment,
            state_label=state.label(language) if state else proposal.state,
            stage=state.stage if state else None, owner=state.owner if state else None,
            final=bool(state and state.final), outcome=state.outcome if state else None,
            deadline=state.deadline_text if state else None, due_at=due,
            next_steps=tuple(compiled.next_steps(proposal.state, proposal.fields, language)),
            last_event=last, progress=clock.progress, clock_started_at=clock.started_at,
        )

    def _open(self, conn: Connection, proposal: Proposal) -> bool:
        state = self._compiled(conn, proposal).workflow.states.get(proposal.state)
        return state is not None and not state.final

    def _tick_proposal(self, proposal_id: str, moment: datetime, now: datetime, dry_run: bool,
                       log: deadlines.TickLog) -> None:
        """Everything due for one proposal, one transaction per event: escalations while one is due
        (each starts a new state's clock, which may be due too), then at most one reminder. A
        proposal someone moved meanwhile is looked at again, never an error."""
        from flowengine.service import deadlines
        held: list[tuple[Proposal, list[Event]]] = []  # a dry run's proposal and events, changed in memory
        escalate = True
        for _ in range(deadlines.MAX_STEPS):
            step = partial(self._tick_step, proposal_id=proposal_id, moment=moment, now=now, dry_run=dry_run,
                           escalate=escalate, held=held)
            try:
                with self.database.read() as conn:  # most proposals have nothing due: no write lock for them
                    planned = step(conn, commit=False)
                if planned is not None and planned.event is not None and not dry_run:
                    planned = self._write(partial(step, commit=True), None, "tick")  # looked at again, under the lock
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

    def _tick_step(self, conn: Connection, *, proposal_id: str, moment: datetime, now: datetime, dry_run: bool,
                   escalate: bool, held: list[tuple[Proposal, list[Event]]], commit: bool) -> _Planned | None:
        """The one thing due now for a proposal: written with ``commit``, kept in ``held`` in a dry run."""
        from flowengine.service import deadlines
        pk, proposal = self._load(conn, proposal_id)
        compiled = self._compiled(conn, proposal)
        proposal, events = held[-1] if held else (proposal, queries.events_of(conn, pk))
        if proposal.updated_at > moment:
            return _Planned(None, None)  # it has a step after the moment asked about: left alone
        due = deadlines.next_due(compiled.workflow, proposal, events, moment, escalate=escalate)
        if due is None:
            return None
        planned = _planned(compiled, proposal, due, moment, now)
        if planned.event is not None and dry_run:
            held.append((_after(proposal, planned.event), [*events, planned.event]))
        elif planned.event is not None and commit:
            self._commit_step(conn, pk, proposal, planned.event)
        return planned

    def _deadline_clock(self, conn: Connection, workflow: Workflow, proposal: Proposal, last: Event,
                        events: Sequence[Event] | None) -> deadlines.DeadlineClock:
        """The current stay's deadline clock; the history is read only for an implementation whose
        newest event does not settle it (progress followed by a correction or a reminder)."""
        from flowengine.service import deadlines
        if events is not None:
            return deadlines.deadline_clock(events, workflow)
        quick = deadlines.quick_clock(proposal, last)
        if quick is not None:
            return quick
        state = workflow.states.get(proposal.state)
        if state is not None and state.stage == deadlines.IMPLEMENTATION:
            return deadlines.deadline_clock(queries.events_of(conn, self._load(conn, proposal.id)[0]), workflow)
        return deadlines.DeadlineClock(as_utc(proposal.state_entered_at), 0, None, False)

    # -- versions and migration ------------------------------------------------------------

    def workflow_versions(self, workflow: str) -> list[DefinitionVersion]:
        """Every stored definition of a workflow, newest first, with how many proposals run on
        each and how many of those are open; ``current`` marks the one its file reads now."""
        from flowengine.definition.versions import definition_versions

        with self.database.read() as conn:
            stored = queries.definitions_of(conn, workflow)
            if not stored:
                known = queries.workflows_in_use(conn)
                raise NotFound("workflow", workflow, known,
                               hint="versions are stored when proposals are created; workflows with some: "
                               + (", ".join(known) or "none yet"))
            states = queries.states_by_definition(conn, workflow)
        compiled = [(d, engine.compiled(d.content_hash, d.text, d.source).workflow) for d in stored]
        return definition_versions(compiled, states, self._file_hash(workflow))

    def migrate(self, workflow: str, to: str | Path, *, actor: Actor | None, mapping: Mapping[str, str] | None = None,
                dry_run: bool = False, comment: str = "", at: datetime | None = None,
                meter: Meter | None = None) -> Migration:
        """Move every running proposal of ``workflow`` to the definition in ``to`` (a file, or the
        workflow's id for its file as it reads now), keeping each stay; see :mod:`flowengine.service.migration_plan`.
        All in one transaction, each row under its optimistic lock: a proposal someone moves
        meanwhile makes the whole migration plan again (a few times, then ConflictError, nothing
        written). ``dry_run``: plan only, and ``actor`` may be None. Refused, writing nothing, when a
        state has nowhere to go."""
        from flowengine.service.migration_plan import Migration

        compiled, text, source = self._migration_target(workflow, to)
        if actor is not None:
            compiled.check_role(actor)
        elif not dry_run:
            raise InvalidInput("say who migrates: --as NAME --role ROLE (a role of the new definition); "
                               "only a dry run needs nobody")
        comment = _text("comment", comment)
        conflict: ConflictError | None = None
        for attempt in range(1, _MIGRATE_ATTEMPTS + 1):
            with self.database.read() as conn:
                plan = self._migration_plan(conn, compiled.workflow, dict(mapping or {}), source)
            refusal = plan.refusal()
            if refusal is not None:
                raise refusal
            if dry_run or not plan.moves:
                return Migration(plan, (), dry_run, attempt)
            assert actor is not None
            try:
                events = self._write(partial(self._write_migration, plan=plan, text=text, actor=actor,
                                             comment=comment, at=at, meter=meter), None, "migration")
            except ConflictError as error:
                conflict = error
                continue
            return Migration(plan, tuple(events), False, attempt)
        assert conflict is not None
        raise conflict

    def _migration_target(self, workflow: str, to: str | Path) -> tuple[CompiledWorkflow, str, str]:
        """The definition to migrate to, checked in full (warnings allowed), declaring ``workflow``."""
        from flowengine.definition.loader import check_document, check_file
        from flowengine.definition.registry import locate_workflow, search_dirs

        candidate = locate_workflow(str(to), search_dirs(self.workflow_dirs))
        if candidate.document is None:
            raise DefinitionError(check_file(candidate.path).issues)
        result = check_document(candidate.document, file_stem=candidate.path.stem)
        if not result.ok:
            raise DefinitionError(result.errors)
        compiled = engine.compiled_document(candidate.document)
        if compiled.workflow.id != workflow:
            raise InvalidInput(f"{candidate.path} declares workflow '{compiled.workflow.id}', not '{workflow}'; "
                               f"a migration moves proposals between definitions of one workflow: give a "
                               f"file whose id is {workflow}")
        return compiled, candidate.document.text, str(candidate.path)

    def _migration_plan(self, conn: Connection, target: Workflow, mapping: dict[str, str], source: str) -> Plan:
        from flowengine.service.migration_plan import Running, plan

        stored = queries.definitions_of(conn, target.id)
        if not stored:
            known = queries.workflows_in_use(conn)
            raise NotFound("workflow", target.id, known, hint="only a workflow with proposals can be migrated")
        states = {sid for d in stored for sid in engine.compiled(d.content_hash, d.text, d.source).workflow.states}
        running = [Running(p, self._compiled(conn, p).workflow)
                   for p in queries.load_proposals(conn, workflow=target.id)]
        states |= {r.proposal.state for r in running}
        return plan(target, running, mapping, known_states=states, source=source)

    def _write_migration(self, conn: Connection, *, plan: Plan, text: str, actor: Actor, comment: str,
                         at: datetime | None, meter: Meter | None) -> list[Event]:
        """Every planned move, in the caller's one transaction; a row changed since it was planned
        raises ConflictError, which rolls the whole migration back."""
        moment = as_utc(at) if at else self.clock()
        if not queries.has_definition(conn, plan.to_definition):
            queries.insert_definition(conn, content_hash=plan.to_definition, workflow=plan.workflow,
                                      version=plan.to_version, source=plan.source, text=text, at=moment)
        written = []
        for move in plan.moves:
            planned = move.proposal
            pk, proposal = self._load(conn, planned.id)
            if proposal.version != planned.version:
                raise self._conflict(conn, pk, proposal)
            details = {"from_definition": planned.definition_hash, "to_definition": plan.to_definition,
                       "from_version": planned.workflow_version, "to_version": plan.to_version, "map": plan.mapping}
            event = _next_event(planned, MIGRATED, actor, max(moment, planned.updated_at), to_state=move.to_state,
                                comment=comment, details=details)
            if not queries.move_proposal(conn, pk, planned.version, definition_hash=plan.to_definition,
                                         state=move.to_state, updated_at=event.at, head_hash=event.hash):
                raise self._conflict(conn, pk, proposal)
            queries.insert_event(conn, pk, event)
            written.append(event)
            if meter is not None:
                meter(1)
        return written

    def _file_hash(self, workflow: str) -> str | None:
        """The content hash of the workflow's file as it reads now; None when no file has it."""
        from flowengine.definition.registry import locate_workflow, search_dirs

        try:
            document = locate_workflow(workflow, search_dirs(self.workflow_dirs)).document
        except FlowEngineError:
            return None
        return content_hash(document.text) if document is not None else None


@dataclass(frozen=True)
class _Planned:
    """What ``tick`` found due for a proposal (None: it was left alone), and the event recording it
    (None when nothing is written)."""

    record: deadlines.Escalated | deadlines.Reminder | deadlines.Blocked | None
    event: Event | None


def _planned(compiled: CompiledWorkflow, proposal: Proposal, due: deadlines.Due, moment: datetime,
             now: datetime) -> _Planned:
    """The event that applies an escalation or hands out a reminder. Deterministic keys make a
    second tick that raced this one fail on the optimistic lock instead of writing it again."""
    from flowengine.service import deadlines
    state = due.state
    if due.kind == deadlines.REMIND:
        reminder = deadlines.Reminder(proposal.id, proposal.title, proposal.workflow, state.id, state.label("en"),
                                      state.owner, due.after, due.due, due.clock.started_at, moment)
        event = _next_event(proposal, REMINDED, deadlines.SYSTEM, moment,
                            details={"after": due.after, "due": iso_utc(due.due)},
                            key=f"tick:remind:{proposal.id}:{due.clock.started_by}")
        return _Planned(reminder, event)
    comment = deadlines.escalation_comment(due)
    try:  # the workflow's author declared the step: no role applies, but it must still lead out of here
        target = compiled.fire(proposal.id, state.id, due.trigger, deadlines.SYSTEM, proposal.fields, comment,
                               any_role=True)
    except TransitionRefused as refused:
        return _Planned(deadlines.Blocked(proposal.id, state.id, due.trigger, refused.reasons), None)
    at = max(due.due, proposal.updated_at)  # when it fell due, but never before the step before it
    event = _next_event(proposal, ADVANCED, deadlines.SYSTEM, at, trigger=due.trigger, to_state=target,
                        comment=comment, key=f"tick:escalate:{proposal.id}:{proposal.version}",
                        details={"escalation": {"after": due.after, "due": iso_utc(due.due),
                                                "applied_at": iso_utc(now)}})
    return _Planned(deadlines.Escalated(proposal.id, proposal.title, proposal.workflow, state.id, target,
                                        due.trigger, due.after, due.due, at), event)


def _not_implementing(workflow: Workflow, proposal: Proposal) -> Refused:
    from flowengine.service import deadlines
    state = workflow.states.get(proposal.state)
    where = f"{proposal.state} (stage {state.stage})" if state is not None and state.stage else proposal.state
    implementing = [sid for sid, s in workflow.states.items() if s.stage == deadlines.IMPLEMENTATION and not s.final]
    hint = (f"record it once {proposal.id} is in {' or '.join(implementing)}" if implementing
            else f"{workflow.id} has no state of stage implementation")
    return Refused(f"cannot record progress of {proposal.id}",
                   [f"it is in {where}; progress is recorded only in a state of stage implementation"], hint)


def _milestone(name: str | None) -> str | None:
    text = check_printable("milestone", (name or "").strip())
    if "\n" in text or len(text) > MAX_TITLE_CHARS:
        raise InvalidInput(f"a milestone is named in one line of at most {MAX_TITLE_CHARS} characters; "
                           "put the details in --note")
    return text or None


def _milestone_date(value: str | None) -> str | None:
    try:
        day: str | None = coerce_value("milestone_date", "date", (), value)
    except InvalidInput:
        raise InvalidInput(f"the milestone date takes a date written YYYY-MM-DD, e.g. 2024-05-01; "
                           f"got '{value}'") from None
    return day


def _not_yet(proposal: Proposal, moment: datetime) -> InvalidInput:
    return InvalidInput(f"{proposal.id} did not exist yet at {local_text(moment)} "
                        f"(created {local_text(proposal.created_at)}); choose a later --as-of")


def _after(proposal: Proposal, event: Event) -> Proposal:
    """The proposal as one more event leaves it."""
    entered = event.at if chain.enters_state(event) else proposal.state_entered_at
    return replace(proposal, state=event.to_state, fields=chain.apply_changes(proposal.fields, event.changes),
                   updated_at=event.at, state_entered_at=entered, head_hash=event.hash, version=event.seq)


def _as_of(proposal: Proposal, events: Sequence[Event]) -> Proposal:
    """The proposal as its events up to a moment leave it, on the definition it ran under then
    (a later migration moved it to another)."""
    replayed = chain.replay(events)
    return replace(proposal, state=replayed.state, fields=replayed.fields, version=replayed.version,
                   updated_at=replayed.updated_at, state_entered_at=replayed.state_entered_at,
                   head_hash=replayed.head_hash, definition_hash=replayed.definition or proposal.definition_hash,
                   workflow_version=replayed.workflow_version or proposal.workflow_version)


def _event(proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None, to_state: str,
           actor: Actor, at: datetime, entered_at: datetime, comment: str, changes: dict[str, Any],
           details: dict[str, Any], key: str | None, prev_hash: str) -> Event:
    at, entered_at = as_utc(at), as_utc(entered_at)
    # seal.seal: chain.event_hash's bytes (a property test holds them equal) in a third of the time
    sealed = seal(prev_hash=prev_hash, proposal=proposal, seq=seq, kind=kind, trigger=trigger, from_state=from_state,
                  to_state=to_state, actor=actor.name, role=actor.role, at=iso_utc(at), entered_at=iso_utc(entered_at),
                  comment=comment, changes=changes, details=details, idempotency_key=key)
    return Event(proposal, seq, kind, trigger, from_state, to_state, actor.name, actor.role, at, entered_at, comment,
                 changes, details, key, prev_hash, sealed)


def _next_event(proposal: Proposal, kind: str, actor: Actor, at: datetime, *, trigger: str | None = None,
                to_state: str | None = None, comment: str = "", changes: dict[str, Any] | None = None,
                details: dict[str, Any] | None = None, key: str | None = None) -> Event:
    """The event after the proposal's newest: out of its state (into ``to_state``, else staying),
    chained to its head."""
    return _event(proposal.id, proposal.version + 1, kind, trigger, proposal.state, to_state or proposal.state, actor,
                  at, proposal.state_entered_at, comment, changes or {}, details or {}, key, proposal.head_hash)


def _changed(current: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in given.items() if current.get(name) != value}


def _refuse_clearing_required(workflow: Workflow, proposal_id: str, changes: Mapping[str, Any]) -> None:
    """A required field stays filled: neither a correction nor a step may empty it."""
    cleared = [name for name, value in changes.items() if value is None and workflow.fields[name].required]
    if cleared:
        raise Refused(f"cannot clear {', '.join(cleared)} of {proposal_id}",
                      [f"'{name}' is a required field" for name in cleared], "give a new value instead")


def derived_prefix(workflow_id: str) -> str:
    """Workflows without ``prefix``: the first six letters of the id, in capitals."""
    return re.sub(r"[^A-Z]", "", workflow_id.upper())[:6] or "P"


def _one_line(what: str, value: str, limit: int) -> str:
    text = check_printable(what, (value or "").strip())
    if what == "title" and not text:
        raise InvalidInput("a proposal needs a title: --title \"Meeting place in the town centre\"")
    if "\n" in text or len(text) > limit:
        raise InvalidInput(f"the {what} must be one line of at most {limit} characters; "
                           "put longer text in --description")
    return text


def _text(what: str, value: str) -> str:
    text = check_printable(what, (value or "").strip())
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"the {what} is longer than {MAX_TEXT_CHARS} characters; link to a document instead")
    return text


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_KEY_CHARS or any(ord(c) < 32 for c in key):
        raise InvalidInput(f"an idempotency key is 1 to {MAX_KEY_CHARS} printable characters, e.g. a UUID")
    return key


def _first_line(error: IntegrityError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else "integrity error"
