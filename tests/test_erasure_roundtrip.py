"""Export and import carry what erasure needs: a history of event format 3 exported in any format
and imported into another database is the same history hash for hash — the same commitments,
the same kept values with their salts, the same erased values (commitment kept, value and salt
gone), the same erasure steps — and it verifies there; a value erased after the import can be
erased there too."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from flowengine.clock import iso_utc
from flowengine.eventlog import attributes as a
from flowengine.eventlog.export import ExportOptions, export_log
from flowengine.eventlog.importer import LogRejected, import_log
from flowengine.history.erasure import ERASED
from flowengine.history.records import ERASED_STEP, Actor
from flowengine.service.erasing import ErasureRequest
from flowengine.service.facade import FlowEngine
from flowengine.store.database import Database, resolve_url

from .conftest import FixedClock
from .databases import DatabaseTargets, raw_connection
from .stress_advances import WORKFLOW, WORKFLOW_DIR, WORKFLOW_ID, open_engine

NAME = "Ola Nordmann"
SECRET = "has schizophrenia"
PANEL = Actor(NAME, "panel")
COUNCIL = Actor("cato", "council")
FORMATS = ("csv", "xes", "ocel")


@pytest.fixture
def copy(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[str]:
    """A second, empty database to import into."""
    folder = tmp_path / "copy"
    folder.mkdir()
    target = database_targets.new(folder)
    yield target
    database_targets.drop(target)


def _histories(db: str, *, erase: bool) -> list[str]:
    """Two proposals of format 3: one with a name, comments and a personal field kept, the other
    the same with its comments erased (``erase``) and an erasure step recorded."""
    with open_engine(db) as engine:
        ids = []
        for title in ("Kept", "Erased"):
            pid = engine.new_proposal(WORKFLOW, title=title, actor=PANEL, fields={"note": SECRET}).proposal.id
            engine.advance(pid, "ping", actor=PANEL, comment=f"{NAME} says: {SECRET}")
            engine.advance(pid, "pong", actor=COUNCIL, comment="back to the panel")
            ids.append(pid)
        if erase:
            engine.erase(ErasureRequest(proposal=ids[1], comments=True, request="letter 17"))
            engine.erase(ErasureRequest(proposal=ids[1], field="note"))
    return ids


def _exported(db: str, fmt: str) -> str:
    out = io.StringIO(newline="")
    with Database(resolve_url(db)) as database:
        export_log(database, out, fmt, ExportOptions())
    return out.getvalue()


def _import(db: str, folder: Path, log: str, fmt: str) -> None:
    path = folder / f"log.{fmt}"
    path.write_text(log, encoding="utf-8", newline="")
    with open_engine(db) as engine:
        import_log(engine, path, WORKFLOW_ID, fmt=fmt)


def _erasable_rows(db: str) -> list[tuple[Any, ...]]:
    with raw_connection(db) as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT p.id, e.seq, e.item, e.value, e.salt FROM erasable e JOIN proposals p ON p.pk = e.proposal_pk "
            "ORDER BY p.id, e.seq, e.item"))]


def _stored(db: str, ids: list[str]) -> list[Any]:
    with open_engine(db) as engine:
        assert engine.verify().ok
        return [(proposal.as_dict(), [event.as_dict() for event in events])
                for proposal, events in (engine.history(pid) for pid in ids)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_of_format_3_imports_into_the_same_commitments_salts_and_hashes(db_target: str, copy: str,
                                                                                 tmp_path: Path, fmt: str) -> None:
    ids = _histories(db_target, erase=True)
    log = _exported(db_target, fmt)
    _import(copy, tmp_path, log, fmt)
    before, after = _stored(db_target, ids), _stored(copy, ids)
    assert after == before
    assert [p["version"] for p, _ in after] == [3, 5]  # the two erasure steps came along
    erased = after[1][1]
    assert erased[1]["comment"] == ERASED and erased[0]["changes"] == {"note": ERASED}
    assert erased[1]["erasable"]["comment"]["salt"] is None  # the commitment travelled, the salt did not
    assert [e["kind"] for e in erased[3:]] == [ERASED_STEP, ERASED_STEP]
    assert _erasable_rows(copy) == _erasable_rows(db_target)
    assert SECRET in json.dumps(after[0]) and NAME in json.dumps(after[1])  # kept values stay kept


def test_a_value_imported_kept_can_be_erased_there_and_still_verifies(db_target: str, copy: str,
                                                                      tmp_path: Path) -> None:
    ids = _histories(db_target, erase=False)
    _import(copy, tmp_path, _exported(db_target, "csv"), "csv")
    with open_engine(copy) as engine:
        result = engine.erase(ErasureRequest(actor=NAME))
        assert result.erased == {ids[0]: 2, ids[1]: 2} and result.sealed_in == {}
        assert engine.verify().ok
    assert [row for row in _erasable_rows(copy) if row[2] == "actor" and NAME in row[3]] == []


def test_a_kept_value_changed_in_the_log_is_refused_at_its_row(db_target: str, copy: str, tmp_path: Path) -> None:
    _histories(db_target, erase=False)
    log = _exported(db_target, "csv").replace("back to the panel", "approved by the panel", 1)
    with pytest.raises(LogRejected) as refused:
        _import(copy, tmp_path, log, "csv")
    reason = refused.value.problems[0].reason
    assert "its comment does not match the commitment flowengine:erasable carries" in reason
    assert _erasable_rows(copy) == []


def test_an_export_holding_an_erasure_step_imports(db_target: str, copy: str, tmp_path: Path) -> None:
    """The erasure step is recorded in the admin's role, which no workflow declares: it imports
    all the same (it used to be refused as if it were a migration)."""
    ids = _histories(db_target, erase=True)
    log = _exported(db_target, "xes")
    assert f'value="{ERASED_STEP}"' in log
    _import(copy, tmp_path, log, "xes")
    assert _stored(copy, ids) == _stored(db_target, ids)


def test_an_erasure_step_imported_leaves_when_the_proposal_was_last_updated(db_target: str, copy: str,
                                                                           tmp_path: Path) -> None:
    """Erasing is no activity of the proposal: an imported history ending in an erasure step has
    the row's updated_at of its last real step, as the database it came from has."""
    clock = FixedClock(datetime(2025, 1, 1, 9, 0, tzinfo=UTC))
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR], clock=clock) as engine:
        pid = engine.new_proposal(WORKFLOW, title="Erased", actor=PANEL, fields={"note": SECRET}).proposal.id
        stepped = clock.set(days=1)
        engine.advance(pid, "ping", actor=PANEL, comment=f"{NAME} says: {SECRET}")
        clock.set(days=5)
        engine.erase(ErasureRequest(proposal=pid, comments=True))
    _import(copy, tmp_path, _exported(db_target, "csv"), "csv")
    (imported,) = _stored(copy, [pid])
    assert imported[1][-1]["kind"] == ERASED_STEP and imported[0]["updated_at"] == iso_utc(stepped)
    assert imported == _stored(db_target, [pid])[0]


