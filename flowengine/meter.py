"""How long work reports how far it has come, without the library printing anything.

Long imports, exports and analyses take a :data:`Meter`: a callable told how many more units
(rows, events, proposals) are done. The command line turns it into a progress bar on a
terminal; everyone else passes nothing and pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Meter = Callable[[int], None]


def no_meter(_done: int) -> None:
    """The meter of callers who do not watch."""
