"""Importing a module on another thread: ready after the wait, and silent when it fails."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.analysis import preload


@pytest.fixture
def module_folder(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("preload_probe_ok", "preload_probe_broken"):
        sys.modules.pop(name, None)


def test_a_module_imported_in_the_background_is_ready_after_the_wait(
        module_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (module_folder / "preload_probe_ok.py").write_text(
        "import threading\nIMPORTED_ON = threading.current_thread().name\n", encoding="utf-8")
    preload.in_background("preload_probe_ok")()
    probe = sys.modules["preload_probe_ok"]
    assert probe.IMPORTED_ON == "import preload_probe_ok"  # the other thread did it

    def no_thread(*_args: object, **_kwargs: object) -> threading.Thread:
        raise AssertionError("a thread was started for a module imported already")

    monkeypatch.setattr(preload.threading, "Thread", no_thread)
    preload.in_background("preload_probe_ok")()  # imported: nothing to start, nothing to wait for


def test_a_failing_background_import_prints_nothing_and_the_callers_import_raises_it(
        module_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module_folder / "preload_probe_broken.py").write_text("raise ValueError('broken on purpose')\n", encoding="utf-8")
    hooked: list[object] = []
    previous, threading.excepthook = threading.excepthook, hooked.append
    try:
        preload.in_background("preload_probe_broken")()
    finally:
        threading.excepthook = previous
    assert hooked == [] and capsys.readouterr() == ("", "")
    with pytest.raises(ValueError, match="broken on purpose"):
        importlib.import_module("preload_probe_broken")
