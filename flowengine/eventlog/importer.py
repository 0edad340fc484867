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
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flowengine.clock import iso_utc
from flowengine.errors import InvalidInput, NotFound
from flowengine.eventlog import attributes as col
from flowengine.history import chain
from flowengine.history.records import ADVANCED, CREATED, EVENT_KINDS, FIELDS_SET, NOTED, PROGRESS, REMINDED
from flowengine.history.seal import creation_details, encode_text, seal, seal_encoded, seal_step
from flowengine.meter import Meter, no_meter
from flowengine.service.facade import derived_prefix
from flowengine.store import bulk
from flowengine.suggest import did_you_mean

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from flowengine.definition.model import Workflow
    from flowengine.engine import CompiledWorkflow
    from flowengine.service.facade import FlowEngine

FORMATS = ("csv", "xes")
MAX_PROBLEMS = 50  # reported one by one; the rest are counted
BATCH_EVENTS = 20_000  # rows handed to the driver at once: large enough to amortise, small enough to stay flat
SYSTEM_ROLE = "system"  # the role of the steps the engine takes by itself (escalations, reminders)
ORIGIN_PREFIX = "event log case "
MAX_CASE_CHARS = 180
_TITLE_CHARS = 200
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")  # as records.Actor takes it
_FIRST = itemgetter(0)
_IMPORTABLE = (CREATED, ADVANCED, FIELDS_SET, PROGRESS, REMINDED, NOTED)  # what an exact rebuild takes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What a column can mean, and the standard (XES) name that means it without a mapping.
MEANINGS: dict[str, tuple[str, str]] = {
    "case": (col.CASE, "the case id: one case is one proposal"),
    "activity": (col.ACTIVITY, "the state the proposal is in after the event (a state id or label)"),
    "timestamp": (col.TIMESTAMP, "when the event happened, ISO 8601 with a UTC offset"),
    "actor": (col.RESOURCE, "who acted (a name or pseudonym)"),
    "role": (col.ROLE, "the role they acted in, one of the workflow's"),
    "trigger": (col.TRIGGER, "the transition taken, where several lead to the same state"),
    "comment": (col.COMMENT, "the step's comment"),
    "title": (col.CASE_TITLE, "the proposal's title (default: the case id)"),
    "lifecycle": (col.LIFECYCLE, "the event's lifecycle; only 'complete' events are steps"),
}
_ORDER = tuple(MEANINGS)
# Columns read only from flowengine's own export, under their own names.
_EXACT = (col.SEQ, col.KIND, col.FROM_STATE, col.ENTERED_AT, col.CHANGES, col.DETAILS, col.IDEMPOTENCY_KEY,
          col.HASH, col.CASE_WORKFLOW)
(_CASE, _ACTIVITY, _TIME, _ACTOR, _ROLE, _TRIGGER, _COMMENT, _TITLE, _LIFECYCLE, _SEQ, _KIND, _FROM, _ENTERED,
 _CHANGES, _DETAILS, _KEY, _HASH, _WORKFLOW) = range(len(_ORDER) + len(_EXACT))


class EventLog(Protocol):
    """What the importer needs of a reader (:class:`CsvLog`, :class:`XesLog`)."""

    name: str
    kind: str

    @property
    def header(self) -> list[str] | None: ...

    def where(self, position: Any) -> str: ...

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[Any, Sequence[str]]]: ...


def open_log(path: str | Path, fmt: str | None = None) -> EventLog:
    """A reader for the file, by ``fmt`` or else by its suffix."""
    from flowengine.eventlog.csv_reader import CsvLog
    from flowengine.eventlog.xes_reader import XesLog

    source = Path(path)
    chosen = fmt or next((kind for kind in FORMATS if source.name.lower().endswith(f".{kind}")), None)
    if chosen is None:
        raise InvalidInput(f"cannot tell the format of {source.name} from its name; give --format csv or --format xes")
    if chosen not in FORMATS:
        raise InvalidInput(f"unknown log format '{chosen}'; choose one of: {', '.join(FORMATS)}")
    if not source.is_file():
        raise InvalidInput(f"cannot read {source}: no such file")
    return CsvLog(source) if chosen == "csv" else XesLog(source)


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["Case ID=case", …]`` → ``{"case": "Case ID", …}`` (meaning → column)."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, meaning = item.rpartition("=")
        column, meaning = column.strip(), meaning.strip().lower()
        if not sep or not column or not meaning:
            raise InvalidInput(f"'{item}' is not COLUMN=MEANING; write e.g. --map \"Case ID=case\"")
        if meaning not in MEANINGS:
            raise NotFound("meaning", meaning, list(MEANINGS), hint=f"in --map {item}")
        if meaning in mapping and mapping[meaning] != column:
            raise InvalidInput(f"--map names two columns for the {meaning}: '{mapping[meaning]}' and '{column}'")
        mapping[meaning] = column
    return mapping


