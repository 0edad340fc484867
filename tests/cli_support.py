"""What the command-line tests share: a runner bound to one database and a fixed "now", a
pinned local time zone, and the checks every command's output is held to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from click.testing import CliRunner, Result
from flowengine_cli.main import cli

# Variables of the developer's shell that would change what the commands do.
CLEARED_ENV = ("FLOWENGINE_USER", "FLOWENGINE_ROLE", "FLOWENGINE_WORKFLOWS", "FLOWENGINE_LANG",
               "FLOWENGINE_DEBUG", "XDG_DATA_HOME", "FLOWENGINE_CHECKPOINT_KEY")

Run = Callable[..., Result]


def make_run(database: str, now: str) -> Run:
    """``run(*args, now=…, env=…)``: the command line on ``database`` (a file or a URL, as the
    ``db_target`` fixture gives it), "now" fixed."""
    runner = CliRunner()
    default_now = now

    def run(*args: str, now: str = default_now, env: dict[str, str] | None = None) -> Result:
        environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
        environment |= {"FLOWENGINE_DB": database, "FLOWENGINE_NOW": now, **(env or {})}
        return runner.invoke(cli, list(args), env=environment, catch_exceptions=False, prog_name="flowengine")

    return run


@contextmanager
def local_time_zone(rule: str) -> Iterator[None]:
    """Run in the POSIX time-zone ``rule`` (no tz database needed), then restore the zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = rule
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def one_error_line(result: Result, code: int = 1) -> str:
    """The one line a refusal prints (exit 1), nothing on stdout, never a traceback; a usage
    error (exit 2) may add click's usage lines before its last line."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    if code == 2:
        assert lines, result.stderr
        return lines[-1]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def command_modules(args: list[str], env: dict[str, str], *, submodules: bool = False) -> tuple[int, set[str]]:
    """Run one command in a fresh interpreter, ``env`` over this process's environment: its exit
    code and the modules it imported — the top-level ones, or every one (``submodules``)."""
    wanted = "sys.modules" if submodules else "(m for m in sys.modules if '.' not in m)"
    code = ("import sys\nfrom flowengine_cli.main import cli\nstatus = 0\n"
            f"try:\n    cli({args!r}, prog_name='flowengine')\n"
            "except SystemExit as exc:\n    status = exc.code\n"
            f"print(status, ' '.join(sorted({wanted})), file=sys.stderr)\n")
    inherited = {name: value for name, value in os.environ.items() if name != "FLOWENGINE_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                          env={**inherited, **env})
    status, *modules = done.stderr.splitlines()[-1].split()
    return int(status), set(modules)
