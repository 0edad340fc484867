"""Old histories' personal data converted into the erasable form, auditably.

Histories recorded before a database kept personal data apart are sealed again as event format 3
by ``audit convert-personal``: a checkpoint before, a signed conversion record, a checkpoint
after. The checkpoints and the record verify together; a checkpoint taken before no longer holds
without the record; every way of abusing a conversion — a record signed by another key, one whose
old heads are not the checkpoint's, a "conversion" that also moved a time, a state or dropped a
step — is caught; an independent verifier checks a record from the README alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli

from flowengine.errors import AccessDenied
from flowengine.history import chain
from flowengine.history.erasure import ERASED
from flowengine.history.records import Actor, Stamp
from flowengine.history.steps import ChainBuilder
from flowengine.proof import checkpoint as checkpoints
from flowengine.proof import conversion
from flowengine.proof.conversion import Converted, Record
from flowengine.proof.keyfiles import public_path, read_public, read_signer, write_key_pair
from flowengine.service import converting
from flowengine.service.checkpoints import CheckpointReport
from flowengine.service.erasing import ErasureRequest
from flowengine.store import basics as store_basics

from . import proof_verifier
from .cli_support import CLEARED_ENV
from .databases import ON_POSTGRESQL, raw_connection, tampering
from .stress_advances import WORKFLOW, WORKFLOW_DIR
from .test_audit import PANEL, PROPOSALS, TARGET, db, history, open_engine, verify
from .test_checkpoints import _store

__all__ = ["db"]  # three proposals of event format 2, from test_audit


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "auditor.key"
    write_key_pair(path)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    return folder


def convert(db: str, key: Path, out: Path, *proposals: str) -> converting.Conversion:
    with open_engine(db) as engine:
        return converting.convert(engine, read_signer(key), out, proposals or None)


def held(db: str, folder: Path, *, records: bool = True, trusted: Path | None = None) -> CheckpointReport:
    taken, found = conversion.read_series([folder])
    with open_engine(db) as engine:
        return engine.verify_checkpoints(taken, records=found if records else (),
                                         trusted_key=read_public(trusted) if trusted else None)


def test_a_conversion_reseals_old_histories_and_its_checkpoints_and_record_verify(db: str, key: Path,
                                                                                 out: Path) -> None:
    before = {pid: history(db, pid) for pid in PROPOSALS}
    assert {event.format for events in before.values() for event in events} == {2}
    done = convert(db, key, out)
    assert done.chains == dict.fromkeys(PROPOSALS, 4) and done.events == 12
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "checkpoint", "conversion"]
    for pid, old in before.items():
        new = history(db, pid)
        assert [event.format for event in new] == [3, 3, 3, 3]
        # the same steps, times, actors, logins, comments and fields: only the seal changed
        said = [(e.seq, e.kind, e.from_state, e.to_state, e.actor, e.role, e.at, e.entered_at, e.comment, e.changes,
                 e.details, e.login, e.recorded_at) for e in old]
        assert said == [(e.seq, e.kind, e.from_state, e.to_state, e.actor, e.role, e.at, e.entered_at, e.comment,
                         e.changes, e.details, e.login, e.recorded_at) for e in new]
        assert all(a.hash != b.hash for a, b in zip(old, new, strict=True))
    assert verify(db).ok
    report = held(db, out, trusted=public_path(key))
    assert report.ok, report.findings
    assert (report.converted, report.unchecked, len(report.records)) == (12, 0, 1)
    record = conversion.read(done.record or Path())
    assert [(c.name, c.length, c.old_head, c.new_head) for c in record.chains] == [
        (pid, 4, before[pid][-1].hash, history(db, pid)[-1].hash) for pid in PROPOSALS]
    with open_engine(db) as engine:  # the access log records the conversion, naming the record's root
        last = engine.access_log()[-1]
    assert (last.action, last.role, last.login) == ("convert", record.root, engine.login)


def test_without_its_record_a_checkpoint_taken_before_names_every_converted_chain(db: str, key: Path,
                                                                                   out: Path) -> None:
    convert(db, key, out)
    report = held(db, out, records=False)
    assert sorted(f.chain for f in report.findings if f.chain) == sorted([*PROPOSALS, *PROPOSALS])
    assert all("sealed again" in f.problem or "another head" in f.problem for f in report.findings)


def test_running_it_twice_converts_nothing_the_second_time(db: str, key: Path, out: Path, tmp_path: Path) -> None:
    convert(db, key, out)
    again = tmp_path / "again"
    again.mkdir()
    second = convert(db, key, again)
    assert (second.chains, second.record) == ({}, None)
    assert list(again.iterdir()) == []
    assert held(db, out).ok


def test_a_database_without_personal_data_sealed_in_says_so_and_writes_no_record(db_target: str, key: Path,
                                                                                 out: Path) -> None:
    with open_engine(db_target) as engine:  # a new database keeps personal data apart from its first step
        engine.new_proposal(WORKFLOW, title="Recorded erasably from the start", actor=PANEL)
    done = cli_run(db_target, "audit", "convert-personal", "--key", str(key), "--out", str(out), "--yes")
    assert done.exit_code == 0, done.output
    assert "nothing to convert, nothing written" in done.output
    assert list(out.iterdir()) == []


def test_only_the_proposals_named_are_converted(db: str, key: Path, out: Path) -> None:
    done = convert(db, key, out, TARGET.lower())
    assert list(done.chains) == [TARGET]
    assert {pid: {e.format for e in history(db, pid)} for pid in PROPOSALS} == {
        pid: {3 if pid == TARGET else 2} for pid in PROPOSALS}
    assert held(db, out).ok


def test_a_history_of_both_formats_keeps_its_commitments_and_an_erasure_after_it_still_verifies(
        db: str, key: Path, out: Path) -> None:
    with open_engine(db) as engine:
        assert engine.keep_personal_data_apart()
        engine.advance(TARGET, "ping", actor=Actor("Ola Nordmann", "panel"), comment="Ola says so")
        kept = history(db, TARGET)[-1].personal
    convert(db, key, out)
    events = history(db, TARGET)
    assert [e.format for e in events] == [3] * 5 and events[-1].personal == kept
    with open_engine(db) as engine:
        engine.erase(ErasureRequest(proposal=TARGET, comments=True))
        assert engine.verify().ok
    assert history(db, TARGET)[1].comment == ERASED
    report = held(db, out)
    assert report.ok, report.findings
    # the comments erased since cannot be hashed the old way again: those steps rest on the record
    assert (report.converted, report.unchecked) == (4 + 4 + 3, 2)
    steps = json.loads(cli_run(db, "history", TARGET, "--json").output)["events"]
    record = conversion.read(next(out.glob("conversion-*.json")))
    converted = record.chain(TARGET)
    assert converted is not None
    assert proof_verifier.converted_only_encoding(steps, converted.as_dict())


# -- a conversion abused -------------------------------------------------------------------------

def _forged(db: str, key: Path, out: Path, change: str) -> None:
    """A "conversion" of TARGET by whoever holds the key, that changes more than the encoding, with
    a checkpoint before and a record signed by the right key: the old hashes are the true ones."""
    taken_before = checkpoints.write_in(_checkpoint(db, key), out)
    old = history(db, TARGET)
    altered = list(old)
    if change == "time":
        altered[1] = replace(old[1], at=old[1].at - timedelta(minutes=1))
    elif change == "state":
        altered[3] = replace(old[3], to_state="done", trigger="finish")
    else:  # a step dropped
        altered = [*old[:2], *old[3:]]
    with open_engine(db) as engine, engine.database.read() as conn:
        stamp = engine.stamp(conn)
    builder = ChainBuilder(TARGET, stamp)
    fields = frozenset({"note"})
    new = [builder.resealed(event if change != "drop" or n < 3 else replace(event, seq=n),
                            fields).event() for n, event in enumerate(altered, start=1)]
    with tampering(db) as conn:
        _store(conn, new)
    pairs = tuple((o.hash, n.hash) for o, n in zip([*old[:2], *old[3:]] if change == "drop" else old, new,
                                                    strict=True))
    record = conversion.sign([Converted(TARGET, pairs)], checkpoints.read(taken_before).root,
                             checkpoints.read(taken_before).time, read_signer(key))
    conversion.write_in(record, out)
    checkpoints.write_in(_checkpoint(db, key), out)


def _checkpoint(db: str, key: Path) -> checkpoints.Checkpoint:
    with open_engine(db) as engine:
        return engine.checkpoint(read_signer(key))


@pytest.mark.parametrize(("change", "problem"), [
    pytest.param("time", "more than the encoding changed", id="a-time-moved"),
    pytest.param("state", "more than the encoding changed", id="a-state-changed"),
    pytest.param("drop", "more than the encoding changed", id="a-step-dropped"),
])
def test_a_conversion_that_changed_more_than_the_encoding_is_caught(db: str, key: Path, out: Path, change: str,
                                                                    problem: str) -> None:
    _forged(db, key, out, change)
    assert verify(db).ok  # the plain audit cannot tell
    report = held(db, out)
    assert not report.ok
    assert {f.chain for f in report.findings} == {TARGET}
    assert any(problem in f.problem for f in report.findings), report.findings


def _resigned(record: Record, key: Path, **changes: object) -> Record:
    changed = replace(record, **changes)  # type: ignore[arg-type]
    return conversion.sign(changed.chains, changed.before, changed.time, read_signer(key))


def _swap_record(out: Path, record: Record) -> None:
    for path in out.glob("conversion-*.json"):
        path.unlink()
    conversion.write_in(record, out)


def test_a_record_signed_by_another_key_is_refused(db: str, key: Path, out: Path, tmp_path: Path) -> None:
    done = convert(db, key, out)
    other = tmp_path / "other.key"
    write_key_pair(other)
    _swap_record(out, _resigned(conversion.read(done.record or Path()), other))
    report = held(db, out)
    assert any(f.chain is None and "not by the checkpoints' key" in f.problem for f in report.findings)
    assert {f.chain for f in report.findings if f.chain} == set(PROPOSALS)


def test_a_record_whose_old_head_is_not_the_earlier_checkpoints_is_caught(db: str, key: Path, out: Path) -> None:
    done = convert(db, key, out)
    record = conversion.read(done.record or Path())
    target = record.chain(TARGET)
    assert target is not None
    forged = Converted(TARGET, (*target.pairs[:-1], ("ab" * 32, target.new_head)))
    chains = tuple(forged if c.name == TARGET else c for c in record.chains)
    _swap_record(out, _resigned(record, key, chains=chains))
    report = held(db, out)
    assert {f.chain for f in report.findings} == {TARGET}


def test_a_record_altered_after_signing_is_refused(db: str, key: Path, out: Path) -> None:
    done = convert(db, key, out)
    path = done.record or Path()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["chains"][0]["events"][0][0] = "cd" * 32
    path.write_text(json.dumps(data), encoding="utf-8")
    report = held(db, out)
    assert any(f.chain is None and "Merkle root" in f.problem for f in report.findings)


def test_a_chain_resealed_without_a_record_is_caught(db: str, key: Path, out: Path) -> None:
    """Re-sealed into format 3 by flowengine's own builder, but with no record: the checkpoint names it."""
    checkpoints.write_in(_checkpoint(db, key), out)
    with open_engine(db) as engine, engine.database.read() as conn:
        stamp = engine.stamp(conn)
    builder = ChainBuilder(TARGET, stamp)
    resealed = [builder.resealed(event, {"note"}).event() for event in history(db, TARGET)]
    with tampering(db) as conn:
        _store(conn, resealed)
    assert verify(db).ok
    report = held(db, out)
    assert [(f.chain, "sealed again" in f.problem) for f in report.findings] == [(TARGET, True)]


