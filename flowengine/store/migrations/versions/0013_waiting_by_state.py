"""An index that lets a list filtered to a few states page in the ``waiting`` order.

Revision ID: 0013_waiting_by_state
Revises: 0012_title_search

``proposal list --sort waiting --stage implementation`` (or ``--owner``, ``--overdue``) asks for
the proposals in a few states, longest waiting first. Migration 0005's index on
(state_entered_at, prefix, number) gave that order for every proposal at once, so a page walked
past every proposal that had waited longer in any other state — the finished ones first, since
they have waited longest: some 20,000 rows for a page at 100,000 proposals, ten times as many at
a million. With (state, state_entered_at, prefix, number) each state's proposals are read apart,
in that order, at most a page from each (``flowengine.store.listing``); the page is the first of
those. Each step that changes a proposal's state writes one more index entry.
"""

from __future__ import annotations

from alembic import op

revision = "0013_waiting_by_state"
down_revision = "0012_title_search"
branch_labels = None
depends_on = None

INDEX = "ix_proposals_state_waiting"


def _owner() -> bool:
    """On PostgreSQL with migration 0007's roles the index is made as the tables' owner."""
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and \
        bind.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'flowengine_owner'").first() is not None


def upgrade() -> None:
    owner = _owner()
    if owner:
        op.execute("SET LOCAL ROLE flowengine_owner")
    op.create_index(INDEX, "proposals", ["state", "state_entered_at", "prefix", "number"])
    if owner:
        op.execute("RESET ROLE")


def downgrade() -> None:
    owner = _owner()
    if owner:
        op.execute("SET LOCAL ROLE flowengine_owner")
    op.drop_index(INDEX, table_name="proposals")
    if owner:
        op.execute("RESET ROLE")
