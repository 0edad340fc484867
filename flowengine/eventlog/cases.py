"""One case of an event log becomes one proposal with its history: the rows checked against
the workflow, and the events built by the one step builder
(:class:`flowengine.history.steps.ChainBuilder`), as every other write path builds them.

A case of a foreign log is created at its first event and stepped by the declared transitions;
a case of flowengine's own export is rebuilt exactly (see :mod:`flowengine.eventlog.importer`).
Every problem is collected with its place in the file, never raised, so that one import
reports them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from flowengine.clock import iso_utc
from flowengine.errors import Remedy
from flowengine.eventlog import attributes as col
from flowengine.eventlog.carrying import read_carried
from flowengine.eventlog.fitting import (
    NoOffset,
    Problem,
    Resolved,
    actor_and_role_problem,
    foreign_definition,
    json_object,
    only_role,
    read_moment,
    read_stamp,
    resolve,
    state_index,
    unimportable,
    unknown_activity,
)
from flowengine.eventlog.meanings import (
    ACTIVITY,
    ACTOR,
    CHANGES,
    COMMENT,
    DETAILS,
    ENTERED,
    ERASABLE,
    FROM,
    HASH,
    KEY,
    KIND,
    ORDER,
    ROLE,
    SEQ,
    TIME,
    TITLE,
    TRIGGER,
)
from flowengine.history import chain, erasure, inputs
from flowengine.history.records import (
    ADVANCED,
    CREATED,
    ERASED_STEP,
    FIELDS_SET,
    NOTED,
    PROGRESS,
    REMINDED,
    STATE_ENTERING,
    SYSTEM,
    Stamp,
)
from flowengine.history.steps import ChainBuilder, EventRow, creation_details
from flowengine.i18n import N_, marked, t
from flowengine.store import bulk

if TYPE_CHECKING:
    from flowengine.definition.model import Workflow
    from flowengine.engine import CompiledWorkflow
    from flowengine.store import Connection

MAX_PROBLEMS = 50  # reported one by one; the rest are counted
ORIGIN_PREFIX = "event log case "
MAX_CASE_CHARS = 180
IMPORTABLE = (CREATED, ADVANCED, FIELDS_SET, PROGRESS, REMINDED, NOTED, ERASED_STEP)  # what an exact rebuild takes
_FIRST = itemgetter(0)
_UNSEEN = object()  # an actor and role not checked yet
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Rows = list[tuple[Any, Sequence[str]]]  # (position in the file, the row's values in meanings.ORDER + EXACT)
Built = tuple[bulk.ProposalRow, list[EventRow], tuple[str, str, str]]


@dataclass
class CaseBuilder:
    """Builds the cases of one import, with what it learnt of the database (taken ids, origins,
    the next free number) and of the workflow (states by activity name, resolved transitions)."""

    conn: Connection
    compiled: CompiledWorkflow
    where: Any  # position -> "line 7" / "trace 3, event 2": the reader's own
    columns: list[str | None]  # the column of each meaning, as the import chose them
    default_actor: str | None = None
    default_role: str | None = None
    assume_utc: bool = False
    on_problem: Callable[[Problem], None] | None = None  # told of every problem (a rejects file), not only the first
    settle: Callable[[], None] = lambda: None  # called before reading the database: a write in flight finishes first
    stamp: Stamp | None = None  # the importing login and the time of the import, sealed into every event
    erasable: frozenset[str] | None = None  # a foreign log's events of format 3 (these fields personal), else None
    problems: list[Problem] = field(default_factory=list)
    remedies: dict[Remedy, None] = field(default_factory=dict)  # what would fix some of the problems
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
        workflow = self.compiled.workflow
        self.workflow: Workflow = workflow
        self.definition, self.initial = workflow.content_hash, self.compiled.initial
        self.prefix = workflow.proposal_prefix
        self.id_pattern = re.compile(rf"{re.escape(self.prefix)}-([1-9][0-9]{{0,8}})")
        self.taken = bulk.taken_ids(self.conn)
        self.origins = bulk.origins(self.conn, workflow.id)
        self.next_number = bulk.highest_number(self.conn, self.prefix) + 1
        self.used: set[str] = set()
        self.keys: dict[str, str] = {}  # idempotency key → case, for the keys of this file
        self.batch_keys: dict[str, tuple[Any, str]] = {}
        self.states = state_index(workflow)
        self.salts = erasure.salt_pool()  # the salts of the personal values of this import's events (format 3)
        self.steps: dict[tuple[str, str, str], Resolved] = {}
        self.actors: dict[tuple[str, str], str | None] = {}  # (name, role) → why it is not usable, or None
        self.actor = self.default_actor or ""
        self.role = self.default_role or only_role(workflow) or ""
        self.definitions: dict[str, CompiledWorkflow | None] = {self.definition: self.compiled}

    # -- reporting ---------------------------------------------------------------------------

    def column(self, meaning: str) -> str:
        return self.columns[ORDER.index(meaning)] or meaning

    def problem(self, position: Any, case: str | None, reason: str, *remedies: Remedy) -> None:
        self.count += 1
        self.remedies.update(dict.fromkeys(remedies))
        if len(self.problems) < MAX_PROBLEMS or self.on_problem is not None:
            found = Problem(self.where(position), case, reason)
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append(found)
            if self.on_problem is not None:
                self.on_problem(found)

    def check_keys(self) -> set[str]:
        """The idempotency keys of the cases built since the last check, against the stored ones;
        the cases whose keys are taken."""
        refused: set[str] = set()
        if self.batch_keys:
            self.settle()
            for key in sorted(bulk.taken_keys(self.conn, self.batch_keys)):
                position, case = self.batch_keys[key]
                self.problem(position, case, t("its idempotency key '{key}' is already used by a stored event (this "
                                               "history was imported or recorded before)", key=key))
                refused.add(case)
            self.batch_keys = {}
        return refused

    def accept(self, history: Sequence[EventRow]) -> None:
        """Count a history that goes into the database (or would, in a dry run)."""
        first, last = history[0], history[-1]
        self.events += len(history)
        self.first_id = self.first_id or first.proposal
        self.last_id = first.proposal
        self.first_at = first.at if self.first_at is None else min(self.first_at, first.at)
        self.last_at = last.at if self.last_at is None else max(self.last_at, last.at)

    def _release(self, identity: tuple[str, int] | None, case: str) -> None:
        """A case that does not fit gives its proposal id back, so the cases that do fit are numbered
        without gaps."""
        if identity is None:
            return
        pid, number = identity
        self.used.discard(pid)
        if pid == case:
            self.kept -= 1
        if number == self.next_number - 1:
            self.next_number = number

    # -- one case ----------------------------------------------------------------------------

    def build(self, case: str, where: Any, rows: Rows) -> Built | None:
        self.cases += 1
        if rows[0][1][KIND]:
            self.exact += 1
            return self._exact(case, where, rows)
        return self._generic(case, where, rows)

    def _moments(self, case: str, rows: Rows) -> list[tuple[datetime, str, Any, Sequence[str]]]:
        """Rows with an activity and a readable time, as (utc, iso, position, values)."""
        found = []
        assume_utc = self.assume_utc
        for position, values in rows:
            if not values[ACTIVITY] or not values[TIME]:
                lacking = [(m, word) for m, word, index in (("activity", N_("activity"), ACTIVITY),
                                                             ("timestamp", N_("timestamp"), TIME)) if not values[index]]
                self.problem(position, case, t(" and ").join(
                    t("no {what} (the {column} column is empty)", what=marked(word), column=self.column(m))
                    for m, word in lacking))
                continue
            moment = read_moment(values[TIME], assume_utc)
            if isinstance(moment, str):
                self.problem(position, case, moment, *([Remedy("assume_utc")] if isinstance(moment, NoOffset) else []))
                continue
            found.append((moment[0], moment[1], position, values))
        return found

    def _identity(self, case: str, where: Any, origin: str | None, exact: bool) -> tuple[str, int] | None:
        """The proposal id of a case: its own when it is one and free, else the next free number."""
        if len(case) > MAX_CASE_CHARS or _CONTROL.search(case):
            self.problem(where, case[:40], t("the case id is not usable (at most {n} printable characters)",
                                             n=MAX_CASE_CHARS))
            return None
        if origin is not None and origin in self.origins:
            self.problem(where, case, t("this case is already in the database as {proposal} (imported before); "
                                        "remove it from the log or import into another database",
                                        proposal=self.origins[origin]))
            return None
        match = self.id_pattern.fullmatch(case)
        if exact and match and case in self.taken:
            self.problem(where, case, t("{case} is already in the database (imported before, or registered there); "
                                        "remove it from the log or import into another database", case=case))
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

    def _who(self, position: Any, case: str, name: str, role: str) -> bool:
        """Whether the actor and role are usable; a problem recorded when not."""
        key = (name, role)
        if key not in self.actors:
            if not name or not role:
                lacking = [(what, word) for what, word, value in (("actor", N_("actor"), name),
                                                                   ("role", N_("role"), role)) if not value]
                self.actors[key] = "; ".join(t("no {what} (the {column} column is empty here; give a default {what} "
                                               "for rows without one)", what=marked(word), column=self.column(what))
                                             for what, word in lacking)
            else:
                self.actors[key] = actor_and_role_problem(self.workflow, name, role)
        problem = self.actors[key]
        if problem is not None:
            self.problem(position, case, problem,
                         *(Remedy(f"default_{what}") for what, value in (("actor", name), ("role", role))
                           if not value))
        return problem is None

    def _generic(self, case: str, where: Any, rows: Rows) -> Built | None:
        """A case of a foreign log: created at its first event, then a step per event. The inner
        loop of a bulk import: every lookup is cached, nothing is built that is not stored."""
        before = self.count
        found = self._moments(case, rows)
        found.sort(key=_FIRST)  # stable: events at the same moment keep the file's order
        origin = ORIGIN_PREFIX + case
        identity = self._identity(case, where, origin, exact=False)
        title = (rows[0][1][TITLE] or case).strip()
        if "\n" in title or len(title) > inputs.MAX_TITLE_CHARS:
            self.problem(where, case, t("the title must be one line of at most {n} characters",
                                        n=inputs.MAX_TITLE_CHARS))
        if not found:
            return None
        pid = identity[0] if identity else ""
        broken = identity is None or self.count != before
        details = creation_details(title=title, description="", origin=origin, workflow=self.workflow.id,
                                   workflow_version=self.workflow.version, definition=self.definition)
        states, steps, initial = self.states, self.steps, self.initial
        actors, default_actor, default_role = self.actors, self.actor, self.role
        history: list[EventRow] = []
        append = history.append
        builder = ChainBuilder(pid, self.stamp, self.erasable, self.salts)
        advance = builder.advance
        state: str | None = None
        started = False
        for at, iso, position, values in found:
            target = states.get(values[ACTIVITY])
            if target is None:
                self.problem(position, case, unknown_activity(self.workflow, values[ACTIVITY], states))
                broken, state = True, None
                continue
            name, role = values[ACTOR] or default_actor, values[ROLE] or default_role
            if actors.get((name, role), _UNSEEN) is not None:  # not known to be fine: check (and say why)
                usable = self._who(position, case, name, role)
                broken = broken or not usable
            else:
                usable = True
            comment = values[COMMENT]
            if not started:
                started = True
                if not broken:
                    append(builder.create(initial, name, role, at, at_iso=iso, details=details,
                                          comment=comment if target == initial else ""))
                state = initial
                if target == initial:
                    continue
            elif state is None:
                state = target  # the event before was unreadable: check the next one from here
                continue
            step = steps.get((state, target, values[TRIGGER]))
            if step is None:
                step = steps[(state, target, values[TRIGGER])] = resolve(self.workflow, state, target,
                                                                          values[TRIGGER] or None)
            if step.problem is not None:
                self.problem(position, case, step.problem,
                             *([Remedy("column", "COLUMN", "trigger")] if step.ambiguous else []))
                broken = True
            elif step.roles and role not in step.roles and usable:
                self.problem(position, case, t("role '{role}' may not {trigger} from {state} (roles that may: "
                                               "{roles})", role=role, trigger=step.trigger, state=state,
                                               roles=", ".join(step.roles)))
                broken = True
            if not broken:
                append(advance(name, role, at, iso, step.trigger, target, comment))
            state = target
        if broken or identity is None or not history:
            self._release(identity, case)
            return None
        return self._finish(identity[1], title, "", origin, self.definition, history, {})

    def _finish(self, number: int, title: str, description: str, origin: str, definition: str,
                history: list[EventRow], fields: dict[str, Any]) -> Built:
        first, last = history[0], history[-1]
        entered = next(event for event in reversed(history) if event.kind in STATE_ENTERING)
        active = next(event for event in reversed(history) if event.kind != ERASED_STEP)  # erasing is no activity
        pid = first.proposal
        workflow = self.definitions[definition]
        assert workflow is not None
        proposal: bulk.ProposalRow = (pid, self.prefix, number, workflow.workflow.id, definition, title, description,
                                      origin, last.to_state, fields, first.at, first.actor, active.at, entered.at,
                                      last.seq, last.hash)
        return proposal, history, (first.at_iso, active.at_iso, entered.at_iso)

    def _exact(self, case: str, where: Any, rows: Rows) -> Built | None:
        """flowengine's own export: every event rebuilt as it was, in sequence order."""
        before = self.count
        found = self._moments(case, rows)
        numbered: list[tuple[int, datetime, str, Any, Sequence[str]]] = []
        for at, iso, position, values in found:
            text = values[SEQ]
            if not text.isdigit():
                self.problem(position, case, t("no sequence number ({column} is '{text}', not a whole number)",
                                               column=col.SEQ, text=text))
                continue
            numbered.append((int(text), at, iso, position, values))
        numbered.sort(key=itemgetter(0))
        for expected, (seq, _, _, position, _) in enumerate(numbered, start=1):
            if seq != expected:
                self.problem(position, case, t("sequence number {seq} where {expected} was expected (an event of this "
                                               "case is missing or doubled)", seq=seq, expected=expected))
                return None
        if not numbered or self.count != before:
            return None
        created = json_object(numbered[0][4][DETAILS])
        if not isinstance(created, dict):
            self.problem(numbered[0][3], case, t("{column} is not a JSON object", column=col.DETAILS))
            return None
        definition = str(created.get("definition", ""))
        compiled = self._definition_of(definition)
        if compiled is None or created.get("workflow") != self.workflow.id:
            named = str(created.get("workflow", "?"))
            remedies = [Remedy("workflow", named)] if named != self.workflow.id else []
            self.problem(numbered[0][3], case, foreign_definition(self.workflow, created), *remedies)
            return None
        identity = self._identity(case, where, None, exact=True)
        if identity is None:
            return None
        pid, number = identity
        hashed = pid == case
        builder = ChainBuilder(pid, self.stamp)
        history: list[EventRow] = []
        fields: dict[str, Any] = {}
        previous_at: datetime | None = None
        for seq, at, iso, position, values in numbered:
            event = self._exact_event(case, position, values, seq, at, compiled, builder, previous_at)
            if event is None:
                self._release(identity, case)
                return None
            kind, trigger, target, actor, role, comment, changes, details, key = event
            if kind == CREATED:
                row = builder.create(target, actor, role, at, at_iso=iso, details=details, fields=changes,
                                     comment=comment, key=key)
            else:
                row = builder.step(kind, actor, role, at, at_iso=iso, trigger=trigger, to_state=target,
                                   comment=comment, changes=changes, details=details, key=key)
            if hashed and values[HASH] and values[HASH] != row.hash:
                self.problem(position, case, t("the event does not reproduce its {column} (the row was changed after "
                                               "the export; leave out the {column} column to import the rows as "
                                               "they now read, under new hashes)", column=col.HASH))
                self._release(identity, case)
                return None
            history.append(row)
            fields = chain.apply_changes(fields, changes)
            previous_at = at
        # The row says what the creation event says, even where a pseudonymised export left it empty.
        return self._finish(number, str(created.get("title", "")), str(created.get("description", "")),
                            str(created.get("origin", "")), definition, history, fields)

    def _definition_of(self, definition: str) -> CompiledWorkflow | None:
        """The definition a case was created under: the workflow file's, or one stored already."""
        if definition not in self.definitions:
            from flowengine import engine
            from flowengine.store import queries

            self.settle()
            stored = queries.definition_text(self.conn, definition)
            self.definitions[definition] = engine.compiled(definition, *stored) if stored else None
        return self.definitions[definition]

    def _exact_event(self, case: str, position: Any, values: Sequence[str], seq: int, at: datetime,
                     compiled: CompiledWorkflow, builder: ChainBuilder, previous_at: datetime | None
                     ) -> tuple[str, str | None, str, str, str, str, dict[str, Any], dict[str, Any],
                                str | None] | None:
        """The event a row of flowengine's own export describes, checked against the chain so far
        (``builder``: its state and when that was entered); None, with the problem recorded, if it
        does not fit."""
        workflow = compiled.workflow
        kind = values[KIND]
        if kind not in IMPORTABLE:
            self.problem(position, case, unimportable(kind, IMPORTABLE))
            return None
        target = values[ACTIVITY] or ""
        if target not in workflow.states:
            self.problem(position, case, unknown_activity(workflow, target, {s: s for s in workflow.states}))
            return None
        state = builder.state
        trigger, source, key = values[TRIGGER] or None, values[FROM] or None, values[KEY] or None
        entered, stamp = read_moment(values[ENTERED], False), read_stamp(values)  # stamp: who recorded it, when
        changes, details = json_object(values[CHANGES]), json_object(values[DETAILS])
        reasons = [stamp] if isinstance(stamp, str) else []
        if isinstance(entered, str):
            reasons.append(f"{col.ENTERED_AT}: {entered}")
        elif entered[0] != (at if kind == CREATED else builder.entered_at):
            reasons.append(t("its {column} is not when the case entered {state}", column=col.ENTERED_AT,
                             state=source or target))
        for name, value in ((col.CHANGES, changes), (col.DETAILS, details)):
            if not isinstance(value, dict):
                reasons.append(t("{column} is not a JSON object", column=name))
        if isinstance(changes, dict):
            unknown = [name for name in changes if name not in workflow.fields]
            if unknown:
                reasons.append(t("{workflow} declares no field {fields}", workflow=workflow.id,
                                 fields=", ".join(unknown)))
        escalated = isinstance(details, dict) and "escalation" in details
        if kind == CREATED:
            if seq != 1 or source is not None or trigger is not None or target != compiled.initial:
                reasons.append(t("a creation must be the first event and enter {state}", state=compiled.initial))
        else:
            if seq == 1:
                reasons.append(t("the history does not start with the proposal's creation"))
            if source != state:
                reasons.append(t("leaves '{left}' but the case was in '{state}'", left=source, state=state))
            if previous_at is not None and at < previous_at:
                reasons.append(t("time goes backwards: {moment} is before the event it follows ({previous})",
                                 moment=iso_utc(at), previous=iso_utc(previous_at)))
            if kind == ADVANCED:
                step = resolve(workflow, state, target, trigger)
                if step.problem is not None:
                    reasons.append(step.problem)
                elif step.roles and values[ROLE] not in step.roles and not escalated:
                    reasons.append(t("role '{role}' may not {trigger} (roles that may: {roles})", role=values[ROLE],
                                     trigger=trigger, roles=", ".join(step.roles)))
            elif target != source:
                reasons.append(t("a '{kind}' event stays in its state, but this one goes from {source} to {target}",
                                 kind=kind, source=source, target=target))
        name, role = values[ACTOR] or "", values[ROLE] or ""
        if not (role == SYSTEM and (escalated or kind in (REMINDED, PROGRESS, FIELDS_SET))):
            problem = actor_and_role_problem(workflow, name, role, any_role=kind == ERASED_STEP)  # an admin's
            if problem is not None:
                reasons.append(problem)
        if key is not None:
            if key in self.keys:
                reasons.append(t("its idempotency key '{key}' is used again (first by case {case})", key=key,
                                 case=self.keys[key]))
            self.keys[key] = case
            self.batch_keys[key] = (position, case)
        carried = read_carried(values[ERASABLE], name, values[COMMENT] or "", changes) if changes is not None else None
        if reasons or isinstance(carried, str):
            self.problem(position, case, "; ".join([*reasons, *([carried] if isinstance(carried, str) else [])]))
            return None
        assert isinstance(changes, dict) and isinstance(details, dict) and not isinstance(stamp, str)
        builder.restamp(stamp)  # the event is sealed as it was recorded, its commitments as they travelled
        builder.carry(carried)
        return kind, trigger, target, name, role, values[COMMENT] or "", changes, details, key
