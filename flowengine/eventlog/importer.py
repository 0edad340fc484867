"""Historical records as histories: a CSV or XES event log imported under a workflow.

Read as process mining reads a log (see :mod:`flowengine.eventlog.attributes`):

- each case is a proposal; the activity of an event names the state the proposal is in after
  it — a state's id, or one of its labels (so a workflow written for a log labels its states
  with the log's activity names);
- a case's events are sorted by time, stably (events at the same moment keep the file's order);
- the first event creates the proposal. When its activity is not the workflow's initial state,
  the proposal is created in the initial state at that moment and stepped at once, by the
  declared transition, to the activity's state (refused when none is declared);
- every later event is a step by the transition declared from the current state to the
  activity's state: the trigger column says which when several are declared, and must agree
  with the log when given; one declared is taken as it is; none is an error listing the
  allowed ones. Steps back into the same state are steps too (they need a declared loop);
- only finished events count: an event whose ``lifecycle:transition`` is given and is not
  ``complete`` (a *start*, a *schedule*) is skipped and counted.

When a case carries flowengine's own columns (``flowengine:kind`` …, written by flowengine's
export), each event is rebuilt exactly — sequence number, kind, trigger, from-state, times,
comment, field changes, details, idempotency key — in ``flowengine:seq`` order, so that the
import of an export reproduces every hash of every chain; a ``flowengine:hash`` that the rebuilt
event does not reproduce is an error (the row was edited after the export; leave the column
out to import the rows as they now read, under new hashes). An event of format 3 travels with
its commitments and salts (``flowengine:erasable``, see :mod:`flowengine.eventlog.carrying`): it
is rebuilt under the same commitments, its kept values erasable again, its erased ones erased.
The events of a log from elsewhere are of the database's format: of format 3 (personal data
kept apart, erasable) where the database records so.

Proposal ids: a case id that is already a proposal id of the workflow's prefix (``LOG-17``), and
is free, is kept; every other case gets the next free number, in the order the cases come. The
proposal's origin records the log's case id (``event log case case-10011``; an exact rebuild
keeps the origin the export carried), which is how a second import of the same log is
recognised and refused, case by case.

Guards about fields and comments (``requires``, ``requires_comment``) are not checked on generic
logs: a log records what happened, not the forms that were filled in. Roles are: the actor's
role must be one of the workflow's and allowed to fire the step.

The unit is the whole file, in one transaction: every problem found is reported (each with its
line or trace and event, the case, and why), and if there is any, nothing is written. Into a
new SQLite database, the secondary indexes are built once at the end of that transaction rather
than row by row (:class:`flowengine.store.bulk.BulkWriter`). Cases are
streamed as they come when the log is grouped by case (as XES always is, and as flowengine,
PM4Py and most tools write CSV), so memory stays that of one batch; a CSV whose cases are
scattered over the file is read again and grouped in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flowengine.clock import iso_utc
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.eventlog import attributes as col
from flowengine.eventlog.cases import MAX_PROBLEMS, CaseBuilder
from flowengine.eventlog.csv_reader import CsvLog
from flowengine.eventlog.fitting import Problem
from flowengine.eventlog.meanings import CASE, LIFECYCLE, MEANINGS
from flowengine.eventlog.reading import FORMATS, EventLog, collection_paused, columns, open_log, parse_mapping, readers
from flowengine.eventlog.rejects import Rejects, RejectsFile
from flowengine.history.steps import EventRow
from flowengine.i18n import t, tn
from flowengine.meter import Meter, no_meter
from flowengine.service.writing import personal_fields
from flowengine.store import bulk, queries

if TYPE_CHECKING:
    from flowengine.engine import CompiledWorkflow
    from flowengine.service.facade import FlowEngine

BATCH_EVENTS = 20_000  # rows handed to the driver at once: large enough to amortise, small enough to stay flat

__all__ = ["BATCH_EVENTS", "FORMATS", "MAX_PROBLEMS", "MEANINGS", "EventLog", "Fitness", "ImportReport",
           "LogRejected", "Problem", "Rejects", "RejectsFile", "import_log", "open_log", "parse_mapping", "readers"]


@dataclass(frozen=True)
class Fitness:
    """How much of a log fits the workflow: the share of its cases, and of their events, that can
    be replayed on it as they are — what process miners call a log's fitness. Events are the
    finished ones (lifecycle ``complete``), rows without a case id counting as events that do not fit."""

    cases: int
    cases_fit: int
    events: int
    events_fit: int

    @property
    def case_share(self) -> float:
        return self.cases_fit / self.cases if self.cases else 1.0

    @property
    def event_share(self) -> float:
        return self.events_fit / self.events if self.events else 1.0

    def text(self) -> str:
        return t("{case_share} of cases ({cases_fit} of {cases}), {event_share} of events ({events_fit} of {events})",
                 case_share=_percent(self.case_share), cases_fit=f"{self.cases_fit:,}", cases=f"{self.cases:,}",
                 event_share=_percent(self.event_share), events_fit=f"{self.events_fit:,}", events=f"{self.events:,}")

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "cases_fit": self.cases_fit, "case_share": self.case_share,
                "events": self.events, "events_fit": self.events_fit, "event_share": self.event_share}


def _percent(share: float) -> str:
    """One decimal, never rounded up to 100 % while something does not fit (nor down to 0 %)."""
    shown = f"{100 * share:.1f}"
    if shown == "100.0" and share < 1:
        shown = "99.9"
    elif shown == "0.0" and share > 0:
        shown = "0.1"
    return f"{shown} %"


class LogRejected(InvalidInput):
    """The log does not fit the workflow; ``problems`` holds the first :data:`MAX_PROBLEMS`,
    ``count`` all of them; ``fitness`` how much of it fits. Nothing was written."""
    def __init__(self, log: str, workflow: str, problems: Sequence[Problem], count: int,
                 fitness: Fitness | None = None) -> None:
        self.log = log
        self.workflow = workflow
        self.problems = tuple(problems)
        self.count = count
        self.fitness = fitness
        more = "\n" + t("… and {n} more", n=count - len(self.problems)) if count > len(self.problems) else ""
        listed = "\n".join(problem.format() for problem in self.problems)
        counted = tn("{n} problem", "{n} problems", count)
        if fitness is not None:
            counted = t("{problems} in {unfit} of {cases} cases", problems=counted,
                        unfit=f"{fitness.cases - fitness.cases_fit:,}", cases=f"{fitness.cases:,}")
        fit = "" if fitness is None else " — " + t("fitness: {fitness}", fitness=fitness.text())
        super().__init__(t("cannot import {log} under {workflow}: {problems}; nothing was written", log=log,
                           workflow=workflow, problems=counted) + f"{fit}\n{listed}{more}")

    @property
    def summary(self) -> str:
        return str(self).partition("\n")[0]


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do). ``cases`` and ``events`` are those imported;
    with ``keep_going``, ``fitness`` says how many did not fit, and ``problems`` counts why."""

    log: str
    workflow: str
    cases: int
    events: int
    skipped: int  # events not 'complete'
    kept_ids: int  # cases whose id became the proposal's id
    first_id: str | None
    last_id: str | None
    first_at: datetime | None
    last_at: datetime | None
    dry_run: bool
    exact: int  # cases rebuilt exactly from flowengine's own columns
    fitness: Fitness | None = None
    problems: int = 0
    imported_at: datetime | None = None  # the clock's time of the import, against which last_at is long past or not

    @property
    def long_past(self) -> bool:
        """Whether the newest event is so long before the import that reports, as of today, would
        show every open case waiting since then: an as-of date at the log's end reads it as it stood."""
        from flowengine.analysis.figures import long_past

        return self.last_at is not None and self.imported_at is not None and long_past(self.last_at,
                                                                                      self.imported_at)

    def as_dict(self) -> dict[str, Any]:
        return {"log": self.log, "workflow": self.workflow, "cases": self.cases, "events": self.events,
                "skipped": self.skipped, "kept_ids": self.kept_ids, "first_id": self.first_id,
                "last_id": self.last_id, "first_at": iso_utc(self.first_at) if self.first_at else None,
                "last_at": iso_utc(self.last_at) if self.last_at else None, "dry_run": self.dry_run,
                "exact": self.exact, "fitness": self.fitness.as_dict() if self.fitness else None,
                "problems": self.problems, "last_event_long_past": self.long_past}


