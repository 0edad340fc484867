"""A title search that reads an index on PostgreSQL, under row-level security too.

Revision ID: 0012_title_search
Revises: 0011_erasable_default

On PostgreSQL only (SQLite: migration 0014's FTS5 trigram table; README, "A national
programme"). ``proposal list --title TEXT`` asks for titles containing a text in any case,
``lower(title) LIKE '%text%'``, which no B-tree index serves. Two things are made here:

- **an index by trigrams** of ``lower(title)`` (``pg_trgm``'s ``gin_trgm_ops``), where the
  extension is there or can be made. ``pg_trgm`` is a trusted extension (PostgreSQL 13 and later):
  a login with ``CREATE`` on the database may create it, as the administrator of the README's DBA
  steps may (a member of ``flowengine_owner``, which owns the database). It is made in ``public``
  when that schema is there and the login may create in it, else in flowengine's own schema; one
  made before, in any schema, is used as it is. Where it can be neither found nor made (not
  installed on the server, or no ``CREATE`` on the database), the migration goes on without the
  index: the search is then correct and reads every title. The DBA can add it later (README);
- **``flowengine_titled(pattern, most)``**, run with the owner's rights: the proposals the login may
  read whose ``lower(title)`` is ``LIKE pattern`` (the policies' own test, by the same helpers), as
  an array of keys, or NULL when there are more than ``most``. Row-level security keeps a member's
  own query from that index and from the column's statistics: ``LIKE`` is not leakproof, so the
  planner may neither search an index with it nor look at the values' statistics before the
  policies have filtered the rows. It estimated every title search at one row and read every
  title. The function's query is planned as the owner's, with both. A member's page then reads
  the few proposals it names by primary key, or, when a text is in more titles than ``most``, walks
  the page's order until the page is full, as it does without a title.

The downgrade drops both (the extension stays: it may serve others; ``DROP EXTENSION pg_trgm``
removes it).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0012_title_search"
down_revision = "0011_erasable_default"
branch_labels = None
depends_on = None

OWNER = "flowengine_owner"
USERS = "flowengine_users"
INDEX = "ix_proposals_title_trgm"

# Who reads every proposal row: a login holding a role in every workflow (migration 0007's
# policy, by migration 0010's helpers), or one the policies do not bind anyway — a superuser, a
# login that bypasses row-level security, or one that may become the tables' owner. Any other
# login reads the workflows flowengine_readable() names. The function runs as the owner, whom the
# policies do not bind: it applies their test itself.
_READS_ALL = """(SELECT flowengine_reads_all()) OR (SELECT rolsuper OR rolbypassrls
                 OR pg_has_role(session_user, '{owner}', 'USAGE') FROM pg_roles WHERE rolname = session_user)"""


def _titled(schema: str, enforced: bool) -> str:
    reads_all = _READS_ALL.format(owner=OWNER) if enforced else "true"
    return f"""CREATE OR REPLACE FUNCTION flowengine_titled(pattern text, most integer) RETURNS bigint[]
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = "{schema}", pg_temp AS $$
        DECLARE found bigint[];
        BEGIN
          -- each planned anew with the values given (EXECUTE … USING): the trigram index when few
          -- titles hold the pattern, the table read until most + 1 are found when many do; for a
          -- login reading some workflows, their proposals alone (an index on the workflow too)
          IF {reads_all} THEN
            EXECUTE $q$SELECT ARRAY(SELECT pk FROM proposals WHERE lower(title) LIKE $1 LIMIT $2 + 1)$q$
              INTO found USING pattern, most;
          ELSE
            EXECUTE $q$SELECT ARRAY(SELECT pk FROM proposals WHERE lower(title) LIKE $1
                                    AND workflow::text = ANY ($3) LIMIT $2 + 1)$q$
              INTO found USING pattern, most, flowengine_readable();
          END IF;
          IF cardinality(found) > most THEN RETURN NULL; END IF;
          RETURN found;
        END $$"""


def _trigrams() -> str | None:
    """The schema holding ``pg_trgm``, made here if it can be; None if it cannot."""
    bind = op.get_bind()
    found = ("SELECT nspname FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace "
             "WHERE extname = 'pg_trgm'")
    schema = bind.exec_driver_sql(found).scalar()
    if schema is not None:
        return str(schema)
    available = bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first()
    if available is None:
        return None
    public = bind.exec_driver_sql("SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace "
                                  "WHERE nspname = 'public'").scalar()
    target = "public" if public else bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    try:
        with bind.begin_nested():  # a savepoint: a refusal leaves the upgrade's transaction usable
            bind.exec_driver_sql(f'CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA "{target}"')
    except DBAPIError:  # any refusal (no privilege, a broken install): no index
        return None
    return str(target)


def _enforced() -> bool:
    return op.get_bind().exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}'").first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    trigrams = _trigrams()
    enforced = _enforced()
    if enforced:
        op.execute(f"SET LOCAL ROLE {OWNER}")
    if trigrams is not None:
        op.execute(f'CREATE INDEX {INDEX} ON proposals USING gin (lower(title) "{trigrams}".gin_trgm_ops)')
    op.execute(_titled(schema, enforced))
    if enforced:
        op.execute(f"GRANT EXECUTE ON FUNCTION flowengine_titled(text, integer) TO {USERS}")
    op.execute("ANALYZE proposals")  # the statistics of the indexed expression, which the function's plans read
    if enforced:
        op.execute("RESET ROLE")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    enforced = _enforced()
    if enforced:
        op.execute(f"SET LOCAL ROLE {OWNER}")
    op.execute("DROP FUNCTION IF EXISTS flowengine_titled(text, integer)")
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    if enforced:
        op.execute("RESET ROLE")
