"""An import into a database that keeps personal data apart (event format 3, the default): each
name and comment of a log is committed under a salt of its own, drawn from the operating
system's generator a block at a time, and every event is sealed exactly as the reference
encoding (tests/sealing_oracle.py) says, given those salts."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from flowengine.eventlog import attributes as a
from flowengine.eventlog.importer import import_log
from flowengine.history import chain, erasure
from flowengine.service.facade import FlowEngine

from . import sealing_oracle as oracle
from .test_import import HEADER, REVIEW, write

ROWS = [
    ("c-1", "received", "2024-03-01T09:00:00+01:00", "Kari «K» Nordmann", "clerk", ""),
    ("c-1", "Check application", "2024-03-02T09:00:00+01:00", "kari", "clerk", "Looks \"complete\"\nto me"),
    ("c-1", "rejected", "2024-03-05T10:00:00+01:00", "eva", "council", "Not this year"),
    ("REV-7", "received", "2024-03-03T09:00:00Z", "ola", "clerk", "Møte i morgen"),
    ("REV-7", "checked", "2024-03-04T09:00:00Z", "ola", "clerk", ""),
]


DRAW = erasure.SALTS_DRAWN


def counted_salts() -> list[str]:
    """The salts a counter's hashes give, in the order a pool hands them out."""
    return [hashlib.sha256(b"%d" % number).hexdigest() for number in range(DRAW)]


def test_an_imported_history_of_format_3_is_sealed_as_the_reference_says_with_the_salts_drawn(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = itertools.count()
    calls: list[int] = []

    def source(size: int) -> bytes:
        calls.append(size)
        return b"".join(hashlib.sha256(b"%d" % next(stream)).digest() for _ in range(size // 32))

    pool = erasure.salt_pool
    monkeypatch.setattr(erasure, "salt_pool", lambda: pool(source))  # as the import makes its pool
    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")  # a database for real use: its salts drawn, not derived
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "review.yaml").write_text(REVIEW, encoding="utf-8")
    log = write(tmp_path, ROWS, header=(*HEADER, a.COMMENT))
    with FlowEngine.open(db_target, workflow_dirs=[workflows]) as engine:
        assert engine.recording_clock is None
        report = import_log(engine, log, "review")
        assert (report.cases, report.events) == (2, 5)
        histories = [engine.history(pid)[1] for pid in ("REV-1", "REV-7")]
        assert engine.verify().ok
    events = [event for history in histories for event in history]
    assert [event.format for event in events] == [3] * 5
    assert [sorted(event.personal or {}) for event in events] == [
        ["actor"], ["actor", "comment"], ["actor", "comment"], ["actor", "comment"], ["actor"]]
    # each value its own salt, in the order the values were built (a case's events, a name before a comment)
    drawn = [committed.salt for event in events for _, committed in sorted((event.personal or {}).items())]
    assert drawn == counted_salts()[:len(drawn)] and calls == [32 * DRAW]
    for event in events:
        personal = event.personal or {}
        for item, committed in personal.items():
            assert committed.digest == oracle.commitment(item, str(committed.salt), chain.personal_value(event, item))
        assert event.hash == oracle.event_hash(
            proposal=event.proposal, seq=event.seq, kind=event.kind, trigger=event.trigger,
            from_state=event.from_state, to_state=event.to_state, actor=event.actor, role=event.role, at=event.at,
            entered_at=event.entered_at, comment=event.comment, changes=event.changes, details=event.details,
            idempotency_key=event.idempotency_key, prev_hash=event.prev_hash, login=event.login,
            recorded_at=event.recorded_at, personal=erasure.digests(personal))
    assert [event.actor for event in events] == [row[3] for row in ROWS]
    assert [event.comment for event in events] == [row[5] for row in ROWS]
