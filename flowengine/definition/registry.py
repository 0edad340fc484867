"""Where workflows live: folders given by the user, then the bundled ones.

A workflow is named by its id (``innovation-chain``) or by a path to its file. Folders (with
their subfolders) are searched in order — ``--workflows`` folders, then
``$FLOWENGINE_WORKFLOWS`` (separated by the system's path separator), then the bundled
workflows — and the first folder with an id wins, so a municipality can override a bundled
workflow by giving its own a bundled id. Two files with one id inside the same folder are an
error rather than a silent pick: an old copy in a subfolder must never replace the real file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowengine.definition.files import MAX_FILE_BYTES
from flowengine.errors import AmbiguousWorkflow, DefinitionError, NotFound, Remedy

if TYPE_CHECKING:  # the YAML parser is imported only to read a file
    from flowengine.definition.yamlsafe import LocatedDocument

ENV_WORKFLOWS = "FLOWENGINE_WORKFLOWS"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Candidate:
    """A YAML file read once: its parsed document (None if unreadable) and the workflow id it
    declares (None if it is not a workflow, such as demo data). Checking reuses the document."""

    path: Path
    id: str | None
    document: LocatedDocument | None


@dataclass(frozen=True)
class WorkflowFile:
    """A workflow file found in a folder. ``shadowed``: an earlier folder has its id (an
    intended override); ``duplicate``: another file in the same folder tree has its id."""

    id: str
    path: Path
    bundled: bool
    document: LocatedDocument | None
    shadowed: bool = False
    duplicate: bool = False


def bundled_dir() -> Path:
    """The bundled workflows' folder: the ``flowengine_workflows`` package's own (what
    ``importlib.resources.files`` answers for a package installed as files, without importing
    its readers)."""
    import importlib

    found = importlib.import_module("flowengine_workflows").__file__
    if found is None:  # not a package of files
        from importlib import resources

        return Path(str(resources.files("flowengine_workflows")))
    return Path(found).parent


def search_dirs(extra: Iterable[str | Path] = (), environ: dict[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    dirs = [Path(d) for d in extra]
    dirs += [Path(d) for d in env.get(ENV_WORKFLOWS, "").split(os.pathsep) if d.strip()]
    dirs.append(bundled_dir())
    return dirs


def yaml_files(folder: Path) -> list[Path]:
    """The .yaml/.yml files below a folder, sorted; hidden files and folders (.git …) are skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def read_file(path: Path) -> LocatedDocument:
    """:func:`flowengine.definition.yamlsafe.read_file`: the YAML parser is imported when a file
    is first parsed, not with this module (a command that finds a file by its text needs none)."""
    from flowengine.definition import yamlsafe

    return yamlsafe.read_file(path)


def read_candidate(path: Path) -> Candidate:
    """Read a file once and say whether it is a workflow.

    A file counts as a workflow when its top level has ``states`` or ``transitions``; an
    unreadable file counts too (under its file name), so that its error is shown, not hidden.
    """
    try:
        doc = read_file(path)
    except DefinitionError:
        return Candidate(path, path.stem, None)
    data = doc.data
    if not isinstance(data, dict) or not ({"states", "transitions"} & set(data)):
        return Candidate(path, None, doc)
    declared = data.get("id")
    return Candidate(path, declared if isinstance(declared, str) and declared else path.stem, doc)


def discover(dirs: Sequence[Path]) -> list[WorkflowFile]:
    """Every workflow file in the folders, in search order; later files with a seen id are shadowed."""
    bundled = bundled_dir().resolve()
    found: list[WorkflowFile] = []
    seen: set[str] = set()
    for folder in dirs:
        is_bundled = folder.resolve() == bundled
        in_folder = [c for c in map(read_candidate, yaml_files(folder)) if c.id is not None]
        counts: dict[str, int] = {}
        for candidate in in_folder:
            counts[str(candidate.id)] = counts.get(str(candidate.id), 0) + 1
        for candidate in in_folder:
            wid = str(candidate.id)
            found.append(WorkflowFile(wid, candidate.path, is_bundled, candidate.document,
                                      shadowed=wid in seen, duplicate=counts[wid] > 1))
        seen.update(counts)
    return found


def find_workflow(ref: str, dirs: Sequence[Path]) -> Path:
    """The file for a workflow id or path; NotFound names the ids that exist."""
    return locate_workflow(ref, dirs).path


