"""What the language and the API accept fits the columns that hold it, on SQLite and PostgreSQL
(each limit is read from the schema and the table definitions, so neither can grow alone), and
a retry of a keyed request that races the request itself is answered with its result."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowengine.definition.loader import MAX_VERSION_CHARS, check_text
from flowengine.definition.structure import workflow_schema
from flowengine.history import inputs
from flowengine.history.records import ACTOR_NAME_RULE, Actor
from flowengine.service import steps
from flowengine.service.facade import FlowEngine
from flowengine.store.schema import definitions, events, proposals

NOW = datetime(2020, 1, 1, tzinfo=UTC)


def _schema_limit(*path: str) -> int:
    node: object = workflow_schema()
    for key in path:
        assert isinstance(node, dict)
        node = node[key]
    assert isinstance(node, dict)
    limit = node["maxLength"]
    assert isinstance(limit, int)
    return limit


ID_CHARS = _schema_limit("$defs", "identifier")
WORKFLOW_CHARS = _schema_limit("properties", "id")
VERSION_CHARS = _schema_limit("properties", "version")
ACTOR_CHARS = int(ACTOR_NAME_RULE.split(" to ")[1].split()[0])


def _length(column: object) -> int:
    length = getattr(getattr(column, "type", None), "length", None)
    assert isinstance(length, int)
    return length


def test_every_length_the_language_and_the_api_accept_fits_its_column() -> None:
    for column in (events.c.trigger, events.c.from_state, events.c.to_state, events.c.role, proposals.c.state):
        assert _length(column) >= ID_CHARS, column
    for column in (proposals.c.workflow, definitions.c.workflow):
        assert _length(column) >= WORKFLOW_CHARS, column
    assert VERSION_CHARS == MAX_VERSION_CHARS <= _length(definitions.c.version)
    for column in (events.c.actor, proposals.c.created_by):
        assert _length(column) >= ACTOR_CHARS, column
    assert _length(events.c.idempotency_key) >= inputs.MAX_KEY_CHARS
    prefix = _schema_limit("properties", "prefix") if "maxLength" in workflow_schema()["properties"]["prefix"] \
        else int(workflow_schema()["properties"]["prefix"]["pattern"].split(",")[1].split("}")[0])
    assert prefix <= _length(proposals.c.prefix)
    assert prefix + 1 + 19 <= _length(proposals.c.id)  # PREFIX-number, the number a 64-bit integer


def longest_workflow() -> str:
    state = ("s" * (ID_CHARS - 1))
    role = "r" * ID_CHARS
    trigger = "t" * ID_CHARS
    return (f"id: {'w' * WORKFLOW_CHARS}\nversion: \"{'9' * VERSION_CHARS}\"\nprefix: ABCDEF\n"
            f"roles:\n  {role}: {{kind: panel}}\nstates:\n"
            f"  {state}a: {{initial: true, stage: panel, owner: {role}, deadline: 1d}}\n"
            f"  {state}b: {{final: true, outcome: implemented}}\ntransitions:\n"
            f"  - {{trigger: {trigger}, from: {state}a, to: {state}b, roles: [{role}]}}\n")


@pytest.mark.parametrize(("old", "new"), [("w" * 64, "w" * 65), ("s" * 63 + "a", "s" * 64 + "a"),
                                          ("9" * 50, "9" * 51)])
def test_one_character_more_than_a_column_holds_is_refused_by_the_language(old: str, new: str) -> None:
    assert check_text(longest_workflow(), "w.yaml").ok
    result = check_text(longest_workflow().replace(old, new), "w.yaml")
    assert not result.ok


def test_the_longest_ids_the_language_accepts_are_stored_and_read_back(db_target: str, tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    text = longest_workflow()
    (folder / "w.yaml").write_text(text, encoding="utf-8")
    assert check_text(text, "w.yaml").ok
    actor = Actor("a" * ACTOR_CHARS, "r" * ID_CHARS)
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=lambda: NOW) as flow:
        workflow_id = "w" * WORKFLOW_CHARS
        pid = flow.new_proposal(workflow_id, title="x", actor=actor, idempotency_key="k" * inputs.MAX_KEY_CHARS
                                ).proposal.id
        flow.advance(pid, "t" * ID_CHARS, actor=actor, idempotency_key="j" * inputs.MAX_KEY_CHARS)
        assert flow.verify().ok
        assert flow.history(pid)[0].state == "s" * (ID_CHARS - 1) + "b"


def test_a_retry_racing_its_own_request_is_answered_with_that_requests_result(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry reads the proposal before the request commits and writes after it: its update
    finds the proposal moved. It must answer as a repeat, not "changed by … try again"."""
    if not db_target.startswith("postgresql"):
        pytest.skip("SQLite queues writers: a retry cannot read before the request commits")
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "w.yaml").write_text(longest_workflow(), encoding="utf-8")
    actor = Actor("pia", "r" * ID_CHARS)
    retry_read = threading.Event()
    request_done = threading.Event()
    original = steps._prepare

    def prepare(*args: object, **kwargs: object) -> object:
        found = original(*args, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread().name == "retry" and not retry_read.is_set():
            retry_read.set()
            assert request_done.wait(60)
        return found

    monkeypatch.setattr(steps, "_prepare", prepare)
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=lambda: NOW) as flow:
        pid = flow.new_proposal("w" * WORKFLOW_CHARS, title="x", actor=actor).proposal.id
        answers: list[object] = []

        def retry() -> None:
            try:
                answers.append(flow.advance(pid, "t" * ID_CHARS, actor=actor, idempotency_key="same-request"))
            except Exception as error:
                answers.append(error)

        worker = threading.Thread(target=retry, name="retry")
        worker.start()
        assert retry_read.wait(60)
        first = flow.advance(pid, "t" * ID_CHARS, actor=actor, idempotency_key="same-request")
        request_done.set()
        worker.join(60)
        [answer] = answers
        assert not isinstance(answer, Exception), answer
        assert getattr(answer, "repeated", False) and getattr(answer, "event", None) == first.event
        assert len(flow.history(pid)[1]) == 2