@dataclass(frozen=True)
class Problem:
    """One row that breaks the workflow: where it is, its case, and why."""

    where: str
    case: str | None
    reason: str

    def format(self) -> str:
        case = f"case {self.case}: " if self.case is not None else ""
        return f"{self.where}: {case}{self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "case": self.case, "reason": self.reason}


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
                       hint=f"--role takes one of the roles of {compiled.workflow.id}")
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
                raise NotFound("column", column, header, hint=f"in {log.name} (--map \"{column}={meaning}\")")
        for meaning in ("case", "activity", "timestamp"):
            column = chosen[_ORDER.index(meaning)]
            if column not in known:
                standard = MEANINGS[meaning][0]
                listed = ", ".join(header[:20]) + (", …" if len(header) > 20 else "")
                raise InvalidInput(f"{log.name} has no column for the {meaning} ({standard}); name the column "
                                   f"that holds it with --map \"COLUMN={meaning}\" (columns: {listed})")
    return [*chosen, *_EXACT]


def _run(engine: FlowEngine, settings: _Settings, *, grouped: bool) -> ImportReport:
    database = engine.database
    with database.read() if settings.dry_run else database.write() as conn:
        builder = _Builder(engine, conn, settings)
        writer = None if settings.dry_run else bulk.BulkWriter(conn)
        if writer is not None:
            builder.store_definition()
        batch: list[tuple[bulk.ProposalRow, list[bulk.EventRow]]] = []
        times: list[tuple[str, str, str]] = []
        pending = 0
        for case, where, rows in _cases(settings.log, settings.wanted, builder, grouped):
            built = builder.build(case, where, rows)
            if built is None:
                continue
            proposal, history, iso = built
            batch.append((proposal, history))
            times.append(iso)
            pending += len(history)
            if pending >= settings.batch_events:
                builder.flush(writer, batch, times)
                settings.meter(pending)
                batch, times, pending = [], [], 0
        builder.flush(writer, batch, times)
        settings.meter(pending)
        if builder.count:
            raise LogRejected(settings.log.name, settings.compiled.workflow.id, builder.problems, builder.count)
        return builder.report()


def _cases(log: EventLog, wanted: list[str | None], builder: _Builder, grouped: bool
           ) -> Iterator[tuple[str, Any, list[tuple[Any, Sequence[str]]]]]:
    """(case, position of its first row, its rows) in file order; finished events only."""
    rows = log.rows(wanted)
    if grouped:
        by_case: dict[str, list[tuple[Any, Sequence[str]]]] = {}
        for position, values in _complete(rows, builder):
            by_case.setdefault(values[_CASE], []).append((position, values))
        for case, found in by_case.items():
            yield case, found[0][0], found
        return
    done: set[str] = set()
    current: str | None = None
    held: list[tuple[Any, Sequence[str]]] = []
    for position, values in _complete(rows, builder):
        case = values[_CASE]
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


def _complete(rows: Iterable[tuple[Any, Sequence[str]]], builder: _Builder
              ) -> Iterator[tuple[Any, Sequence[str]]]:
    for position, values in rows:
        if not values[_CASE]:
            builder.problem(position, None, f"no case id (the {builder.column('case')} column is empty)")
            continue
        lifecycle = values[_LIFECYCLE]
        if lifecycle and lifecycle.lower() != col.COMPLETE:
            builder.skipped += 1
            continue
        yield position, values


@dataclass
class _Step:
    """A transition resolved once per (state, target, trigger) and reused, with its names
    encoded for the hash once."""

    trigger: str | None
    roles: tuple[str, ...]
    problem: str | None
    source: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        self.encoded = (encode_text(self.source), encode_text(self.target), encode_text(self.trigger))