def locate_workflow(ref: str, dirs: Sequence[Path], *, suggest: bool = True) -> Candidate:
    """Like :func:`find_workflow`, keeping the document already read so it is not read again.

    The same answer as looking through :func:`discover`, without parsing every file: only files
    that could declare ``ref`` are parsed (see :func:`_could_declare`), folder by folder, and the
    first folder with it wins. Everything is read only to say what exists when nothing matches,
    and only when ``suggest``: a caller that looks elsewhere next (the database's stored
    definitions of a workflow no file has) needs no list of what the files declare.
    """
    path = Path(ref)
    if path.suffix in _SUFFIXES or os.sep in ref:
        if path.is_file():
            return read_candidate(path)
        raise NotFound("workflow file", ref, [], hint="check the path")
    for folder in dirs:
        matches = [candidate for candidate in (read_candidate(p) for p in yaml_files(folder) if _could_declare(p, ref))
                   if candidate.id == ref]
        if len(matches) > 1:
            raise AmbiguousWorkflow(ref, [m.path for m in matches])
        if matches:
            return matches[0]
    if not suggest:
        raise NotFound("workflow", ref, [])
    entries = discover(dirs)
    raise NotFound("workflow", ref, [e.id for e in entries if not e.shadowed]).fixed_by(Remedy("list_workflows"))


def first_that_could_declare(ref: str, dirs: Sequence[Path]) -> list[Path] | None:
    """The files of the first folder that has any file that could declare the workflow id
    ``ref`` (:func:`_could_declare`: judged from their raw text, none parsed); empty when no file
    anywhere could, so none declares it; None when ``ref`` names a file rather than an id.

    :func:`locate_workflow` would find ``ref`` among them when one of them declares it (and, only
    when none does, in a later folder): a single file there whose text is known to declare
    ``ref`` — a definition of it stored in the database, say — is the one it would find."""
    if Path(ref).suffix in _SUFFIXES or os.sep in ref:
        return None
    for folder in dirs:
        found = [path for path in yaml_files(folder) if _could_declare(path, ref)]
        if found:
            return found
    return []


def locate_workflows(refs: Sequence[str], dirs: Sequence[Path]) -> dict[str, Candidate | None]:
    """:func:`locate_workflow` of many ids (``suggest=False``), None for an id no file declares:
    each file's text is read once for all of them, and only files that could declare one are
    parsed (a national database stores hundreds of workflows no file has)."""
    facts = [[(path, _text_facts(path)) for path in yaml_files(folder)] for folder in dirs]
    read: dict[Path, Candidate] = {}
    found: dict[str, Candidate | None] = {}
    for ref in refs:
        if Path(ref).suffix in _SUFFIXES or os.sep in ref:
            found[ref] = locate_workflow(ref, dirs)
            continue
        found[ref] = None
        for in_folder in facts:
            matches = [candidate for candidate in (read.get(p) or read.setdefault(p, read_candidate(p))
                                                   for p, known in in_folder if _may_declare(p, known, ref))
                       if candidate.id == ref]
            if len(matches) > 1:
                raise AmbiguousWorkflow(ref, [m.path for m in matches])
            if matches:
                found[ref] = matches[0]
                break
    return found


def _could_declare(path: Path, ref: str) -> bool:
    """Whether the file at ``path`` may have the workflow id ``ref``, judged from its raw text.

    A file's id is its top-level ``id`` or, when it has none or cannot be read, its file name.
    A YAML value equal to ``ref`` is written with ``ref``'s characters in the text, unless it
    uses an escape (a backslash), a doubled quote or a folded line (only when ``ref`` has a quote
    or a space); so a file whose name is not ``ref`` and whose text has none of these cannot
    declare it.
    """
    if path.stem == ref or "'" in ref or any(c.isspace() for c in ref):
        return True
    return _may_declare(path, _text_facts(path), ref)


_TextFacts = tuple[bytes, str | None] | None  # the raw text and its one plain top-level id; None: unreadable


def _text_facts(path: Path) -> _TextFacts:
    """What :func:`_could_declare` reads of a file, for any id."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None  # unreadable: its id would be its file name
    if len(raw) > MAX_FILE_BYTES:
        return None  # too large to read: the same
    plain = _PLAIN_ID.findall(raw)
    if len(plain) == 1 and len(_ANY_ID.findall(raw)) == 1 and b'"id"' not in raw and b"'id'" not in raw:
        return raw, plain[0].decode("ascii")  # one top-level "id: name" line: the file's id
    return raw, None


def _may_declare(path: Path, facts: _TextFacts, ref: str) -> bool:
    if path.stem == ref or "'" in ref or any(c.isspace() for c in ref):
        return True
    if facts is None:
        return False
    raw, plain = facts
    if plain is not None:
        return plain == ref
    return ref.encode("utf-8") in raw or b"\\" in raw


# A top-level ``id:`` key whose value is a plain workflow id (a line at the left margin is a key
# of the top-level mapping: a block scalar's lines are indented): nothing else can be its value.
_PLAIN_ID = re.compile(rb"^id:[ \t]+([a-z][a-z0-9_-]*)[ \t]*(?:#[^\n]*)?\r?$", re.MULTILINE)
_ANY_ID = re.compile(rb"^id[ \t]*:", re.MULTILINE)
