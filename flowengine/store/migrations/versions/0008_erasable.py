"""Erasure that keeps the proof: personal values kept apart from the sealed events.

Revision ID: 0008_erasable
Revises: 0007_postgresql_enforcement

Events gain ``personal`` (event format 3: item → salted commitment of each personal value — the
actor's display name, the comment, the fields a workflow marks personal); the values and their
salts go into the new table ``erasable``, keyed by the event (proposal, seq) and the item, from
which an erasure deletes them. Events of formats 1 and 2 keep NULL and verify as they were sealed.

On PostgreSQL the table belongs to ``flowengine_owner`` (as migration 0007 made every table
its), with row-level security: read with the proposal's events, written by whoever writes the
event, deleted (erased) by administrators only; nobody updates a row. The trigger on events
checks the display name of a format 3 event in ``erasable``, where the value is, so the rules
of migration 0007 hold for it too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_erasable"
down_revision = "0007_postgresql_enforcement"
branch_labels = None
depends_on = None

OWNER = "flowengine_owner"
USERS = "flowengine_users"

_SQLITE_GUARDS = [
    """CREATE TRIGGER erasable_no_update BEFORE UPDATE ON erasable
       BEGIN SELECT RAISE(ABORT, 'an erasable value is never changed: it is kept or erased'); END""",
]


def _check_event(schema: str) -> str:
    """Migration 0007's check, reading a format 3 event's display name from ``erasable``."""
    return f"""CREATE OR REPLACE FUNCTION flowengine_check_event() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = "{schema}", pg_temp AS $$
        DECLARE wf text; shown text;
        BEGIN
          IF flowengine_is_admin() THEN RETURN NEW; END IF;
          SELECT workflow INTO wf FROM proposals WHERE pk = NEW.proposal_pk;
          shown := NEW.actor;
          IF NEW.personal IS NOT NULL AND (NEW.personal::jsonb->'actor') IS NOT NULL THEN
            SELECT value::jsonb #>> '{{}}' INTO shown FROM erasable
              WHERE proposal_pk = NEW.proposal_pk AND seq = NEW.seq AND item = 'actor';
            IF shown IS NULL THEN
              RAISE EXCEPTION 'flowengine: a step must say who acted' USING ERRCODE = '42501';
            END IF;
          END IF;
          IF NEW.login IS DISTINCT FROM session_user THEN
            RAISE EXCEPTION 'flowengine: % may not record a step as login %', session_user,
              coalesce(NEW.login, 'NULL') USING ERRCODE = '42501';
          END IF;
          IF NOT flowengine_holds(wf, NEW.role) THEN
            RAISE EXCEPTION 'flowengine: % may not act as % in %', session_user, NEW.role, wf
              USING ERRCODE = '42501';
          END IF;
          IF shown = 'system' AND NOT flowengine_holds(wf, 'system') THEN
            RAISE EXCEPTION 'flowengine: system is the engine''s own name' USING ERRCODE = '42501';
          END IF;
          IF shown <> session_user AND NOT flowengine_holds(wf, 'pseudonym') THEN
            RAISE EXCEPTION 'flowengine: % may not record steps under another name in %', session_user, wf
              USING ERRCODE = '42501';
          END IF;
          IF (SELECT value FROM settings WHERE name = 'clock') IS DISTINCT FROM 'injected'
             AND NEW.recorded_at IS DISTINCT FROM now() THEN
            RAISE EXCEPTION 'flowengine: a step is recorded at the database''s time (%), not %', now(),
              NEW.recorded_at USING ERRCODE = '42501';
          END IF;
          RETURN NEW;
        END $$"""


_POLICIES = [
    "ALTER TABLE erasable ENABLE ROW LEVEL SECURITY",
    f"""CREATE POLICY erasable_read ON erasable FOR SELECT TO {USERS}
        USING ((SELECT flowengine_reads_all()) OR proposal_pk IN (SELECT pk FROM proposals))""",
    f"""CREATE POLICY erasable_insert ON erasable FOR INSERT TO {USERS}
        WITH CHECK (proposal_pk IN (SELECT pk FROM proposals))""",
    f"CREATE POLICY erasable_delete ON erasable FOR DELETE TO {USERS} USING (flowengine_is_admin())",
    f"GRANT SELECT, INSERT, DELETE ON erasable TO {USERS}",
]


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    # ALTER TABLE … ADD COLUMN directly (as 0006 does): a batch rebuild of events would drop the
    # append-only triggers with the old table.
    op.execute("ALTER TABLE events ADD COLUMN personal JSON")
    op.create_table(
        "erasable",
        sa.Column("proposal_pk", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("proposals.pk"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item", sa.String(120), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
    )
    if not postgresql:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    if bind.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}'").first() is None:
        return  # migration 0007 made the roles; without them there is nothing to hand over
    op.execute(_check_event(schema))
    for statement in _POLICIES:
        op.execute(statement)
    # The new table is the owner's, like every other (migration 0007): its creator gives it away.
    op.execute(f"ALTER TABLE erasable OWNER TO {OWNER}")
    op.execute(f"ALTER FUNCTION flowengine_check_event() OWNER TO {OWNER}")


def downgrade() -> None:
    op.drop_table("erasable")
    op.execute("ALTER TABLE events DROP COLUMN personal")