# -- how it runs ---------------------------------------------------------------------------------

def test_a_conversion_is_refused_while_a_history_fails_the_audit(db: str, key: Path, out: Path) -> None:
    from flowengine.errors import Refused

    with tampering(db) as conn:
        conn.exec_driver_sql("UPDATE events SET comment = 'approved' WHERE seq = 2")
    with pytest.raises(Refused, match="fail the audit"):
        convert(db, key, out)
    assert list(out.iterdir()) == []


def test_after_a_conversion_the_database_still_refuses_any_update_but_a_reseal(db: str, key: Path,
                                                                              out: Path) -> None:
    convert(db, key, out)
    for statement in ("UPDATE events SET comment = 'approved' WHERE seq = 2",
                      "UPDATE events SET at = entered_at WHERE seq = 2",
                      "DELETE FROM events WHERE seq = 4"):
        with pytest.raises(Exception, match="append-only"), raw_connection(db) as conn:
            conn.exec_driver_sql(statement)
    assert verify(db).ok and held(db, out).ok


@pytest.mark.sqlite_only("a second login is simulated through the OS; PostgreSQL has real ones")
def test_a_login_without_the_admin_capability_is_refused(db: str, key: Path, out: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with open_engine(db) as engine:
        engine.grant("ola", ["*"], ["*"])
    monkeypatch.setattr(store_basics, "os_login", lambda: "ola")
    with pytest.raises(AccessDenied, match="admin capability"):
        convert(db, key, out)
    assert {e.format for e in history(db, TARGET)} == {2}


def test_a_format_1_history_reseals_and_hashes_as_before_from_its_kept_values() -> None:
    """Histories older than logins (event format 1) convert too: the old hash is derived again."""
    from datetime import UTC, datetime

    at = datetime(2019, 3, 1, 9, 0, tzinfo=UTC)
    old_builder = ChainBuilder("OLD-1")
    old = [old_builder.create("a", "Ola", "panel", at, details={"definition": "x"}, fields={"note": "private"}),
           old_builder.step("advanced", "Kari", "panel", at + timedelta(days=1), trigger="ping", to_state="b",
                            comment="Kari's view")]
    builder = ChainBuilder("OLD-1", Stamp.of("admin", at + timedelta(days=900)))
    new = [builder.resealed(row.event(), {"note"}).event() for row in old]
    assert [e.format for e in new] == [3, 3] and all(e.login is None for e in new)
    previous = chain.GENESIS
    for was, now in zip(old, new, strict=True):
        assert was.hash in chain.former_hashes(now, previous)
        previous = was.hash
    assert chain.recompute(new[1]) == new[1].hash and new[1].prev_hash == new[0].hash


# -- the command line and the independent verifier -------------------------------------------------

def cli_run(db: str, *args: str, answer: str | None = None, now: str = "2025-03-01T12:00:00Z") -> Result:
    environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    environment |= {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": now,
                    "FLOWENGINE_WORKFLOWS": str(WORKFLOW_DIR)}
    return CliRunner().invoke(cli, list(args), env=environment, input=answer, catch_exceptions=False,
                              prog_name="flowengine")


def test_the_command_asks_first_and_verify_reads_the_record_from_the_checkpoint_folder(db: str, key: Path,
                                                                                       out: Path) -> None:
    refused = cli_run(db, "audit", "convert-personal", "--key", str(key), "--out", str(out), answer="n\n")
    assert refused.exit_code == 1 and "Re-seal 3 histories (12 steps" in refused.output
    assert list(out.iterdir()) == [] and {e.format for e in history(db, TARGET)} == {2}
    done = cli_run(db, "audit", "convert-personal", "--key", str(key), "--out", str(out), answer="y\n")
    assert done.exit_code == 0, done.output
    assert "3 histories re-sealed in the erasable form (12 steps)" in done.output
    checked = cli_run(db, "audit", "verify", "--checkpoint", str(out), "--public-key", str(public_path(key)))
    assert checked.exit_code == 0, checked.output
    assert "1 conversion record(s): 12 converted step(s) hash as before" in checked.output
    record = next(out.glob("conversion-*.json"))
    moved = out.parent / record.name
    record.rename(moved)
    assert cli_run(db, "audit", "verify", "--checkpoint", str(out)).exit_code == 1
    given = cli_run(db, "audit", "verify", "--checkpoint", str(out), "--conversion", str(moved), "--json")
    assert given.exit_code == 0, given.output
    assert json.loads(given.output)["checkpoints"]["converted_steps"] == {"derived_again": 12, "erased_since": 0}


def test_the_independent_verifier_checks_a_record_and_the_old_hashes(db: str, key: Path, out: Path) -> None:
    done = convert(db, key, out)
    text = (done.record or Path()).read_text(encoding="utf-8")
    trusted = read_public(public_path(key))
    assert proof_verifier.record_checks(text, trusted)
    steps = json.loads(cli_run(db, "history", TARGET, "--json").output)["events"]
    chain_of = next(c for c in json.loads(text)["chains"] if c["chain"] == TARGET)
    assert proof_verifier.converted_only_encoding(steps, chain_of)
    forged = json.loads(text)
    forged["chains"][0]["events"][0][1] = "ef" * 32
    assert not proof_verifier.record_checks(json.dumps(forged), trusted)
    other = out.parent / "other.key"
    write_key_pair(other)
    assert not proof_verifier.record_checks(text, read_public(public_path(other)))
    changed = [{**step, "at": "2020-01-01T00:00:00.000000Z"} if step["seq"] == 2 else step for step in steps]
    assert not proof_verifier.converted_only_encoding(changed, chain_of)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="real logins need a PostgreSQL server")