def import_log(engine: FlowEngine, path: str | Path, workflow: str, *, fmt: str | None = None,
               mapping: Mapping[str, str] | None = None, actor: str | None = None, role: str | None = None,
               assume_utc: bool = False, dry_run: bool = False, meter: Meter = no_meter,
               batch_events: int = BATCH_EVENTS, keep_going: bool = False,
               rejects: Rejects | None = None, raw_cells: bool = False) -> ImportReport:
    """Import every case of the log at ``path`` as a proposal under ``workflow``, in one
    transaction; :class:`LogRejected` (naming every problem) and nothing written if any case
    does not fit — unless ``keep_going``: then the cases that fit are imported and the others
    left out, every problem handed to ``rejects`` as it is found (:class:`RejectsFile`). ``actor``/``role``: for
    events whose log names none. ``raw_cells``: a CSV log's cells as they are, keeping the apostrophe the
    export puts before a formula (:mod:`flowengine.views.spreadsheet`)."""
    log = open_log(path, fmt)
    if raw_cells and isinstance(log, CsvLog):
        log.raw_cells = True
    compiled, text, source = engine.definition(workflow)
    wanted = columns(log, dict(mapping or {}))
    if role is not None and compiled.workflow.roles and role not in compiled.workflow.roles:
        raise NotFound("role", role, list(compiled.workflow.roles),
                       hint=t("the default role is one of the roles of {workflow}", workflow=compiled.workflow.id))
    settings = _Settings(log, compiled, text, source, wanted, actor, role, assume_utc, dry_run, meter,
                         max(1, batch_events), keep_going, rejects)
    with collection_paused():
        try:
            return _run(engine, settings, grouped=False)
        except _Scattered:
            if rejects is not None:
                rejects.restart()  # read again from the start: what the first pass found comes again
            return _run(engine, settings, grouped=True)


