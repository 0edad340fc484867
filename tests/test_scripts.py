"""scripts/install and scripts/test on a machine like a stock Debian: python3 whose pip refuses
to install into the system (PEP 668), maybe without python3-venv. The Debian tools they call
(python3, apt-get, Graphviz's dot …) are stand-ins here that record how they were called, so the
scripts' own logic runs for real without the network. (The real thing, a fresh clone installed
with Debian's own python3, is shown in the README's IT section and was run by hand.)"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

# The programs the scripts use besides the stand-ins, linked from the real system.
_BASICS = ("bash", "dirname", "basename", "id", "rm", "mkdir", "chmod", "awk", "cat", "env", "mktemp", "sort", "ls",
           "tail")

PYTHON3 = """#!/bin/bash
echo "python3 $*" >> "$LOG"
case "$*" in
  "-c import ensurepip, venv") exit "${ENSUREPIP_RC:-0}" ;;
  "-c import sys; sys.exit(sys.version_info < (3, 11))") exit "${OLD_PYTHON_RC:-0}" ;;
  "-V") echo "Python 3.9.2"; exit 0 ;;
  "-m venv "*)
    dir="${@: -1}"
    mkdir -p "$dir/bin"
    printf '#!/bin/bash\\necho "venv-python $*" >> "$LOG"\\n' > "$dir/bin/python"
    printf '#!/bin/bash\\necho "flowengine, version 0.1.0"\\n' > "$dir/bin/flowengine"
    for tool in ruff mypy; do printf '#!/bin/bash\\necho "venv-%s $*" >> "$LOG"\\n' "$tool" > "$dir/bin/$tool"; done
    chmod +x "$dir/bin/"*
    exit 0 ;;
  "-m pip "*)
    echo "error: externally-managed-environment" >&2
    exit 1 ;;
esac
exit 0
"""
RECORDER = """#!/bin/bash
echo "$(basename "$0") $*" >> "$LOG"
"""


class Machine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.clone = root / "clone"
        self.bin = root / "bin"
        self.log = root / "log"
        (self.clone / "scripts").mkdir(parents=True)
        for name in ("install", "test"):
            shutil.copy(REPO_ROOT / "scripts" / name, self.clone / "scripts" / name)
        self.bin.mkdir()
        for name in _BASICS:
            found = shutil.which(name)
            assert found, name
            (self.bin / name).symlink_to(found)
        self.tool("python3", PYTHON3)
        for name in ("apt-get", "sudo", "dot", "chromium", "chromedriver", "systemd-analyze", "npm"):
            self.tool(name, RECORDER)

    def tool(self, name: str, text: str) -> None:
        path = self.bin / name
        path.unlink(missing_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {"PATH": str(self.bin), "LOG": str(self.log), "HOME": str(self.root),
                       "FLOWENGINE_TEST_PG": "postgresql+psycopg://postgres@127.0.0.1:1", **env}
        return subprocess.run(["bash", f"scripts/{script}", *args], cwd=self.clone, env=environment,
                              capture_output=True, text=True, timeout=60)

    def calls(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_install_makes_the_clone_s_own_venv_and_installs_there_never_into_the_system(machine: Machine) -> None:
    done = machine.run("install")
    assert done.returncode == 0, done.stderr
    venv = machine.clone / ".venv"
    calls = machine.calls()
    assert f"python3 -m venv {venv}" in calls
    assert "venv-python -m pip install --quiet --disable-pip-version-check -e .[postgresql]" in calls
    assert not [call for call in calls if call.startswith("python3 -m pip")]
    assert f'export PATH="{venv}/bin:$PATH"' in done.stdout
    assert f"sudo ln -sf {venv}/bin/flowengine /usr/local/bin/" in done.stdout


def test_install_a_second_time_keeps_the_venv(machine: Machine) -> None:
    assert machine.run("install").returncode == 0
    machine.log.unlink()
    again = machine.run("install")
    assert again.returncode == 0, again.stderr
    calls = machine.calls()
    assert not [call for call in calls if "-m venv" in call]
    assert [call for call in calls if call.startswith("venv-python -m pip install")]


def test_install_brings_python3_venv_from_debian_when_it_is_missing(machine: Machine) -> None:
    done = machine.run("install", ENSUREPIP_RC="1")
    assert done.returncode == 0, done.stderr
    installs = [call for call in machine.calls() if call.startswith("apt-get install")]
    assert installs and "python3-venv" in installs[0].split()


def test_install_brings_graphviz_when_dot_is_missing(machine: Machine) -> None:
    (machine.bin / "dot").unlink()
    assert machine.run("install").returncode == 0
    installs = [call for call in machine.calls() if call.startswith("apt-get install")]
    assert installs and "graphviz" in installs[0].split()


def test_install_for_the_tests_brings_systemd_analyze_and_the_dev_tools(machine: Machine) -> None:
    (machine.bin / "systemd-analyze").unlink()
    done = machine.run("install", "--test")
    assert done.returncode == 0, done.stderr
    calls = machine.calls()
    installs = [call for call in calls if call.startswith("apt-get install")]
    assert installs and "systemd" in installs[0].split()
    assert "venv-python -m pip install --quiet --disable-pip-version-check -e .[dev,postgresql]" in calls
    assert "npm ci --prefix tests/accessibility --no-audit --no-fund --loglevel=error" in calls  # axe-core, as pinned


def test_install_refuses_a_python_older_than_3_11_with_what_to_do(machine: Machine) -> None:
    done = machine.run("install", OLD_PYTHON_RC="1")
    assert done.returncode == 1
    assert "needs Python 3.11 or newer; python3 is Python 3.9.2" in done.stderr
    assert not (machine.clone / ".venv").exists()


def test_the_test_job_runs_every_tool_from_the_clone_s_venv(machine: Machine) -> None:
    done = machine.run("test", "-q")
    assert done.returncode == 0, done.stderr
    calls = [call.strip() for call in machine.calls()
             if call.startswith("venv-") and not call.startswith("venv-python -c")]  # the axe-core version read
    assert calls == ["venv-python -m pip install --quiet --disable-pip-version-check -e .[dev,postgresql]",
                     "venv-ruff check .", "venv-mypy", "venv-python -m pytest -q", "venv-python -m pytest -q"]
    assert not [call for call in machine.calls() if call.startswith("python3 -m pip")]


def test_ci_runs_the_test_job_and_the_scripts_are_executable_by_bash() -> None:
    assert (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("exec bash scripts/test")
    for script in ("install", "test", "run", "postgres"):
        assert os.access(REPO_ROOT / "scripts" / script, os.R_OK)
        subprocess.run(["bash", "-n", str(REPO_ROOT / "scripts" / script)], check=True)
