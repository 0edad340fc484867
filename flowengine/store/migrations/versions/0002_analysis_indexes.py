"""Covering indexes for the stall analysis of large logs.

Revision ID: 0002_analysis_indexes
Revises: 0001_first_schema

The analysis reads every step's kind, states, trigger, proposal, sequence number and time; with
them in one index it scans that index instead of the wide event rows (comments, JSON, hashes),
several times less data. Events with a comment, and progress records, are indexed apart
(partial indexes, small), so finding each proposal's first reasoned answer to the panel and its
latest progress reads few rows. Each starts with the kind, as ix_events_flow does, so a planner
seeking by kind prefers the smaller index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_analysis_indexes"
down_revision = "0001_first_schema"
branch_labels = None
depends_on = None

_COMMENTED = sa.text("comment <> ''")
_PROGRESS = sa.text("kind = 'progress'")


def upgrade() -> None:
    op.create_index("ix_events_flow", "events",
                    ["kind", "from_state", "trigger", "to_state", "proposal_pk", "seq", "at"])
    op.create_index("ix_events_commented", "events",
                    ["kind", "from_state", "trigger", "to_state", "role", "proposal_pk", "seq", "at"],
                    sqlite_where=_COMMENTED, postgresql_where=_COMMENTED)
    op.create_index("ix_events_progress", "events", ["kind", "proposal_pk", "at"],
                    sqlite_where=_PROGRESS, postgresql_where=_PROGRESS)


def downgrade() -> None:
    op.drop_index("ix_events_progress", table_name="events")
    op.drop_index("ix_events_commented", table_name="events")
    op.drop_index("ix_events_flow", table_name="events")
