"""The house rules of docs/architecture.md, read from the code's own imports: capability packages
that import each other in one direction only, no import cycle, SQLAlchemy below the store alone,
no private name imported across modules, library messages that name no command-line option,
modules of a readable size, and a public API at the package root."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

import flowengine
from flowengine.errors import REMEDY_KINDS

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "flowengine"
MAX_LINES = 500

# Each package (or ground-floor module) may import only from its own floor and the floors below.
FLOORS: dict[str, int] = {
    "errors": 0, "i18n": 0, "issues": 0, "clock": 0, "suggest": 0, "meter": 0, "atomicfile": 0, "timewindow": 0,
    "version": 0, "jsontext": 0, "collector": 0,
    "definition": 1,
    "history": 2,
    "engine": 3,
    "proof": 3,
    "store": 4,
    "access": 5,
    "analysis": 6,
    "service": 7,
    "views": 8,
    "eventlog": 9,
    "demo": 10,
}


def _library_modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(LIBRARY.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        yield ".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"))


def _imports(module: str, tree: ast.Module, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names], node.lineno


def _floor(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "flowengine" or len(parts) < 2:
        return None
    if parts[1] == "__init__":
        return FACE
    return FLOORS.get(parts[1])


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    modules = {name for name, _, _ in _library_modules()}
    for module, path, tree in _library_modules():
        graph.add_node(module)
        if path == LIBRARY / "__init__.py":
            continue  # the package face names everything, lazily
        for imported, names, _ in _imports(module, tree, path):
            targets = [f"{imported}.{name}" for name in names if f"{imported}.{name}" in modules]
            for target in targets or ([imported] if imported in modules else []):
                if target != module:
                    graph.add_edge(module, target)
    return graph


def test_every_library_module_belongs_to_a_known_floor() -> None:
    unknown = [module for module, _, _ in _library_modules()
               if module != "flowengine" and module.split(".")[1] not in FLOORS and module != "flowengine.schema"]
    assert unknown == []


def test_the_packages_import_each_other_in_one_direction_only() -> None:
    upward = []
    for module, path, tree in _library_modules():
        own = _floor(module)
        if own is None or path == LIBRARY / "__init__.py":
            continue
        for imported, names, line in _imports(module, tree, path):
            for target_module in _targets(imported, names):
                target = _floor(target_module)
                if target is not None and target > own:
                    upward.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target_module}")
    assert upward == []


FACE = max(FLOORS.values()) + 1  # flowengine/__init__.py names every floor: nothing in the library imports it


def _targets(imported: str, names: list[str]) -> list[str]:
    """What an import reaches: ``from flowengine import engine`` the module ``flowengine.engine``;
    ``from flowengine import __version__`` the package face itself (``flowengine.__init__``)."""
    if imported != "flowengine":
        return [imported]
    return [f"flowengine.{name}" if (LIBRARY / name).is_dir() or (LIBRARY / f"{name}.py").is_file()
            else "flowengine.__init__" for name in names or ["__init__"]]


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert list(nx.simple_cycles(_graph())) == []


def test_sqlalchemy_is_imported_below_the_store_alone() -> None:
    outside = [f"{path.relative_to(ROOT)}:{line}" for module, path, tree in _library_modules()
               for imported, _, line in _imports(module, tree, path)
               if imported.split(".")[0] == "sqlalchemy" and not module.startswith("flowengine.store")]
    cli = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sorted((ROOT / "cli").glob("*.py"))
           for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
           if isinstance(node, ast.ImportFrom | ast.Import)
           and any(n.split(".")[0] == "sqlalchemy" for n in ([node.module or ""] if isinstance(node, ast.ImportFrom)
                                                             else [a.name for a in node.names]))]
    assert outside + cli == []


def test_no_private_name_is_imported_from_another_module() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {name} from {imported}"
             for module, path, tree in _library_modules()
             for imported, names, line in _imports(module, tree, path)
             if imported.startswith("flowengine") and imported != module
             for name in names if name.startswith("_") and not name.startswith("__")]
    assert found == []


_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]+(?![\w:)-])")  # an option, not a CSS variable
# Options of other programs that the library runs, which have no short form: pg_dump's snapshot
# (flowengine/store/backup.py). They are arguments, never words in a message.
_OTHER_PROGRAMS_OPTIONS = ("--snapshot=",)


def _strings(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every string literal that is not a docstring, with its line."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value, node.lineno


def test_library_messages_name_no_command_line_option() -> None:
    """The library speaks its own terms; remedies carry what the command line turns into options."""
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for _, path, tree in _library_modules()
             for text, line in _strings(tree) if _OPTION.search(text) and not text.startswith(_OTHER_PROGRAMS_OPTIONS)]
    assert found == []


# The drafted workflow file's comments say how to check and import it: text of a file people edit
# and run commands beside, not a message of the library.
_NAMING_COMMANDS = ("flowengine/eventlog/draft.py",)


def test_library_strings_name_no_command_line_command() -> None:
    """No message, marker or comment of the library names a command ("run 'flowengine workflow
    list'"): the library says what would help as a remedy (``Remedy("list_workflows")``), and the
    command line writes it as the command to type."""
    import click

    from .test_readme_promises import _command, _commands

    leaves = [" ".join(path) for path in _commands() if path and not isinstance(_command(path), click.Group)]
    named = re.compile(r"\bflowengine (?:" + "|".join(map(re.escape, sorted(leaves, key=len, reverse=True)))
                       + r")(?![\w-])")
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}" for _, path, tree in _library_modules()
             if str(path.relative_to(ROOT)) not in _NAMING_COMMANDS
             for text, line in _strings(tree) if named.search(text)]
    assert found == []


def test_every_remedy_kind_has_a_command_line_option() -> None:
    from flowengine_cli.remedies import OPTIONS

    assert set(OPTIONS) == set(REMEDY_KINDS)


@pytest.mark.parametrize("folder", ["flowengine", "cli"])
def test_no_module_is_longer_than_the_house_allows(folder: str) -> None:
    long = {str(path.relative_to(ROOT)): lines for path in sorted((ROOT / folder).rglob("*.py"))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_every_public_name_is_importable_from_the_package_root() -> None:
    missing = [name for name in flowengine.__all__ if not hasattr(flowengine, name)]
    assert missing == []
    assert flowengine.FlowEngine.__module__ == "flowengine.service.facade"


def test_importing_the_package_root_loads_no_database_or_yaml_library() -> None:
    code = ("import sys, flowengine; from flowengine import InvalidInput, Remedy\n"
            "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                timeout=60).stdout.split())
    assert not loaded & {"sqlalchemy", "yaml", "jsonschema", "networkx", "graphviz", "numpy"}
