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


def administrator(target: str) -> Any:
    """The suite's own login on the test database ``target``, with its connection options (the
    test's schema)."""
    import psycopg

    url = make_url(target)
    options = url.query.get("options")
    return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                           options=options if isinstance(options, str) else "", autocommit=True)


def copy_proposal(target: str, proposal_id: str, prefix: str, count: int) -> None:
    """``count`` - 1 copies of ``proposal_id`` numbered 2 to ``count`` under ``prefix`` (``TRD-2`` …),
    written by the server in one statement: many proposals of another workflow, quickly."""
    with administrator(target) as server:
        columns = [name for (name,) in server.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'proposals' "
            "AND table_schema = current_schema() AND column_name NOT IN ('pk', 'id', 'number')")]
        listed = ", ".join(columns)
        server.execute(f"INSERT INTO proposals (id, number, {listed}) SELECT %s || n, n, {listed} "
                       f"FROM proposals, generate_series(2, %s) AS n WHERE id = %s",
                       (f"{prefix}-", count, proposal_id))
        server.execute("ANALYZE proposals")


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an ``EXPLAIN (FORMAT JSON)`` plan, the top one first."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)
