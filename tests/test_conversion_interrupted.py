"""A conversion of old histories interrupted at each point: before its commit (nothing converted,
no record left, or a killed process's left-over record named as one that never took effect),
while its COMMIT is under way, and before its checkpoint after (the conversion stands, the command
says so, and a checkpoint signed now completes the series)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection

from flowengine.clock import iso_utc
from flowengine.errors import Unfinished
from flowengine.history.records import Event
from flowengine.proof import checkpoint as checkpoints
from flowengine.proof import conversion
from flowengine.proof.conversion import Record
from flowengine.proof.keyfiles import public_path
from flowengine.service import converting
from flowengine.service.facade import FlowEngine
from flowengine.store import resealing

from .databases import stored_bytes, tampering
from .test_audit import PROPOSALS, START, TARGET, db, history, open_engine, verify
from .test_checkpoints import _store
from .test_conversion import cli_run, convert, held, key, out

__all__ = ["db", "key", "out"]


def test_an_interrupted_conversion_leaves_the_database_as_it_was(db: str, key: Path, out: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(conn: Connection, pk: int, old: Event, new: Event) -> bool:
        calls.append(old.seq)
        if len(calls) == 6:
            raise RuntimeError("the machine went down")
        return original(conn, pk, old, new)

    original = resealing.reseal
    with open_engine(db):
        pass
    stored = stored_bytes(db)
    monkeypatch.setattr(resealing, "reseal", failing)
    with pytest.raises(RuntimeError):
        convert(db, key, out)
    assert stored_bytes(db) == stored
    assert list(out.iterdir()) == []
    monkeypatch.undo()
    assert convert(db, key, out).events == 12


def test_a_conversion_interrupted_before_its_checkpoint_after_is_named_and_a_checkpoint_now_completes_it(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The conversion committed, then signing the checkpoint after failed (a full disk; a killed
    process leaves the same files and database): the command says what is done and what is left,
    ``audit verify`` holds the series through the record and names the missing checkpoint without
    failing, and ``audit checkpoint -o DIR`` completes the series."""
    def crashed(*_args: object) -> checkpoints.Checkpoint:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(converting, "take", crashed)
    with pytest.raises(Unfinished, match="the conversion is committed") as unfinished:
        convert(db, key, out)
    monkeypatch.undo()
    assert [(r.kind, r.name) for r in unfinished.value.remedies] == [("checkpoint", str(out))]
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "conversion"]
    assert {event.format for event in history(db, TARGET)} == {3} and verify(db).ok
    record = next(out.glob("conversion-*.json"))
    report = held(db, out, trusted=public_path(key))
    assert report.ok, report.findings
    assert (report.converted, report.unfollowed) == (12, (str(record),))
    checked = cli_run(db, "audit", "verify", "--checkpoint", str(out), "--public-key", str(public_path(key)))
    assert checked.exit_code == 0, checked.output
    assert "no checkpoint taken after this conversion" in checked.output
    assert f"flowengine audit checkpoint --key KEYFILE -o {out}" in checked.output
    later = iso_utc(START + timedelta(days=1))  # when the operator notices
    signed = cli_run(db, "audit", "checkpoint", "--key", str(key), "-o", str(out), now=later)
    assert signed.exit_code == 0, signed.output
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "checkpoint", "conversion"]
    report = held(db, out, trusted=public_path(key))
    assert report.ok, report.findings
    assert (report.converted, report.unfollowed, len(report.checkpoints)) == (12, (), 2)
    checked = cli_run(db, "audit", "verify", "--checkpoint", str(out), "--json")
    assert json.loads(checked.output)["checkpoints"]["conversions"][0]["checkpoint_after"] is True
    # the series so completed catches a rewrite of a converted history as the one the command writes does
    shortened = history(db, TARGET)[:-1]
    with tampering(db) as conn:
        _store(conn, shortened)
    assert verify(db).ok
    assert {f.chain for f in held(db, out).findings} == {TARGET}


