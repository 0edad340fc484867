"""Running ``flowengine`` in a real pseudo-terminal, as a person at a terminal runs it.

The command gets a pty as standard input, output and error (so ``isatty()`` is true for real,
with a window size that the kernel reports), and everything it draws is read back until it
exits. Bounded: a command that has not ended after ``timeout`` seconds is killed and the test
fails with what it had drawn so far.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .cli_support import CLEARED_ENV

TIMEOUT = 120.0


@dataclass(frozen=True)
class Screen:
    exit_code: int
    output: str  # everything written to the terminal, standard output and error together, "\r\n" as "\n"


def run_in_terminal(args: Sequence[str], env: Mapping[str, str], *, columns: int = 80, rows: int = 24,
                    keys: Sequence[tuple[str, str]] = (), timeout: float = TIMEOUT) -> Screen:
    """Run ``flowengine ARGS`` on a fresh pty of ``columns`` x ``rows``. ``keys`` are (text seen,
    text typed) pairs: once the first text has appeared, the second is typed, in order."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {name: value for name, value in os.environ.items()
                   if name not in CLEARED_ENV and name not in ("COLUMNS", "LINES", "PAGER", "LESS")}
    environment |= {"TERM": "xterm", **env}
    process = subprocess.Popen([sys.executable, "-m", "flowengine_cli", *args], stdin=terminal, stdout=terminal,
                               stderr=terminal, env=environment, start_new_session=True, close_fds=True)
    os.close(terminal)
    drawn = bytearray()
    pending = list(keys)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                raise AssertionError(f"flowengine {' '.join(args)} still ran after {timeout} s; it drew:\n"
                                     + drawn.decode("utf-8", "replace"))
            ready, _, _ = select.select([controller], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every process holding the terminal has closed it
                    break
                if not chunk:
                    break
                drawn += chunk
                while pending and pending[0][0].encode() in drawn:
                    os.write(controller, pending.pop(0)[1].encode())
            elif process.poll() is not None and not ready:
                break
    finally:
        os.close(controller)
    code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    return Screen(code, drawn.decode("utf-8", "replace").replace("\r\n", "\n"))
