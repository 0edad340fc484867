"""A first import into a new SQLite database builds the secondary indexes once, at the end of its
transaction, instead of row by row: afterwards every index is there as before, a failed import
leaves them there too (with nothing written), and an import into a database holding events
keeps them in place throughout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from flowengine.errors import StoreError
from flowengine.eventlog.importer import LogRejected, import_log
from flowengine.service.facade import FlowEngine
from flowengine.store import bulk

from .test_import import GOOD, fail_the_second_batch, flow, folder, write  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.usefixtures("folder"), pytest.mark.sqlite_only("the indexes are set aside on SQLite only")]


def indexes(engine: FlowEngine) -> list[tuple[str, str]]:
    with engine.database.read() as conn:
        return [(name, sql) for name, sql in conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")]


def built(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of the indexes each call of ``build_indexes`` builds."""
    calls: list[list[str]] = []
    original = bulk.build_indexes

    def recording(conn: object, deferred: Sequence[tuple[str, str]]) -> None:
        calls.append([name for name, _ in deferred])
        original(conn, deferred)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "build_indexes", recording)
    return calls


def test_a_first_import_builds_the_secondary_indexes_at_the_end_and_leaves_every_index_in_place(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    before = indexes(flow)
    calls = built(monkeypatch)
    import_log(flow, write(tmp_path, GOOD), "review", batch_events=1)
    assert indexes(flow) == before
    assert len(calls) == 1 and "ix_events_flow" in calls[0] and "ix_proposals_waiting" in calls[0]
    assert not any(name.startswith("sqlite_autoindex") for name in calls[0])  # unique keys check every row
    assert flow.verify().ok
    with flow.database.read() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_an_import_into_a_database_holding_events_keeps_its_indexes_in_place(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import_log(flow, write(tmp_path, GOOD[:3]), "review")
    before = indexes(flow)
    calls = built(monkeypatch)
    dropped: list[object] = []
    monkeypatch.setattr(bulk, "drop_indexes", lambda conn, found: dropped.append(found))
    import_log(flow, write(tmp_path, GOOD[3:], name="more.csv"), "review")
    assert dropped == [] and calls == [[]]
    assert indexes(flow) == before and len(flow.proposals()) == 2


def test_a_failed_first_import_leaves_every_index_and_nothing_written(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    before = indexes(flow)
    with pytest.raises(LogRejected):
        import_log(flow, write(tmp_path, [*GOOD, ("c-9", "nowhere", "2024-03-01T09:00:00Z", "kari", "clerk")]),
                   "review", batch_events=1)
    assert indexes(flow) == before and flow.proposals() == []
    fail_the_second_batch(monkeypatch)
    with pytest.raises(StoreError, match="the disk is full"):
        import_log(flow, write(tmp_path, GOOD), "review", batch_events=1)
    assert indexes(flow) == before and flow.proposals() == []