def test_on_postgresql_an_administrators_login_converts_and_anothers_is_refused(db: str, key: Path, out: Path,
                                                                                tmp_path: Path) -> None:
    import os

    from sqlalchemy.engine import make_url

    from flowengine.service.facade import FlowEngine

    from .access_support import member_logins

    admin, clerk = f"convert_admin_{os.getpid()}", f"convert_clerk_{os.getpid()}"
    with open_engine(db) as engine:
        engine.grant(admin, ["admin"], ["*"])
        engine.grant(clerk, ["panel", "council"], ["ping-pong"])

    def as_login(login: str) -> FlowEngine:
        url = make_url(db).set(username=login).render_as_string(hide_password=False)
        return FlowEngine.open(url, workflow_dirs=[WORKFLOW_DIR])

    with member_logins([admin, clerk]):
        with as_login(clerk) as engine, pytest.raises(AccessDenied, match="admin capability"):
            converting.convert(engine, read_signer(key), out)
        for statement in ("UPDATE events SET hash = hash",  # nobody holds UPDATE on events
                          "SELECT flowengine_reseal(1, 1, '', NULL, NULL, NULL, '', '', '{}')"):  # nor re-seals
            with (as_login(clerk) as engine, pytest.raises(Exception, match=r"permission denied|may not seal"),
                  engine.database.write() as conn):
                conn.exec_driver_sql(statement)
        with as_login(admin) as engine:
            done = converting.convert(engine, read_signer(key), out)
            assert done.events == 12
            assert engine.access_log()[-1].login == admin
        with (as_login(admin) as engine, pytest.raises(Exception, match=r"permission denied"),
              engine.database.write() as conn):  # by hand, not even the administrator updates an event
            conn.exec_driver_sql("UPDATE events SET comment = 'approved' WHERE seq = 2")
    assert verify(db).ok
    assert held(db, out).ok


