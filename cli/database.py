"""``flowengine init`` and ``flowengine db …``: create, locate, upgrade, back up and restore the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowengine.i18n import t, tn

from .helptext import Command, Group
from .options import database_option, json_option
from .views import to_json

if TYPE_CHECKING:
    from flowengine.service.backups import CopyReport

EXIT_DAMAGED = 1


@click.command(cls=Command)
@database_option
def init(database: str | None) -> None:
    """Create the database (or bring it up to date) and say where it is.

    Without --db the database is ~/.local/share/flowengine/flowengine.db (or
    $XDG_DATA_HOME/flowengine/flowengine.db). A command that records something creates it on
    first use; one that only reads (list, show, history, audit, stalls, export, report) refuses
    a database that is not there and creates nothing, so init makes one to read from, says where
    it is, or prepares a shared server.

    \b
    Example:
      flowengine init --db ./trondheim.db
    """
    from flowengine.store.schema import SCHEMA_HEAD

    from .session import open_engine

    with open_engine(database, upgrade_existing=True) as engine:
        before, _ = engine.schema_change or (SCHEMA_HEAD, SCHEMA_HEAD)
        login = engine.login
    if before is None:
        said = t("database created: {database} (schema {schema})")
    elif before != SCHEMA_HEAD:
        said = t("database upgraded: {database} (schema {schema})")
    else:
        said = t("database ready: {database} (schema {schema})")
    click.echo(said.format(database=engine.database.display_name, schema=SCHEMA_HEAD))
    if before is None:
        click.echo(t("{login} holds admin and every role of every workflow (see: {command})", login=login,
                     command="flowengine whoami"))
    click.echo(t("next: {command}", command='flowengine proposal new innovation-chain --title "…" --as NAME '
                                            "--role ROLE"))


@click.group(cls=Group)
def db() -> None:
    """The database: where it stands, upgrading a shared one, backing up and restoring.

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

    with Database(resolve_url(database, create=False)) as store:
        revision = store.schema_revision()
    if as_json:
        click.echo(to_json({"database": store.display_name, "revision": revision, "head": SCHEMA_HEAD,
                            "current": revision == SCHEMA_HEAD}))
        return
    verdict = t("current") if revision == SCHEMA_HEAD else (
        t("empty (created on first use)") if revision is None
        else t("behind {schema}: run `flowengine db upgrade`", schema=SCHEMA_HEAD))
    click.echo(t("{database}: schema {revision} ({verdict})", database=store.display_name, revision=revision or "-",
                 verdict=verdict))


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
    from flowengine.store.schema import SCHEMA_HEAD

    from .session import open_engine

    with open_engine(database, upgrade_existing=True) as engine:
        before, after = engine.schema_change or (SCHEMA_HEAD, SCHEMA_HEAD)
    name = engine.database.display_name
    if before == after:
        click.echo(t("{database}: already at {schema}; nothing to do", database=name, schema=SCHEMA_HEAD))
    else:
        click.echo(t("{database}: upgraded from {before} to {after}", database=name,
                     before=before or t("empty"), after=after))


@db.command()
@database_option
def erasable(database: str | None) -> None:
    """Say whether personal data is kept apart from the seals, so it can be erased (admin only).

    Every database does so since schema 0011: a new one from its first step, an older one from
    flowengine db upgrade on. New steps seal a salted commitment in place of each display name,
    comment and field marked personal (event format 3); the values are kept apart, and
    flowengine erase deletes them. Steps recorded before keep their format and go on verifying.
    Kept for scripts written before: it changes nothing where the setting is on already.

    \b
    Example:
      flowengine db erasable
    """
    from .session import open_engine

    with open_engine(database) as engine:
        changed = engine.keep_personal_data_apart()
    name = engine.database.display_name
    click.echo(t("{database}: personal data is kept apart from now on, and can be erased", database=name) if changed
               else t("{database}: personal data is kept apart already (every database does since schema 0011); "
                      "nothing changed", database=name))


@db.command()
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@database_option
@json_option
def backup(file: Path, database: str | None, as_json: bool) -> None:
    """Back up the whole database into FILE, a new file, then audit the copy.

    Consistent while others keep working: a SQLite file is copied at one moment with SQLite's
    online backup; a PostgreSQL database is dumped by pg_dump (custom format, which pg_restore
    reads; install the PostgreSQL client tools for it) in a snapshot that is audited too. FILE
    is readable by you only and is never overwritten. Exit code 1 if the audit finds a broken
    history (the backup is kept: it is what the database held).

    \b
    Example:
      flowengine db backup /var/backups/flowengine/$(date +%F).db
    """
    from flowengine.service.backups import backup as back_up

    report = back_up(database, file)
    _copy_report(report, t("backed up {database} to {file}", database=report.database, file=report.file), as_json)


@db.command()
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@database_option
@json_option
def restore(file: Path, database: str | None, as_json: bool) -> None:
    """Restore the backup FILE into an empty database (--db), then audit what was restored.

    A SQLite backup goes into a new file (an older schema is upgraded as usual); a pg_dump backup
    into an empty PostgreSQL database, in one transaction (pg_restore). Nothing is restored over
    existing data. Exit code 1 if the audit finds a broken history.

    \b
    Example:
      flowengine db restore /var/backups/flowengine/2025-06-01.db --db /srv/flowengine/restored.db
    """
    from flowengine.service.backups import restore as put_back

    report = put_back(file, database)
    _copy_report(report, t("restored {file} into {database}", file=report.file, database=report.database), as_json)


def _copy_report(report: CopyReport, done: str, as_json: bool) -> None:
    if as_json:
        click.echo(to_json(report.as_dict()))
    else:
        from .views import audit_text

        findings, verdict = audit_text(report.audit)
        from flowengine.i18n import active
        from flowengine.i18n.formats import number

        size = tn("{count} byte", "{count} bytes", report.size, count=number(report.size, active()))
        click.echo(f"{done} ({report.kind}, {size})")
        for line in findings:
            click.echo(line)
        click.echo(t("audit: {verdict}", verdict=verdict))
    if not report.audit.ok:
        raise SystemExit(EXIT_DAMAGED)
