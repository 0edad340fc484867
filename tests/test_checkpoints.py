"""Signed checkpoints hold against the database's owner.

The insider here owns the database: they drop the append-only guards and rewrite a history so
that plain ``audit verify`` stays green — deleting its newest steps and fixing the row, sealing
the whole chain again with flowengine's own step builder, deleting a proposal with its events,
reordering steps and sealing them again. A checkpoint taken before catches every one of them,
at the proposal it names; a checkpoint altered, or signed with another key, is refused; and a
proposal's inclusion proof is checked by an independent verifier written from the README.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, select, text

from flowengine.errors import InvalidInput, Refused
from flowengine.history import chain
from flowengine.history.records import CREATED, Event, Stamp
from flowengine.history.steps import ChainBuilder
from flowengine.proof import checkpoint as checkpoints
from flowengine.proof import merkle
from flowengine.proof.checkpoint import Checkpoint, Head
from flowengine.proof.keyfiles import public_path, read_public, read_signer, write_key_pair
from flowengine.service.checkpoints import CheckpointReport
from flowengine.service.facade import FlowEngine
from flowengine.store import access as access_store
from flowengine.store import queries
from flowengine.store.schema import access_log as access_log_table
from flowengine.store.schema import erasable as erasable_table
from flowengine.store.schema import events as events_table
from flowengine.store.schema import proposals as proposals_table

from . import proof_verifier
from .cli_support import as_json, make_run, ok, one_error_line
from .databases import stored_bytes, tampering
from .stress_advances import WORKFLOW, WORKFLOW_DIR
from .test_audit import PANEL, PROPOSALS, TARGET, db, history, open_engine, verify

__all__ = ["db"]  # the three-proposal database of test_audit, used here as a fixture

Rewrite = Callable[[Connection, list[Event]], None]


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "auditor.key"
    write_key_pair(path)
    return path


def take(db: str, key: Path) -> Checkpoint:
    with open_engine(db) as engine:
        return engine.checkpoint(read_signer(key))


def held(db: str, *taken: Checkpoint, trusted: Path | None = None) -> CheckpointReport:
    with open_engine(db) as engine:
        return engine.verify_checkpoints(taken, trusted_key=read_public(trusted) if trusted else None)


# -- what an insider does -----------------------------------------------------------------------

def _proposal_pk(conn: Connection, proposal: str = TARGET) -> int:
    return int(conn.execute(select(proposals_table.c.pk).where(proposals_table.c.id == proposal)).scalar_one())


def _store(conn: Connection, rebuilt: list[Event], proposal: str = TARGET) -> None:
    """Replace a proposal's events by ``rebuilt`` and make its row the replay of them, as flowengine would."""
    pk = _proposal_pk(conn, proposal)
    conn.execute(delete(erasable_table).where(erasable_table.c.proposal_pk == pk))
    conn.execute(delete(events_table).where(events_table.c.proposal_pk == pk))
    for event in rebuilt:
        queries.insert_event(conn, pk, event)
    replayed = chain.replay(rebuilt)
    conn.execute(proposals_table.update().where(proposals_table.c.pk == pk).values(
        state=replayed.state, fields=replayed.fields, version=replayed.version, head_hash=replayed.head_hash,
        state_entered_at=replayed.state_entered_at, updated_at=replayed.updated_at))


def _sealed_again(events: list[Event], proposal: str = TARGET, stamp: Stamp | None = None) -> list[Event]:
    """``events`` in this order, each dated as the event at its place was, sealed by flowengine's own
    builder (with ``stamp``: as recorded by that login at that time, event format 2)."""
    builder = ChainBuilder(proposal, stamp)
    times = sorted(event.at for event in events)
    rows = []
    for event, at in zip(events, times, strict=True):
        if event.kind == CREATED:
            rows.append(builder.create(event.to_state, event.actor, event.role, at, details=event.details,
                                       fields=event.changes, comment=event.comment, key=event.idempotency_key))
        else:
            moves = event.to_state if event.from_state != event.to_state else None
            rows.append(builder.step(event.kind, event.actor, event.role, at, trigger=event.trigger, to_state=moves,
                                     comment=event.comment, changes=event.changes, details=event.details,
                                     key=event.idempotency_key))
    return [row.event() for row in rows]


