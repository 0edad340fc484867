"""The bundled workflows and diagrams: valid, documented, and drawn from today's YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine.definition.loader import check_file
from flowengine.definition.model import STAGES
from flowengine.definition.registry import bundled_dir, discover
from flowengine.views.bundled import bundled_diagram_status

from .conftest import REPO_ROOT

BUNDLED = [entry.path for entry in discover([bundled_dir()])]


def test_the_two_default_workflows_are_bundled() -> None:
    assert {p.name for p in BUNDLED} >= {"innovation-chain.yaml", "user-asks-user.yaml"}


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_workflow_is_valid_under_strict_governance(path: Path) -> None:
    result = check_file(path, strict=True)
    assert result.issues == [], "\n".join(i.format() for i in result.issues)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_workflow_has_labels_in_all_three_languages(path: Path) -> None:
    workflow = check_file(path).workflow
    assert workflow is not None
    things = [workflow, *workflow.states.values(), *workflow.transitions, *workflow.roles.values()]
    for thing in things:
        assert set(thing.labels.as_dict()) == {"en", "nb", "sv"}, thing


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_workflow_points_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_path = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
    assert schema_path == (REPO_ROOT / "flowengine" / "schema" / "workflow.schema.json").resolve()


def test_innovation_chain_has_loops_back_and_all_exits() -> None:
    workflow = check_file(bundled_dir() / "default" / "innovation-chain.yaml").workflow
    assert workflow is not None
    outcomes = {s.outcome for s in workflow.states.values() if s.final}
    assert {"implemented", "rejected", "withdrawn", "parked"} <= outcomes
    stage_of = {sid: s.stage for sid, s in workflow.states.items()}
    backwards = [t for t in workflow.transitions for src in t.sources
                 if stage_of[t.target] == "panel" and stage_of[src] in ("council", "administration")]
    assert {stage_of[src] for t in backwards for src in t.sources} >= {"council", "administration"}
    assert {s.stage for s in workflow.states.values()} == set(STAGES)


def test_bundled_diagrams_are_current() -> None:
    stale = [str(s.diagram) for s in bundled_diagram_status(REPO_ROOT / "diagrams") if not s.current]
    assert not stale, f"out of date: {stale}; run 'flowengine workflow diagrams' from the project root"


def test_docs_show_every_key_of_the_language() -> None:
    docs = (REPO_ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8")
    schema = json.loads((REPO_ROOT / "flowengine" / "schema" / "workflow.schema.json").read_text(encoding="utf-8"))
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    missing = sorted(key for key in keys if f"{key}:" not in docs)
    assert not missing, f"docs/workflow-language.md has no example of: {missing}"


def test_readme_links_the_language_docs() -> None:
    assert "docs/workflow-language.md" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