# -- inside -----------------------------------------------------------------------------------

class _Scattered(Exception):
    """A case came back after other cases: the file is not grouped by case."""


@dataclass(frozen=True)
class _Settings:
    log: EventLog
    compiled: CompiledWorkflow
    text: str
    source: str
    wanted: list[str | None]
    actor: str | None
    role: str | None
    assume_utc: bool
    dry_run: bool
    meter: Meter
    batch_events: int
    keep_going: bool
    rejects: Rejects | None


@dataclass
class _Tally:
    """Cases and events that fit and that do not, for the fitness."""

    cases: int = 0
    cases_fit: int = 0
    events: int = 0
    events_fit: int = 0

    def fitness(self) -> Fitness:
        return Fitness(self.cases, self.cases_fit, self.events, self.events_fit)


def _run(engine: FlowEngine, settings: _Settings, *, grouped: bool) -> ImportReport:
    database = engine.database
    with (database.read() if settings.dry_run else database.write() as conn,
          _Background(threaded=database.dialect != "sqlite") as background):
        if not settings.dry_run:
            engine.permissions(conn).check_admin(t("import an event log"))
        builder = CaseBuilder(conn, settings.compiled, settings.log.where, settings.wanted, settings.actor,
                              settings.role, settings.assume_utc,
                              on_problem=settings.rejects.add if settings.rejects is not None else None,
                              settle=background.wait, stamp=engine.stamp(conn),
                              erasable=personal_fields(conn, settings.compiled.workflow))
        writer = None if settings.dry_run else bulk.BulkWriter(conn)
        if writer is not None:
            workflow = settings.compiled.workflow
            if not queries.has_definition(conn, workflow.content_hash):
                queries.insert_definition(conn, content_hash=workflow.content_hash, workflow=workflow.id,
                                          version=workflow.version, source=settings.source, text=settings.text,
                                          at=engine.clock())
        tally = _Tally()
        batch: list[tuple[bulk.ProposalRow, list[EventRow]]] = []
        names: list[tuple[str, int]] = []  # each batch entry's case and its number of rows
        times: list[tuple[str, str, str]] = []
        pending = 0
        for case, where, rows in _cases(settings.log, builder, grouped, tally):
            tally.cases += 1
            tally.events += len(rows)
            before = builder.count
            built = builder.build(case, where, rows)
            if built is None or builder.count != before:
                continue
            proposal, history, iso = built
            batch.append((proposal, history))
            names.append((case, len(rows)))
            times.append(iso)
            pending += len(history)
            if pending >= settings.batch_events:
                _flush(builder, writer, batch, names, times, tally, settings.keep_going, background)
                settings.meter(pending)
                batch, names, times, pending = [], [], [], 0
        _flush(builder, writer, batch, names, times, tally, settings.keep_going, background)
        background.wait()
        settings.meter(pending)
        if builder.count and not settings.keep_going:
            fitness = tally.fitness()
            raise LogRejected(settings.log.name, settings.compiled.workflow.id, builder.problems, builder.count,
                              fitness).fixed_by(*builder.remedies, *([Remedy("keep_going")] if fitness.cases_fit
                                                                     else []))
        if writer is not None:
            writer.finish()  # the indexes a first import set aside, built once from the stored rows
        return ImportReport(settings.log.name, settings.compiled.workflow.id, tally.cases_fit, builder.events,
                            builder.skipped, builder.kept, builder.first_id, builder.last_id, builder.first_at,
                            builder.last_at, settings.dry_run, builder.exact, tally.fitness(), builder.count,
                            engine.clock())