def delete_tail_and_fix_row(conn: Connection, events: list[Event]) -> None:
    _store(conn, events[:2])


def seal_whole_chain_again(conn: Connection, events: list[Event]) -> None:
    _store(conn, _sealed_again([events[0], replace(events[1], comment="approved by everyone"), *events[2:]]))


def delete_proposal_with_its_events(conn: Connection, _events: list[Event]) -> None:
    pk = _proposal_pk(conn)
    conn.execute(delete(erasable_table).where(erasable_table.c.proposal_pk == pk))
    conn.execute(delete(events_table).where(events_table.c.proposal_pk == pk))
    conn.execute(delete(proposals_table).where(proposals_table.c.pk == pk))


def reorder_and_seal_again(conn: Connection, events: list[Event]) -> None:
    """The note set after the council had it (step 3) now set before it went there (step 2)."""
    first, ping, note, pong = events
    _store(conn, _sealed_again([first, note, ping, pong]))


REWRITES = [
    pytest.param(delete_tail_and_fix_row, "steps were deleted", id="delete-tail-fix-row"),
    pytest.param(seal_whole_chain_again, "rewritten and sealed again", id="seal-whole-chain-again"),
    pytest.param(delete_proposal_with_its_events, "gone from the database", id="delete-proposal"),
    pytest.param(reorder_and_seal_again, "rewritten and sealed again", id="reorder"),
]


@pytest.mark.parametrize(("rewrite", "problem"), REWRITES)
def test_an_insider_rewrite_passes_the_plain_audit_but_not_the_checkpoint(db: str, key: Path, rewrite: Rewrite,
                                                                          problem: str) -> None:
    before = take(db, key)
    assert held(db, before, trusted=public_path(key)).ok
    events = history(db, TARGET)  # read before the guards are dropped: on PostgreSQL that locks the table
    with tampering(db) as conn:
        rewrite(conn, events)
    assert verify(db).ok, verify(db).as_dict()  # the rewrite is invisible to the chain alone
    report = held(db, before, trusted=public_path(key))
    assert not report.ok
    assert [(finding.chain, finding.checkpoint) for finding in report.findings] == [(TARGET, before.label)]
    assert problem in report.findings[0].problem


_ACCESS_LOG_GUARDS = {"sqlite": ("DROP TRIGGER access_log_no_update", "DROP TRIGGER access_log_no_delete"),
                      "postgresql": ("DROP TRIGGER access_log_append_only ON access_log",)}


def test_an_access_log_replaced_and_sealed_again_is_caught_by_the_checkpoint(db: str, key: Path) -> None:
    """The owner writes the access log anew — every grant still there, each entry now saying
    another granted it — and seals it again: the grants match its replay, so the plain audit is
    green; the checkpoint's head of the access log is not."""
    before = take(db, key)
    assert before.head(checkpoints.ACCESS_LOG) is not None
    with tampering(db) as conn:
        for statement in _ACCESS_LOG_GUARDS[conn.dialect.name]:
            conn.execute(text(statement))
        entries = access_store.log_entries(conn)
        conn.execute(delete(access_log_table))
        for entry in entries:
            access_store.append_entry(conn, entry.action, entry.login, entry.workflow, entry.role, "mallory", entry.at)
    assert verify(db).ok, verify(db).as_dict()
    report = held(db, before, trusted=public_path(key))
    assert [(finding.chain, finding.checkpoint) for finding in report.findings] == [
        (checkpoints.ACCESS_LOG, before.label)]
    assert "rewritten and sealed again" in report.findings[0].problem


