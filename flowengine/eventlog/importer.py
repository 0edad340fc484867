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
out to import the rows as they now read, under new hashes).

Proposal ids: a case id that is already a proposal id of the workflow's prefix (``LOG-17``), and
is free, is kept; every other case gets the next free number, in the order the cases come. The
proposal's origin records the log's case id (``event log case case-10011``; an exact rebuild
keeps the origin the export carried), which is how a second import of the same log is
recognised and refused, case by case.

Guards about fields and comments (``requires``, ``requires_comment``) are not checked on generic
logs: a log records what happened, not the forms that were filled in. Roles are: the actor's
role must be one of the workflow's and allowed to fire the step.

The unit is the whole file, in one transaction: every problem found is reported (each with its
line or trace and event, the case, and why), and if there is any, nothing is written. Cases are
streamed as they come when the log is grouped by case (as XES always is, and as flowengine,
PM4Py and most tools write CSV), so memory stays that of one batch; a CSV whose cases are
scattered over the file is read again and grouped in memory.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flowengine.clock import iso_utc
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.eventlog import attributes as col
from flowengine.eventlog.cases import MAX_PROBLEMS, CaseBuilder, Problem
from flowengine.eventlog.formats import import_format_names, import_formats, suffixes
from flowengine.eventlog.meanings import CASE, EXACT, LIFECYCLE, MEANINGS, ORDER
from flowengine.history.steps import EventRow
from flowengine.meter import Meter, no_meter
from flowengine.store import bulk, queries

if TYPE_CHECKING:
    from flowengine.engine import CompiledWorkflow
    from flowengine.service.facade import FlowEngine

FORMATS = import_format_names()
BATCH_EVENTS = 20_000  # rows handed to the driver at once: large enough to amortise, small enough to stay flat

__all__ = ["BATCH_EVENTS", "FORMATS", "MAX_PROBLEMS", "MEANINGS", "EventLog", "ImportReport", "LogRejected",
           "Problem", "import_log", "open_log", "parse_mapping"]


class EventLog(Protocol):
    """What the importer needs of a reader (:class:`CsvLog`, :class:`XesLog`, :class:`OcelLog`)."""

    name: str
    kind: str

    @property
    def header(self) -> list[str] | None: ...

    def where(self, position: Any) -> str: ...

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[Any, Sequence[str]]]: ...


def open_log(path: str | Path, fmt: str | None = None) -> EventLog:
    """A reader for the file, by ``fmt`` or else by its suffix (``.gz`` left off: a compressed
    file is told by its first bytes)."""
    from flowengine.eventlog.sources import format_by_name

    source = Path(path)
    chosen = fmt or format_by_name(source.name, suffixes(import_formats()))
    if chosen is None:
        raise InvalidInput(f"cannot tell the format of {source.name} from its name; say whether it is "
                           f"{' or '.join(FORMATS)}").fixed_by(Remedy("log_format"))
    if chosen not in FORMATS:
        raise InvalidInput(f"unknown log format '{chosen}'; choose one of: {', '.join(FORMATS)}")
    if not source.is_file():
        raise InvalidInput(f"cannot read {source}: no such file")
    return readers()[chosen](source)


def readers() -> dict[str, Callable[[Path], EventLog]]:
    """The reader of each format in :data:`FORMATS` (imported when a log is opened)."""
    from flowengine.eventlog.csv_reader import CsvLog
    from flowengine.eventlog.ocel_reader import OcelLog
    from flowengine.eventlog.xes_reader import XesLog

    return {"csv": CsvLog, "xes": XesLog, "ocel": OcelLog}


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["Case ID=case", …]`` → ``{"case": "Case ID", …}`` (meaning → column)."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, meaning = item.rpartition("=")
        column, meaning = column.strip(), meaning.strip().lower()
        if not sep or not column or not meaning:
            raise InvalidInput(f"'{item}' is not COLUMN=MEANING, e.g. \"Case ID=case\"")
        if meaning not in MEANINGS:
            raise NotFound("meaning", meaning, list(MEANINGS), hint=f"in the column map {item}")
        if meaning in mapping and mapping[meaning] != column:
            raise InvalidInput(f"the column map names two columns for the {meaning}: '{mapping[meaning]}' and "
                               f"'{column}'")
        mapping[meaning] = column
    return mapping


class LogRejected(InvalidInput):
    """The log does not fit the workflow; ``problems`` holds the first :data:`MAX_PROBLEMS`,
    ``count`` all of them. Nothing was written."""
    def __init__(self, log: str, workflow: str, problems: Sequence[Problem], count: int) -> None:
        self.log = log
        self.workflow = workflow
        self.problems = tuple(problems)
        self.count = count
        more = f"\n… and {count - len(self.problems)} more" if count > len(self.problems) else ""
        listed = "\n".join(problem.format() for problem in self.problems)
        super().__init__(f"cannot import {log} under {workflow}: {count} problem{'s' if count != 1 else ''}; "
                         f"nothing was written\n{listed}{more}")

    @property
    def summary(self) -> str:
        return str(self).partition("\n")[0]


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

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

    def as_dict(self) -> dict[str, Any]:
        return {"log": self.log, "workflow": self.workflow, "cases": self.cases, "events": self.events,
                "skipped": self.skipped, "kept_ids": self.kept_ids, "first_id": self.first_id,
                "last_id": self.last_id, "first_at": iso_utc(self.first_at) if self.first_at else None,
                "last_at": iso_utc(self.last_at) if self.last_at else None, "dry_run": self.dry_run,
                "exact": self.exact}


