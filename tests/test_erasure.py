"""Erasure that keeps the proof: a name, a comment or a personal field erased on request is gone
from every table (and, on SQLite, from the file's bytes and its write-ahead log), the history
still verifies and shows ``[erased]``, and an erasure step records who erased what kind of data
on whose request — never the value."""

from __future__ import annotations

import json
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli
from sqlalchemy import text

from flowengine.errors import AccessDenied
from flowengine.history.erasure import ERASED
from flowengine.history.records import ERASED_STEP, Actor
from flowengine.service.erasing import ErasureRequest
from flowengine.store import basics as store_basics
from flowengine.store.basics import SCHEMA_HEAD

from . import erasure_race as race
from .cli_support import CLEARED_ENV
from .databases import raw_connection, tampering
from .stress_advances import WORKFLOW, WORKFLOW_DIR, open_engine, spawn

NAME = "Ola Nordmann"  # a careless user's real name, given as a display name
SECRET = "has schizophrenia"  # what must never stay
PANEL = Actor(NAME, "panel")
COUNCIL = Actor("cato", "council")


def _every_stored_text(db: str) -> str:
    """Every value of every table, as text: what a search of the database finds."""
    with raw_connection(db) as conn:
        if conn.dialect.name == "sqlite":
            tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        else:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                                  ).scalars().all()
        return "\n".join(repr(row) for table in tables for row in conn.execute(text(f'SELECT * FROM "{table}"')))


def _history(db: str) -> str:
    with open_engine(db) as engine:
        pid = engine.new_proposal(WORKFLOW, title="Meeting place", actor=PANEL, fields={"note": SECRET}).proposal.id
        engine.advance(pid, "ping", actor=PANEL, comment=f"{NAME} says: {SECRET}")
        engine.advance(pid, "pong", actor=COUNCIL, comment="back to the panel")
        assert engine.verify().ok
    return pid


def test_a_name_erased_is_gone_from_every_table_and_the_history_still_verifies(db_target: str) -> None:
    pid = _history(db_target)
    assert NAME in _every_stored_text(db_target)
    with open_engine(db_target) as engine:
        result = engine.erase(ErasureRequest(actor=NAME, request="letter 2025-17"))
        assert result.erased == {pid: 2} and result.sealed_in == {}
        report = engine.verify()
        assert report.ok, report.as_dict()
        proposal, events = engine.history(pid)
    assert f'"{NAME}"' not in _every_stored_text(db_target)  # as a value: the comment still quotes it
    assert [event.actor for event in events] == [ERASED, ERASED, "cato", engine.login]
    assert proposal.created_by == ERASED
    erasure = events[-1]
    assert erasure.kind == ERASED_STEP and erasure.from_state == erasure.to_state == proposal.state
    assert erasure.details == {"erased": ["actor"], "values": 2, "request": "letter 2025-17"}
    assert NAME not in repr(erasure.details)


def test_a_proposals_personal_data_erased_leaves_only_commitments(db_target: str) -> None:
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        engine.erase(ErasureRequest(proposal=pid, field="note"))
        engine.erase(ErasureRequest(proposal=pid, comments=True))
        assert engine.verify().ok
        proposal, events = engine.history(pid)
    stored = _every_stored_text(db_target)
    assert SECRET not in stored and "back to the panel" not in stored
    assert proposal.fields["note"] == ERASED and events[0].changes["note"] == ERASED
    assert [event.comment for event in events[:3]] == ["", ERASED, ERASED]
    assert [event.details["erased"] for event in events[3:]] == [["field:note"], ["comment"]]


def test_erasing_twice_is_harmless(db_target: str) -> None:
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        first = engine.erase(ErasureRequest(proposal=pid))
        again = engine.erase(ErasureRequest(proposal=pid))
        assert first.values == 6 and (again.values, again.erased) == (0, {})  # nothing left: no second step
        assert engine.verify().ok
        assert [event.kind for event in engine.history(pid)[1]][-1] == ERASED_STEP
        assert len(engine.history(pid)[1]) == 4


