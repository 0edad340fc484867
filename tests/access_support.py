"""What the tests of who may act share: two municipalities' workflows, each with its own prefix;
on PostgreSQL, logins in ``flowengine_users`` (row-level security applies to them) and a place
where they act."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from flowengine.service.facade import FlowEngine

from .databases import server_url

USERS = "flowengine_users"

MUNICIPAL = """\
id: {id}
version: 1
prefix: {prefix}
roles:
  project_leader: {{}}
  politician: {{}}
states:
  draft:
    initial: true
    stage: panel
    owner: project_leader
  political_review:
    stage: political
    owner: politician
  decided:
    final: true
    outcome: implemented
transitions:
  - trigger: send
    from: draft
    to: political_review
    roles: [project_leader]
  - trigger: decide
    from: political_review
    to: decided
    roles: [politician]
"""


def municipal_workflows(folder: Path) -> Path:
    """Workflows ``melhus`` (MEL-…) and ``trondheim`` (TRD-…) in ``folder``."""
    for wid, prefix in (("melhus", "MEL"), ("trondheim", "TRD")):
        (folder / f"{wid}.yaml").write_text(MUNICIPAL.format(id=wid, prefix=prefix), encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Place:
    admin: str  # the database as the suite's own login (the creator: admin and every role)
    folder: Path
    logins: dict[str, str]  # who → login name

    def url(self, who: str) -> str:
        return make_url(self.admin).set(username=self.logins[who]).render_as_string(hide_password=False)

    def engine(self, who: str) -> FlowEngine:
        return FlowEngine.open(self.url(who), workflow_dirs=[self.folder])

    def sql(self, who: str) -> Any:
        """A plain psycopg connection of that login, as psql would have (autocommit)."""
        import psycopg

        url = make_url(self.url(who))
        options = url.query.get("options")
        return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                               options=options if isinstance(options, str) else "", autocommit=True)


def server_connection(database: str | None = None) -> Any:
    """The suite's own (superuser) connection, to the server's database or to ``database``."""
    import psycopg

    server = make_url(server_url() or "")
    return psycopg.connect(host=server.host, port=server.port, user=server.username or "postgres",
                           dbname=database or server.database or "postgres", autocommit=True)


@contextmanager
def member_logins(logins: Iterable[str]) -> Iterator[None]:
    """Logins in ``flowengine_users`` on the suite's server while the block runs; their
    connections are ended and the logins dropped afterwards."""
    names = list(logins)
    with server_connection() as server:
        for login in names:
            server.execute(f"DROP ROLE IF EXISTS {login}")
            server.execute(f"CREATE ROLE {login} LOGIN IN ROLE {USERS}")
    try:
        yield
    finally:
        with server_connection() as server:
            for login in names:
                server.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))
                server.execute(f"DROP ROLE IF EXISTS {login}")
