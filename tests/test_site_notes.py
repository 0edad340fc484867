"""What the published site says about the moment it stands at and the proof it stands on: a
report long past the newest record says so on its pages, and a site built with checkpoints
names the latest one's Merkle root — only once the database holds every checkpoint given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_support import make_run

pytestmark = pytest.mark.sqlite_only("builds SQLite files by design")

RECORDED = "2019-03-01T10:00:00Z"
TODAY = "2026-03-01T10:00:00Z"
LEADER = ("--as", "ola", "--role", "project_leader")


def _database(path: Path) -> str:
    run = make_run(str(path), RECORDED)
    assert run("init").exit_code == 0
    made = run("proposal", "new", "innovation-chain", "--title", "Peer support", "--set", "summary=Peers",
               *LEADER)
    assert made.exit_code == 0, made.output
    return str(path)


@pytest.mark.parametrize(("language", "words"), [
    ("en", "The newest record is from 1 March 2019, long before 1 March 2026"),
    ("nb", "Den nyeste registreringen er fra 1. mars 2019, lenge før 1. mars 2026"),
    ("sv", "Den senaste registreringen är från 1 mars 2019, långt före 1 mars 2026"),
])
def test_a_site_long_past_its_newest_record_says_so_on_its_pages(tmp_path: Path, language: str,
                                                                  words: str) -> None:
    run = make_run(_database(tmp_path / "flowengine.db"), TODAY)
    built = run("report", "--out", str(tmp_path / "site"), "--lang", language, "--internal")
    assert built.exit_code == 0, built.output
    for page in (tmp_path / "site" / "index.html", tmp_path / "site" / "w" / "innovation-chain.html",
                 tmp_path / "site" / "p" / "INN-1.html"):
        assert words in page.read_text(encoding="utf-8"), page


def test_a_site_as_of_its_newest_record_has_no_such_note(tmp_path: Path) -> None:
    run = make_run(_database(tmp_path / "flowengine.db"), TODAY)
    assert run("report", "--out", str(tmp_path / "site"), "--as-of", "2019-03-02").exit_code == 0
    assert "The newest record" not in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_a_site_names_the_latest_checkpoint_the_database_holds(tmp_path: Path) -> None:
    run = make_run(_database(tmp_path / "flowengine.db"), RECORDED)
    key = tmp_path / "auditor.key"
    assert run("audit", "keygen", "-o", str(key)).exit_code == 0
    first, second = tmp_path / "checkpoints" / "first.json", tmp_path / "checkpoints" / "second.json"
    first.parent.mkdir()
    assert run("audit", "checkpoint", "--key", str(key), "-o", str(first)).exit_code == 0
    assert run("note", "INN-1", "Asked the council", *LEADER, now="2019-03-05T10:00:00Z").exit_code == 0
    assert run("audit", "checkpoint", "--key", str(key), "-o", str(second),
               now="2019-03-06T10:00:00Z").exit_code == 0
    built = run("report", "--out", str(tmp_path / "site"), "--checkpoint", str(first.parent), "--public-key",
                f"{key}.pub", now="2019-03-07T10:00:00Z")
    assert built.exit_code == 0, built.output
    latest = json.loads(second.read_text(encoding="utf-8"))
    for page in (tmp_path / "site" / "index.html", tmp_path / "site" / "w" / "innovation-chain.html"):
        text = page.read_text(encoding="utf-8")
        assert f"Merkle root {latest['root']}" in text and latest["key_id"] in text
        assert json.loads(first.read_text(encoding="utf-8"))["root"] not in text


def test_a_checkpoint_the_database_does_not_hold_builds_nothing(tmp_path: Path) -> None:
    run = make_run(_database(tmp_path / "flowengine.db"), RECORDED)
    other = make_run(_database(tmp_path / "other.db"), RECORDED)
    assert other("note", "INN-1", "Only in the other database", *LEADER).exit_code == 0
    key = tmp_path / "auditor.key"
    assert other("audit", "keygen", "-o", str(key)).exit_code == 0
    foreign = tmp_path / "foreign.json"
    assert other("audit", "checkpoint", "--key", str(key), "-o", str(foreign)).exit_code == 0
    refused = run("report", "--out", str(tmp_path / "site"), "--checkpoint", str(foreign))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: the database does not hold the checkpoints")
    assert not (tmp_path / "site").exists()