def test_a_record_left_by_a_conversion_killed_before_its_commit_is_named_as_one_that_never_took_effect(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after writing the checkpoint before and the record, before the commit: a killed
    process removes nothing, the database rolls back. ``audit verify`` says the record's
    conversion never took effect; without the record, the checkpoint before holds."""
    def killed(record: Record, path: Path) -> Path:
        original(record, path)
        raise KeyboardInterrupt

    original = conversion.write
    monkeypatch.setattr(conversion, "write", killed)
    monkeypatch.setattr(converting, "_remove", lambda written: None)  # a killed process cleans up nothing
    with pytest.raises(KeyboardInterrupt):
        convert(db, key, out)
    monkeypatch.undo()
    assert {event.format for event in history(db, TARGET)} == {2}
    report = held(db, out)
    assert sorted(f.chain for f in report.findings) == sorted(PROPOSALS)
    assert all("did not take effect" in f.problem for f in report.findings), report.findings
    record = next(out.glob("conversion-*.json"))
    record.unlink()
    assert held(db, out).ok


def test_a_conversion_interrupted_while_committing_keeps_its_record_once_the_commit_is_found_done(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or a dropped connection) arriving as the COMMIT returns: the conversion stands, so
    its checkpoint before and its record, which alone let the converted chains verify, stay, and
    the command says what is done and what is left, as when the checkpoint after fails."""
    def committed_then_interrupted(self: FlowEngine, *args: object, **kwargs: object) -> object:
        original(self, *args, **kwargs)  # type: ignore[arg-type]  # the façade's own signature
        raise KeyboardInterrupt

    original = FlowEngine.transaction
    monkeypatch.setattr(FlowEngine, "transaction", committed_then_interrupted)
    with pytest.raises(Unfinished, match="the conversion is committed") as unfinished:
        convert(db, key, out)
    monkeypatch.undo()
    assert isinstance(unfinished.value.__cause__, KeyboardInterrupt)
    assert [(r.kind, r.name) for r in unfinished.value.remedies] == [("checkpoint", str(out))]
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "conversion"]
    assert {event.format for event in history(db, TARGET)} == {3}
    report = held(db, out, trusted=public_path(key))
    assert report.ok, report.findings
    assert report.converted == 12


def test_ctrl_c_while_the_checkpoint_after_is_signed_says_the_conversion_stands(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object) -> checkpoints.Checkpoint:
        raise KeyboardInterrupt

    monkeypatch.setattr(converting, "take", interrupted)
    with pytest.raises(Unfinished, match="the conversion is committed"):
        convert(db, key, out)
    monkeypatch.undo()
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "conversion"]
    assert held(db, out, trusted=public_path(key)).ok


def test_an_interruption_as_the_commit_fails_removes_the_files_of_a_conversion_that_did_not_commit(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as a record's file is written, before the commit: the database rolled back, its
    access log holds no entry of the record, so the files of what did not happen go."""
    def interrupted(record: Record, path: Path) -> Path:
        original(record, path)
        raise KeyboardInterrupt

    original = conversion.write
    monkeypatch.setattr(conversion, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert(db, key, out)
    monkeypatch.undo()
    assert list(out.iterdir()) == [] and {event.format for event in history(db, TARGET)} == {2}


def test_files_are_kept_when_the_database_cannot_say_whether_the_conversion_committed(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit's outcome unknown (the access log unreadable now): both files stay, as a killed
    process leaves them, and the original error is raised; ``audit verify`` then names the record
    as one that never took effect."""
    def interrupted(record: Record, path: Path) -> Path:
        original(record, path)
        monkeypatch.setattr(converting.store_access, "log_entries", unreachable)  # from now on
        raise KeyboardInterrupt

    def unreachable(_conn: Connection) -> list[object]:
        raise ConnectionError("the server went away")

    original = conversion.write
    monkeypatch.setattr(conversion, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert(db, key, out)
    monkeypatch.undo()
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "conversion"]
    assert all("did not take effect" in f.problem for f in held(db, out).findings)


def test_a_history_stepped_meanwhile_makes_the_conversion_start_again_with_fresh_files(
        db: str, key: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer moved a proposal between the read and the re-seal (its head not what was
    read): the attempt rolls back, its files go, and the conversion runs again from a fresh read."""
    moves: list[int] = []

    def raced(conn: Connection, pk: int, version: int, old_head: str, new_head: str) -> bool:
        moves.append(pk)
        return len(moves) > 1 and original(conn, pk, version, old_head, new_head)

    original = resealing.move_head
    monkeypatch.setattr(resealing, "move_head", raced)
    done = convert(db, key, out)
    monkeypatch.undo()
    assert done.events == 12 and len(moves) == 1 + len(PROPOSALS)
    assert sorted(path.name.split("-")[0] for path in out.iterdir()) == ["checkpoint", "checkpoint", "conversion"]
    assert held(db, out, trusted=public_path(key)).ok


def test_the_command_with_yes_and_json_converts_without_asking_and_says_what_it_wrote(
        db: str, key: Path, out: Path) -> None:
    done = cli_run(db, "audit", "convert-personal", "--key", str(key), "--out", str(out), "--yes", "--json")
    assert done.exit_code == 0, done.output
    said = json.loads(done.output)
    assert (said["events"], sorted(said["chains"]), said["root"] is not None) == (12, sorted(PROPOSALS), True)
    assert {Path(said[name]).parent for name in ("before", "record", "after")} == {out}
    again = cli_run(db, "audit", "convert-personal", "--key", str(key), "--out", str(out), "--yes", "--json")
    assert json.loads(again.output) == {"chains": {}, "events": 0, "holding_personal_data": 0, "before": None,
                                        "record": None, "after": None, "root": None}
