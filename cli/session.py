"""Opening the engine for one command, from the options every store command shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from flowengine.history.records import Actor
    from flowengine.service.facade import FlowEngine

T = TypeVar("T")


def open_engine(database: str | None, workflow_dirs: Sequence[str] = (), *, read_only: bool = False,
                upgrade_existing: bool | None = None) -> FlowEngine:
    """The engine on ``database``; for a command that only reads (``read_only``), one that
    creates no database (a SQLite file that is not there is refused), or, given ``--read-db``
    (a replica of it), an engine that reads there instead."""
    from .options import READ_DATABASE
    from .startup import loading

    with loading():  # SQLAlchemy and the engine: most of a short command's time
        from flowengine.clock import clock_from_environment
        from flowengine.service.facade import FlowEngine

    ctx = click.get_current_context(silent=True)
    replica = ctx.meta.get(READ_DATABASE) if read_only and ctx is not None else None
    if replica:
        return FlowEngine.open_read_only(replica, workflow_dirs=workflow_dirs, clock=clock_from_environment())
    return FlowEngine.open(database, workflow_dirs=workflow_dirs, clock=clock_from_environment(),
                           upgrade_existing=upgrade_existing, create=not read_only)


def read_quickly(read: Callable[[str | None], T | None]) -> T | None:
    """What a command that only reads gets through the database driver alone
    (:mod:`flowengine.service.quick_reads`), ``read`` given the replica ``--read-db`` names (or
    None); None when the engine must do it (:func:`open_engine`). Collection is paused meanwhile,
    as while the engine loads: what is read is bounded (a proposal, a page) and lives as long as
    the command."""
    from .options import READ_DATABASE
    from .startup import loading

    ctx = click.get_current_context(silent=True)
    with loading():
        return read(ctx.meta.get(READ_DATABASE) if ctx is not None else None)


def actor(name: str | None, role: str | None) -> Actor:
    """Who is acting; a usage error (exit 2) when not said, since nothing can be recorded without it."""
    if not name or not role:
        from flowengine.i18n import t

        missing = t("{first} and {second}", first="--as NAME", second="--role ROLE") if not name and not role \
            else "--as NAME" if not name else "--role ROLE"
        raise click.UsageError(t("say who you are: {missing} (or set FLOWENGINE_USER and FLOWENGINE_ROLE); "
                                 "a pseudonym is enough", missing=missing))
    from flowengine.history.records import Actor

    return Actor(name.strip(), role.strip())

