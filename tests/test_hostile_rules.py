"""A planted build of a definition cannot change the rules: the cache's seal refuses an edited
file, and ``audit verify`` holds every step to the definition built from the stored text, so a
step a forged build let through is named even when the seal was forged too (by someone who could
read the key)."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowengine import engine
from flowengine.definition import buildcache
from flowengine.definition.model import Workflow, content_hash
from flowengine.errors import TransitionRefused
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .conftest import MINIMAL_WORKFLOW

PANEL = Actor("pia", "panel")
NOW = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "_CACHE", {})
    return tmp_path / "cache"


def laxer(workflow: Workflow) -> Workflow:
    """The workflow with a step straight from draft to accepted that the panel may take."""
    shortcut = dataclasses.replace(workflow.transitions[0], trigger="shortcut", target="accepted")
    return dataclasses.replace(workflow, transitions=(*workflow.transitions, shortcut))


def plant(workflow: Workflow, *, sealed: bool) -> None:
    """Write ``workflow`` as the cache's build of the minimal definition, sealed with the user's
    key (someone who could read it) or not (someone who could only write the folder)."""
    digest = content_hash(MINIMAL_WORKFLOW)
    data = pickle.dumps(workflow, protocol=pickle.HIGHEST_PROTOCOL)
    seal = buildcache._seal(buildcache._key(create=True) or b"", digest, workflow.source, data) if sealed \
        else b"\0" * 32
    path = buildcache.folder() / f"{digest}-{buildcache.code_stamp()}.pickle"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seal + data)
    engine._CACHE.clear()


def started(tmp_path: Path) -> tuple[FlowEngine, str, Workflow]:
    folder = tmp_path / "wf"
    folder.mkdir(exist_ok=True)
    (folder / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    flow = FlowEngine.open(str(tmp_path / "x.db"), workflow_dirs=[folder], clock=lambda: NOW)
    pid = flow.new_proposal("minimal", title="Meeting place", actor=PANEL).proposal.id
    proposal, _ = flow.history(pid)
    return flow, pid, flow.workflow_of(proposal).workflow


def test_an_edited_cache_file_without_the_keys_seal_is_built_again_from_the_text(tmp_path: Path) -> None:
    flow, pid, workflow = started(tmp_path)
    with flow:
        plant(laxer(workflow), sealed=False)
        with pytest.raises(TransitionRefused, match="shortcut"):
            flow.advance(pid, "shortcut", actor=PANEL)
        assert flow.verify().ok


def test_a_key_others_can_read_disables_the_cache(tmp_path: Path, cache_home: Path) -> None:
    flow, _, workflow = started(tmp_path)
    with flow:
        plant(workflow, sealed=True)
        assert buildcache.load(workflow.content_hash, workflow.source) == workflow
        key = cache_home / "flowengine" / "key"
        assert key.stat().st_mode & 0o777 == 0o600
        key.chmod(0o644)
        assert buildcache.load(workflow.content_hash, workflow.source) is None


def test_audit_verify_names_a_step_a_forged_build_let_through(tmp_path: Path) -> None:
    flow, pid, workflow = started(tmp_path)
    with flow:
        plant(laxer(workflow), sealed=True)  # the worst case: the key was read as well
        flow.advance(pid, "shortcut", actor=PANEL)
        report = flow.verify()
    assert not report.ok
    [broken] = report.breaks
    assert (broken.proposal, broken.seq) == (pid, 2)
    assert "'shortcut' from 'draft' is not a transition under definition" in broken.problem


@pytest.mark.parametrize(("forge", "problem"), [
    (lambda t: dataclasses.replace(t, roles=("panel", "council")), "role 'panel' may not accept"),
    (lambda t: dataclasses.replace(t, requires_comment=False), "without the comment it requires"),
])
def test_audit_verify_names_a_step_by_a_role_or_without_a_comment_the_definition_refuses(
        tmp_path: Path, forge: object, problem: str) -> None:
    flow, pid, workflow = started(tmp_path)
    with flow:
        council = Actor("rita", "council")
        flow.advance(pid, "send_to_council", actor=PANEL)
        accept = next(t for t in workflow.transitions if t.trigger == "accept")
        relaxed = dataclasses.replace(accept, requires_comment=True) if "comment" in problem else accept
        stored = dataclasses.replace(workflow, transitions=tuple(relaxed if t is accept else t
                                                                 for t in workflow.transitions))
        assert callable(forge)
        plant(dataclasses.replace(stored, transitions=tuple(forge(t) if t.trigger == "accept" else t
                                                            for t in stored.transitions)), sealed=True)
        flow.advance(pid, "accept", actor=PANEL if "role" in problem else council)
        report = flow.verify()
    if "comment" in problem:  # the stored text never asked for a comment: nothing to name
        assert report.ok
        return
    assert [(b.proposal, b.seq) for b in report.breaks] == [(pid, 3)]
    assert problem in report.breaks[0].problem
