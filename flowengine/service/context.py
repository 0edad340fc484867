"""What the service's operations need of the façade: a database, a clock, where workflow files
are, who is acting (login, permissions, the stamp sealed into events), and the one write helper.
A protocol, so the operation modules depend on this small face
and not on :class:`flowengine.service.facade.FlowEngine` (which depends on them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from flowengine.clock import Clock
from flowengine.store import Connection, Database

if TYPE_CHECKING:
    from flowengine.access.grants import Permissions
    from flowengine.history.records import Stamp

T = TypeVar("T")


class Engine(Protocol):
    database: Database
    clock: Clock
    workflow_dirs: tuple[str | Path, ...]

    @property
    def login(self) -> str:
        """The authenticated login acting."""
        ...

    @property
    def recording_clock(self) -> Clock | None:
        """The fixed clock of a database made for tests or demos; None: the database's own."""
        ...

    def permissions(self, conn: Connection) -> Permissions:
        """What the login may do, read in this transaction."""
        ...

    def stamp(self, conn: Connection) -> Stamp:
        """Who records this transaction's events, and when."""
        ...

    def transaction(self, work: Callable[[Connection], T], *, operation: str, key: str | None = None) -> T:
        """Run ``work`` in one write transaction (see :meth:`FlowEngine.transaction`)."""
        ...
