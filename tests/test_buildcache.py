"""Built definitions kept between processes: the same Workflow as building the text, or nothing."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from flowengine import engine
from flowengine.definition import buildcache
from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Workflow, content_hash
from flowengine.definition.registry import bundled_dir, yaml_files
from flowengine.errors import StoreError
from flowengine.history.records import Actor

from .conftest import MINIMAL_WORKFLOW

BUNDLED = [path for path in yaml_files(bundled_dir()) if "demo" not in path.relative_to(bundled_dir()).parts]


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own cache folder, and no compiled machine kept in memory from another test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "_CACHE", {})
    return tmp_path / "cache"


def _built(text: str, source: str) -> Workflow:
    from flowengine.definition.loader import build_workflow
    from flowengine.definition.yamlsafe import read_text

    workflow, issues = build_workflow(read_text(text, source))
    assert not issues
    return workflow


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_a_cached_definition_equals_the_one_built_from_its_text(path: Path) -> None:
    workflow = load_workflow(path)
    text = path.read_text(encoding="utf-8")
    buildcache.store(content_hash(text), workflow)
    assert buildcache.load(content_hash(text), workflow.source) == workflow


def test_compiling_a_stored_definition_fills_the_cache_and_a_new_process_reads_it_back() -> None:
    text = MINIMAL_WORKFLOW
    digest = content_hash(text)
    first = engine.compiled(digest, text, "minimal.yaml")
    assert buildcache.load(digest, "minimal.yaml") == first.workflow
    engine._CACHE.clear()  # as in a new process
    again = engine.compiled(digest, text, "minimal.yaml")
    assert again.workflow == first.workflow
    assert again.fire("P-1", "draft", "send_to_council", Actor("kari", "panel"), {}, "") == "council_review"


def test_an_altered_stored_text_is_refused_even_when_its_hash_is_cached() -> None:
    digest = content_hash(MINIMAL_WORKFLOW)
    engine.compiled(digest, MINIMAL_WORKFLOW, "minimal.yaml")
    engine._CACHE.clear()
    with pytest.raises(StoreError, match="altered in the database"):
        engine.compiled(digest, MINIMAL_WORKFLOW.replace("30d", "31d"), "minimal.yaml")


def test_a_damaged_cache_file_is_built_again(cache_home: Path) -> None:
    digest = content_hash(MINIMAL_WORKFLOW)
    engine.compiled(digest, MINIMAL_WORKFLOW, "minimal.yaml")
    [cached] = (cache_home / "flowengine" / "definitions").glob("*.pickle")
    cached.write_bytes(cached.read_bytes()[:100])
    assert buildcache.load(digest, "minimal.yaml") is None
    engine._CACHE.clear()
    assert engine.compiled(digest, MINIMAL_WORKFLOW, "minimal.yaml").workflow == _built(MINIMAL_WORKFLOW,
                                                                                          "minimal.yaml")


class _Mischief:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_a_cache_file_naming_other_code_is_never_run(cache_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = content_hash(MINIMAL_WORKFLOW)
    path = buildcache.folder() / f"{digest}-{buildcache.code_stamp()}.pickle"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(_Mischief()))
    assert buildcache.load(digest, "minimal.yaml") is None
    assert "must never run" not in capsys.readouterr().out


def test_a_cached_build_of_another_text_or_source_is_not_used() -> None:
    workflow = _built(MINIMAL_WORKFLOW, "minimal.yaml")
    digest = content_hash(MINIMAL_WORKFLOW)
    other = "0" * 64
    path = buildcache.folder() / f"{other}-{buildcache.code_stamp()}.pickle"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(workflow))  # filed under a hash that is not the workflow's
    assert buildcache.load(other, "minimal.yaml") is None
    buildcache.store(digest, workflow)
    assert buildcache.load(digest, "elsewhere/minimal.yaml") is None


def test_a_hash_that_is_not_one_never_names_a_file() -> None:
    workflow = _built(MINIMAL_WORKFLOW, "minimal.yaml")
    buildcache.store("../../escape", workflow)
    assert buildcache.load("../../escape", "minimal.yaml") is None
    assert not buildcache.folder().exists()


def test_a_cache_that_cannot_be_written_only_means_building_again(cache_home: Path) -> None:
    cache_home.write_text("a file where the folder should be", encoding="utf-8")
    digest = content_hash(MINIMAL_WORKFLOW)
    compiled = engine.compiled(digest, MINIMAL_WORKFLOW, "minimal.yaml")
    assert compiled.workflow == _built(MINIMAL_WORKFLOW, "minimal.yaml")
    assert buildcache.load(digest, "minimal.yaml") is None


def test_a_build_by_changed_code_replaces_the_older_one(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = _built(MINIMAL_WORKFLOW, "minimal.yaml")
    digest = content_hash(MINIMAL_WORKFLOW)
    buildcache.store(digest, workflow)
    monkeypatch.setattr(buildcache, "_stamp", "0123456789abcdef")  # as after an edit of the loader
    assert buildcache.load(digest, "minimal.yaml") is None
    buildcache.store(digest, workflow)
    names = [p.name for p in buildcache.folder().glob("*.pickle")]
    assert names == [f"{digest}-0123456789abcdef.pickle"]


def test_the_stamp_changes_with_every_module_that_builds_a_workflow(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file is named by the stamp, so an edited loader (or model …) never reads an old build."""
    here = Path(buildcache.__file__).parent.parent  # the flowengine package
    code = tmp_path / "flowengine"
    (code / "definition").mkdir(parents=True)
    for name in buildcache._BUILDERS:
        (code / name).write_bytes((here / name).read_bytes())
    monkeypatch.setattr(buildcache, "__file__", str(code / "definition" / "buildcache.py"))

    def stamp() -> str:
        monkeypatch.setattr(buildcache, "_stamp", None)
        return buildcache.code_stamp()

    seen = [stamp()]
    assert stamp() == seen[0]  # the same code, the same stamp
    for name in buildcache._BUILDERS:
        with (code / name).open("a", encoding="utf-8") as module:
            module.write("\n# edited\n")
        seen.append(stamp())
    assert len(set(seen)) == len(buildcache._BUILDERS) + 1
    assert set(buildcache._BUILDERS) >= {"definition/model.py", "definition/loader.py"}


