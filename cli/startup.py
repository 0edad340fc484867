"""Start-up without the garbage collector's detours: most of a one-step command is importing.

Importing SQLAlchemy and flowengine makes some eighty thousand objects that live as long as
the process: modules, classes, functions, compiled statements. Python's collector walks them
again and again while they are made, and once more at exit, and finds nothing to free. A
command therefore loads its modules with collection paused (:func:`loading`) and, when it is
the process's own command (:func:`own_process`), freezes what was loaded out of every later
collection (:func:`gc.freeze`); the command's own work is collected as usual — but for work
whose size is bounded and whose results live as long as the command, such as the small read
of ``stalls diagram`` (at most ``flowengine.service.quick.SMALL_EVENTS`` events), which may run
inside :func:`loading` too.

Only the process that runs one command and ends may freeze: a program calling the commands
again and again (a test run through click's CliRunner) would otherwise keep every cycle of
garbage it had made before each call. That process also takes SIGTERM as Ctrl-C
(:class:`Terminated`), so that what a command cleans up on the way out is cleaned up then too.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from contextlib import contextmanager

_own_process = False


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a service manager stopping a job), handled as Ctrl-C is:
    transactions roll back and temporary files — an import's spooled standard input, a file
    being replaced — are removed on the way out, where Python's default would end the process
    on the spot and leave them behind."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def own_process() -> None:
    """This process ends when its one command does (the console script, ``python -m``): SIGTERM
    ends it as Ctrl-C does (:class:`Terminated`)."""
    global _own_process
    _own_process = True
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


@contextmanager
def loading() -> Iterator[None]:
    """Import modules inside: no collections meanwhile, and in a command's own process what
    exists afterwards is frozen out of later ones (including the last one, at exit)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _own_process:
            gc.freeze()
        if enabled:
            gc.enable()
