"""What the service's operations need of the façade: a database, a clock, where workflow files
are, and the one write helper. A protocol, so the operation modules depend on this small face
and not on :class:`flowengine.service.facade.FlowEngine` (which depends on them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from flowengine.clock import Clock
from flowengine.store import Connection, Database

T = TypeVar("T")


class Engine(Protocol):
    database: Database
    clock: Clock
    workflow_dirs: tuple[str | Path, ...]

    def transaction(self, work: Callable[[Connection], T], *, operation: str, key: str | None = None) -> T:
        """Run ``work`` in one write transaction (see :meth:`FlowEngine.transaction`)."""
        ...