def import_log(engine: FlowEngine, path: str | Path, workflow: str, *, fmt: str | None = None,
               mapping: Mapping[str, str] | None = None, actor: str | None = None, role: str | None = None,
               assume_utc: bool = False, dry_run: bool = False, meter: Meter = no_meter,
               batch_events: int = BATCH_EVENTS) -> ImportReport:
    """Import every case of the log at ``path`` as a proposal under ``workflow``, in one
    transaction; :class:`LogRejected` (naming every problem) and nothing written if any case
    does not fit. ``actor``/``role``: for events whose log names none."""
    log = open_log(path, fmt)
    compiled, text, source = engine.definition(workflow)
    wanted = _columns(log, dict(mapping or {}))
    if role is not None and compiled.workflow.roles and role not in compiled.workflow.roles:
        raise NotFound("role", role, list(compiled.workflow.roles),
                       hint=f"the default role is one of the roles of {compiled.workflow.id}")
    settings = _Settings(log, compiled, text, source, wanted, actor, role, assume_utc, dry_run, meter,
                         max(1, batch_events))
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived tuples and no cycles: the collector's passes would only cost time
    try:
        try:
            return _run(engine, settings, grouped=False)
        except _Scattered:
            return _run(engine, settings, grouped=True)
    finally:
        if collecting:
            gc.enable()


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


def _columns(log: EventLog, mapping: dict[str, str]) -> list[str | None]:
    """The column of each meaning (then flowengine's own), checked against a CSV's header."""
    chosen = [mapping.get(meaning, standard) for meaning, (standard, _) in MEANINGS.items()]
    header = log.header
    if header is not None:
        known = set(header)
        for meaning, column in mapping.items():
            if column not in known:
                raise NotFound("column", column, header, hint=f"in {log.name}").fixed_by(
                    Remedy("column", column, meaning))
        for meaning in ("case", "activity", "timestamp"):
            column = chosen[ORDER.index(meaning)]
            if column not in known:
                standard = MEANINGS[meaning][0]
                listed = ", ".join(header[:20]) + (", …" if len(header) > 20 else "")
                raise InvalidInput(f"{log.name} has no column for the {meaning} ({standard}); name the column "
                                   f"that holds it (columns: {listed})").fixed_by(Remedy("column", "COLUMN", meaning))
    return [*chosen, *EXACT]


def _run(engine: FlowEngine, settings: _Settings, *, grouped: bool) -> ImportReport:
    database = engine.database
    with database.read() if settings.dry_run else database.write() as conn:
        builder = CaseBuilder(conn, settings.compiled, settings.log.where, settings.wanted, settings.actor,
                              settings.role, settings.assume_utc)
        writer = None if settings.dry_run else bulk.BulkWriter(conn)
        if writer is not None:
            workflow = settings.compiled.workflow
            if not queries.has_definition(conn, workflow.content_hash):
                queries.insert_definition(conn, content_hash=workflow.content_hash, workflow=workflow.id,
                                          version=workflow.version, source=settings.source, text=settings.text,
                                          at=engine.clock())
        batch: list[tuple[bulk.ProposalRow, list[EventRow]]] = []
        times: list[tuple[str, str, str]] = []
        pending = 0
        for case, where, rows in _cases(settings.log, builder, grouped):
            built = builder.build(case, where, rows)
            if built is None:
                continue
            proposal, history, iso = built
            batch.append((proposal, history))
            times.append(iso)
            pending += len(history)
            if pending >= settings.batch_events:
                _flush(builder, writer, batch, times)
                settings.meter(pending)
                batch, times, pending = [], [], 0
        _flush(builder, writer, batch, times)
        settings.meter(pending)
        if builder.count:
            raise LogRejected(settings.log.name, settings.compiled.workflow.id, builder.problems,
                              builder.count).fixed_by(*builder.remedies)
        return ImportReport(settings.log.name, settings.compiled.workflow.id, builder.cases, builder.events,
                            builder.skipped, builder.kept, builder.first_id, builder.last_id, builder.first_at,
                            builder.last_at, settings.dry_run, builder.exact)


def _flush(builder: CaseBuilder, writer: bulk.BulkWriter | None,
           batch: list[tuple[bulk.ProposalRow, list[EventRow]]], times: list[tuple[str, str, str]]) -> None:
    builder.check_keys()
    if writer is not None and not builder.count:
        writer.write(batch, iso=times)


def _cases(log: EventLog, builder: CaseBuilder, grouped: bool
           ) -> Iterator[tuple[str, Any, list[tuple[Any, Sequence[str]]]]]:
    """(case, position of its first row, its rows) in file order; finished events only."""
    rows = log.rows(builder.columns)
    if grouped:
        by_case: dict[str, list[tuple[Any, Sequence[str]]]] = {}
        for position, values in _complete(rows, builder):
            by_case.setdefault(values[CASE], []).append((position, values))
        for case, found in by_case.items():
            yield case, found[0][0], found
        return
    done: set[str] = set()
    current: str | None = None
    held: list[tuple[Any, Sequence[str]]] = []
    for position, values in _complete(rows, builder):
        case = values[CASE]
        if case != current:
            if current is not None:
                yield current, held[0][0], held
                done.add(current)
            if case in done:
                raise _Scattered
            current, held = case, []
        held.append((position, values))
    if current is not None:
        yield current, held[0][0], held


def _complete(rows: Iterable[tuple[Any, Sequence[str]]], builder: CaseBuilder
              ) -> Iterator[tuple[Any, Sequence[str]]]:
    for position, values in rows:
        if not values[CASE]:
            builder.problem(position, None, f"no case id (the {builder.column('case')} column is empty)")
            continue
        lifecycle = values[LIFECYCLE]
        if lifecycle and lifecycle.lower() != col.COMPLETE:
            builder.skipped += 1
            continue
        yield position, values
