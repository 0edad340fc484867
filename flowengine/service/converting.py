"""Old histories' personal data converted into the erasable form, auditably.

Steps recorded before a database kept personal data apart (event formats 1 and 2) hold names,
comments and personal fields sealed in: they cannot be erased. Converting seals each such
history again as event format 3 — the same steps, times, actors and logins, each personal value
replaced by a salted commitment and kept apart — through the one step builder. Since that
changes every hash from the first converted step on, the conversion accounts for itself: in one
transaction it signs a checkpoint of the state before, re-seals the chains, signs a *conversion
record* (each chain's old and new hash of every event, and the before-checkpoint's root) and
notes it in the access log; after the commit it signs a checkpoint of the state after. An
auditor holding the three (``audit verify`` with the record) sees that each old head was
replaced by the new one at the same length, and, re-deriving each old hash from the new event
and its kept values, that nothing but the encoding changed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine import engine as engines
from flowengine.errors import ConflictError, InvalidInput, Remedy, Unfinished
from flowengine.history.records import MIGRATED, SYSTEM, Event, Proposal
from flowengine.history.steps import ChainBuilder
from flowengine.i18n import t
from flowengine.proof import checkpoint as checkpoints_file
from flowengine.proof import conversion
from flowengine.service.checkpoints import heads_in, take
from flowengine.service.context import Engine
from flowengine.service.lookup import load
from flowengine.service.writing import conflict
from flowengine.store import Connection, queries, resealing
from flowengine.store import access as store_access

if TYPE_CHECKING:
    from flowengine.proof.keys import Signer

__all__ = ["Conversion", "convert", "plan"]

_ATTEMPTS = 5  # a proposal moved by another writer meanwhile: read everything again and convert again


@dataclass(frozen=True)
class Conversion:
    """What a conversion re-sealed (or, planned, would): events per proposal, of which how many
    held personal data sealed in; and the files it wrote."""

    chains: dict[str, int]
    holding: int
    before: Path | None = None
    record: Path | None = None
    after: Path | None = None
    root: str | None = None  # the record's Merkle root, as the access log names it

    @property
    def events(self) -> int:
        return sum(self.chains.values())

    def as_dict(self) -> dict[str, Any]:
        return {"chains": self.chains, "events": self.events, "holding_personal_data": self.holding,
                "before": str(self.before) if self.before else None,
                "record": str(self.record) if self.record else None,
                "after": str(self.after) if self.after else None, "root": self.root}


def _holds(event: Event, personal: Collection[str]) -> bool:
    """Whether an event of format 1 or 2 holds personal data sealed in: a person's name, a
    comment, a field the workflow marks personal."""
    return event.personal is None and (event.actor != SYSTEM or bool(event.comment)
                                       or any(event.changes.get(name) is not None for name in personal))


class _PersonalFields:
    """Each stored definition's personal fields, built once."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.found: dict[str, frozenset[str]] = {}

    def __call__(self, definition: str) -> frozenset[str]:
        if definition not in self.found:
            stored = queries.definition_text(self.conn, definition)
            workflow = engines.compiled(definition, *stored).workflow if stored else None
            self.found[definition] = frozenset(name for name, spec in (workflow.fields if workflow else {}).items()
                                               if spec.personal)
        return self.found[definition]


def _walk(events: Sequence[Event], fields: _PersonalFields) -> list[tuple[Event, frozenset[str]]]:
    """Each event with the personal fields of the definition it was recorded under."""
    definition = str(events[0].details.get("definition") or "")
    found = []
    for event in events:
        found.append((event, fields(definition)))
        if event.kind == MIGRATED:
            definition = str(event.details.get("to_definition") or "")
    return found


def _candidates(conn: Connection, wanted: Collection[str] | None) -> list[tuple[Proposal, list[Event], int]]:
    fields = _PersonalFields(conn)
    found = []
    for proposal, events in queries.histories(conn):
        if not events or (wanted is not None and proposal.id not in wanted):
            continue
        holding = sum(1 for event, personal in _walk(events, fields) if _holds(event, personal))
        if holding:
            found.append((proposal, events, holding))
    return found


def _wanted(proposals: Sequence[str] | None) -> set[str] | None:
    return None if not proposals else {pid.strip().upper() for pid in proposals}


def plan(engine: Engine, proposals: Sequence[str] | None = None) -> Conversion:
    """What :func:`convert` would re-seal now (admin only); nothing is written."""
    with engine.database.read() as conn:
        engine.permissions(conn).check_admin(t("convert personal data into the erasable form"))
        for pid in _wanted(proposals) or ():
            load(conn, pid)
        found = _candidates(conn, _wanted(proposals))
    return Conversion({p.id: len(events) for p, events, _n in found}, sum(n for _p, _e, n in found))


def convert(engine: Engine, signer: Signer, out: Path, proposals: Sequence[str] | None = None) -> Conversion:
    """Convert the histories (every one, or ``proposals``) whose steps hold personal data sealed
    in into event format 3, with a checkpoint before, a conversion record and a checkpoint after
    written into the folder ``out``, all signed by ``signer`` (admin only). All in one
    transaction: interrupted, nothing is converted and no record is left. The checkpoint after is
    signed once that transaction is committed: when it cannot be written, :class:`Unfinished`
    says so (the conversion stands; a checkpoint signed now completes it). Running it again finds
    nothing to convert. Nothing to convert: nothing is written, no file either."""
    if not out.is_dir():
        raise InvalidInput(t("folder {folder} does not exist; create it first", folder=out))
    wanted = _wanted(proposals)
    written: list[Path] = []
    for attempt in range(_ATTEMPTS):
        try:
            done = engine.transaction(lambda conn: _convert(engine, conn, signer, out, wanted, written),
                                      operation="convert personal data")
        except ConflictError:
            _remove(written)
            if attempt + 1 == _ATTEMPTS:
                raise
            continue
        except BaseException as exc:
            committed = _committed(engine, conversion.read(written[1]).root) if len(written) == 2 else False
            if committed:
                # Ctrl-C or a dropped connection while COMMIT was under way, the commit done: its
                # record is what lets the converted chains verify, so it stays
                raise _unfinished(written[0], written[1], out, exc) from exc
            if committed is False:
                _remove(written)
            raise
        if done.record is None:
            return done
        after = _after(engine, signer, out, done)
        return Conversion(done.chains, done.holding, done.before, done.record, after, done.root)
    raise AssertionError("unreachable")


