"""Old histories' personal data converted into the erasable form: the one update events allow.

Revision ID: 0009_resealing
Revises: 0008_erasable

Events stay append-only, with one exception: an event of format 1 or 2 may be sealed again as
format 3 (its personal values moved into ``erasable`` and committed to), and an event after it
re-hashed to follow its new predecessor. The database itself holds such an update to that: what
the step was — proposal, number, kind, trigger, states, role, times, details, key, login and
recording time — may not change, the event must come out of format 3 (``personal`` an object,
where formats 1 and 2 hold SQL or JSON null), and one already of format 3 keeps its commitments
and columns, taking new links alone. Everything else, and every delete, is refused as before. On
PostgreSQL only administrators may make that update (row-level security), on the columns it
changes alone (column privileges); the conversion's own checkpoints and signed record say what
was re-sealed (README: "Converting old histories").
"""

from __future__ import annotations

from alembic import op

revision = "0009_resealing"
down_revision = "0008_erasable"
branch_labels = None
depends_on = None

OWNER = "flowengine_owner"
USERS = "flowengine_users"

_SAME = ("proposal_pk", "seq", "kind", "trigger", "from_state", "to_state", "role", "at", "entered_at",
         "idempotency_key", "login", "recorded_at")

_SQLITE_RESEAL = " AND ".join(
    ["coalesce(NEW.personal, 'null') <> 'null'",
     "(coalesce(OLD.personal, 'null') = 'null' OR (OLD.personal = NEW.personal AND NEW.actor IS OLD.actor"
     " AND NEW.comment IS OLD.comment AND NEW.changes IS OLD.changes))", "NEW.pk IS OLD.pk",
     "NEW.details IS OLD.details", *(f'NEW."{column}" IS OLD."{column}"' for column in _SAME)])
_SQLITE_UPDATE = """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       WHEN NOT ({condition})
       BEGIN SELECT RAISE(ABORT, '{message}'); END"""

_POSTGRESQL_RESEAL = " AND ".join(
    ["coalesce(jsonb_typeof(NEW.personal::jsonb), 'null') = 'object'",
     "(coalesce(jsonb_typeof(OLD.personal::jsonb), 'null') = 'null' OR (OLD.personal::jsonb = NEW.personal::jsonb"
     " AND NEW.actor = OLD.actor AND NEW.comment = OLD.comment AND NEW.changes::jsonb = OLD.changes::jsonb))",
     "NEW.pk = OLD.pk", "NEW.details::jsonb = OLD.details::jsonb",
     *(f'NEW."{column}" IS NOT DISTINCT FROM OLD."{column}"' for column in _SAME)])
_APPEND_ONLY = """CREATE OR REPLACE FUNCTION flowengine_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND {condition} AND {admin} THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'events are append-only: history cannot be changed or deleted';
       END $$"""
_RESEALED_COLUMNS = "actor, comment, changes, prev_hash, hash, personal"


def _roles() -> bool:
    return op.get_bind().exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}'").first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute(_SQLITE_UPDATE.format(condition=_SQLITE_RESEAL,
                                         message="events are append-only: history cannot be changed"))
        return
    roles = _roles()
    op.execute(_APPEND_ONLY.format(condition=_POSTGRESQL_RESEAL,
                                   admin="flowengine_is_admin()" if roles else "true"))
    if not roles:
        return
    op.execute(f"ALTER FUNCTION flowengine_events_append_only() OWNER TO {OWNER}")
    op.execute(f"""CREATE POLICY events_reseal ON events FOR UPDATE TO {USERS}
                   USING (flowengine_is_admin()) WITH CHECK (flowengine_is_admin())""")
    op.execute(f"GRANT UPDATE ({_RESEALED_COLUMNS}) ON events TO {USERS}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("""CREATE TRIGGER events_no_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'events are append-only: history cannot be changed'); END""")
        return
    if _roles():
        op.execute(f"REVOKE UPDATE ({_RESEALED_COLUMNS}) ON events FROM {USERS}")
        op.execute("DROP POLICY IF EXISTS events_reseal ON events")
    op.execute("""CREATE OR REPLACE FUNCTION flowengine_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only: history cannot be changed or deleted'; END $$""")
