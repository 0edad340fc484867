"""deploy/: the systemd units a municipality's IT installs, checked by systemd's own
`systemd-analyze verify`, and their commands run as the units would run them."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
INSTALLED = "/opt/flowengine/.venv"  # where the README's IT section puts the clone's .venv
UNITS = sorted(path.name for path in DEPLOY.glob("flowengine-*.*"))


def _analyzer() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd (scripts/install --test does)")
    return found


def _here(folder: Path) -> list[Path]:
    """The units with this test run's .venv where the README installs flowengine, so systemd can
    check that ExecStart names a program that exists."""
    copies = []
    for name in UNITS:
        copy = folder / name
        copy.write_text((DEPLOY / name).read_text(encoding="utf-8").replace(INSTALLED, sys.prefix), encoding="utf-8")
        copies.append(copy)
    return copies


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_analyzer(), "verify", *map(str, units)], capture_output=True, text=True, timeout=120,
                          check=False)


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_deploy_has_a_service_and_a_daily_timer_for_tick_and_for_backups() -> None:
    assert UNITS == ["flowengine-backup.service", "flowengine-backup.timer", "flowengine-tick.service",
                     "flowengine-tick.timer"]
    for job in ("tick", "backup"):
        timer = _unit(f"flowengine-{job}.timer")
        assert timer["Timer"]["Unit"] == f"flowengine-{job}.service"
        assert timer["Timer"]["OnCalendar"].startswith("*-*-* ") and timer["Timer"]["Persistent"] == "true"
        assert timer["Install"]["WantedBy"] == "timers.target"
        service = _unit(f"flowengine-{job}.service")["Service"]
        assert service["Type"] == "oneshot" and service["User"] == "flowengine"
        assert f"{INSTALLED}/bin/flowengine" in service["ExecStart"]


def test_systemd_analyze_verify_finds_nothing_to_say_about_the_units(tmp_path: Path) -> None:
    checked = _verify(_here(tmp_path))
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def test_the_check_catches_a_mistyped_unit(tmp_path: Path) -> None:
    units = _here(tmp_path)
    timer = tmp_path / "flowengine-tick.timer"
    timer.write_text(timer.read_text(encoding="utf-8").replace("OnCalendar=", "OnCalender="), encoding="utf-8")
    checked = _verify(units)
    assert "OnCalender" in checked.stdout + checked.stderr


def _command(name: str, key: str, db: Path, folder: Path) -> list[str]:
    """A unit's command as systemd would run it: %% unescaped, the install and data paths moved here."""
    line = _unit(name)["Service"][key].replace("%%", "%")
    line = line.replace(INSTALLED, sys.prefix).replace("/var/lib/flowengine", str(folder))
    return shlex.split(line)


@pytest.mark.sqlite_only("runs the units' commands on their default, a SQLite file")
def test_the_units_commands_tick_then_back_up_and_prune(tmp_path: Path) -> None:
    db = tmp_path / "flowengine.db"
    (tmp_path / "backups").mkdir()
    environment = {"PATH": "/usr/bin:/bin", "FLOWENGINE_DB": str(db), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                   "FLOWENGINE_NOW": "2025-03-02T06:00:00Z"}
    subprocess.run([sys.executable, "-m", "flowengine_cli", "init"], env=environment, check=True,
                   capture_output=True)
    tick = subprocess.run(_command("flowengine-tick.service", "ExecStart", db, tmp_path), env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert tick.returncode == 0, tick.stderr
    assert '"reminders": []' in tick.stdout
    backup = subprocess.run(_command("flowengine-backup.service", "ExecStart", db, tmp_path), env=environment,
                            capture_output=True, text=True, timeout=120, check=False)
    assert backup.returncode == 0, backup.stderr
    (made,) = (tmp_path / "backups").glob("flowengine-*.backup")
    assert "audit: 0 proposals, 0 events checked: every chain holds" in backup.stdout
    prune = subprocess.run(_command("flowengine-backup.service", "ExecStartPost", db, tmp_path), env=environment,
                           capture_output=True, text=True, timeout=120, check=False)
    assert prune.returncode == 0 and made.exists()  # a fresh backup is kept