@dataclass
class _Builder:
    engine: FlowEngine
    conn: Connection
    settings: _Settings
    problems: list[Problem] = field(default_factory=list)
    count: int = 0
    skipped: int = 0
    cases: int = 0
    events: int = 0
    kept: int = 0
    exact: int = 0
    first_id: str | None = None
    last_id: str | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None

    def __post_init__(self) -> None:
        workflow = self.settings.compiled.workflow
        self.workflow: Workflow = workflow
        self.definition = workflow.content_hash
        self.initial = self.settings.compiled.initial
        self.prefix = workflow.prefix or derived_prefix(workflow.id)
        self.id_pattern = re.compile(rf"{re.escape(self.prefix)}-([1-9][0-9]{{0,8}})")
        self.taken = bulk.taken_ids(self.conn)
        self.origins = bulk.origins(self.conn, workflow.id)
        self.next_number = bulk.highest_number(self.conn, self.prefix) + 1
        self.used: set[str] = set()
        self.keys: dict[str, str] = {}  # idempotency key → case, for the keys of this file
        self.batch_keys: dict[str, tuple[Any, str]] = {}
        self.states = _state_index(workflow)
        self.steps: dict[tuple[str, str, str], _Step] = {}
        # (name, role) → (why it is not usable or None, the name encoded, the role encoded)
        self.actors: dict[tuple[str, str], tuple[str | None, str, str]] = {}
        self.default_actor = self.settings.actor or ""
        self.default_role = self.settings.role or _only_role(workflow) or ""
        self.definitions: dict[str, CompiledWorkflow | None] = {self.definition: self.settings.compiled}
        self.created_details = {"title": "", "description": "", "origin": "", "workflow": workflow.id,
                                "workflow_version": workflow.version, "definition": self.definition}

    # -- reporting ---------------------------------------------------------------------------

    def column(self, meaning: str) -> str:
        return self.settings.wanted[_ORDER.index(meaning)] or meaning

    def problem(self, position: Any, case: str | None, reason: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.settings.log.where(position), case, reason))

    def report(self) -> ImportReport:
        return ImportReport(self.settings.log.name, self.workflow.id, self.cases, self.events, self.skipped,
                            self.kept, self.first_id, self.last_id, self.first_at, self.last_at,
                            self.settings.dry_run, self.exact)

    # -- writing -----------------------------------------------------------------------------

    def store_definition(self) -> None:
        from flowengine.store import queries

        if not queries.has_definition(self.conn, self.definition):
            queries.insert_definition(self.conn, content_hash=self.definition, workflow=self.workflow.id,
                                      version=self.workflow.version, source=self.settings.source,
                                      text=self.settings.text, at=self.engine.clock())

    def flush(self, writer: bulk.BulkWriter | None, batch: list[tuple[bulk.ProposalRow, list[bulk.EventRow]]],
              times: list[tuple[str, str, str]]) -> None:
        if self.batch_keys:
            for key in sorted(bulk.taken_keys(self.conn, self.batch_keys)):
                position, case = self.batch_keys[key]
                self.problem(position, case, f"its idempotency key '{key}' is already used by a stored event "
                                             "(this history was imported or recorded before)")
            self.batch_keys = {}
        if writer is not None and not self.count:
            writer.write(batch, iso=times)

    # -- one case ----------------------------------------------------------------------------

    def build(self, case: str, where: Any, rows: list[tuple[Any, Sequence[str]]]
              ) -> tuple[bulk.ProposalRow, list[bulk.EventRow], tuple[str, str, str]] | None:
        self.cases += 1
        if rows[0][1][_KIND]:
            self.exact += 1
            return self._exact(case, where, rows)
        return self._generic(case, where, rows)

    def _moments(self, case: str, rows: list[tuple[Any, Sequence[str]]]
                 ) -> list[tuple[datetime, str, Any, Sequence[str]]]:
        """Rows with an activity and a readable time, as (utc, iso, position, values)."""
        found = []
        assume_utc = self.settings.assume_utc
        for position, values in rows:
            if not values[_ACTIVITY] or not values[_TIME]:
                lacking = [m for m, index in (("activity", _ACTIVITY), ("timestamp", _TIME)) if not values[index]]
                self.problem(position, case, " and ".join(f"no {m} (the {self.column(m)} column is empty)"
                                                          for m in lacking))
                continue
            moment = _moment(values[_TIME], assume_utc)
            if isinstance(moment, str):
                self.problem(position, case, moment)
                continue
            found.append((moment[0], moment[1], position, values))
        return found

    def _identity(self, case: str, where: Any, origin: str | None, exact: bool) -> tuple[str, int] | None:
        """The proposal id of a case: its own when it is one and free, else the next free number."""
        if len(case) > MAX_CASE_CHARS or _CONTROL.search(case):
            self.problem(where, case[:40], f"the case id is not usable (at most {MAX_CASE_CHARS} printable "
                                           "characters)")
            return None
        if origin is not None and origin in self.origins:
            self.problem(where, case, f"this case is already in the database as {self.origins[origin]} "
                                      "(imported before); remove it from the log or import into another database")
            return None
        match = self.id_pattern.fullmatch(case)
        if exact and match and case in self.taken:
            self.problem(where, case, f"{case} is already in the database (imported before, or registered "
                                      "there); remove it from the log or import into another database")
            return None
        if match and case not in self.taken and case not in self.used:
            number = int(match.group(1))
            self.kept += 1
        else:
            number = self.next_number
            while f"{self.prefix}-{number}" in self.taken or f"{self.prefix}-{number}" in self.used:
                number += 1
        pid = f"{self.prefix}-{number}"
        self.used.add(pid)
        self.next_number = max(self.next_number, number + 1)
        return pid, number

    def _who_problem(self, name: str, role: str) -> str | None:
        if not name or not role:
            return "; ".join(f"no {what} (the {self.column(what)} column is empty here; give --{what} for rows "
                             "without one)" for what, value in (("actor", name), ("role", role)) if not value)
        return _actor_problem(self.workflow, name, role)

    def _generic(self, case: str, where: Any, rows: list[tuple[Any, Sequence[str]]]
                 ) -> tuple[bulk.ProposalRow, list[bulk.EventRow], tuple[str, str, str]] | None:
        """A case of a foreign log: created at its first event, then a step per event. The inner
        loop of a bulk import: every lookup is cached, nothing is built that is not stored."""
        before = self.count
        found = self._moments(case, rows)
        found.sort(key=_FIRST)  # stable: events at the same moment keep the file's order
        origin = ORIGIN_PREFIX + case
        identity = self._identity(case, where, origin, exact=False)
        title = (rows[0][1][_TITLE] or case).strip()
        if "\n" in title or len(title) > _TITLE_CHARS:
            self.problem(where, case, f"the title must be one line of at most {_TITLE_CHARS} characters")
        if not found:
            return None
        pid = identity[0] if identity else ""
        encoded_pid = encode_text(pid)
        broken = identity is None or self.count != before
        details = {**self.created_details, "title": title, "origin": origin}
        encoded_details = creation_details(**details)
        states, steps, actors, initial = self.states, self.steps, self.actors, self.initial
        default_actor, default_role = self.default_actor, self.default_role
        history: list[bulk.EventRow] = []
        append = history.append
        prev = chain.GENESIS
        seq = 0
        state: str | None = None
        entered_at, entered_iso = found[0][0], found[0][1]
        for at, iso, position, values in found:
            target = states.get(values[_ACTIVITY])
            if target is None:
                self.problem(position, case, _unknown_activity(self.workflow, values[_ACTIVITY], states))
                broken, state = True, None
                continue
            name, role = values[_ACTOR] or default_actor, values[_ROLE] or default_role
            who = actors.get((name, role))
            if who is None:
                who = actors[(name, role)] = (self._who_problem(name, role), encode_text(name), encode_text(role))
            if who[0] is not None:
                self.problem(position, case, who[0])
                broken = True
            comment = values[_COMMENT]
            if seq == 0:
                seq = 1
                entered_at, entered_iso = at, iso
                if not broken:
                    digest = seal_encoded(prev, pid, 1, CREATED, None, None, initial, name, role, iso, iso,
                                          comment if target == initial else "", "{}", encoded_details, None)
                    append((1, CREATED, None, None, initial, name, role, at, iso, at, iso,
                            comment if target == initial else "", {}, details, None, prev, digest))
                    prev = digest
                state = initial
                if target == initial:
                    continue
            elif state is None:
                state = target  # the event before was unreadable: check the next one from here
                continue
            step = steps.get((state, target, values[_TRIGGER]))
            if step is None:
                step = steps[(state, target, values[_TRIGGER])] = _resolve(self.workflow, state, target,
                                                                            values[_TRIGGER] or None)
            if step.problem is not None:
                self.problem(position, case, step.problem)
                broken = True
            elif step.roles and role not in step.roles and who[0] is None:
                self.problem(position, case, f"role '{role}' may not {step.trigger} from {state} "
                                             f"(roles that may: {', '.join(step.roles)})")
                broken = True
            seq += 1
            if not broken:
                encoded_from, encoded_to, encoded_trigger = step.encoded
                digest = seal_step(prev, who[1], iso, comment, entered_iso, encoded_from, encoded_pid, who[2], seq,
                                   encoded_to, encoded_trigger)
                append((seq, ADVANCED, step.trigger, state, target, name, role, at, iso, entered_at, entered_iso,
                        comment, {}, {}, None, prev, digest))
                prev = digest
            entered_at, entered_iso, state = at, iso, target
        if broken or identity is None or not history:
            return None
        return self._finish(pid, identity[1], title, "", origin, self.definition, history, {})

    def _finish(self, pid: str, number: int, title: str, description: str, origin: str, definition: str,
                history: list[bulk.EventRow], fields: dict[str, Any]
                ) -> tuple[bulk.ProposalRow, list[bulk.EventRow], tuple[str, str, str]]:
        first, last = history[0], history[-1]
        entered = next(event for event in reversed(history) if event[1] in (CREATED, ADVANCED))
        self.events += len(history)
        self.first_id = self.first_id or pid
        self.last_id = pid
        self.first_at = first[7] if self.first_at is None else min(self.first_at, first[7])
        self.last_at = last[7] if self.last_at is None else max(self.last_at, last[7])
        workflow = self.definitions[definition]
        assert workflow is not None
        proposal: bulk.ProposalRow = (pid, self.prefix, number, workflow.workflow.id, definition, title, description,
                                      origin, last[4], fields, first[7], first[5], last[7], entered[7], last[0],
                                      last[16])
        return proposal, history, (first[8], last[8], entered[8])

    def _exact(self, case: str, where: Any, rows: list[tuple[Any, Sequence[str]]]
               ) -> tuple[bulk.ProposalRow, list[bulk.EventRow], tuple[str, str, str]] | None:
        """flowengine's own export: every event rebuilt as it was, in sequence order."""
        before = self.count
        found = self._moments(case, rows)
        numbered: list[tuple[int, datetime, str, Any, Sequence[str]]] = []
        for at, iso, position, values in found:
            text = values[_SEQ]
            if not text.isdigit():
                self.problem(position, case, f"no sequence number ({col.SEQ} is '{text}', not a whole number)")
                continue
            numbered.append((int(text), at, iso, position, values))
        numbered.sort(key=itemgetter(0))
        for expected, (seq, _, _, position, _) in enumerate(numbered, start=1):
            if seq != expected:
                self.problem(position, case, f"sequence number {seq} where {expected} was expected (an event of "
                                             "this case is missing or doubled)")
                return None
        if not numbered or self.count != before:
            return None
        created = _json_object(numbered[0][4][_DETAILS])
        if not isinstance(created, dict):
            self.problem(numbered[0][3], case, f"{col.DETAILS} is not a JSON object")
            return None
        definition = str(created.get("definition", ""))
        compiled = self._definition_of(definition)
        if compiled is None or created.get("workflow") != self.workflow.id:
            self.problem(numbered[0][3], case, _foreign_definition(self.workflow, created))
            return None
        identity = self._identity(case, where, None, exact=True)
        if identity is None:
            return None
        pid, number = identity
        hashed = pid == case
        history: list[bulk.EventRow] = []
        fields: dict[str, Any] = {}
        prev = chain.GENESIS
        state = ""
        previous_at: datetime | None = None
        entered_at, entered_iso = numbered[0][1], numbered[0][2]
        for seq, at, iso, position, values in numbered:
            event = self._exact_event(case, position, values, seq, at, compiled, state, previous_at,
                                      entered_at)
            if event is None:
                return None
            kind, trigger, source, target, actor, role, _, comment, changes, details, key = event
            if kind == CREATED:
                entered_at, entered_iso = at, iso
            digest = seal(prev_hash=prev, proposal=pid, seq=seq, kind=kind, trigger=trigger, from_state=source,
                          to_state=target, actor=actor, role=role, at=iso, entered_at=entered_iso, comment=comment,
                          changes=changes, details=details, idempotency_key=key)
            if hashed and values[_HASH] and values[_HASH] != digest:
                self.problem(position, case, f"the event does not reproduce its {col.HASH} (the row was changed "
                                             f"after the export; leave out the {col.HASH} column to import the "
                                             "rows as they now read, under new hashes)")
                return None
            history.append((seq, kind, trigger, source, target, actor, role, at, iso, entered_at, entered_iso,
                            comment, changes, details, key, prev, digest))
            fields = chain.apply_changes(fields, changes)
            prev, state, previous_at = digest, target, at
            if kind in (CREATED, ADVANCED):
                entered_at, entered_iso = at, iso
        # The row says what the creation event says, even where a pseudonymised export left it empty.
        return self._finish(pid, number, str(created.get("title", "")), str(created.get("description", "")),
                            str(created.get("origin", "")), definition, history, fields)

    def _definition_of(self, definition: str) -> CompiledWorkflow | None:
        """The definition a case was created under: the workflow file's, or one stored already."""
        if definition not in self.definitions:
            from flowengine import engine
            from flowengine.store import queries

            stored = queries.definition_text(self.conn, definition)
            self.definitions[definition] = engine.compiled(definition, *stored) if stored else None
        return self.definitions[definition]

    def _exact_event(self, case: str, position: Any, values: Sequence[str], seq: int, at: datetime,
                     compiled: CompiledWorkflow, state: str, previous_at: datetime | None, entered_at: datetime
                     ) -> tuple[str, str | None, str | None, str, str, str, datetime, str, dict[str, Any],
                                dict[str, Any], str | None] | None:
        workflow = compiled.workflow
        kind = values[_KIND]
        if kind not in _IMPORTABLE:
            if kind in EVENT_KINDS:  # a migration: its definitions do not travel in a log
                self.problem(position, case, f"a '{kind}' event (the proposal was moved to another definition of "
                                             "its workflow) cannot be imported: the log does not carry the "
                                             "definitions; import the history exported before the migration, "
                                             "and migrate again after the import")
            else:
                self.problem(position, case, f"unknown kind '{kind}'; an import takes {', '.join(_IMPORTABLE)}")
            return None
        target = values[_ACTIVITY] or ""
        if target not in workflow.states:
            self.problem(position, case, _unknown_activity(workflow, target, {s: s for s in workflow.states}))
            return None
        trigger, source, key = values[_TRIGGER] or None, values[_FROM] or None, values[_KEY] or None
        entered = _moment(values[_ENTERED], False)
        changes, details = _json_object(values[_CHANGES]), _json_object(values[_DETAILS])
        reasons = []
        if isinstance(entered, str):
            reasons.append(f"{col.ENTERED_AT}: {entered}")
        elif entered[0] != (at if kind == CREATED else entered_at):
            reasons.append(f"its {col.ENTERED_AT} is not when the case entered {source or target}")
        for name, value in ((col.CHANGES, changes), (col.DETAILS, details)):
            if not isinstance(value, dict):
                reasons.append(f"{name} is not a JSON object")
        if isinstance(changes, dict):
            unknown = [name for name in changes if name not in workflow.fields]
            if unknown:
                reasons.append(f"{workflow.id} declares no field {', '.join(unknown)}")
        escalated = isinstance(details, dict) and "escalation" in details
        if kind == CREATED:
            if seq != 1 or source is not None or trigger is not None or target != compiled.initial:
                reasons.append(f"a creation must be the first event and enter {compiled.initial}")
        else:
            if seq == 1:
                reasons.append("the history does not start with the proposal's creation")
            if source != state:
                reasons.append(f"leaves '{source}' but the case was in '{state}'")
            if previous_at is not None and at < previous_at:
                reasons.append(f"time goes backwards: {iso_utc(at)} is before the event it follows "
                               f"({iso_utc(previous_at)})")
            if kind == ADVANCED:
                step = _resolve(workflow, state, target, trigger)
                if step.problem is not None:
                    reasons.append(step.problem)
                elif step.roles and values[_ROLE] not in step.roles and not escalated:
                    reasons.append(f"role '{values[_ROLE]}' may not {trigger} (roles that may: "
                                   f"{', '.join(step.roles)})")
            elif target != source:
                reasons.append(f"a '{kind}' event stays in its state, but this one goes from {source} to {target}")
        name, role = values[_ACTOR] or "", values[_ROLE] or ""
        if not (role == SYSTEM_ROLE and (escalated or kind in (REMINDED, PROGRESS, FIELDS_SET))):
            problem = _actor_problem(workflow, name, role)
            if problem is not None:
                reasons.append(problem)
        if key is not None:
            if key in self.keys:
                reasons.append(f"its idempotency key '{key}' is used again (first by case {self.keys[key]})")
            self.keys[key] = case
            self.batch_keys[key] = (position, case)
        if reasons:
            self.problem(position, case, "; ".join(reasons))
            return None
        assert isinstance(entered, tuple) and isinstance(changes, dict) and isinstance(details, dict)
        return kind, trigger, source, target, name, role, entered[0], values[_COMMENT] or "", changes, details, key


