"""Hostile times: one range (1900-01-01 to 2200-01-01 UTC) at every door, date sums safe at its
edges, and a database that already holds a time outside it still opens, lists and verifies."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowengine.clock import clock_from_environment, local_text, parse_moment
from flowengine.definition.durations import Duration, parse_duration
from flowengine.errors import InvalidInput
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.timewindow import EARLIEST, LAST, OutOfWindow, add, read_stored

from .cli_support import CLEARED_ENV

LOGS = Path(__file__).parent / "fixtures" / "hostile" / "logs"
GOOD_LOG = """case:concept:name,concept:name,time:timestamp,org:resource,org:role
C1,panel_work,2017-10-18T11:00:00+00:00,lead,prosjektleder
C1,council_review,2017-10-25T11:00:00+00:00,lead,prosjektleder
C2,panel_work,2017-11-18T11:00:00+00:00,lead,prosjektleder
"""


def flowengine(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) \
        -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV and k != "FLOWENGINE_DB"}
    environment |= {"FLOWENGINE_NOW": "2020-01-01T12:00:00Z", **(env or {})}
    return subprocess.run([sys.executable, "-m", "flowengine_cli", *args], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=300, check=False)


def digest(path: Path) -> str:
    """What a SQLite database holds (its rows and schema, not the pages that happen to hold them)."""
    if not path.exists():
        return "absent"
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
                                  "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_date_outside_the_window_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(InvalidInput, match="outside the range flowengine accepts"):
        parse_moment(text, what="--as-of")


def test_the_window_edges_themselves_are_accepted() -> None:
    assert parse_moment("1900-01-01T00:00:00Z") == EARLIEST
    assert parse_moment("2199-12-31T23:59:59.999999Z") == LAST


def test_flowengine_now_outside_the_window_is_refused() -> None:
    with pytest.raises(InvalidInput, match="FLOWENGINE_NOW"):
        clock_from_environment({"FLOWENGINE_NOW": "9999-12-31"})


def test_an_injected_clock_outside_the_window_is_refused_at_the_first_step(tmp_path: Path) -> None:
    clock = lambda: datetime(9999, 12, 31, tzinfo=UTC)  # noqa: E731
    with FlowEngine.open(str(tmp_path / "x.db"), clock=clock) as engine, \
            pytest.raises(InvalidInput, match="the clock"):
        engine.new_proposal("trondheim", title="t", actor=Actor("lead", "prosjektleder"),
                            fields={"summary": "s"})


def test_the_api_refuses_a_step_time_or_as_of_outside_the_window(tmp_path: Path) -> None:
    with FlowEngine.open(str(tmp_path / "x.db"), clock=lambda: datetime(2020, 1, 1, tzinfo=UTC)) as engine:
        with pytest.raises(InvalidInput, match="the time of the step"):
            engine.new_proposal("trondheim", title="t", actor=Actor("lead", "prosjektleder"),
                                fields={"summary": "s"}, at=datetime(1, 1, 1, tzinfo=UTC))
        with pytest.raises(InvalidInput, match="the as-of time"):
            engine.proposals(as_of=datetime(9999, 1, 1, tzinfo=UTC))
        assert engine.proposals() == []


def test_deadline_sums_stop_at_the_windows_end_instead_of_overflowing() -> None:
    late = datetime(2199, 12, 31, tzinfo=UTC)
    assert parse_duration("P99Y").add_to(late) == LAST
    assert parse_duration("5000w").add_to(late) == LAST
    assert Duration("P9999Y", 9999 * 12, timedelta(0)).add_to(late) == LAST
    assert parse_duration("P1M").add_to(datetime(2019, 1, 31, tzinfo=UTC)) == datetime(2019, 2, 28, tzinfo=UTC)
    assert add(EARLIEST, -timedelta(days=10**6)) == EARLIEST


@pytest.mark.parametrize("stored", ["1-01-01T00 00:00.000000Z", "0001-01-01 00:00:00.000000",
                                    "9999-12-31 23:59:59.999999", "not a time at all", "99999-01-01"])
def test_any_stored_text_reads_marked_at_the_nearest_edge(stored: str) -> None:
    moment = read_stored(stored)
    assert isinstance(moment, OutOfWindow)
    assert moment.stored == stored
    assert moment in (EARLIEST, LAST)
    assert stored in local_text(moment)


@pytest.mark.parametrize("log", sorted(LOGS.glob("time_*.csv")), ids=lambda p: p.stem)
def test_an_import_row_outside_the_window_is_refused_with_its_line_and_nothing_written(
        log: Path, tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    good = tmp_path / "good.csv"
    good.write_text(GOOD_LOG, encoding="utf-8")
    assert flowengine("import", str(good), "--workflow", "trondheim", "--db", str(database)).returncode == 0
    before = digest(database)
    done = flowengine("import", str(log), "--workflow", "trondheim", "--db", str(database))
    assert done.returncode == 1, done.stderr
    assert f"{log.name}:4: case C2: bad timestamp" in done.stderr
    assert "nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert digest(database) == before


@pytest.mark.parametrize("stored", ["1-01-01T00 00:00.000000Z", "0001-01-01 00:00:00.000000",
                                    "9999-12-31 00:00:00.000000"])
def test_a_database_already_holding_a_time_outside_the_window_still_opens_lists_and_verifies(
        stored: str, tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    good = tmp_path / "good.csv"
    good.write_text(GOOD_LOG, encoding="utf-8")
    assert flowengine("import", str(good), "--workflow", "trondheim", "--db", str(database)).returncode == 0
    conn = sqlite3.connect(database)  # as an earlier version wrote it (the triggers let nothing change)
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET at = ?, entered_at = ? WHERE seq = 1 AND proposal_pk = "
                     "(SELECT pk FROM proposals WHERE id = 'TRD-2')", (stored, stored))
        conn.execute("UPDATE proposals SET created_at = ?, updated_at = ?, state_entered_at = ? WHERE id = 'TRD-2'",
                     (stored, stored, stored))
    conn.close()
    before = digest(database)
    audit = flowengine("audit", "verify", "--db", str(database))
    assert audit.returncode == 1, audit.stderr
    assert "TRD-2: event 1" in audit.stdout + audit.stderr
    assert stored in audit.stdout + audit.stderr
    for command in (["proposal", "list"], ["proposal", "list", "--overdue"], ["history", "TRD-2"],
                    ["proposal", "show", "TRD-2"], ["stalls", "report"], ["stalls", "report", "--format", "json"],
                    ["export", "--format", "csv"], ["export", "--format", "xes"], ["tick", "--dry-run"]):
        done = flowengine(*command, "--db", str(database))
        assert done.returncode in (0, 1), (command, done.returncode, done.stderr)
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr, (command, done.stderr)
    assert digest(database) == before


def test_demo_data_with_a_date_outside_the_window_is_refused_and_leaves_no_folder(tmp_path: Path) -> None:
    from flowengine.demo.data import demo_file

    text = demo_file().read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if "2017-" in line)
    hostile = tmp_path / "demo.yaml"
    hostile.write_text(text.replace(first, first.replace("2017-", "9999-", 1), 1), encoding="utf-8")
    out = tmp_path / "new" / "out"
    done = flowengine("demo", "--data", str(hostile), "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert "outside the range flowengine accepts" in done.stderr
    assert not (tmp_path / "new").exists()
