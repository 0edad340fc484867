"""Where a proposal came from, and whether its history was rebuilt from a source, on its row.

Revision ID: 0004_proposal_links
Revises: 0003_drop_from_state_index

A proposal registered as coming from another (``proposal new … --from BSB-1``) names it in its
creation event's details, inside the hash chain: that stays the record. The row mirrors it, as it
mirrors the title and the origin, so that "which proposals came from BSB-1" is an index lookup
instead of a read of every creation event (0.2 s per 100,000 proposals); ``audit verify`` checks
that the row agrees with the creation event. Likewise the kind of provenance its registration
records (stated, inferred, illustrative), which says whether the history was rebuilt from a
source, so the stall report finds such histories without reading every creation event.

Both columns are new with this version: no stored history records either, so nothing is backfilled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_proposal_links"
down_revision = "0003_drop_from_state_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("came_from", sa.String(40), nullable=True))
    op.add_column("proposals", sa.Column("provenance", sa.String(20), nullable=True))
    op.create_index("ix_proposals_came_from", "proposals", ["came_from"])
    op.create_index("ix_proposals_provenance", "proposals", ["provenance", "workflow"])


def downgrade() -> None:
    op.drop_index("ix_proposals_provenance", table_name="proposals")
    op.drop_index("ix_proposals_came_from", table_name="proposals")
    # ALTER TABLE … DROP COLUMN: SQLite has it since 3.35, and a rebuild of the table (Alembic's
    # batch mode) would have to drop a table the events' foreign key points at.
    op.execute("ALTER TABLE proposals DROP COLUMN provenance")
    op.execute("ALTER TABLE proposals DROP COLUMN came_from")
