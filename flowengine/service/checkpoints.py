"""Signed checkpoints of the whole database, and the proof that nothing before one was rewritten.

:func:`take` walks every history (refusing when any fails the plain audit: a checkpoint must not
vouch for a damaged chain) and signs the heads; :func:`check` holds the database, as it is now,
to checkpoints taken before: each checkpoint must be sound (its signature, its root; one key for
them all, the trusted one when given), each later one must extend each earlier one, and every
chain they list must still hold its head at its length. Plain ``audit verify`` cannot catch an
owner who deletes a history's newest steps and fixes the row, or seals a whole chain again with
flowengine's own code; this can, for everything recorded before the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from flowengine.access import log as access_log
from flowengine.clock import iso_utc
from flowengine.errors import Refused
from flowengine.history import chain
from flowengine.history.seal import GENESIS
from flowengine.i18n import t
from flowengine.proof.checkpoint import ACCESS_LOG, Checkpoint, Head, sign
from flowengine.proof.conversion import Converted, Record
from flowengine.proof.heads import chain_head, held, held_links
from flowengine.service.context import Engine
from flowengine.store import Connection, queries

if TYPE_CHECKING:
    from flowengine.history.records import Event
    from flowengine.proof.keys import Signer

__all__ = ["CheckpointFinding", "CheckpointReport", "check", "take"]

_LISTED = 12
# A proposal absent from a checkpoint whose creation was recorded more than this before the
# checkpoint's time was inserted later with a backdated recording time (or imported from
# elsewhere, which the auditor must hear of too). The margin covers a transaction that was still
# open while the checkpoint read the database, and a small skew between the two clocks.
IN_FLIGHT = timedelta(minutes=5)


@dataclass(frozen=True)
class CheckpointFinding:
    """Something a checkpoint shows to have changed since it was taken (``chain`` None: the
    checkpoint itself is at fault)."""

    checkpoint: str
    chain: str | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "chain": self.chain, "problem": self.problem}


@dataclass(frozen=True)
class CheckpointReport:
    """The database held to ``checkpoints`` (oldest first)."""

    checkpoints: tuple[Checkpoint, ...]
    chains: int  # chain heads compared with the database
    findings: tuple[CheckpointFinding, ...]
    trusted_key: str | None  # the key id the checkpoints had to be signed by, when one was given
    records: tuple[Record, ...] = ()  # conversion records the earlier checkpoints were held through
    converted: int = 0  # converted steps whose old hash was derived again from the step and its kept values
    unchecked: int = 0  # converted steps whose values were erased since: their old hash rests on the record
    # records (by label) that no checkpoint given was taken after: the conversion was interrupted
    # before it wrote its checkpoint after, or that file was not kept. Not a finding: the record
    # holds the earlier checkpoints to the converted chains; a checkpoint signed now completes it.
    unfollowed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted({checkpoint.key_id for checkpoint in self.checkpoints}))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chains": self.chains, "trusted_key": self.trusted_key, "keys": list(self.key_ids),
                "checkpoints": [{"file": c.source, "time": iso_utc(c.time), "size": len(c.heads), "root": c.root,
                                 "key_id": c.key_id} for c in self.checkpoints],
                "findings": [finding.as_dict() for finding in self.findings],
                "conversions": [{"file": r.source, "time": iso_utc(r.time), "size": len(r.chains), "root": r.root,
                                 "before": r.before, "key_id": r.key_id,
                                 "checkpoint_after": r.label not in self.unfollowed} for r in self.records],
                "converted_steps": {"derived_again": self.converted, "erased_since": self.unchecked}}


def heads(engine: Engine) -> list[Head]:
    """Every chain's head now — each proposal's history and the access log —, from one consistent
    read; refused when any of them is damaged."""
    with engine.database.read() as conn:
        return heads_in(conn)


def heads_in(conn: Connection) -> list[Head]:
    """:func:`heads`, read in a transaction of the caller's (the conversion's)."""
    found: list[Head] = []
    damaged: list[str] = []
    _entries, access_problems = access_log.verify(conn)
    if access_problems:
        raise Refused(t("checkpoint"), access_problems, t("find out what happened with an audit first"))
    length, head = access_log.head(conn)
    if length:
        found.append(Head(ACCESS_LOG, length, head))
    for proposal, events in queries.histories(conn):
        if chain.first_break(proposal, events):
            damaged.append(proposal.id)
        else:
            found.append(chain_head(proposal.id, events))
    if damaged:
        shown = ", ".join(damaged[:_LISTED]) + (", …" if len(damaged) > _LISTED else "")
        raise Refused(t("checkpoint"), [t("{n} proposal(s) fail the audit ({ids}); a checkpoint would vouch for "
                                          "damaged histories", n=len(damaged), ids=shown)],
                      t("find out what happened with an audit first"))
    return found


def take(engine: Engine, signer: Signer) -> Checkpoint:
    """A checkpoint of every chain's head now, signed by ``signer``, dated by the engine's clock
    read before the heads are: a step recorded before that time is either in the checkpoint or
    was still being written (see :data:`IN_FLIGHT`)."""
    time = engine.clock()
    return sign(heads(engine), time, signer)


def check(engine: Engine, checkpoints: Sequence[Checkpoint], trusted_key: bytes | None = None,
          records: Sequence[Record] = ()) -> CheckpointReport:
    """The database held to ``checkpoints``; ``trusted_key``: the raw public key they must be
    signed by; ``records``: conversions since, through which an earlier checkpoint's heads of a
    converted chain stand for the new ones (see :func:`_through`)."""
    from flowengine.proof.checkpoint import fingerprint

    # taken at the same moment (a fixed clock): the one recording fewer steps came first, as chains only grow
    ordered = tuple(sorted(checkpoints, key=lambda c: (c.time, sum(h.length for h in c.heads), c.source)))
    findings: list[CheckpointFinding] = []
    sound: list[Checkpoint] = []
    for checkpoint in ordered:
        problems = checkpoint.problems()
        if trusted_key is not None and checkpoint.public_key != trusted_key:
            problems.insert(0, t("it is signed by key {key}, not by the trusted key {trusted}", key=checkpoint.key_id,
                                 trusted=fingerprint(trusted_key)))
        findings += [CheckpointFinding(checkpoint.label, None, problem) for problem in problems]
        if not problems:
            sound.append(checkpoint)
    keys = {checkpoint.public_key for checkpoint in ordered}
    if trusted_key is None and len(keys) > 1:
        findings.append(CheckpointFinding(ordered[-1].label, None, t(
            "the checkpoints are signed by {n} different keys ({keys}); a series is one signer's",
            n=len(keys), keys=", ".join(sorted(fingerprint(key) for key in keys)))))
    signer = trusted_key if trusted_key is not None else (next(iter(keys)) if len(keys) == 1 else None)
    derived, erased = 0, 0
    unfollowed: tuple[str, ...] = ()
    if records:
        taken = sound
        sound, more, derived, erased, usable = _through(engine, sound, records, signer)
        findings += more
        unfollowed = tuple(record.label for record in usable
                           if not any(_taken_after(checkpoint, record) for checkpoint in taken))
    findings += _extensions(sound)
    compared, against = _against_database(engine, sound)
    return CheckpointReport(ordered, compared, tuple(findings + against),
                            fingerprint(trusted_key) if trusted_key is not None else None,
                            tuple(sorted(records, key=lambda r: (r.time, r.source))), derived, erased, unfollowed)


def _taken_after(checkpoint: Checkpoint, record: Record) -> bool:
    """Whether ``checkpoint`` was taken after the conversion ``record`` records: not the one
    before it, and listing each chain it converted at its new head or longer (checked against the
    database like every head)."""
    if checkpoint.root == record.before:
        return False
    for converted in record.chains:
        head = checkpoint.head(converted.name)
        if head is None or head.length < converted.length or \
                (head.length == converted.length and head.head != converted.new_head):
            return False
    return True


def _through(engine: Engine, checkpoints: list[Checkpoint], records: Sequence[Record],
             signer: bytes | None) -> tuple[list[Checkpoint], list[CheckpointFinding], int, int, list[Record]]:
    """The checkpoints with each head of a converted chain that a sound record maps (its old hash
    at that length) replaced by the new hash, and what is wrong with the records. A record counts
    only when signed by the checkpoints' key, taken after one of them (its before-checkpoint's
    root), and where the database holds its new chain and every converted step, its values put
    back the old way, hashes as the record's old hash: only the encoding changed. Also the records
    that count, each with the chains it holds."""
    from flowengine.proof.checkpoint import fingerprint

    findings: list[CheckpointFinding] = []
    usable: list[Record] = []
    derived = erased = 0
    roots = {checkpoint.root for checkpoint in checkpoints}
    for record in sorted(records, key=lambda r: (r.time, r.source)):
        problems = record.problems()
        if signer is None or record.public_key != signer:
            problems.insert(0, t("it is signed by key {key}, not by the checkpoints' key {trusted}",
                                 key=record.key_id, trusted=fingerprint(signer) if signer else "?"))
        if not problems and record.before not in roots:
            problems.append(t("the checkpoint it was taken after (root {root}) is not among those given",
                              root=record.before[:16]))
        findings += [CheckpointFinding(record.label, None, problem) for problem in problems]
        if problems:
            continue
        kept: list[Converted] = []
        with engine.database.read() as conn:
            for converted in record.chains:
                found = queries.load_proposal(conn, converted.name)
                events = queries.events_of(conn, found[0]) if found else []
                problem, steps, gone = _derived(converted, events)
                derived, erased = derived + steps, erased + gone
                if problem:
                    findings.append(CheckpointFinding(record.label, converted.name, problem))
                else:
                    kept.append(converted)
        usable.append(replace(record, chains=tuple(kept)))
    translated = []
    for checkpoint in checkpoints:
        heads = []
        for head in checkpoint.heads:
            for record in usable:
                head = record.translated(head)
            heads.append(head)
        translated.append(replace(checkpoint, heads=tuple(heads)))
    return translated, findings, derived, erased, usable


def _derived(converted: Converted, events: Sequence[Event]) -> tuple[str | None, int, int]:
    """(why the database does not show ``converted`` as a conversion of the encoding alone,
    steps derived again, steps whose values were erased since)."""
    if len(events) < converted.length:
        return t("the record converts {length} step(s), the database has {now}", length=converted.length,
                 now=len(events)), 0, 0
    if [event.hash for event in events[:converted.length]] == [old for old, _new in converted.pairs]:
        return t("the database holds this history as it was before the conversion: the conversion this record was "
                 "written for did not take effect (it was interrupted before its commit); set the record aside, "
                 "the checkpoint before still holds"), 0, 0
    old_prev = GENESIS
    derived = erased = 0
    for event, (old, new) in zip(events, converted.pairs, strict=False):
        if event.hash != new:
            return t("step {seq} is not the one the record converted it into (its hash differs)", seq=event.seq), \
                derived, erased
        if old in chain.former_hashes(event, old_prev):
            derived += 1
        elif event.personal is not None and any(c.erased for c in event.personal.values()):
            erased += 1  # its values are gone: the old hash rests on the signed record alone
        else:
            return t("step {seq} converted does not hash as the step the record replaced (more than the "
                     "encoding changed)", seq=event.seq), derived, erased
        old_prev = old
    return None, derived, erased


def _extensions(ordered: Sequence[Checkpoint]) -> list[CheckpointFinding]:
    """Each later checkpoint must extend each earlier one: every chain still there, no shorter, and
    at the same length the same head (a longer one is checked against the database, which must hold both)."""
    findings = []
    for earlier, later in pairwise(ordered):
        for head in earlier.heads:
            now = later.head(head.name)
            if now is None:
                problem = t("listed by the earlier {earlier} but missing from this later checkpoint (it vanished "
                            "between them)", earlier=earlier.label)
            elif now.length < head.length:
                problem = t("{length} step(s) here, {earlier_length} in the earlier {earlier} (steps were removed "
                            "between them)", length=now.length, earlier_length=head.length, earlier=earlier.label)
            elif now.length == head.length and now.head != head.head:
                problem = t("another head than the earlier {earlier} at the same length (rewritten between them)",
                            earlier=earlier.label)
            else:
                continue
            findings.append(CheckpointFinding(later.label, head.name, problem))
    return findings


def _against_database(engine: Engine, checkpoints: Sequence[Checkpoint]) -> tuple[int, list[CheckpointFinding]]:
    wanted: dict[str, list[tuple[Checkpoint, Head]]] = {}
    for checkpoint in checkpoints:
        for head in checkpoint.heads:
            wanted.setdefault(head.name, []).append((checkpoint, head))
    compared = sum(len(items) for items in wanted.values())
    findings: list[CheckpointFinding] = []
    # In a database made for tests or demos the recording time is the caller's clock: it proves nothing.
    backdating = engine.recording_clock is None
    with engine.database.read() as conn:
        recorded = wanted.pop(ACCESS_LOG, [])
        if recorded:
            links = [(entry.seq, entry.prev_hash, entry.hash,
                      access_log.entry_hash(entry.prev_hash, entry.seq, entry.action, entry.login, entry.workflow,
                                            entry.role, entry.by, entry.at)) for entry in access_log.entries(conn)]
            for checkpoint, head in recorded:
                problem = held_links(head, links)
                if problem:
                    findings.append(CheckpointFinding(checkpoint.label, ACCESS_LOG, problem))
        for proposal, events in queries.histories(conn):
            listed = wanted.pop(proposal.id, ())
            for checkpoint, head in listed:
                problem = held(head, events)
                if problem:
                    findings.append(CheckpointFinding(checkpoint.label, proposal.id, problem))
            if backdating and events and len(listed) < len(checkpoints):
                findings += _backdated(proposal.id, events[0], checkpoints, {c.label for c, _h in listed})
    for name, items in sorted(wanted.items()):
        for checkpoint, _head in items:
            findings.append(CheckpointFinding(checkpoint.label, name, t(
                "the proposal is gone from the database (it was deleted with its history)")))
    return compared, findings


def _backdated(proposal: str, first: Event, checkpoints: Sequence[Checkpoint],
               listing: set[str]) -> list[CheckpointFinding]:
    """A proposal missing from a checkpoint although its creation was sealed as recorded before it."""
    if first.recorded_at is None:  # event format 1: no sealed recording time to hold it to
        return []
    return [CheckpointFinding(checkpoint.label, proposal, t(
                "the checkpoint does not list it, yet its first step is sealed as recorded at {recorded}, before "
                "the checkpoint's time (it was inserted later with a backdated time, or imported from another "
                "database)", recorded=iso_utc(first.recorded_at)))
            for checkpoint in checkpoints
            if checkpoint.label not in listing and first.recorded_at < checkpoint.time - IN_FLIGHT]
