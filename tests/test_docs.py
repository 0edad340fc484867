"""What the README and the language reference promise, run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flowengine.definition.loader import check_text

from .conftest import REPO_ROOT
from .databases import ON_POSTGRESQL, untouched

LANGUAGE_DOC = REPO_ROOT / "docs" / "workflow-language.md"


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def _complete_workflows() -> list[str]:
    return [block for block in _blocks(LANGUAGE_DOC, "yaml")
            if re.search(r"^id:", block, re.M) and re.search(r"^states:", block, re.M)
            and re.search(r"^transitions:", block, re.M)]


def test_the_language_reference_has_a_complete_example() -> None:
    assert _complete_workflows(), "docs/workflow-language.md shows no complete workflow"


@pytest.mark.parametrize("example", _complete_workflows())
def test_complete_examples_in_the_language_reference_are_valid_under_strict(example: str) -> None:
    result = check_text(example, "docs-example.yaml", strict=True)
    assert result.issues == [], "\n".join(issue.format() for issue in result.issues)


def test_readme_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_target: str) -> None:
    workflows_example, proposals_example = _blocks(REPO_ROOT / "README.md", "python")
    monkeypatch.chdir(tmp_path)
    exec(compile(workflows_example, "README.md", "exec"), {})
    assert (tmp_path / "chain.png").read_bytes().startswith(b"\x89PNG")
    if ON_POSTGRESQL:  # the same example on the server: only the place of the database differs
        assert '"proposals.db"' in proposals_example
        proposals_example = proposals_example.replace('"proposals.db"', repr(db_target))
    exec(compile(proposals_example, "README.md", "exec"), {})
    assert not untouched(db_target) if ON_POSTGRESQL else (tmp_path / "proposals.db").is_file()


def test_readme_opens_with_the_two_setup_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = _blocks(REPO_ROOT / "README.md", "sh")[0]
    assert readme.index(first_block) < readme.index("## What you can do today")
    assert "bash scripts/run" in first_block and "bash scripts/test" in first_block


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^exec bash scripts/test$", ci, re.M)
    assert os.access(REPO_ROOT / ".ci" / "run", os.X_OK)


def test_every_validation_code_is_documented() -> None:
    documented = set(re.findall(r"\bFE\d{3}\b", LANGUAGE_DOC.read_text(encoding="utf-8")))
    used = set()
    for source in (REPO_ROOT / "flowengine").rglob("*.py"):
        used |= set(re.findall(r'"(FE\d{3})"', source.read_text(encoding="utf-8")))
    assert used <= documented, f"codes used but not documented: {sorted(used - documented)}"
