"""Indexes that let a proposal list page by any of its orders without sorting every proposal.

Revision ID: 0005_listing_indexes
Revises: 0004_proposal_links

``proposal list`` reads one page at a time, starting after the last proposal shown (keyset
pagination). A page in id order already comes off the (prefix, number) key; in the other
orders — longest waiting, most recently changed, by workflow and state — each page sorted
every proposal first (a second per page at a million proposals). Each order now has an index
whose columns are that order, ties broken by id; the one by workflow and state replaces the
(workflow, state) index, which it covers.
"""

from __future__ import annotations

from alembic import op

revision = "0005_listing_indexes"
down_revision = "0004_proposal_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_proposals_waiting", "proposals", ["state_entered_at", "prefix", "number"])
    op.create_index("ix_proposals_updated", "proposals", ["updated_at", "prefix", "number"])
    op.drop_index("ix_proposals_workflow_state", table_name="proposals")
    op.create_index("ix_proposals_workflow_state", "proposals", ["workflow", "state", "prefix", "number"])


def downgrade() -> None:
    op.drop_index("ix_proposals_workflow_state", table_name="proposals")
    op.create_index("ix_proposals_workflow_state", "proposals", ["workflow", "state"])
    op.drop_index("ix_proposals_updated", table_name="proposals")
    op.drop_index("ix_proposals_waiting", table_name="proposals")
