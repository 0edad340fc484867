"""The garbage collector paused while much is made and little is let go.

Python's collector runs after every few hundred new container objects and, now and then, walks
every object alive. Work that builds a large structure meant to last — a log read into rows, the
built definitions of hundreds of workflows, their analyses, a report written row by row — makes
no cycles for it to find, so its passes only cost time, and more the larger the heap has grown:
unpickling the 650 built definitions of a national database took four times as long with the
collector on. :func:`paused` turns it off for such work and back on afterwards if it was on.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused"]


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside; on again afterwards if it was on (a pause inside a pause
    leaves it off until the outer one ends)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
