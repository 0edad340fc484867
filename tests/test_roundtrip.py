"""Export, then import into a fresh database: the same histories, field by field and hash by
hash, and the same stall figures — in CSV, XES and OCEL 2.0 JSON, plain or gzip-compressed, on
a history with loops, field changes, progress, reminders, an escalation by the engine itself,
an idempotency key, and text with unicode, commas, quotes, markup and line breaks
(``tests/export_support.py``).

An export that was edited after the fact is refused at the row that changed, and a kind of
event an import cannot rebuild (a migration) is named; nothing is written either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from flowengine.eventlog import attributes as a
from flowengine.eventlog.export import ExportOptions, export_log
from flowengine.eventlog.importer import LogRejected, import_log
from flowengine.service.facade import FlowEngine
from flowengine.store.database import Database, resolve_url

from .cli_support import make_run, ok
from .conftest import FixedClock
from .databases import DatabaseTargets
from .export_support import T0, build_history, stored

WORKFLOWS = ("timely", "small")
LATER = T0 + timedelta(days=400)


@pytest.fixture
def original(db_target: str, tmp_path: Path) -> str:
    build_history(db_target, tmp_path / "workflows")
    return db_target


@pytest.fixture
def copy(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[str]:
    """A second, empty database to import into."""
    folder = tmp_path / "copy"
    folder.mkdir()
    target = database_targets.new(folder)
    yield target
    database_targets.drop(target)


def exported(target: str, fmt: str, workflow: str) -> str:
    out = io.StringIO(newline="")
    with Database(resolve_url(target)) as database:
        export_log(database, out, fmt, ExportOptions(workflows=(workflow,)))
    return out.getvalue()


def import_text(target: str, folder: Path, text: str, fmt: str, workflow: str) -> None:
    path = folder / f"{workflow}.{fmt}"
    path.write_text(text, encoding="utf-8", newline="")
    with FlowEngine.open(target, workflow_dirs=[folder / "workflows"], clock=FixedClock(LATER)) as flow:
        import_log(flow, path, workflow, fmt=fmt)


def figures(target: str, folder: Path, workflow: str) -> dict[str, object]:
    with FlowEngine.open(target, workflow_dirs=[folder / "workflows"], clock=FixedClock(LATER)) as flow:
        (analysis,) = flow.analyse([workflow], as_of=LATER)
        assert flow.verify().ok
    return analysis.as_dict()


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_an_import_of_an_export_is_the_same_history_hash_for_hash(original: str, copy: str, tmp_path: Path,
                                                                  fmt: str) -> None:
    for workflow in WORKFLOWS:
        import_text(copy, tmp_path, exported(original, fmt, workflow), fmt, workflow)
    before, after = stored(original), stored(copy)
    assert [p.id for p, _ in after] == [p.id for p, _ in before] == ["SML-1", "SML-2", "TML-1", "TML-2"]
    for (was, was_events), (now, now_events) in zip(before, after, strict=True):
        assert now.as_dict() == was.as_dict()
        assert [e.as_dict() for e in now_events] == [e.as_dict() for e in was_events]
    kinds = {e.kind for _, events in after for e in events}
    assert kinds == {"created", "advanced", "fields_set", "progress", "reminded", "noted"}
    linked = next(events for p, events in after if p.id == "SML-2")[0].details
    assert linked["from"] == "SML-1" and linked["provenance"]["kind"] == "inferred"  # the link and the source travel
    for workflow in WORKFLOWS:
        assert figures(copy, tmp_path, workflow) == figures(original, tmp_path, workflow)


@pytest.mark.parametrize("name", ["timely.xes", "timely.xes.gz", "timely.csv.gz", "timely.json.gz"])
def test_the_command_line_round_trip_exports_to_a_file_and_imports_it(original: str, copy: str,
                                                                      tmp_path: Path, name: str) -> None:
    export = make_run(original, "2030-01-01T00:00")
    into = make_run(copy, "2030-01-01T00:00")
    log = tmp_path / name
    ok(export("export", "--workflow", "timely", "-o", str(log)))  # the format from the name
    assert (log.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    done = ok(into("import", str(log), "--workflow", "timely", "--workflows", str(tmp_path / "workflows")))
    assert f"imported 2 cases, 11 events from {name} under timely (TML-1 … TML-2)" in done.stdout
    ok(into("audit", "verify"))
    again = into("import", str(log), "--workflow", "timely", "--workflows", str(tmp_path / "workflows"))
    assert again.exit_code == 1
    assert "TML-1 is already in the database" in again.stderr


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def csv_of(rows: list[dict[str, str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(a.CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def line_of(rows: list[dict[str, str]], index: int) -> int:
    """The physical line row ``index`` starts on (comments span lines)."""
    return csv_of(rows[:index]).count("\n") + 1


def refused(copy: str, tmp_path: Path, rows: list[dict[str, str]]) -> list[str]:
    with pytest.raises(LogRejected) as caught:
        import_text(copy, tmp_path, csv_of(rows), "csv", "timely")
    assert stored(copy) == []
    return [problem.format() for problem in caught.value.problems]


def test_an_export_edited_afterwards_is_refused_at_the_changed_row(original: str, copy: str, tmp_path: Path) -> None:
    rows = rows_of(exported(original, "csv", "timely"))
    third = next(index for index, row in enumerate(rows) if row[a.SEQ] == "3")
    rows[third][a.DETAILS] = '{"forged":true}'
    (problem,) = refused(copy, tmp_path, rows)
    assert problem.startswith(f"timely.csv:{line_of(rows, third)}: case TML-1: the event does not reproduce its "
                              "flowengine:hash")
    rows[third][a.DETAILS] = "{}"
    rows[third][a.COMMENT] = "Nothing to see here"  # sealed as a commitment (event format 3): held to it first
    (problem,) = refused(copy, tmp_path, rows)
    assert problem.startswith(f"timely.csv:{line_of(rows, third)}: case TML-1: its comment does not match the "
                              "commitment flowengine:erasable carries for it")
    for row in rows:  # without hashes and commitments, the rows are imported as they now read, under new hashes
        row[a.HASH] = row[a.ERASABLE] = ""
    import_text(copy, tmp_path, csv_of(rows), "csv", "timely")
    with FlowEngine.open(copy) as flow:
        assert flow.verify().ok and flow.history("TML-1")[1][2].comment == "Nothing to see here"


def test_time_going_backwards_in_sequence_order_is_refused(original: str, copy: str, tmp_path: Path) -> None:
    rows = rows_of(exported(original, "csv", "timely"))
    fourth = next(index for index, row in enumerate(rows) if row[a.CASE] == "TML-1" and row[a.SEQ] == "4")
    rows[fourth][a.TIMESTAMP] = "2024-03-01T00:00:00.000000+00:00"
    problems = refused(copy, tmp_path, rows)
    where = f"timely.csv:{line_of(rows, fourth)}: case TML-1:"
    assert any(p.startswith(where) and "time goes backwards" in p for p in problems), problems


def test_a_migration_event_is_refused_by_name(original: str, copy: str, tmp_path: Path) -> None:
    rows = rows_of(exported(original, "csv", "timely"))
    second = next(index for index, row in enumerate(rows) if row[a.CASE] == "TML-2")
    rows.insert(second + 1, {**rows[second], a.SEQ: "2", a.KIND: "migrated", a.FROM_STATE: "draft", a.HASH: ""})
    (problem,) = refused(copy, tmp_path, rows)
    assert problem.startswith(f"timely.csv:{line_of(rows, second + 1)}: case TML-2: a 'migrated' event")
    assert "cannot be imported" in problem