def test_the_carried_commitments_are_one_json_attribute_left_out_when_pseudonymised(db_target: str) -> None:
    _histories(db_target, erase=True)
    plain = _exported(db_target, "csv")
    assert a.ERASABLE in plain.splitlines()[0].split(",")
    with Database(resolve_url(db_target)) as database:
        out = io.StringIO(newline="")
        export_log(database, out, "ocel", ExportOptions(pseudonymise=True))
    assert a.ERASABLE not in out.getvalue()


def test_a_log_from_elsewhere_is_imported_in_the_databases_format(db_target: str, tmp_path: Path) -> None:
    """Its names, comments and personal fields are kept apart (format 3) where the database does so."""
    log = tmp_path / "foreign.csv"
    log.write_text("case:concept:name,concept:name,time:timestamp,org:resource,org:role,flowengine:comment\n"
                   f"c1,a,2024-01-01T09:00:00+00:00,{NAME},panel,\n"
                   f'c1,b,2024-01-02T09:00:00+00:00,{NAME},panel,"{SECRET}"\n', encoding="utf-8")
    with open_engine(db_target) as engine:
        pid = import_log(engine, log, WORKFLOW_ID).first_id
        assert pid is not None
        events = engine.history(pid)[1]
        assert [e.format for e in events] == [3, 3]
        assert engine.erase(ErasureRequest(actor=NAME)).erased == {pid: 2}
        assert engine.verify().ok
