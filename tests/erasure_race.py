"""Two processes on one proposal: one advances it, the other erases its comments, in an order
fixed by events rather than left to the scheduler, so each run takes the same path.

The worker functions live here, not in a test module, so that processes started with the
``spawn`` method import only flowengine and this file (as ``tests/stress_advances.py``'s do).
Each reports ("ok", what it saw) or ("error", a traceback) on its queue; every wait is bounded.
"""

from __future__ import annotations

import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from typing import Any

from flowengine.errors import ConflictError
from flowengine.history.records import Actor
from flowengine.service.erasing import ErasureRequest

from .stress_advances import open_engine

WAIT_SECONDS = 120.0  # a bound, never an expectation: the other side takes milliseconds
STEPPER = Actor("pia", "panel")
AFTER = "said after the erasure"


def _wait(event: EventType, what: str) -> None:
    if not event.wait(WAIT_SECONDS):
        raise TimeoutError(f"{what} did not happen within {WAIT_SECONDS} s")


def advancer(db: str, pid: str, read: EventType, erased: EventType, reports: Queue[Any], inside: bool) -> None:
    """Advance ``pid`` with the erasure falling between the step's read and its write: ``inside``
    its write transaction (the step paused just before it writes; PostgreSQL, where readers take
    no locks), else between a client's read and the step it then asks for (``expected_version``,
    as a form sent back with the version it showed). Told that the proposal moved, it looks again
    and advances again."""
    try:
        with open_engine(db) as engine:
            if inside:
                from flowengine.service import steps

                real = steps.commit_step

                def paused(*args: Any, **kwargs: Any) -> Any:
                    steps.commit_step = real
                    read.set()
                    _wait(erased, "the erasure")
                    return real(*args, **kwargs)

                steps.commit_step = paused
                version = None
            else:
                version = engine.history(pid)[0].version
                read.set()
                _wait(erased, "the erasure")
            try:
                engine.advance(pid, "ping", actor=STEPPER, comment=AFTER, expected_version=version)
                told = ""
            except ConflictError as error:
                told = str(error)
                engine.advance(pid, "ping", actor=STEPPER, comment=AFTER,
                               expected_version=engine.history(pid)[0].version)
        reports.put(("ok", told))
    except BaseException:
        reports.put(("error", traceback.format_exc()))


def eraser(db: str, pid: str, read: EventType, erased: EventType, reports: Queue[Any]) -> None:
    """Erase ``pid``'s comments once the step has read the proposal; then let the step go on."""
    try:
        with open_engine(db) as engine:
            _wait(read, "the step's read")
            values = engine.erase(ErasureRequest(proposal=pid, comments=True)).values
        erased.set()
        reports.put(("ok", values))
    except BaseException:
        erased.set()
        reports.put(("error", traceback.format_exc()))
