"""Hostile nesting in JSON that comes from outside: a log's JSON columns and the checkpoint and
conversion record files an auditor hands to ``audit verify``. Python's decoder recurses once per
level and gives up with ``RecursionError`` a few thousand levels down; that is refused as one more
malformed text — a one-line error naming the file (and row), the documented exit code, nothing
written — never an internal error."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from flowengine import jsontext
from flowengine.errors import InvalidInput
from flowengine.proof.conversion import read_series

from .test_hostile_time import digest, flowengine

DEEP = "[" * 100_000  # far past the decoder's recursion, and still a small file
WORKFLOW_DIR = Path(__file__).resolve().parent / "fixtures" / "store"


def test_json_nested_too_deeply_is_a_value_error_and_ordinary_json_still_reads() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        jsontext.loads(DEEP)
    assert jsontext.loads('{"a": [[1]]}') == {"a": [[1]]}


def _clean(result_stderr: str) -> None:
    assert "internal error" not in result_stderr and "Traceback" not in result_stderr, result_stderr


@pytest.fixture
def audited(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A database with one proposal, a key, and a folder holding a checkpoint signed by it."""
    db, key, folder = tmp_path / "x.db", tmp_path / "auditor.key", tmp_path / "checkpoints"
    made = flowengine("proposal", "new", "ping-pong", "--title", "A proposal", "--as", "kari", "--role", "panel",
                      "--workflows", str(WORKFLOW_DIR), "--db", str(db))
    assert made.returncode == 0, made.stderr
    assert flowengine("audit", "keygen", "-o", str(key)).returncode == 0
    folder.mkdir()
    signed = flowengine("audit", "checkpoint", "--key", str(key), "-o", f"{folder}/", "--db", str(db))
    assert signed.returncode == 0, signed.stderr
    assert [path.name.startswith("checkpoint-") for path in folder.iterdir()] == [True]
    return db, key, folder


def test_a_checkpoint_into_a_folder_not_made_yet_is_refused_not_written_as_a_file(
        tmp_path: Path, audited: tuple[Path, Path, Path]) -> None:
    db, key, _ = audited
    missing = tmp_path / "later"
    result = flowengine("audit", "checkpoint", "--key", str(key), "-o", f"{missing}/", "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert f"folder {missing} does not exist; create it first" in result.stderr
    assert not missing.exists()


@pytest.mark.parametrize(("text", "reason"), [
    (DEEP, "expected '{', found '[' near character 1"),
    ('{"format": 1, "chains": [' + DEEP, f"values nested deeper than {jsontext.MAX_DEPTH} levels near character 26"),
    ('{"chains": ["' + "x" * 2000, "one value is longer than 1,000 characters near character 13"),
    ('{"format": 1} {}', "more follows the document's end near character 15"),
])
def test_a_checkpoint_that_is_no_json_object_is_refused_as_not_json(
        tmp_path: Path, audited: tuple[Path, Path, Path], text: str, reason: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsontext, "ELEMENT_LIMIT", 1000)
    monkeypatch.setattr(jsontext, "_CHUNK", 256)
    _, _, folder = audited
    deep = tmp_path / "deep.json"
    deep.write_text(text, encoding="utf-8")
    (folder / "deep.json").write_text(text, encoding="utf-8")
    for given, named in ((deep, deep), (folder, folder / "deep.json")):
        with pytest.raises(InvalidInput) as refused:
            read_series([given])
        assert str(refused.value) == f"{named} is not a checkpoint: it is not JSON ({reason})"


def test_a_checkpoint_file_that_never_ends_is_refused_at_its_first_character(
        audited: tuple[Path, Path, Path]) -> None:
    """``/dev/zero`` given by mistake: refused at once, never read whole (which never ends)."""
    db, _, _ = audited
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    for option in ("--checkpoint", "--public-key"):
        args = [option, "/dev/zero"] + (["--checkpoint", str(audited[2])] if option == "--public-key" else [])
        result = flowengine("audit", "verify", *args, "--db", str(db))
        assert result.returncode == 1, result.stderr
        expected = ("/dev/zero is not a checkpoint: it is not JSON (expected '{', found '\\x00' near character 1)"
                    if option == "--checkpoint" else "/dev/zero is not a key file: it is larger than 64 KiB")
        assert expected in result.stderr
        _clean(result.stderr)


def test_a_checkpoint_nested_too_deeply_is_refused_on_the_command_line(tmp_path: Path,
                                                                       audited: tuple[Path, Path, Path]) -> None:
    db, _, folder = audited
    (folder / "deep.json").write_text('{"chains": [' + DEEP, encoding="utf-8")
    result = flowengine("audit", "verify", "--checkpoint", str(folder), "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert f"{folder / 'deep.json'} is not a checkpoint: it is not JSON (values nested deeper than" in result.stderr
    _clean(result.stderr)


def test_a_conversion_record_nested_too_deeply_is_refused_as_not_json(tmp_path: Path,
                                                                      audited: tuple[Path, Path, Path]) -> None:
    db, _, folder = audited
    deep = tmp_path / "record.json"
    deep.write_text('{"chains": [' + DEEP, encoding="utf-8")
    result = flowengine("audit", "verify", "--checkpoint", str(folder), "--conversion", str(deep), "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert f"{deep} is not a conversion record: it is not JSON (values nested deeper than" in result.stderr
    _clean(result.stderr)


@pytest.mark.parametrize("option", ["--conversion", "--public-key"])
def test_a_record_or_key_without_checkpoints_is_a_usage_error_not_silently_ignored(
        tmp_path: Path, audited: tuple[Path, Path, Path], option: str) -> None:
    db, key, _ = audited
    given = tmp_path / "anything.json"
    given.write_text("not even JSON", encoding="utf-8")
    result = flowengine("audit", "verify", option, str(key if option == "--public-key" else given), "--db", str(db))
    assert result.returncode == 2, result.stderr
    assert f"{option} is read against checkpoints; give --checkpoint FILE|DIR too" in result.stderr
    _clean(result.stderr)


@pytest.mark.parametrize("column", ["flowengine:changes", "flowengine:details", "flowengine:erasable"])
def test_a_log_column_nested_too_deeply_is_refused_at_its_row_and_nothing_written(tmp_path: Path,
                                                                                   column: str) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    made = flowengine("proposal", "new", "ping-pong", "--title", "A proposal", "--as", "kari", "--role", "panel",
                      "--workflows", str(WORKFLOW_DIR), "--db", str(source))
    assert made.returncode == 0, made.stderr
    exported = flowengine("export", "--format", "csv", "--db", str(source))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(exported.stdout, newline="")))
    rows[1][rows[0].index(column)] = DEEP
    log = tmp_path / "log.csv"
    with log.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    assert flowengine("init", "--db", str(target)).returncode == 0
    before = digest(target)
    result = flowengine("import", str(log), "--workflow", "ping-pong", "--workflows", str(WORKFLOW_DIR),
                        "--db", str(target))
    assert result.returncode == 1, result.stderr
    assert f"log.csv:2: case {rows[1][0]}: {column} is not" in result.stderr
    _clean(result.stderr)
    assert digest(target) == before
