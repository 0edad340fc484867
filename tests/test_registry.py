"""Looking a workflow up by id parses only the files that could declare it, and answers exactly
as looking through every file does: the same file, the same ambiguity, the same "not found"."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.definition.registry import Candidate, discover, locate_workflow, locate_workflows
from flowengine.errors import AmbiguousWorkflow, NotFound

from .conftest import MINIMAL_WORKFLOW

IDS = ("alpha", "beta", "alpha-2")
# How a file may (or may not) declare an id: every way the YAML can spell the same value,
# files that are not workflows, and files that cannot be read at all.
SPELLINGS = {
    "plain": "id: {id}\n",
    "quoted": 'id: "{id}"\n',
    "single": "id: '{id}'\n",
    "escaped": 'id: "\\x{first:02x}{rest}"\n',
    "flow": "{{id: {id}, version: 1}}\n",
    "commented": "# id: {other}\nid: {id}   # not {other}\n",
    "anchored": "name: &name {id}\nid: *name\n",
    "none": "",
}


def _text(spelling: str, wid: str, kind: str) -> bytes:
    if kind == "unreadable":
        return b"\x00binary"
    if kind == "broken":
        return f"id: {wid}\nstates: [unclosed\n".encode()
    head = SPELLINGS[spelling].format(id=wid, first=ord(wid[0]), rest=wid[1:], other=IDS[0])
    if spelling == "flow":  # a flow mapping must hold the whole document
        head = f"{{id: {wid}, states: {{a: {{initial: true}}}}}}\n"
        return head.encode()
    body = MINIMAL_WORKFLOW.replace("id: minimal\n", "")
    if kind == "not-a-workflow":
        body = "title: demo data, no states\n"
    return (head + body).encode()


FILES = st.lists(
    st.tuples(
        st.integers(0, 2),  # which folder
        st.sampled_from(["sub", ""]),  # in a subfolder or not
        st.sampled_from([*IDS, "gamma"]),  # the file's name
        st.sampled_from(sorted(SPELLINGS)),
        st.sampled_from(IDS),  # the id it declares
        st.sampled_from(["workflow", "workflow", "workflow", "not-a-workflow", "unreadable", "broken"]),
    ),
    max_size=8,
)


def _by_discovery(ref: str, dirs: list[Path]) -> Candidate:
    """The lookup as it was: every file of every folder read, the first folder with the id wins."""
    entries = discover(dirs)
    matches = [entry for entry in entries if entry.id == ref and not entry.shadowed]
    if len(matches) > 1:
        raise AmbiguousWorkflow(ref, [m.path for m in matches])
    if matches:
        return Candidate(matches[0].path, matches[0].id, matches[0].document)
    raise NotFound("workflow", ref, [e.id for e in entries if not e.shadowed])


def _outcome(lookup: object, ref: str, dirs: list[Path]) -> tuple[str, object]:
    try:
        found = lookup(ref, dirs)  # type: ignore[operator]
    except (AmbiguousWorkflow, NotFound) as error:
        return type(error).__name__, str(error).split(";")[0]
    return "found", (found.path, found.id, found.document.text if found.document else None)


def _folders(tmp: Path, files: list[tuple[int, str, str, str, str, str]]) -> list[Path]:
    """Three workflow folders holding ``files`` (folder, subfolder, name, spelling, id, kind)."""
    dirs = [tmp / f"folder{n}" for n in range(3)]
    for folder, sub, name, spelling, wid, kind in files:
        where = dirs[folder] / sub
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{name}.yaml").write_bytes(_text(spelling, wid, kind))
    return dirs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES, ref=st.sampled_from([*IDS, "gamma", "delta"]))
def test_looking_up_an_id_answers_as_reading_every_file_does(
        files: list[tuple[int, str, str, str, str, str]], ref: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dirs = _folders(Path(tmp), files)
        assert _outcome(locate_workflow, ref, dirs) == _outcome(_by_discovery, ref, dirs)


def _many(ref: str, dirs: list[Path]) -> Candidate:
    found = locate_workflows([ref, ref], dirs)[ref]  # the second from what the first read
    if found is None:
        raise NotFound("workflow", ref, [e.id for e in discover(dirs) if not e.shadowed])
    return found


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES, ref=st.sampled_from([*IDS, "gamma", "delta"]))
def test_looking_up_many_ids_at_once_answers_as_one_at_a_time(
        files: list[tuple[int, str, str, str, str, str]], ref: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dirs = _folders(Path(tmp), files)
        assert _outcome(_many, ref, dirs) == _outcome(_by_discovery, ref, dirs)


def test_a_lookup_parses_only_the_files_that_can_declare_the_id(tmp_path: Path, monkeypatch: object) -> None:
    import flowengine.definition.registry as registry

    for name in ("one", "two", "three"):
        (tmp_path / f"{name}.yaml").write_text(MINIMAL_WORKFLOW.replace("id: minimal", f"id: {name}"), "utf-8")
    (tmp_path / "renamed.yaml").write_text(MINIMAL_WORKFLOW.replace("id: minimal", "id: four"), "utf-8")
    parsed: list[str] = []
    real = registry.read_candidate

    def counting(path: Path) -> Candidate:
        parsed.append(path.name)
        return real(path)

    monkeypatch.setattr(registry, "read_candidate", counting)  # type: ignore[attr-defined]
    assert locate_workflow("four", [tmp_path]).path == tmp_path / "renamed.yaml"
    assert parsed == ["renamed.yaml"]
