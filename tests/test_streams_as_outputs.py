"""A stream named as an output — a named pipe, ``/dev/null``, ``/dev/stdout`` — is written into,
never replaced: the replace-in-one-move that keeps readers from half a file would, for root,
have put a plain file where ``/dev/full`` was (it did, once). And a write that fails for want of
room, to standard output too, is one line and exit 1, not an internal error."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flowengine.atomicfile import write_text
from flowengine.errors import FlowEngineError

from .cli_support import CLEARED_ENV


def test_a_named_pipe_given_as_output_is_written_into_and_stays_a_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    write_text(pipe, "case,activity\n", "cannot write")
    reader.join(timeout=60)
    assert received == ["case,activity\n"]
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert [path.name for path in tmp_path.iterdir()] == ["pipe"]  # no temporary file left beside it


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="no /proc/self/fd here")
def test_a_link_through_proc_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    """``-o /dev/stdout`` with standard output sent to a file: the file gets the text, the link stays."""
    target = tmp_path / "target.txt"
    with target.open("w", encoding="utf-8") as handle:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        write_text(link, "written through\n", "cannot write")
    assert target.read_text(encoding="utf-8") == "written through\n"
    assert link.is_symlink()


def test_a_link_to_a_plain_file_is_still_replaced_never_written_through(tmp_path: Path) -> None:
    """A link planted where an output goes does not lead the write elsewhere."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("kept\n", encoding="utf-8")
    planted = tmp_path / "report.txt"
    planted.symlink_to(elsewhere)
    write_text(planted, "report\n", "cannot write")
    assert elsewhere.read_text(encoding="utf-8") == "kept\n"
    assert not planted.is_symlink() and planted.read_text(encoding="utf-8") == "report\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_device_as_output_is_a_failure_named_by_its_reason() -> None:
    with pytest.raises(FlowEngineError, match=r"^cannot write: No space left on device$"):
        write_text(Path("/dev/full"), "x" * 100_000, "cannot write")
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def _flowengine(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name not in CLEARED_ENV}
    return subprocess.run([sys.executable, "-m", "flowengine_cli", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=environment, timeout=300, check=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_standard_output_without_room_is_one_line_and_exit_1() -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        result = _flowengine("workflow", "list", stdout=full.fileno())
    assert result.returncode == 1, result.stderr
    assert result.stderr == "error: could not write standard output: No space left on device\n"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_given_as_the_log_is_refused_as_not_a_file(tmp_path: Path) -> None:
    result = _flowengine("import", "/dev/zero", "--format", "csv", "-w", "trondheim", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 1, result.stderr
    assert result.stderr == ("error: cannot read /dev/zero: not a file (a pipe goes through standard input: "
                             "… - < LOG)\n")


def test_a_block_device_as_output_is_refused_and_nothing_is_written(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk named by mistake (``-o /dev/sda``) is neither replaced nor written into."""
    disk = tmp_path / "sda"
    real_stat = os.stat

    def as_a_disk(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if Path(str(path)) == disk:
            return os.stat_result((stat.S_IFBLK | 0o660, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", as_a_disk)
    with pytest.raises(FlowEngineError, match=r"^cannot write: it is a block device; name a file$"):
        write_text(disk, "report\n", "cannot write")
    assert list(tmp_path.iterdir()) == []