def _distinct_objects(value: object, seen: dict[int, object]) -> int:
    if id(value) in seen:
        return len(seen)
    seen[id(value)] = value
    if isinstance(value, tuple | list):
        for item in value:
            _distinct_objects(item, seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            _distinct_objects(key, seen)
            _distinct_objects(item, seen)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for item in vars(value).values():
            _distinct_objects(item, seen)
    return len(seen)


@pytest.mark.parametrize("path", BUNDLED[:3], ids=[p.stem for p in BUNDLED[:3]])
def test_a_cached_definition_is_read_back_with_its_equal_parts_shared(path: Path) -> None:
    workflow = load_workflow(path)
    text = path.read_text(encoding="utf-8")
    buildcache.store(content_hash(text), workflow)
    cached = buildcache.load(content_hash(text), workflow.source)
    assert cached == workflow
    assert _distinct_objects(cached, {}) < _distinct_objects(workflow, {}) * 0.8
    files = {id(state.at.location.file) for state in cached.states.values()}
    assert len(files) == 1
    first = next(iter(cached.states))
    assert all(t.sources[0] is first for t in cached.transitions if t.sources and t.sources[0] == first)


def test_sharing_never_merges_values_that_are_equal_but_not_the_same() -> None:
    made: dict[tuple[object, ...], object] = {}
    shared = buildcache._shared(((0.0, 1), (-0.0, 1), (1, True), (1, 1), (True, 1)), made)
    assert str(shared[1][0]) == "-0.0" and str(shared[0][0]) == "0.0"
    assert shared[2][1] is True and type(shared[3][1]) is int
    assert shared[3] is not shared[4] and shared[4][0] is True
