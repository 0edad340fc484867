"""Importing a heavy module on the second core while the first waits for the database.

The stall analysis needs numpy, whose import takes about a tenth of a second; the bulk reads
before it spend longer inside SQLite, which releases the interpreter lock. Importing on another
thread meanwhile takes that tenth off the analysis. The caller imports the module itself after
:func:`in_background`'s wait: that import finds it ready, or raises its error where the caller
handles errors (the background thread swallows them, and the library never prints).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable


def in_background(module: str) -> Callable[[], None]:
    """Start importing ``module`` on a daemon thread; returns the function that waits for it.

    Call it only once the modules both threads share are imported, so that neither waits on
    the other's half-initialised modules."""
    if module in sys.modules:
        return _ready

    def load() -> None:
        with contextlib.suppress(BaseException):  # the caller's own import raises it again
            importlib.import_module(module)

    thread = threading.Thread(target=load, name=f"import {module}", daemon=True)
    thread.start()
    return thread.join


def _ready() -> None:
    """Nothing to wait for: the module was imported already."""
