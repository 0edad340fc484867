"""Who acted, for real: the recording login and time on every event, grants, the access log.

Revision ID: 0006_access
Revises: 0005_listing_indexes

Events gain ``login`` (the authenticated login that recorded the step) and ``recorded_at``
(the database's time of recording); both are sealed into the events written from now on (event
format 2). The events already stored keep NULL there and verify as they were sealed.

``grants`` holds who may act in which role of which workflow, and the capabilities (admin,
system, reader, pseudonym); ``access_log`` records every grant and revoke, hash-chained and
append-only like the events; ``settings`` says what the database was made for (its clock).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_access"
down_revision = "0005_listing_indexes"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)

_SQLITE_GUARDS = [
    """CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
       BEGIN SELECT RAISE(ABORT, 'the access log is append-only: it cannot be changed'); END""",
    """CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
       BEGIN SELECT RAISE(ABORT, 'the access log is append-only: it cannot be deleted'); END""",
]
_POSTGRESQL_GUARDS = [
    """CREATE FUNCTION flowengine_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the access log is append-only: it cannot be changed or deleted'; END $$""",
    """CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
       FOR EACH ROW EXECUTE FUNCTION flowengine_access_log_append_only()""",
]


def upgrade() -> None:
    # ALTER TABLE … ADD COLUMN directly (as 0004 drops them): a batch rebuild of events would
    # drop the append-only triggers with the old table.
    op.execute("ALTER TABLE events ADD COLUMN login VARCHAR(64)")
    op.execute("ALTER TABLE events ADD COLUMN recorded_at "
               + ("TIMESTAMP WITH TIME ZONE" if op.get_bind().dialect.name == "postgresql" else "DATETIME"))
    op.create_table(
        "grants",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("workflow", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", _TIME, nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("by_login", sa.String(64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    guards = {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRESQL_GUARDS}.get(op.get_bind().dialect.name, [])
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS flowengine_access_log_append_only()")
    op.drop_table("settings")
    op.drop_table("access_log")
    op.drop_table("grants")
    op.execute("ALTER TABLE events DROP COLUMN recorded_at")
    op.execute("ALTER TABLE events DROP COLUMN login")