def test_a_proposal_inserted_later_with_a_backdated_time_is_named(db_target: str, key: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """In a database made for real use every step's recording time is sealed. A proposal written
    after a checkpoint, its history then sealed again as if recorded a day before it, passes the
    plain audit; the checkpoint, which does not list it, names it. The honest one recorded after
    the checkpoint does not."""
    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR]) as engine:
        engine.new_proposal(WORKFLOW, title="Before", actor=PANEL)
        before = engine.checkpoint(read_signer(key))
        late = engine.new_proposal(WORKFLOW, title="After", actor=PANEL).proposal.id
        engine.advance(late, "ping", actor=PANEL)
        assert engine.verify_checkpoints([before]).ok
        events = engine.history(late)[1]
    backdated = Stamp.of(events[0].login or "", before.time - timedelta(days=1))
    with tampering(db_target) as conn:
        _store(conn, _sealed_again(events, late, backdated), late)
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR]) as engine:
        assert engine.verify().ok
        report = engine.verify_checkpoints([before])
    assert [(finding.chain, finding.checkpoint) for finding in report.findings] == [(late, before.label)]
    assert "backdated" in report.findings[0].problem


def test_steps_recorded_after_a_checkpoint_are_free_to_follow_it(db: str, key: Path) -> None:
    before = take(db, key)
    with open_engine(db) as engine:
        engine.advance(TARGET, "ping", actor=PANEL, comment="again")
        engine.new_proposal(WORKFLOW, title="A later one", actor=PANEL)
    after = take(db, key)
    report = held(db, before, after, trusted=public_path(key))
    assert report.ok, report.as_dict()
    assert report.chains == (len(PROPOSALS) + 1) * 2 + 1  # the proposals and the access log, twice; the new one


def test_a_checkpoint_signed_with_another_key_is_refused(db: str, key: Path, tmp_path: Path) -> None:
    other = tmp_path / "mallory.key"
    write_key_pair(other)
    forged = take(db, other)
    report = held(db, forged, trusted=public_path(key))
    assert not report.ok
    assert "not by the trusted key" in report.findings[0].problem
    assert report.findings[0].chain is None


def test_checkpoints_signed_by_two_keys_are_refused_even_unpinned(db: str, key: Path, tmp_path: Path) -> None:
    other = tmp_path / "mallory.key"
    write_key_pair(other)
    report = held(db, take(db, key), take(db, other))
    assert [finding.chain for finding in report.findings] == [None]
    assert "different keys" in report.findings[0].problem


def _altered(taken: Checkpoint, tmp_path: Path, change: Callable[[dict[str, object]], None]) -> Checkpoint:
    data = taken.as_dict()
    change(data)
    path = tmp_path / "altered.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return checkpoints.read(path)


def test_a_checkpoint_whose_chains_were_edited_in_the_file_is_refused(db: str, key: Path, tmp_path: Path) -> None:
    taken = take(db, key)

    def forget_the_target(data: dict[str, object]) -> None:
        chains = [head for head in taken.heads if head.name != TARGET]
        data["chains"] = [head.as_dict() for head in chains]
        data["note"] = str(data["note"]).replace(f"\n{len(taken.heads)}\n", f"\n{len(chains)}\n")

    report = held(db, _altered(taken, tmp_path, forget_the_target), trusted=public_path(key))
    problems = " ".join(finding.problem for finding in report.findings)
    assert "signature is not one of key" in problems and "Merkle root" in problems


def test_a_later_checkpoint_must_extend_the_earlier(db: str, key: Path) -> None:
    before = take(db, key)
    shortened = checkpoints.sign([head if head.name != TARGET else Head(TARGET, 2, history(db, TARGET)[1].hash)
                                  for head in before.heads if head.name != "PING-3"],
                                 before.time.replace(year=before.time.year + 1), read_signer(key))
    report = held(db, before, shortened, trusted=public_path(key))
    assert {(finding.chain, finding.checkpoint) for finding in report.findings} == {
        ("PING-3", shortened.label), (TARGET, shortened.label)}