def _moment(text: str, assume_utc: bool) -> tuple[datetime, str] | str:
    """(aware UTC, iso_utc text) of a timestamp, or why it is unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return (f"bad timestamp '{text}': write ISO 8601 with a UTC offset, e.g. 2019-03-01T09:30:00+01:00 "
                "or 2019-03-01 09:30:00Z")
    if moment.tzinfo is None:
        if not assume_utc:
            return (f"timestamp '{text}' has no UTC offset, so the moment is unknown; add the offset, or give "
                    "--assume-utc to read such times as UTC")
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        return utc, iso_utc(utc)
    return utc, utc.isoformat(timespec="microseconds")[:26] + "Z"


def _json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _state_index(workflow: Workflow) -> dict[str, str]:
    """Activity name → state id: each state by its id, then by each of its labels."""
    index: dict[str, str] = {}
    for sid, state in workflow.states.items():
        for _, label in state.labels.texts:
            index.setdefault(label, sid)
    index.update({sid: sid for sid in workflow.states})
    return index


def _unknown_activity(workflow: Workflow, activity: str, index: Mapping[str, str]) -> str:
    close = did_you_mean(activity, list(index))
    guess = f"did you mean '{close}'?" if close else f"states: {', '.join(list(workflow.states)[:12])}"
    return f"unknown activity '{activity}': no state of {workflow.id} has it as id or label ({guess})"


def _resolve(workflow: Workflow, source: str, target: str, trigger: str | None) -> _Step:
    """The declared transition from ``source`` into ``target`` (``trigger`` says which, if given)."""
    outgoing = workflow.outgoing(source)
    allowed = ", ".join(f"{t.trigger} → {t.target}" for t in outgoing) or "none: it is final"
    if trigger is not None:
        chosen = next((t for t in outgoing if t.trigger == trigger), None)
        if chosen is None:
            return _Step(None, (), f"no transition '{trigger}' leads out of {source} (allowed from {source}: "
                                   f"{allowed})")
        if chosen.target != target:
            return _Step(None, (), f"'{trigger}' leads from {source} to {chosen.target}, but the log has {target}")
        return _Step(trigger, chosen.roles, None, source, target)
    leading = [t for t in outgoing if t.target == target]
    if not leading:
        return _Step(None, (), f"no declared transition from {source} to {target} (allowed from {source}: "
                               f"{allowed})")
    if len(leading) > 1:
        names = ", ".join(t.trigger for t in leading)
        return _Step(None, (), f"{len(leading)} transitions lead from {source} to {target} ({names}); the log "
                               "must say which in a trigger column (--map COLUMN=trigger)")
    return _Step(leading[0].trigger, leading[0].roles, None, source, target)


def _actor_problem(workflow: Workflow, name: str, role: str) -> str | None:
    if not name.strip() or not _NAME.match(name):
        return f"actor '{name[:70]}' is not usable: 1 to 64 printable characters"
    if workflow.roles and role not in workflow.roles:
        close = did_you_mean(role, list(workflow.roles))
        hint = f"did you mean '{close}'?" if close else f"roles: {', '.join(workflow.roles)}"
        return f"role '{role}' is not a role of {workflow.id} ({hint})"
    return None


def _only_role(workflow: Workflow) -> str | None:
    return next(iter(workflow.roles)) if len(workflow.roles) == 1 else None


def _foreign_definition(workflow: Workflow, created: Mapping[str, Any]) -> str:
    named = str(created.get("workflow", "?"))
    if named != workflow.id:
        return f"the case belongs to workflow '{named}', not {workflow.id}; import it with --workflow {named}"
    return (f"the case was created under definition {str(created.get('definition', '?'))[:12]} of {workflow.id}, "
            f"but its file now reads {workflow.content_hash[:12]} and the database does not hold the older one; "
            "import with the workflow file as it was when the log was exported")

