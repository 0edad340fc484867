"""Schema migrations through Alembic: the only module that imports it (only when the schema is
not current, so an everyday command never pays for it)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from flowengine.clock import Clock
from flowengine.errors import Remedy, StoreError
from flowengine.i18n import t
from flowengine.store.access import first_grants
from flowengine.store.database import Database
from flowengine.store.schema import SCHEMA_HEAD

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x666C6F77  # "flow": serialises concurrent first starts against one server


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def upgrade(database: Database, target: str = "head", *, clock: Clock | None = None) -> tuple[str | None, str]:
    """Bring the schema to ``target`` in one transaction; returns (revision before, after).

    The write lock is taken first, so two processes starting on a new database do not both
    create it: the second finds it done. In the same transaction a database that has no access
    log entry yet gets its first grants (:func:`flowengine.store.access.first_grants`; ``clock``:
    a fixed clock it is created with), so no other process sees the tables without them.
    """
    from alembic import command

    before = database.schema_revision()
    config = _config()
    with database.write() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, target)
        if target == "head":
            first_grants(conn, before, clock)
    return before, database.schema_revision() or ""


def ensure_schema(database: Database, *, upgrade_existing: bool | None = None,
                  clock: Clock | None = None) -> tuple[str | None, str]:
    """Create a new database, or upgrade an old one; a newer schema is refused.

    Shared PostgreSQL databases are only created here, never upgraded behind the back of the
    people running them: for those, :func:`upgrade` does it on purpose (the refusal's remedy).
    Returns the revisions before and after.
    """
    revision = database.schema_revision()
    if revision == SCHEMA_HEAD:
        return revision, revision
    if revision is not None and revision not in known_revisions():
        raise StoreError(t("the database {database} has schema revision {revision}, which this flowengine does not "
                           "know: it was written by a newer flowengine; upgrade flowengine",
                           database=database.display_name, revision=revision))
    automatic = database.dialect == "sqlite" if upgrade_existing is None else upgrade_existing
    if revision is not None and not automatic:
        raise StoreError(t("the database {database} has schema revision {revision}, older than {head}; a shared "
                           "database is brought up to date on purpose (after a backup), never by opening it",
                           database=database.display_name, revision=revision, head=SCHEMA_HEAD)
                         ).fixed_by(Remedy("upgrade_schema"))
    return upgrade(database, clock=clock)


def check_schema(database: Database) -> str:
    """The schema revision of a database this process only reads (a streaming replica): it must
    be the one this flowengine reads, since nothing may be written there to bring it up to date."""
    revision = database.schema_revision()
    if revision == SCHEMA_HEAD:
        return revision
    if revision is None:
        raise StoreError(t("{database} holds no flowengine database to read from; name a replica of the database "
                           "the proposals are written to", database=database.display_name))
    newer = revision not in known_revisions()
    if newer:
        raise StoreError(t("the database {database} has schema revision {revision}, newer than this flowengine "
                           "reads; upgrade flowengine", database=database.display_name, revision=revision))
    raise StoreError(t("the database {database} has schema revision {revision}, older than {head}; upgrade the "
                       "database it replicates, and let the replica catch up", database=database.display_name,
                       revision=revision, head=SCHEMA_HEAD))
