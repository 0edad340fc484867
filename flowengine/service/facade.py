"""The façade the command line (and any Python caller) uses: load → check → fire → store.

:class:`FlowEngine` opens and closes the database and owns the one write helper
(:meth:`FlowEngine.transaction`); each operation lives in a module of its own job —
:mod:`~flowengine.service.steps` (new, advance, set, progress), :mod:`~flowengine.service.reading`
(standing, list, history, as of), :mod:`~flowengine.service.tick`,
:mod:`~flowengine.service.migrating`, :mod:`~flowengine.service.audit` and
:mod:`~flowengine.service.analysis` — imported when first called, so a one-step command never
pays for what it does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flowengine.clock import Clock, system_clock, windowed, within
from flowengine.errors import ConflictError, StoreError
from flowengine.history.records import Actor, Event, Proposal
from flowengine.i18n import N_
from flowengine.service.results import AuditReport, Lineage, ProposalPage, Standing, StepResult
from flowengine.store import Connection, Database, KeyTaken, migrate, queries, resolve_url

if TYPE_CHECKING:  # what a one-step command never needs is imported where it is used
    from flowengine.access.grants import Permissions
    from flowengine.access.log import Entry
    from flowengine.analysis.figures import Analysis
    from flowengine.analysis.provenance import Marks
    from flowengine.definition.model import Workflow
    from flowengine.definition.versions import DefinitionVersion
    from flowengine.engine import CompiledWorkflow
    from flowengine.history.provenance import Provenance
    from flowengine.history.records import Stamp
    from flowengine.meter import Meter
    from flowengine.proof.checkpoint import Checkpoint
    from flowengine.proof.conversion import Record
    from flowengine.proof.keys import Signer
    from flowengine.service.access import Grant, Identity
    from flowengine.service.checkpoints import CheckpointReport
    from flowengine.service.deadlines import TickReport
    from flowengine.service.erasing import ErasureRequest, ErasureResult
    from flowengine.service.migration_plan import Migration

_WRITE_ATTEMPTS = 5  # a new proposal number taken by a concurrent writer: try the next one

T = TypeVar("T")

__all__ = ["AuditReport", "FlowEngine", "Lineage", "Standing", "StepResult"]

_STEP_TIME = N_("the time of the step")
_AS_OF = N_("the as-of time")


class FlowEngine:
    """Proposals on their workflows, in one database. Use :meth:`open`; close when done."""

    def __init__(self, database: Database, *, workflow_dirs: Sequence[str | Path] = (),
                 clock: Clock = system_clock) -> None:
        self.database = database
        self.workflow_dirs: tuple[str | Path, ...] = tuple(workflow_dirs)
        self.clock = windowed(clock)
        self._session: tuple[str, str] | None = None  # (login, clock kind), read on first need
        self.schema_change: tuple[str | None, str] | None = None  # (revision before, after) of open()

    @classmethod
    def open(cls, target: str | None = None, *, workflow_dirs: Sequence[str | Path] = (),
             clock: Clock | None = None, upgrade_existing: bool | None = None, create: bool = True) -> FlowEngine:
        """``target``: a file path or database URL; None means ``$FLOWENGINE_DB`` or the default file.
        A new database is created, its creator holding every role (solo mode); an old SQLite one
        is upgraded, and with ``upgrade_existing`` any (by an administrator, once it has
        grants). ``clock``: a fixed clock, honoured only by a database it creates (one made
        for tests or demos) and by databases made so; a database made for real use refuses it.
        ``create`` off (the caller only reads): a SQLite file that is not there is refused and
        nothing is created."""
        database = Database(resolve_url(target, create=create))
        fixed = clock is not None and clock is not system_clock
        try:
            if upgrade_existing:
                _check_upgrader(database)
            change = migrate.ensure_schema(database, upgrade_existing=upgrade_existing,
                                           clock=clock if fixed else None)
            engine = cls(database, workflow_dirs=workflow_dirs, clock=clock or system_clock)
            engine.schema_change = change
            engine.check_clock(fixed)
        except BaseException:  # do not leave the engine's connections open
            database.dispose()
            raise
        return engine

    # -- who is acting (flowengine.access) -------------------------------------------------

    def _read_session(self) -> tuple[str, str]:
        if self._session is None:
            from flowengine.access import session

            with self.database.read() as conn:
                self._session = (session.login_of(conn), session.clock_kind(conn))
        return self._session

    @property
    def login(self) -> str:
        """The authenticated login acting: PostgreSQL's ``session_user``, or the OS login on SQLite."""
        return self._read_session()[0]

    @property
    def recording_clock(self) -> Clock | None:
        """The clock that times recordings in a database made for tests or demos; None: the database's own."""
        from flowengine.access.session import INJECTED_CLOCK

        return self.clock if self._read_session()[1] == INJECTED_CLOCK else None

    def check_clock(self, fixed: bool) -> None:
        """A fixed clock is refused by a database made for real use."""
        from flowengine.access.session import check_clock

        check_clock(self._read_session()[1], fixed, self.database.display_name)

    def permissions(self, conn: Connection) -> Permissions:
        """What the login may do, as the grants read in this transaction say."""
        from flowengine.access.session import permissions

        return permissions(conn, self.login)

    def stamp(self, conn: Connection) -> Stamp:
        """Who records this transaction's events, and when by the database's clock."""
        from flowengine.access.session import stamp

        return stamp(conn, self.login, self.recording_clock)

    def whoami(self) -> Identity:
        """The login, whether the database is made for tests or demos, and its roles per workflow."""
        from flowengine.service import access

        return access.whoami(self)

    def grant(self, login: str, roles: Sequence[str], workflows: Sequence[str]) -> list[Grant]:
        """Let ``login`` act in ``roles`` (or use capabilities) in ``workflows`` (``*``: every
        workflow); admin only; each grant recorded in the access log. Returns what changed."""
        from flowengine.service import access

        return access.change(self, "grant", login, roles, workflows)

    def revoke(self, login: str, roles: Sequence[str], workflows: Sequence[str]) -> list[Grant]:
        """Take grants back (admin only), each recorded in the access log. Returns what changed."""
        from flowengine.service import access

        return access.change(self, "revoke", login, roles, workflows)

    def grants(self, login: str | None = None) -> list[Grant]:
        """Every standing grant (of one login); an administrator sees all, others their own."""
        from flowengine.service import access

        return access.grants(self, login)

    def access_log(self) -> list[Entry]:
        """Every grant and revoke ever recorded, oldest first (administrators only)."""
        from flowengine.service import access

        return access.log_entries(self)

    @classmethod
    def open_read_only(cls, target: str, *, workflow_dirs: Sequence[str | Path] = (),
                       clock: Clock | None = None) -> FlowEngine:
        """An engine that only reads ``target``: typically a streaming replica (a PostgreSQL hot
        standby) of the database proposals are written to, so that analyses, reports and exports
        leave the primary to the writers. Nothing is created or migrated there; its schema must be
        the one this flowengine reads. What it shows is the replica's moment, which trails the
        primary by its replay delay. Writes through it fail (the replica refuses them)."""
        database = Database(resolve_url(target, create=False))
        try:
            migrate.check_schema(database)
        except BaseException:
            database.dispose()
            raise
        return cls(database, workflow_dirs=workflow_dirs, clock=clock or system_clock)

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> FlowEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the one write helper --------------------------------------------------------------

    def transaction(self, work: Callable[[Connection], T], *, operation: str, key: str | None = None) -> T:
        """``work`` in one write transaction; a unique key a concurrent writer took first becomes
        a repeat (``key``: the request's idempotency key was used meanwhile) or a retry (a proposal
        number, or the first use of a definition); ``operation`` names the write in the message of
        one that gave up.

        Every ``work`` reads what it needs inside the transaction and keeps nothing between calls,
        so one the database rolled back because of concurrent writers (a serialization failure or
        deadlock) is simply run again by :meth:`Database.run_write`."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                return self.database.run_write(work, operation=operation)
            except ConflictError:
                # A retry of a keyed request racing the request itself: the proposal moved because
                # that same request was applied meanwhile. Answer with its result (the work finds the
                # key now), never with "nothing was written": the caller would retry under a new
                # key and apply the request twice.
                if key and attempt + 1 < _WRITE_ATTEMPTS and self._key_used(key):
                    continue
                raise
            except KeyTaken as taken:
                last = attempt + 1 == _WRITE_ATTEMPTS
                if key and not last and self._key_used(key):
                    continue  # the same request, applied by a concurrent retry: answer as a repeat
                # A proposal number, or a first use of a definition, that a concurrent writer got to
                # first (PostgreSQL does not queue writers as SQLite does): look again and go on.
                if taken.key in ("proposal_number", "definition") and not last:
                    continue
                raise
        raise StoreError("could not find a free proposal number; nothing was written — try again")

    def _key_used(self, key: str) -> bool:
        with self.database.read() as conn:
            return queries.event_by_key(conn, key) is not None

    # -- changing proposals (flowengine.service.steps) -------------------------------------

    def new_proposal(self, workflow: str, *, title: str, actor: Actor, description: str = "", origin: str = "",
                     fields: Mapping[str, Any] | None = None, idempotency_key: str | None = None,
                     at: datetime | None = None, from_proposal: str | None = None,
                     provenance: Provenance | None = None) -> StepResult:
        """Register a proposal under the workflow as its file reads now; it keeps that definition.
        ``from_proposal``: the proposal it came from (an audit whose finding it is), which must
        exist and be older; the link is sealed into the creation event (:meth:`led_to` reads it
        back). ``provenance``: where the registration comes from, in a history rebuilt from a source."""
        from flowengine.service import steps

        return steps.new_proposal(self, workflow, title=title, actor=actor, description=description, origin=origin,
                                  fields=fields, idempotency_key=idempotency_key,
                                  at=within(at, _STEP_TIME), from_proposal=from_proposal, provenance=provenance)

    def advance(self, proposal_id: str, trigger: str, *, actor: Actor, comment: str = "",
                fields: Mapping[str, Any] | None = None, expected_version: int | None = None,
                idempotency_key: str | None = None, at: datetime | None = None,
                provenance: Provenance | None = None) -> StepResult:
        """Fire a trigger. Refused (naming every reason) or written with its event, never half."""
        from flowengine.service import steps

        return steps.advance(self, proposal_id, trigger, actor=actor, comment=comment, fields=fields,
                             expected_version=expected_version, idempotency_key=idempotency_key,
                             at=within(at, _STEP_TIME), provenance=provenance)

    def set_fields(self, proposal_id: str, fields: Mapping[str, Any], *, actor: Actor, comment: str = "",
                   expected_version: int | None = None, idempotency_key: str | None = None,
                   at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
        """Fill in or correct fields; recorded as an event like any step. No change, no event."""
        from flowengine.service import steps

        return steps.set_fields(self, proposal_id, fields, actor=actor, comment=comment,
                                expected_version=expected_version, idempotency_key=idempotency_key,
                                at=within(at, _STEP_TIME), provenance=provenance)

    def note(self, proposal_id: str, comment: str, *, actor: Actor, expected_version: int | None = None,
             idempotency_key: str | None = None, at: datetime | None = None,
             provenance: Provenance | None = None) -> StepResult:
        """Record something heard of a proposal that moves nothing ("still waiting for the
        committee"): no state, field or deadline clock changes, but the history has a record of
        that moment, so the stall analysis knows the proposal was still waiting then."""
        from flowengine.service import steps

        return steps.note(self, proposal_id, comment, actor=actor, expected_version=expected_version,
                          idempotency_key=idempotency_key,
                             at=within(at, _STEP_TIME), provenance=provenance)

    def record_progress(self, proposal_id: str, percent: int | str | None, *, actor: Actor, note: str = "",
                        milestone: str | None = None, milestone_date: str | None = None,
                        expected_version: int | None = None, idempotency_key: str | None = None,
                        at: datetime | None = None, provenance: Provenance | None = None) -> StepResult:
        """Record how far an implementation has come (0 to 100 %, "40%" accepted; None or
        "partly" where only "in part" is known), with a note and perhaps a milestone reached and
        its date (YYYY-MM-DD). Only in a state of stage implementation; it restarts that state's
        deadline clock, reminders and escalations."""
        from flowengine.service import steps

        return steps.record_progress(self, proposal_id, percent, actor=actor, note=note, milestone=milestone,
                                     milestone_date=milestone_date, expected_version=expected_version,
                                     idempotency_key=idempotency_key,
                             at=within(at, _STEP_TIME), provenance=provenance)

    def tick(self, *, as_of: datetime | None = None, dry_run: bool = False,
             workflow: str | None = None) -> TickReport:
        """Apply every escalation due by ``as_of`` (default: now) and hand out every reminder due,
        each once, as events by the actor ``system``; see :mod:`flowengine.service.tick`.
        An ``as_of`` after now means now, except in a ``dry_run``, which writes nothing and reports
        what would happen, and so may look ahead. A proposal with a step after ``as_of`` is left alone."""
        from flowengine.service import tick

        return tick.tick(self, as_of=within(as_of, _AS_OF), dry_run=dry_run, workflow=workflow)

    # -- reading (flowengine.service.reading) ----------------------------------------------

    def standing(self, proposal_id: str, *, as_of: datetime | None = None, language: str = "en") -> Standing:
        """Where one proposal stands now, or at the end of a past moment."""
        from flowengine.service import reading

        return reading.standing(self, proposal_id, as_of=within(as_of, _AS_OF), language=language)

    def proposals(self, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
                  owner: str | None = None, overdue: bool = False, as_of: datetime | None = None,
                  sort: str = "id", title: str | None = None, language: str = "en") -> list[Standing]:
        """Proposals matching every filter given, sorted (``id``, ``waiting``, ``updated`` or ``state``);
        ``title``: a text the title contains, in any case. The whole list: at size, see
        :meth:`proposal_page` and :meth:`each_proposal`."""
        if as_of is None:
            return list(self.each_proposal(workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue,
                                           title=title, sort=sort, language=language))
        from flowengine.service import reading

        return reading.proposals(self, workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue,
                                 as_of=within(as_of, _AS_OF), sort=sort, title=title, language=language)

    def proposal_page(self, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
                      owner: str | None = None, overdue: bool = False, title: str | None = None, sort: str = "id",
                      after: str | None = None, limit: int = 50, as_of: datetime | None = None,
                      language: str = "en") -> ProposalPage:
        """Up to ``limit`` of the proposals :meth:`proposals` lists, those after proposal ``after``,
        and the id to continue after. Now, each page costs the same however many proposals there
        are (keyset pagination); at a past moment every history is replayed first."""
        from flowengine.service import paging

        if as_of is None:
            return paging.page(self, workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue,
                               title=title, sort=sort, after=after, limit=limit, language=language)
        return paging.slice_of(self.proposals(workflow=workflow, state=state, stage=stage, owner=owner,
                                              overdue=overdue, as_of=as_of, sort=sort, title=title,
                                              language=language), after, limit)

    def each_proposal(self, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
                      owner: str | None = None, overdue: bool = False, title: str | None = None, sort: str = "id",
                      after: str | None = None, language: str = "en") -> Iterator[Standing]:
        """Every proposal :meth:`proposals` lists (now), streamed in order: memory holds one batch,
        not the list. Keeps a read transaction open while iterated."""
        from flowengine.service import paging

        return paging.stream(self, workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue,
                             title=title, sort=sort, after=after, language=language)

    def readable_workflows(self, workflows: Sequence[str] = ()) -> tuple[str, ...]:
        """The workflows a read (an export) may cover: those named, if the login may read each;
        else ``()`` (every workflow) for a login that reads them all, or those it holds a role in."""
        from flowengine.service import reading

        return reading.readable_workflows(self, workflows)

    def history(self, proposal_id: str, *, as_of: datetime | None = None) -> tuple[Proposal, list[Event]]:
        """A proposal's events in order; with ``as_of``, those up to that moment and the proposal as it was."""
        from flowengine.service import reading

        return reading.history(self, proposal_id, as_of=within(as_of, _AS_OF))

    def histories(self, *, workflow: str | None = None,
                  as_of: datetime | None = None) -> Iterator[tuple[Proposal, list[Event]]]:
        """Every proposal with its history (of one workflow; up to a moment), streamed in id order:
        memory does not grow with the database. Keeps a read transaction open while iterated."""
        from flowengine.service import reading

        return reading.histories(self, workflow=workflow, as_of=within(as_of, _AS_OF))

    def led_to(self, proposal_id: str, *, as_of: datetime | None = None) -> list[Proposal]:
        """The proposals registered as coming from this one (``from_proposal``), in id order; with
        ``as_of``, those registered by then."""
        from flowengine.service import reading

        return reading.led_to(self, proposal_id, as_of=within(as_of, _AS_OF))

    def links(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None) -> dict[str, list[Proposal]]:
        """Every proposal that led to others (among ``workflows``' proposals, or all), mapped to
        those it led to, as registered by ``as_of``."""
        from flowengine.service import reading

        return reading.links(self, workflows, as_of=within(as_of, _AS_OF))

    def lineage(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
                language: str = "en") -> list[Lineage]:
        """Each proposal that others came from, with where it and each of them stood at ``as_of``."""
        from flowengine.service import reading

        return reading.lineage(self, workflows, as_of=within(as_of, _AS_OF), language=language)

    def workflow_of(self, proposal: Proposal) -> CompiledWorkflow:
        """The definition a proposal runs under (not the file as it reads today)."""
        from flowengine.service.lookup import compiled_of

        with self.database.read() as conn:
            return compiled_of(conn, proposal)

    def definition(self, workflow: str) -> tuple[CompiledWorkflow, str, str]:
        """A workflow as its file reads now, compiled, with its text and source."""
        from flowengine.service.lookup import current_definition

        return current_definition(self, workflow)

    def declared_workflow(self, workflow: str, *, spanning: bool = True) -> Workflow:
        """A workflow as its file declares it now (the newest stored definition when no file has
        it); ``spanning``: plus the states only older stored definitions declare."""
        from flowengine.service.lookup import declared_workflow

        return declared_workflow(self, workflow, spanning=spanning)

    # -- analysis, audit, versions ---------------------------------------------------------

    def analyse(self, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
                meter: Meter | None = None) -> list[Analysis]:
        """Where proposals stall, per workflow (every workflow with proposals when none is named),
        measured against each workflow as its file declares it now, as of a moment. Computed
        from index scans (:mod:`flowengine.analysis.columnar`), equal to
        :func:`flowengine.analysis.reference.analyse` over every history; ``meter`` is told
        ``aggregates.PHASES`` units, then one per workflow."""
        from flowengine.service import analysis

        return analysis.analyse(self, workflows, as_of=within(as_of, _AS_OF), meter=meter)

    def newest_step(self, workflows: Sequence[str] = ()) -> datetime | None:
        """When the newest event of these workflows' proposals (of all, when none is named) happened:
        a history that ended long ago (an imported log) is read as of then, not as of today."""
        from flowengine.service import analysis

        return analysis.newest_step(self, workflows)

    def provenance_marks(self, analyses: Sequence[Analysis]) -> dict[str, Marks]:
        """For histories rebuilt from a source (whose steps record their provenance): which kind
        of step each figure of each analysis rests on, by workflow id; empty when none does."""
        from flowengine.service import analysis

        return analysis.provenance_marks(self, analyses)

    def verify(self) -> AuditReport:
        """Walk every chain; report the first broken link of each damaged proposal."""
        from flowengine.service import audit

        return audit.verify(self)

    def checkpoint(self, signer: Signer) -> Checkpoint:
        """Every chain's head now, their Merkle root and the time, signed; refused while any history fails."""
        from flowengine.service import checkpoints

        return checkpoints.take(self, signer)

    def verify_checkpoints(self, taken: Sequence[Checkpoint], *, trusted_key: bytes | None = None,
                           records: Sequence[Record] = ()) -> CheckpointReport:
        """Hold the database to checkpoints taken before: each sound (signed by ``trusted_key``
        when given, one key for all), each extending the earlier ones, and every chain they list
        still holding its head at its length, or its new head through a conversion ``records`` shows."""
        from flowengine.service import checkpoints

        return checkpoints.check(self, taken, trusted_key, records)

    def erase(self, wanted: ErasureRequest, *, by: Actor | None = None) -> ErasureResult:
        """Erase what ``wanted`` names (admin only), an erasure step in each proposal concerned."""
        from flowengine.service import erasing
        return erasing.erase(self, wanted, by=by or Actor(self.login, "admin"))

    def keep_personal_data_apart(self) -> bool:
        """New events keep personal data apart (format 3) from now on; False if they did (schema 0011 on)."""
        from flowengine.service import erasing
        return erasing.keep_apart(self)

    def workflow_versions(self, workflow: str) -> list[DefinitionVersion]:
        """Every stored definition of a workflow, newest first, with how many proposals run on
        each and how many of those are open; ``current`` marks the one its file reads now."""
        from flowengine.service import migrating

        return migrating.workflow_versions(self, workflow)

    def migrate(self, workflow: str, to: str | Path, *, actor: Actor | None, mapping: Mapping[str, str] | None = None,
                dry_run: bool = False, comment: str = "", at: datetime | None = None,
                meter: Meter | None = None) -> Migration:
        """Move every running proposal of ``workflow`` to the definition in ``to`` (a file, or the
        workflow's id for its file as it reads now), keeping each stay; see
        :mod:`flowengine.service.migration_plan`. All in one transaction, each row under its
        optimistic lock: a proposal someone moves meanwhile makes the whole migration plan again (a
        few times, then ConflictError, nothing written). ``dry_run``: plan only, and ``actor`` may
        be None. Refused, writing nothing, when a state has nowhere to go."""
        from flowengine.service import migrating

        return migrating.migrate(self, workflow, to, actor=actor, mapping=mapping, dry_run=dry_run,
                                 comment=comment, at=within(at, _STEP_TIME), meter=meter)


def _check_upgrader(database: Database) -> None:
    """Upgrading a schema that already has grants (0006 on) takes the admin capability."""
    from flowengine.access.session import login_of, permissions
    from flowengine.i18n import t
    from flowengine.store.schema import SCHEMA_HEAD

    revision = database.schema_revision()
    if revision is None or revision == SCHEMA_HEAD or revision < "0006":
        return
    with database.read() as conn:
        perms = permissions(conn, login_of(conn))
    perms.check_admin(t("upgrade the database's schema"))
