"""The tables, as SQLAlchemy Core (no ORM: one command's write is a handful of statements, and
the ORM's import and unit-of-work would cost more than the work itself).

The migrations (``migrations/versions/``) create exactly these; a
test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from flowengine.clock import as_utc
from flowengine.store.basics import SCHEMA_HEAD as SCHEMA_HEAD
from flowengine.store.basics import read_time as read_time


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python; naive UTC in SQLite (which has no zones), timestamptz in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return read_time(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None]:
        """Any stored time reads: one outside the accepted window (written before it was enforced,
        or by another tool) comes back marked at the window's edge, never as an error."""
        return read_time


metadata = MetaData()

definitions = Table(
    "definitions", metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("workflow", String(100), nullable=False),
    Column("version", String(50), nullable=False),
    Column("source", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
)

proposals = Table(
    "proposals", metadata,
    Column("pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("prefix", String(10), nullable=False),
    Column("number", Integer, nullable=False),
    Column("workflow", String(100), nullable=False),
    Column("definition_hash", String(64), ForeignKey("definitions.content_hash"), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("state", String(100), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("state_entered_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    # Mirrors of the creation event (migration 0004): the proposal it came from, and the kind of
    # provenance its registration records; audit verify holds them equal to the event.
    Column("came_from", String(40), nullable=True),
    Column("provenance", String(20), nullable=True),
    UniqueConstraint("prefix", "number", name="uq_proposals_prefix_number"),
)
# One index per order a proposal list pages by, ties broken by id (migration 0005).
Index("ix_proposals_workflow_state", proposals.c.workflow, proposals.c.state, proposals.c.prefix, proposals.c.number)
Index("ix_proposals_waiting", proposals.c.state_entered_at, proposals.c.prefix, proposals.c.number)
Index("ix_proposals_updated", proposals.c.updated_at, proposals.c.prefix, proposals.c.number)
# The waiting order within each state, for a list filtered to a few states (migration 0013). On
# PostgreSQL migration 0012 may add ix_proposals_title_trgm, a trigram index of lower(title),
# where the pg_trgm extension can be had; it is not declared here (test_store allows for it).
Index("ix_proposals_state_waiting", proposals.c.state, proposals.c.state_entered_at, proposals.c.prefix,
      proposals.c.number)
Index("ix_proposals_came_from", proposals.c.came_from)
Index("ix_proposals_provenance", proposals.c.provenance, proposals.c.workflow)

events = Table(
    "events", metadata,
    Column("pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("proposal_pk", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("proposals.pk"),
           nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("trigger", String(100), nullable=True),
    Column("from_state", String(100), nullable=True),
    Column("to_state", String(100), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("comment", Text, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("idempotency_key", String(200), nullable=True, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Event format 2 (migration 0006): the authenticated login that recorded the step and the
    # database's time of recording, both sealed; NULL in the events written before.
    Column("login", String(64), nullable=True),
    Column("recorded_at", UTCDateTime, nullable=True),
    # Event format 3 (migration 0008): item → commitment of each personal value, whose value and
    # salt are in ``erasable``; there ``actor`` is empty when the name is one of them, ``comment``
    # holds the comment's commitment, and ``changes`` holds ``{"erasable": commitment}`` in each
    # personal field's place (the first steps of format 3 left the field out). NULL in the events
    # of formats 1 and 2.
    Column("personal", JSON(none_as_null=True), nullable=True),
    UniqueConstraint("proposal_pk", "seq", name="uq_events_proposal_seq"),
)
Index("ix_events_at", events.c.at)
# For the stall analysis of large logs (migration 0002): it reads these columns from the index alone.
# The last two are partial (only commented steps; only progress records): the migration says so
# with WHERE. Here they carry names and columns only, which test_store compares, because a
# ``postgresql_where`` would import SQLAlchemy's PostgreSQL dialect into every SQLite command.
Index("ix_events_flow", events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state,
      events.c.proposal_pk, events.c.seq, events.c.at)
Index("ix_events_commented", events.c.kind, events.c.from_state, events.c.trigger, events.c.to_state, events.c.role,
      events.c.proposal_pk, events.c.seq, events.c.at)
Index("ix_events_progress", events.c.kind, events.c.proposal_pk, events.c.at)

# Who may do what (migration 0006): one row per login, workflow ("*": every workflow) and role
# ("*": every role of it; or a capability: admin, system, reader, pseudonym). The access log is
# the record; this table is what it leaves standing, and ``audit verify`` holds the two equal.
grants = Table(
    "grants", metadata,
    Column("login", String(64), primary_key=True),
    Column("workflow", String(100), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("granted_by", String(64), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

# Every grant and revoke, append-only and hash-chained like a proposal's history.
access_log = Table(
    "access_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("action", String(10), nullable=False),
    Column("login", String(64), nullable=False),
    Column("workflow", String(100), nullable=False),
    Column("role", String(64), nullable=False),
    Column("by_login", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The personal values of events of format 3 (migration 0008), kept apart from the sealed events
# so that they can be erased: the value as canonical JSON and the salt of its commitment. Written
# before the event it belongs to; erasing deletes the row, and the event verifies as erased.
erasable = Table(
    "erasable", metadata,
    Column("proposal_pk", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("proposals.pk"),
           primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("item", String(120), primary_key=True),
    Column("value", Text, nullable=False),
    Column("salt", String(64), nullable=False),
)

# What the database was made for, set once when it is created: ``clock`` is ``system`` (steps
# are timed by the database's clock) or ``injected`` (made for tests or demos, whose clock may be fixed).
settings = Table(
    "settings", metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)