def test_erase_points_at_the_conversion_and_after_it_reaches_the_old_steps(db: str, key: Path, out: Path) -> None:
    before = cli_run(db, "erase", "--actor", PANEL.name, "--yes")
    assert before.exit_code == 0, before.output
    assert "convert them into the erasable form first: flowengine audit convert-personal" in before.output
    convert(db, key, out)
    after = cli_run(db, "erase", "--actor", PANEL.name, "--yes")
    assert after.exit_code == 0, after.output
    assert f"{TARGET}: 2 values erased" in after.output and "convert them" not in after.output
    assert all(e.actor == ERASED for e in history(db, TARGET) if e.seq <= 2)
    assert verify(db).ok
    report = held(db, out)
    assert report.ok and report.unchecked == 2 * len(PROPOSALS)


def test_a_stored_history_of_format_1_converts_and_verifies_through_its_record(db: str, key: Path,
                                                                               out: Path) -> None:
    """A history older than logins (event format 1, as written before migration 0006)."""
    from .test_checkpoints import _sealed_again

    rebuilt = _sealed_again(history(db, TARGET))
    with tampering(db) as conn:
        _store(conn, rebuilt)
    assert [e.format for e in history(db, TARGET)] == [1, 1, 1, 1] and verify(db).ok
    done = convert(db, key, out)
    assert done.chains[TARGET] == 4
    events = history(db, TARGET)
    assert [(e.format, e.login) for e in events] == [(3, None)] * 4
    report = held(db, out)
    assert report.ok, report.findings
    assert report.converted == 12
