"""The first schema: definitions, proposals, and the append-only event chain.

Revision ID: 0001_first_schema
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_first_schema"
down_revision = None
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.DateTime(timezone=True)

# Events are never updated or deleted: the database itself refuses, so that a slip in code or a
# hand-written UPDATE cannot rewrite history. (Someone with the rights to drop these triggers
# can still tamper; `flowengine audit verify` then finds it through the hash chain.)
_SQLITE_GUARDS = [
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only: history cannot be changed'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only: history cannot be deleted'); END""",
]
_POSTGRESQL_GUARDS = [
    """CREATE FUNCTION flowengine_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only: history cannot be changed or deleted'; END $$""",
    """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION flowengine_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "definitions",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("stored_at", _TIME, nullable=False),
    )
    op.create_table(
        "proposals",
        sa.Column("pk", _KEY, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("prefix", sa.String(10), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("workflow", sa.String(100), nullable=False),
        sa.Column("definition_hash", sa.String(64), sa.ForeignKey("definitions.content_hash"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("state_entered_at", _TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("prefix", "number", name="uq_proposals_prefix_number"),
    )
    op.create_index("ix_proposals_workflow_state", "proposals", ["workflow", "state"])
    op.create_table(
        "events",
        sa.Column("pk", _KEY, primary_key=True, autoincrement=True),
        sa.Column("proposal_pk", _KEY, sa.ForeignKey("proposals.pk"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(100), nullable=True),
        sa.Column("from_state", sa.String(100), nullable=True),
        sa.Column("to_state", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("entered_at", _TIME, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("proposal_pk", "seq", name="uq_events_proposal_seq"),
    )
    op.create_index("ix_events_from_state", "events", ["from_state"])
    op.create_index("ix_events_at", "events", ["at"])
    guards = {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRESQL_GUARDS}.get(op.get_bind().dialect.name, [])
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS flowengine_events_append_only()")
    op.drop_table("events")
    op.drop_table("proposals")
    op.drop_table("definitions")
