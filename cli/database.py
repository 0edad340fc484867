"""``flowengine init`` and ``flowengine db …``: create, locate and upgrade the database."""

from __future__ import annotations

import click

from .options import database_option, json_option
from .views import to_json


@click.command()
@database_option
def init(database: str | None) -> None:
    """Create the database (or bring it up to date) and say where it is.

    Without --db the database is ~/.local/share/flowengine/flowengine.db (or
    $XDG_DATA_HOME/flowengine/flowengine.db); every command creates it on first use, so init
    is only needed to see where it is or to prepare a shared server.

    \b
    Example:
      flowengine init --db ./trondheim.db
    """
    from flowengine.store import Database, migrate, resolve_url
    from flowengine.store.schema import SCHEMA_HEAD

    with Database(resolve_url(database)) as store:
        before, _ = migrate.ensure_schema(store, upgrade_existing=True)
    state = "created" if before is None else ("upgraded" if before != SCHEMA_HEAD else "ready")
    click.echo(f"database {state}: {store.display_name} (schema {SCHEMA_HEAD})")
    click.echo("next: flowengine proposal new innovation-chain --title \"…\" --as NAME --role ROLE")


@click.group()
def db() -> None:
    """Database schema: where it stands, and upgrading a shared database.

    \b
    Example:
      flowengine db upgrade --db postgresql+psycopg://flow@db.example.org/flowengine
    """


@db.command()
@database_option
@json_option
def status(database: str | None, as_json: bool) -> None:
    """Say where the database is and which schema revision it has.

    \b
    Example:
      flowengine db status --db ./trondheim.db
    """
    from flowengine.store import Database, resolve_url
    from flowengine.store.schema import SCHEMA_HEAD

    with Database(resolve_url(database)) as store:
        revision = store.schema_revision()
    if as_json:
        click.echo(to_json({"database": store.display_name, "revision": revision, "head": SCHEMA_HEAD,
                            "current": revision == SCHEMA_HEAD}))
        return
    verdict = "current" if revision == SCHEMA_HEAD else (
        "empty (created on first use)" if revision is None else f"behind {SCHEMA_HEAD}: run `flowengine db upgrade`")
    click.echo(f"{store.display_name}: schema {revision or '-'} ({verdict})")


@db.command()
@database_option
def upgrade(database: str | None) -> None:
    """Upgrade the schema to this flowengine's newest revision (take a backup first).

    Shared PostgreSQL databases are never upgraded behind your back: run this once after
    installing a new flowengine. SQLite files are upgraded on first use.

    \b
    Example:
      flowengine db upgrade --db postgresql+psycopg://flow@db.example.org/flowengine
    """
    from flowengine.store import Database, migrate, resolve_url
    from flowengine.store.schema import SCHEMA_HEAD

    with Database(resolve_url(database)) as store:
        before, after = migrate.ensure_schema(store, upgrade_existing=True)
    if before == after:
        click.echo(f"{store.display_name}: already at {SCHEMA_HEAD}; nothing to do")
    else:
        click.echo(f"{store.display_name}: upgraded from {before or 'empty'} to {after}")
