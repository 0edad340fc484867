"""A member login for benchmarks on PostgreSQL: measured as people use a shared server.

A login in ``flowengine_users`` is what people connect as (migration 0007): row-level security
applies to it and the event trigger checks its every step; the superuser, or the database's
owner, would skip both. :func:`member` makes such a login for the run (``--db``'s login must be
allowed to create roles, as the suite's server's ``postgres`` is), grants it roles through
flowengine (as the administrator who made the database), and gives the URL to connect as it;
:func:`drop` revokes and removes it again.

The suite's server trusts loopback connections, so the login needs no password there; on a real
server give one (``ALTER ROLE … PASSWORD``) and put it in the URL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

USERS = "flowengine_users"


def _server(admin_url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    options = url.query.get("options")
    return psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                           dbname=url.database, autocommit=True, options=options if isinstance(options, str) else "")


def default_login() -> str:
    return f"flowengine_bench_{os.getpid()}"


def member(admin_url: str, login: str, roles: Sequence[str], workflows: Sequence[str],
           folder: Path | None = None) -> str:
    """The URL of ``login``, a member of ``flowengine_users`` holding ``roles`` in ``workflows``."""
    from sqlalchemy.engine import make_url

    from flowengine.service.facade import FlowEngine

    with _server(admin_url) as server:
        server.execute(f"DROP ROLE IF EXISTS {login}")
        server.execute(f"CREATE ROLE {login} LOGIN IN ROLE {USERS}")
        database = server.execute("SELECT current_database()").fetchone()[0]  # the URL may leave it implicit
    with FlowEngine.open(admin_url, workflow_dirs=[folder] if folder else ()) as admin:
        admin.grant(login, list(roles), list(workflows))
    return make_url(admin_url).set(username=login, password=None, database=database).render_as_string(
        hide_password=False)


def drop(admin_url: str, login: str, roles: Sequence[str], workflows: Sequence[str]) -> None:
    """Revoke what :func:`member` granted (each revoke recorded in the access log, as any is),
    end the login's connections and remove it."""
    from flowengine.service.facade import FlowEngine

    with FlowEngine.open(admin_url) as admin:
        admin.revoke(login, list(roles), list(workflows))
    with _server(admin_url) as server:
        server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))
        server.execute(f"DROP ROLE IF EXISTS {login}")