def _after(engine: Engine, signer: Signer, out: Path, done: Conversion) -> Path:
    """The checkpoint of the state after a committed conversion. Not written (a full disk, a
    checkpoint refused), the conversion stands: its record holds the checkpoint before to the
    converted chains, and a checkpoint signed now, in the same folder, completes the series."""
    assert done.before is not None and done.record is not None
    try:
        return checkpoints_file.write_in(take(engine, signer), out)
    except (Exception, KeyboardInterrupt) as exc:  # Ctrl-C here must not pass for a rollback either
        raise _unfinished(done.before, done.record, out, exc) from exc


def _unfinished(before: Path, record: Path, out: Path, reason: BaseException) -> Unfinished:
    cause = str(reason) or t("interrupted")
    return Unfinished(t("the conversion is committed and its checkpoint before ({before}) and conversion record "
                        "({record}) are written, but the checkpoint after could not be: {reason}. Sign a "
                        "checkpoint of the database now into {folder}: with it, the series verifies as if the "
                        "conversion had written it", before=before, record=record, reason=cause,
                        folder=out)).fixed_by(Remedy("checkpoint", str(out)))


def _committed(engine: Engine, root: str) -> bool | None:
    """Whether the database holds the access-log entry of the conversion whose record has this
    root: written in the conversion's own transaction, it says whether that transaction committed.
    None when the database cannot say now (unreachable): the files are then kept, as a killed
    process keeps them — a record of a conversion that stands must never be deleted, and ``audit
    verify`` names one whose conversion did not take effect."""
    try:
        with engine.database.read() as conn:
            return any(entry.action == store_access.CONVERT and entry.role == root
                       for entry in store_access.log_entries(conn))
    except Exception:
        return None


def _remove(written: list[Path]) -> None:
    """The files of a conversion that did not commit: a record of what did not happen must not stay."""
    for path in written:
        path.unlink(missing_ok=True)


def _convert(engine: Engine, conn: Connection, signer: Signer, out: Path, wanted: Collection[str] | None,
             written: list[Path]) -> Conversion:
    _remove(written)  # a transaction the database rolled back and runs again starts afresh
    written.clear()
    engine.permissions(conn).check_admin(t("convert personal data into the erasable form"))
    for pid in wanted or ():
        load(conn, pid)
    heads = heads_in(conn)  # refused while any history fails the audit: never re-seal a damaged chain
    found = _candidates(conn, wanted)
    if not found:
        return Conversion({}, 0)
    time = engine.clock()
    before = checkpoints_file.sign(heads, time, signer)
    stamp = engine.stamp(conn)
    fields = _PersonalFields(conn)
    converted = []
    for proposal, events, _holding in found:
        pk, _ = load(conn, proposal.id)
        resealing.lock(conn, pk)
        builder = ChainBuilder(proposal.id, stamp)
        renewed = [builder.resealed(event, personal).event() for event, personal in _walk(events, fields)]
        _same_steps(events, renewed)
        if not resealing.move_head(conn, pk, proposal.version, proposal.head_hash, renewed[-1].hash):
            raise conflict(conn, pk, proposal)
        for old, new in zip(events, renewed, strict=True):
            if not resealing.reseal(conn, pk, old, new):
                raise conflict(conn, pk, proposal)
        converted.append(conversion.Converted(proposal.id, tuple((old.hash, new.hash)
                                                                 for old, new in zip(events, renewed, strict=True))))
    record = conversion.sign(converted, before.root, time, signer)
    store_access.append_entry(conn, store_access.CONVERT, engine.login, store_access.EVERY, record.root,
                              engine.login, stamp.recorded_at)
    # each path noted before its file is written: an interruption at any moment removes what is there
    written.append(checkpoints_file.unused_path(out, "checkpoint", before.time))
    checkpoints_file.write(before, written[-1])
    written.append(checkpoints_file.unused_path(out, "conversion", record.time))
    conversion.write(record, written[-1])
    return Conversion({p.id: len(events) for p, events, _n in found}, sum(n for _p, _e, n in found),
                      written[0], written[1], None, record.root)


def _same_steps(old: Sequence[Event], new: Sequence[Event]) -> None:
    """The re-sealed chain says what the old one said, step by step (the builder's own rules
    derive the from-state and the time the state was entered: a verified chain agrees)."""
    for before, after in zip(old, new, strict=True):
        said = (before.seq, before.kind, before.trigger, before.from_state, before.to_state, before.actor,
                before.role, before.at, before.entered_at, before.comment, before.changes, before.details,
                before.idempotency_key, before.login, before.recorded_at)
        now = (after.seq, after.kind, after.trigger, after.from_state, after.to_state, after.actor, after.role,
               after.at, after.entered_at, after.comment, after.changes, after.details, after.idempotency_key,
               after.login, after.recorded_at)
        if said != now:
            raise AssertionError(f"{before.proposal} step {before.seq} would change in its conversion")
