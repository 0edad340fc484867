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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flowengine.errors import AmbiguousWorkflow, DefinitionError, NotFound
from flowengine.yamlsafe import read_file

ENV_WORKFLOWS = "FLOWENGINE_WORKFLOWS"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class WorkflowFile:
    """A workflow file found in a folder. ``shadowed``: an earlier folder has its id (an
    intended override); ``duplicate``: another file in the same folder tree has its id."""

    id: str
    path: Path
    bundled: bool
    shadowed: bool = False
    duplicate: bool = False


def bundled_dir() -> Path:
    return Path(str(resources.files("flowengine_workflows")))


def search_dirs(extra: Iterable[str | Path] = (), environ: dict[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    dirs = [Path(d) for d in extra]
    dirs += [Path(d) for d in env.get(ENV_WORKFLOWS, "").split(os.pathsep) if d.strip()]
    dirs.append(bundled_dir())
    return dirs


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def workflow_id_of(path: Path) -> str | None:
    """The id a file declares, or None when it is not a workflow (e.g. demo data) or unreadable.

    A file counts as a workflow when its top level has ``states`` or ``transitions``.
    """
    try:
        doc = read_file(path)
    except DefinitionError:
        return path.stem
    data = doc.data
    if not isinstance(data, dict) or not ({"states", "transitions"} & set(data)):
        return None
    declared = data.get("id")
    return declared if isinstance(declared, str) and declared else path.stem


def discover(dirs: Sequence[Path]) -> list[WorkflowFile]:
    """Every workflow file in the folders, in search order; later files with a seen id are shadowed."""
    bundled = bundled_dir().resolve()
    found: list[WorkflowFile] = []
    seen: set[str] = set()
    for folder in dirs:
        is_bundled = folder.resolve() == bundled
        in_folder = [(wid, path) for path in _yaml_files(folder) if (wid := workflow_id_of(path)) is not None]
        counts: dict[str, int] = {}
        for wid, _ in in_folder:
            counts[wid] = counts.get(wid, 0) + 1
        for wid, path in in_folder:
            found.append(WorkflowFile(wid, path, is_bundled, shadowed=wid in seen, duplicate=counts[wid] > 1))
        seen.update(counts)
    return found


def find_workflow(ref: str, dirs: Sequence[Path]) -> Path:
    """The file for a workflow id or path; NotFound names the ids that exist."""
    candidate = Path(ref)
    if candidate.suffix in _SUFFIXES or os.sep in ref:
        if candidate.is_file():
            return candidate
        raise NotFound("workflow file", ref, [], hint="check the path")
    entries = discover(dirs)
    matches = [entry for entry in entries if entry.id == ref and not entry.shadowed]
    if len(matches) > 1:
        raise AmbiguousWorkflow(ref, [m.path for m in matches])
    if matches:
        return matches[0].path
    raise NotFound("workflow", ref, [e.id for e in entries if not e.shadowed],
                   hint="run 'flowengine workflow list' to see them")