def _flush(builder: CaseBuilder, writer: bulk.BulkWriter | None, batch: list[tuple[bulk.ProposalRow, list[EventRow]]],
           names: list[tuple[str, int]], times: list[tuple[str, str, str]], tally: _Tally, keep_going: bool,
           background: _Background) -> None:
    """Write the batch (on the background thread): all of it, or with ``keep_going`` the cases
    whose keys are free."""
    refused = builder.check_keys()
    if refused:
        kept = [index for index, (case, _) in enumerate(names) if case not in refused]
        batch, names, times = [batch[i] for i in kept], [names[i] for i in kept], [times[i] for i in kept]
    for (_, history), (_, rows) in zip(batch, names, strict=True):
        builder.accept(history)
        tally.cases_fit += 1
        tally.events_fit += rows
    if writer is not None and (keep_going or not builder.count):
        background.submit(writer.write, batch, iso=times)


class _Background:
    """On PostgreSQL, one batch written on another thread while this one reads and seals the
    next: the server upkeeps the indexes in its own process, and the driver lets go of the
    interpreter lock while it waits for it, so the building and the writing overlap. At most one
    write is in flight, the connection is used by one thread at a time (:meth:`wait` before any
    other use of it), and a write's error is raised here, in the importing thread.

    On SQLite (``threaded`` False) each batch is written here, in turn: the driver needs the
    interpreter lock again between every two rows it steps through, and a thread waiting for the
    lock gets it only when the importing thread gives it up (every few milliseconds, or when it
    waits for the write), so a second thread overlapped nothing — a quiet 2-core machine showed the
    import at one core's worth of CPU — and only added the hand-overs."""

    def __init__(self, *, threaded: bool) -> None:
        self._pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowengine-import-writer") if threaded
                      else None)
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        self.wait()
        if self._pool is None:
            write(*args, **kwargs)
        else:
            self._pending = self._pool.submit(write, *args, **kwargs)

    def wait(self) -> None:
        """Return when no write is in flight; the last write's error, if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # let it finish (the transaction rolls back after); the first error wins
                self._pending = None
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _cases(log: EventLog, builder: CaseBuilder, grouped: bool, tally: _Tally
           ) -> Iterator[tuple[str, Any, list[tuple[Any, Sequence[str]]]]]:
    """(case, position of its first row, its rows) in file order; finished events only. A row
    without a case id is a problem (and an event that does not fit); one whose lifecycle is not
    ``complete`` is skipped and counted. Each row passes here once: one loop, no layers."""
    complete = col.COMPLETE
    by_case: dict[str, list[tuple[Any, Sequence[str]]]] = {}
    done: set[str] = set()
    current: str | None = None
    held: list[tuple[Any, Sequence[str]]] = []
    for row in log.rows(builder.columns):
        values = row[1]
        case = values[CASE]
        if not case:
            builder.problem(row[0], None, t("no case id (the {column} column is empty)", column=builder.column("case")))
            tally.events += 1
            continue
        lifecycle = values[LIFECYCLE]
        if lifecycle and lifecycle.lower() != complete:
            builder.skipped += 1
            continue
        if grouped:
            by_case.setdefault(case, []).append(row)
            continue
        if case != current:
            if current is not None:
                yield current, held[0][0], held
                done.add(current)
            if case in done:
                raise _Scattered
            current, held = case, []
        held.append(row)
    if current is not None:
        yield current, held[0][0], held
    for case, found in by_case.items():
        yield case, found[0][0], found
