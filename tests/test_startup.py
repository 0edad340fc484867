"""Commands import only what they use: start-up time matters for a tool used many times a day."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

HEAVY = ("jsonschema", "networkx", "graphviz", "sqlalchemy", "transitions", "yaml")


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from flowengine_cli.main import cli\n"
        f"try:\n    cli({args!r}, prog_name='flowengine')\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(done.stderr.split())


def test_help_imports_none_of_the_heavy_libraries() -> None:
    assert not _modules_after(["--help"]) & set(HEAVY)


@pytest.mark.parametrize("command", [["workflow", "validate", "--help"], ["workflow", "schema"]])
def test_light_commands_do_not_import_graph_or_drawing_libraries(command: list[str]) -> None:
    loaded = _modules_after(command)
    assert not loaded & {"networkx", "graphviz", "sqlalchemy"}


def test_validate_does_not_import_graphviz() -> None:
    chain = REPO_ROOT / "workflows" / "default" / "innovation-chain.yaml"
    loaded = _modules_after(["workflow", "validate", str(chain)])
    assert "networkx" in loaded  # it does need the graph checks
    assert "graphviz" not in loaded