def test_no_checkpoint_vouches_for_a_damaged_history(db: str, key: Path) -> None:
    with tampering(db) as conn:
        conn.execute(events_table.update().where(events_table.c.seq == 2).values(comment="rewritten"))
    with pytest.raises(Refused, match="fail the audit"):
        take(db, key)


# -- keys ---------------------------------------------------------------------------------------

def test_keygen_writes_a_private_key_for_its_owner_alone_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k"
    _, raw = write_key_pair(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_public(public_path(path)) == raw == read_public(path)
    before = path.read_bytes()
    with pytest.raises(Refused, match="never overwritten"):
        write_key_pair(path)
    assert path.read_bytes() == before


def test_a_private_key_others_may_read_is_not_used(key: Path) -> None:
    os.chmod(key, 0o644)
    with pytest.raises(Refused, match="chmod 600"):
        read_signer(key)


def test_the_private_key_never_enters_the_database(db: str, key: Path) -> None:
    take(db, key)
    pem = key.read_text(encoding="ascii")
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    private_raw = base64.b64decode(body)[-32:]  # PKCS#8 of Ed25519 ends in the 32-byte seed
    stored = stored_bytes(db)
    text = stored.decode("latin-1") if isinstance(stored, bytes) else repr(stored)
    assert body not in text and private_raw.hex() not in text
    assert not (isinstance(stored, bytes) and private_raw in stored)


# -- the file and the proof ---------------------------------------------------------------------

def test_a_checkpoint_file_reads_back_as_written_and_is_never_overwritten(db: str, key: Path, tmp_path: Path) -> None:
    taken = take(db, key)
    path = checkpoints.write_in(taken, tmp_path)
    again = checkpoints.write_in(taken, tmp_path)
    assert path != again and again.name.endswith("-2.json")
    read = checkpoints.read(path)
    assert (read.heads, read.root, read.time, read.public_key, read.signature) == (
        taken.heads, taken.root, taken.time, taken.public_key, taken.signature)
    assert read.problems() == []
    with pytest.raises(InvalidInput, match="never overwritten"):
        checkpoints.write(taken, path)


@pytest.mark.parametrize("content", ["not json", "{}", '{"format": "flowengine checkpoint 1", "note": "x"}'])
def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad\.json"):
        checkpoints.read(path)


def test_every_inclusion_proof_checks_with_the_independent_verifier(db: str, key: Path) -> None:
    with open_engine(db) as engine:
        for n in range(5):  # eight chains: paths of every shape in an unbalanced tree
            engine.new_proposal(WORKFLOW, title=f"More {n}", actor=PANEL)
    taken = take(db, key)
    trusted = read_public(public_path(key))
    for head in taken.heads:
        proof = json.dumps(checkpoints.inclusion(taken, head.name))
        assert proof_verifier.checks(proof, trusted), head
        if head.name == checkpoints.ACCESS_LOG:
            continue
        steps = [event.as_dict() for event in history(db, head.name)]
        assert proof_verifier.history_ends_at(steps, head.length, head.head)


def test_an_altered_proof_or_another_key_fails_the_independent_verifier(db: str, key: Path, tmp_path: Path) -> None:
    taken = take(db, key)
    proof = checkpoints.inclusion(taken, TARGET)
    trusted = read_public(public_path(key))
    other = tmp_path / "other.key"
    write_key_pair(other)
    assert not proof_verifier.checks(json.dumps(proof), read_public(public_path(other)))
    for field, value in (("head", "0" * 64), ("length", 3), ("chain", "PING-1")):
        assert not proof_verifier.checks(json.dumps({**proof, "leaf": {**proof["leaf"], field: value}}), trusted)
    assert not proof_verifier.checks(json.dumps({**proof, "index": proof["index"] + 1}), trusted)


@pytest.mark.parametrize("size", range(1, 18))
def test_merkle_audit_paths_lead_to_the_root_for_every_leaf(size: int) -> None:
    hashes = [merkle.leaf_hash(str(n).encode()) for n in range(size)]
    root = merkle.root(hashes)
    for index in range(size):
        path = merkle.audit_path(hashes, index)
        assert merkle.root_from_path(hashes[index], index, size, path) == root
        assert merkle.root_from_path(hashes[index], size, size, path) is None  # outside the tree
        if size > 1:
            assert merkle.root_from_path(hashes[index], index ^ 1 if index ^ 1 < size else index - 1, size, path) \
                != root
        if path:
            assert merkle.root_from_path(hashes[index], index, size, path[:-1]) != root


def test_merkle_root_is_rfc_6962s() -> None:
    """The test vector of RFC 6962's reference implementation: the empty tree, and one leaf of no bytes."""
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root([merkle.leaf_hash(b"")]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")


# -- the command line ---------------------------------------------------------------------------

def test_tick_keeps_a_series_that_audit_verify_holds_the_database_to(db: str, key: Path, tmp_path: Path) -> None:
    run = make_run(db, "2025-03-04T09:00:00Z")
    series = tmp_path / "series"
    series.mkdir()
    ok(run("tick", "--checkpoint-dir", str(series), "--checkpoint-key", str(key)))
    ok(run("tick", "--checkpoint-dir", str(series), env={"FLOWENGINE_CHECKPOINT_KEY": str(key)}))
    assert len(list(series.glob("checkpoint-*.json"))) == 2
    assert not list(series.glob("*.tmp")) and not list(series.glob(".*"))
    result = ok(run("audit", "verify", "--checkpoint", str(series), "--public-key", str(public_path(key)), "--json"))
    assert as_json(result)["checkpoints"]["ok"] is True
    events = history(db, TARGET)
    with tampering(db) as conn:
        delete_tail_and_fix_row(conn, events)
    result = run("audit", "verify", "--checkpoint", str(series), "--public-key", str(public_path(key)))
    assert result.exit_code == 1
    assert result.stdout.count(f"{TARGET}: against ") == 2
    assert "2 finding(s)" in result.stderr


def test_a_dry_run_of_tick_writes_no_checkpoint(db: str, key: Path, tmp_path: Path) -> None:
    ok(make_run(db, "2025-03-04T09:00:00Z")("tick", "--dry-run", "--checkpoint-dir", str(tmp_path),
                                               "--checkpoint-key", str(key)))
    assert not list(tmp_path.glob("checkpoint-*"))


def test_prove_prints_what_the_independent_verifier_accepts(db: str, key: Path, tmp_path: Path) -> None:
    run = make_run(db, "2025-03-04T09:00:00Z")
    file = tmp_path / "c.json"
    ok(run("audit", "checkpoint", "--key", str(key), "-o", str(file)))
    proof = ok(run("audit", "prove", TARGET.lower(), "--checkpoint", str(file), "--public-key",
                   str(public_path(key)))).stdout
    assert proof_verifier.checks(proof, read_public(public_path(key)))
    other = tmp_path / "other.key"
    write_key_pair(other)
    refused = run("audit", "prove", TARGET, "--checkpoint", str(file), "--public-key", str(public_path(other)))
    assert "not by the trusted key" in one_error_line(refused)


def test_checkpoint_without_a_key_is_a_usage_error_and_writes_nothing(db: str, tmp_path: Path) -> None:
    result = make_run(db, "2025-03-04T09:00:00Z")("audit", "checkpoint", "-o", str(tmp_path / "c.json"))
    assert result.exit_code == 2 and "audit keygen" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_cryptography_is_loaded_only_when_a_key_is_used() -> None:
    code = ("import sys, flowengine_cli.tick, flowengine_cli.history, flowengine.service.checkpoints, "
            "flowengine.proof.checkpoint, flowengine.proof.keyfiles\n"
            "print('cryptography' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert shown.stdout.strip() == "False"