@pytest.mark.sqlite_only("a second login is simulated through the OS; PostgreSQL has real ones")
def test_an_erasure_by_a_login_without_the_admin_capability_is_refused(db_target: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        engine.grant("ola", ["*"], ["*"])
    monkeypatch.setattr(store_basics, "os_login", lambda: "ola")
    with open_engine(db_target) as engine, pytest.raises(AccessDenied, match="admin capability"):
        engine.erase(ErasureRequest(proposal=pid))
    assert NAME in _every_stored_text(db_target)


@pytest.mark.sqlite_only("the bytes of a SQLite file and its write-ahead log")
def test_on_sqlite_the_erased_bytes_are_gone_from_the_file_and_its_log(db_target: str) -> None:
    pid = _history(db_target)
    files = [Path(db_target), Path(f"{db_target}-wal")]
    assert any(SECRET.encode() in path.read_bytes() for path in files if path.exists())
    with open_engine(db_target) as engine:
        engine.erase(ErasureRequest(proposal=pid))
        engine.erase(ErasureRequest(actor=NAME))
    for path in files:
        if path.exists():
            raw = path.read_bytes()
            assert SECRET.encode() not in raw, path
            assert NAME.encode() not in raw, path


def _race(db: str, pid: str, *, inside: bool) -> tuple[str, int]:
    """The advancing and the erasing process, started fresh (spawn), their order fixed by events."""
    context = spawn()
    read, erased = context.Event(), context.Event()
    reports: list[Queue[Any]] = [context.Queue(), context.Queue()]
    processes = [context.Process(target=race.advancer, args=(db, pid, read, erased, reports[0], inside)),
                 context.Process(target=race.eraser, args=(db, pid, read, erased, reports[1]))]
    for process in processes:
        process.start()
    try:
        found = [queue.get(timeout=race.WAIT_SECONDS * 2) for queue in reports]
    finally:
        for process in processes:
            process.join(timeout=race.WAIT_SECONDS)
            if process.is_alive():
                process.kill()
    assert [status for status, _ in found] == ["ok", "ok"], found
    return found[0][1], found[1][1]


@pytest.mark.parametrize("inside", [
    pytest.param(False, id="between-a-clients-read-and-its-step"),
    pytest.param(True, id="inside-the-steps-transaction", marks=pytest.mark.postgresql_only(
        "on SQLite a step's transaction holds the write lock from its start: nothing comes between")),
])
def test_an_erasure_while_another_process_advances_the_proposal_loses_nothing(db_target: str, inside: bool) -> None:
    """The erasure lands between the step's read and its write: the step is told the proposal
    moved (by the erasure step), looks again and lands; the erasure lands once; it verifies."""
    pid = _history(db_target)
    told, erased = _race(db_target, pid, inside=inside)
    assert erased == 2  # the two comments recorded before
    assert f"{pid} was changed by" in told and "nothing was written" in told
    with open_engine(db_target) as engine:
        report = engine.verify()
        assert report.ok, report.as_dict()
        events = engine.history(pid)[1]
    assert [event.kind for event in events[3:]] == [ERASED_STEP, "advanced"]
    assert events[-1].comment == race.AFTER and events[-1].format == 3  # said after the erasure: kept
    assert [event.comment for event in events[1:3]] == [ERASED, ERASED]
    assert "back to the panel" not in _every_stored_text(db_target)


def test_nothing_to_erase_names_nothing(db_target: str) -> None:
    _history(db_target)
    with open_engine(db_target) as engine:
        assert engine.erase(ErasureRequest(actor="nobody")).erased == {}


def test_a_new_database_keeps_personal_data_apart_from_its_first_step(db_target: str) -> None:
    with open_engine(db_target) as engine:
        pid = engine.new_proposal(WORKFLOW, title="First", actor=PANEL).proposal.id
        assert [event.format for event in engine.history(pid)[1]] == [3]
        assert not engine.keep_personal_data_apart()  # nothing to switch on: harmless
        assert engine.erase(ErasureRequest(actor=NAME)).erased == {pid: 1}
    said = _cli(db_target, "db", "erasable")  # kept for scripts: it says so and changes nothing
    assert said.exit_code == 0 and "personal data is kept apart already" in said.output
    assert "nothing changed" in said.output


def test_an_older_database_once_upgraded_records_format_3_and_its_older_steps_keep_theirs(db_target: str) -> None:
    """Before schema 0011 (the setting absent) steps are of format 2, the name sealed in; after the
    upgrade new steps, in old proposals too, are of format 3; an erasure names what it cannot reach."""
    from flowengine.store import migrate
    from flowengine.store.database import Database, resolve_url

    with open_engine(db_target) as engine:
        engine.new_proposal(WORKFLOW, title="Made at head", actor=COUNCIL)
    _edit(db_target, "DELETE FROM settings WHERE name = 'personal'")  # what schema 0010 held
    with open_engine(db_target) as engine:
        pid = engine.new_proposal(WORKFLOW, title="Before", actor=PANEL).proposal.id
    with Database(resolve_url(db_target)) as store, store.write() as conn:
        from alembic import command

        config = migrate._config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0010_policies_by_index")
    with Database(resolve_url(db_target)) as store:
        assert migrate.upgrade(store) == ("0010_policies_by_index", SCHEMA_HEAD)
    with open_engine(db_target) as engine:
        engine.advance(pid, "ping", actor=PANEL)
        later = engine.new_proposal(WORKFLOW, title="After", actor=PANEL).proposal.id
        assert [event.format for event in engine.history(pid)[1]] == [2, 3]
        assert [event.format for event in engine.history(later)[1]] == [3]
        assert engine.verify().ok
        result = engine.erase(ErasureRequest(actor=NAME))
        assert (result.erased, result.sealed_in) == ({pid: 1, later: 1}, {pid: 1})
        assert engine.verify().ok


def _edit(db: str, statement: str, **params: object) -> None:
    with tampering(db) as conn:
        conn.execute(text(statement), params)


_KEPT = "(SELECT pk FROM proposals WHERE id = :pid)"


@pytest.mark.parametrize(("statement", "problem"), [
    pytest.param(f"UPDATE erasable SET value = '\"Kari\"' WHERE item = 'actor' AND seq = 2 AND proposal_pk = {_KEPT}",
                 "actor's name does not match the commitment", id="a-kept-name-replaced"),
    pytest.param(f"UPDATE events SET actor = 'Kari' WHERE seq = 2 AND proposal_pk = {_KEPT}",
                 "actor's name does not match the commitment", id="a-name-written-into-the-sealed-row"),
    pytest.param(f"UPDATE events SET comment = 'approved' WHERE seq = 2 AND proposal_pk = {_KEPT}",
                 "comment does not match the commitment", id="the-comment-column-edited"),
    pytest.param(f"UPDATE erasable SET value = '\"cured\"' WHERE item = 'field:note' AND proposal_pk = {_KEPT}",
                 "field 'note' does not match the commitment", id="a-kept-field-replaced"),
])
def test_a_value_kept_apart_and_changed_no_longer_matches_its_commitment(db_target: str, statement: str,
                                                                         problem: str) -> None:
    pid = _history(db_target)
    _edit(db_target, statement, pid=pid)
    with open_engine(db_target) as engine:
        report = engine.verify()
    assert [(b.proposal, b.seq) for b in report.breaks] == [(pid, 1 if "note" in statement else 2)]
    assert problem in report.breaks[0].problem


def test_an_erased_value_is_not_brought_back_by_an_insider(db_target: str) -> None:
    """Without the salt nobody can write a value that matches the commitment again."""
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        engine.erase(ErasureRequest(proposal=pid, comments=True))
    _edit(db_target, "INSERT INTO erasable (proposal_pk, seq, item, value, salt) "
          f"VALUES ({_KEPT}, 2, 'comment', '\"approved by all\"', '{'00' * 32}')", pid=pid)
    with open_engine(db_target) as engine:
        report = engine.verify()
    assert [(b.proposal, b.seq) for b in report.breaks] == [(pid, 2)]


def _cli(db: str, *args: str, answer: str | None = None, language: str = "en",
         now: str = "2025-03-01T12:00:00Z") -> Result:
    environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    environment |= {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": now,
                    "FLOWENGINE_WORKFLOWS": str(WORKFLOW_DIR), "FLOWENGINE_LANG": language}
    return CliRunner().invoke(cli, list(args), env=environment, input=answer, catch_exceptions=False,
                              prog_name="flowengine")


def test_the_command_asks_first_erases_and_the_history_shows_erased_in_the_readers_language(db_target: str) -> None:
    pid = _history(db_target)
    refused = _cli(db_target, "erase", "--proposal", pid, "--comments", answer="n\n")
    assert refused.exit_code == 1 and "cannot be undone" in refused.output
    assert SECRET in _every_stored_text(db_target)
    done = _cli(db_target, "erase", "--proposal", pid, "--request", "letter 17", answer="y\n")
    assert done.exit_code == 0, done.output
    assert f"{pid}: 6 values erased" in done.output
    shown = _cli(db_target, "history", pid, language="nb")
    assert shown.exit_code == 0, shown.output
    assert "[slettet]" in shown.output and "personopplysninger slettet" in shown.output
    assert SECRET not in shown.output and NAME not in shown.output
    as_json = json.loads(_cli(db_target, "erase", "--actor", NAME, "--yes", "--json").output)
    assert as_json == {"erased": {}, "values": 0, "sealed_in": {}}
    assert _cli(db_target, "audit", "verify").exit_code == 0
    usage = _cli(db_target, "erase", "--actor", NAME, "--comments", "--yes")
    assert usage.exit_code == 2


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_after_an_erasure_no_export_holds_the_value_and_each_shows_erased(db_target: str, fmt: str,
                                                                          tmp_path: Path) -> None:
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        engine.erase(ErasureRequest(proposal=pid))
        engine.erase(ErasureRequest(actor=NAME))
    target = tmp_path / f"log.{fmt}"
    assert _cli(db_target, "export", "--format", fmt, "-o", str(target)).exit_code == 0
    text_ = target.read_text(encoding="utf-8")
    assert SECRET not in text_ and NAME not in text_ and "back to the panel" not in text_
    assert ERASED in text_
    shown = _cli(db_target, "history", pid, "--json")
    assert shown.exit_code == 0 and SECRET not in shown.output and NAME not in shown.output
    assert ERASED in shown.output


@pytest.mark.parametrize(("language", "word"), [("nb", "[slettet]"), ("sv", "[raderat]"), ("en", ERASED)])
def test_what_people_read_says_erased_in_their_language_and_exports_say_it_literally(db_target: str, language: str,
                                                                                    word: str) -> None:
    """``proposal show`` and the stall report (a table, and Markdown for the published report)
    word an erased value in the reader's language; an export is data and keeps ``[erased]``."""
    pid = _history(db_target)
    assert _cli(db_target, "erase", "--proposal", pid, "--yes").exit_code == 0
    shown = _cli(db_target, "proposal", "show", pid, language=language)
    assert shown.exit_code == 0, shown.output
    assert f"note: {word}" in shown.output and SECRET not in shown.output
    later = "2025-05-01T12:00:00Z"  # 60 days in a state with a 30-day deadline, not heard of since
    for fmt in ("table", "markdown"):
        report = _cli(db_target, "stalls", "report", "--format", fmt, language=language, now=later)
        assert report.exit_code == 0, report.output
        text_ = report.output.replace("\\[", "[").replace("\\]", "]")  # Markdown escapes brackets
        assert pid in text_ and f"{word} (council)" in text_ and "cato" not in text_
        if language != "en":
            assert ERASED not in text_ and ERASED not in shown.output
    exported = _cli(db_target, "export", "--format", "csv", language=language)
    assert ERASED in exported.output and (language == "en" or word not in exported.output)


def test_a_list_shows_each_proposals_last_step_as_its_history_does(db_target: str) -> None:
    """The list reads the newest step with the row (one query a page): its name, comment and
    personal fields are put back from where they are kept, as the history puts them back. An
    erasure step is no step of the proposal: the list shows the step before it as the last one,
    and the erasure as what it is, as ``proposal show`` does."""
    pid = _history(db_target)
    with open_engine(db_target) as engine:
        newest = engine.history(pid)[1][-1]
        assert [s.last_event for s in engine.proposals() if s.proposal.id == pid] == [newest]
        assert (newest.actor, newest.comment) == ("cato", "back to the panel")
        assert engine.standing(pid).last_erasure is None
        engine.erase(ErasureRequest(proposal=pid, comments=True))
        erased = engine.history(pid)[1][-1]
        (listed,) = [s for s in engine.proposals() if s.proposal.id == pid]
        assert (listed.last_event.seq, listed.last_event.actor, listed.last_event.comment) == (3, "cato", ERASED)
        assert listed.last_erasure == erased and erased.kind == ERASED_STEP
        assert [s.last_event for s in engine.proposals(as_of=erased.at) if s.proposal.id == pid] == [listed.last_event]
        assert (engine.standing(pid).last_event, engine.standing(pid).last_erasure) == (listed.last_event, erased)
        engine.advance(pid, "ping", actor=PANEL)  # a step after the erasure: the erasure is still named
        (listed,) = [s for s in engine.proposals() if s.proposal.id == pid]
        assert (listed.last_event.seq, listed.last_erasure) == (5, erased)
        assert engine.standing(pid).as_dict() == listed.as_dict()


@pytest.mark.parametrize(("language", "label", "erased_line"), [
    ("en", "data erased", "comments (2 values) on "),
    ("nb", "data slettet", "kommentarer (2 verdier) "),
    ("sv", "uppgifter raderade", "kommentarer (2 värden) "),
])
def test_proposal_show_names_the_last_real_step_and_the_erasure_as_what_it_was(db_target: str, language: str,
                                                                               label: str, erased_line: str) -> None:
    pid = _history(db_target)
    before = json.loads(_cli(db_target, "proposal", "show", pid, "--json").output)
    assert before["last_erasure"] is None  # the README: null when there is none
    assert [p["last_erasure"] for p in json.loads(_cli(db_target, "proposal", "list", "--json").output)
            if p["id"] == pid] == [None]
    assert _cli(db_target, "erase", "--proposal", pid, "--comments", "--request", "letter 17", "--yes").exit_code == 0
    shown = _cli(db_target, "proposal", "show", pid, language=language)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    (last,) = [line for line in lines if line.startswith(("last step", "siste steg", "senaste steg"))]
    assert "pong" in last and "cato (council)" in last
    (erased,) = [line for line in lines if line.startswith(label)]
    assert erased_line in erased and "letter 17" in erased and "(admin)" in erased
    as_json = json.loads(_cli(db_target, "proposal", "show", pid, "--json").output)
    assert (as_json["last_event"]["actor"], as_json["last_event"]["trigger"]) == ("cato", "pong")
    assert as_json["last_erasure"]["kind"] == ERASED_STEP
    assert as_json["last_erasure"]["details"] == {"erased": ["comment"], "values": 2, "request": "letter 17"}
    (listed,) = [p for p in json.loads(_cli(db_target, "proposal", "list", "--json").output) if p["id"] == pid]
    assert (listed["last_event"], listed["last_erasure"]) == (as_json["last_event"], as_json["last_erasure"])
