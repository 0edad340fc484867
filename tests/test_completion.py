"""Shell completion as a person gets it: the script `flowengine completion SHELL` prints, loaded
into a real bash, completing commands, proposal ids, workflow ids and the triggers allowed now."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .conftest import MINIMAL_WORKFLOW
from .databases import DatabaseTargets


class Place:
    def __init__(self, folder: Path, db: str) -> None:
        self.folder, self.db = folder, db

    def complete(self, *words: str, **env: str) -> list[str]:
        """What bash offers for the last of ``words`` (the word being typed)."""
        script = ('eval "$(flowengine completion bash)"\n'
                  f"COMP_WORDS=({' '.join(repr(word) for word in ('flowengine', *words))})\n"
                  f"COMP_CWORD={len(words)}\n"
                  "_flowengine_completion flowengine\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        environment = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin", "HOME": str(self.folder),
                       "FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder / "workflows"),
                       "XDG_CACHE_HOME": str(self.folder / "cache"), **env}
        done = subprocess.run(["bash", "--norc", "-c", script], env=environment, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return [line for line in done.stdout.splitlines() if line]


@pytest.fixture
def place(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Place]:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    db = database_targets.new(tmp_path)
    with FlowEngine.open(db, workflow_dirs=[tmp_path / "workflows"]) as engine:
        for title in ("One", "Two"):
            engine.new_proposal("minimal", title=title, actor=Actor("kari", "panel"))
        engine.advance("MINIMA-2", "send_to_council", actor=Actor("kari", "panel"))
    yield Place(tmp_path, db)
    database_targets.drop(db)


@pytest.mark.parametrize(("shell", "mark"), [("bash", "_flowengine_completion()"), ("zsh", "#compdef flowengine"),
                                             ("fish", "complete --no-files --command flowengine")])
def test_completion_prints_the_script_for_each_shell(shell: str, mark: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0 and mark in result.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["completion", "tcsh"])
    assert result.exit_code == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.output


def test_bash_completes_commands(place: Place) -> None:
    assert place.complete("pro") == ["progress", "proposal"]


def test_bash_completes_proposal_ids(place: Place) -> None:
    assert place.complete("proposal", "show", "") == ["MINIMA-1", "MINIMA-2"]
    assert place.complete("history", "MINIMA-2") == ["MINIMA-2"]


def test_bash_completes_the_triggers_allowed_now_those_of_your_role_first(place: Place) -> None:
    assert place.complete("advance", "MINIMA-1", "") == ["send_to_council"]
    assert place.complete("advance", "MINIMA-2", "") == ["accept", "reject"]
    assert place.complete("advance", "MINIMA-2", "--role", "council", "r") == ["reject"]


def test_bash_completes_workflow_ids(place: Place) -> None:
    offered = place.complete("workflow", "show", "")
    assert "minimal" in offered and "innovation-chain" in offered
    assert place.complete("stalls", "report", "--workflow", "min") == ["minimal"]


def test_without_a_database_nothing_is_completed_and_nothing_created(place: Place, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "none.db"
    assert place.complete("proposal", "show", "", FLOWENGINE_DB=str(missing)) == []
    assert place.complete("advance", "MINIMA-1", "", FLOWENGINE_DB=str(missing)) == []
    assert not missing.parent.exists()
