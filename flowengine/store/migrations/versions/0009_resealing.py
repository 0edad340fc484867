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
PostgreSQL nobody holds UPDATE on events: an administrator's login re-seals through the function
flowengine_reseal, which runs with the owner's rights, and the trigger still judges each update;
the conversion's own checkpoints and signed record say what was re-sealed (README: "Converting
old histories").
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

def _reseal_function(schema: str) -> str:
    """The one way a login re-seals an event on PostgreSQL: an administrator's, through this
    function with the owner's rights (nobody holds UPDATE on events), the trigger still judging the
    update. NULL keeps a column (an event of format 3 takes new links alone)."""
    return f"""CREATE FUNCTION flowengine_reseal(p_pk bigint, p_seq integer, p_old text, p_actor text, p_comment text,
          p_changes text, p_prev text, p_hash text, p_personal text) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = "{schema}", pg_temp AS $$
        BEGIN
          IF NOT flowengine_is_admin() THEN
            RAISE EXCEPTION 'flowengine: % may not seal events again', session_user USING ERRCODE = '42501';
          END IF;
          UPDATE events SET actor = coalesce(p_actor, actor), comment = coalesce(p_comment, comment),
              changes = coalesce(p_changes::json, changes), prev_hash = p_prev, hash = p_hash,
              personal = coalesce(p_personal::json, personal)
            WHERE proposal_pk = p_pk AND seq = p_seq AND hash = p_old;
          RETURN FOUND;
        END $$"""


_RESEAL_SIGNATURE = "flowengine_reseal(bigint, integer, text, text, text, text, text, text, text)"


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
    if not roles:  # no roles (migration 0007 made none): the tables' owner re-seals, as it writes everything
        op.execute(_reseal_function(bind.exec_driver_sql("SELECT current_schema()").scalar_one()))
        return
    op.execute(f"ALTER FUNCTION flowengine_events_append_only() OWNER TO {OWNER}")
    op.execute(_reseal_function(bind.exec_driver_sql("SELECT current_schema()").scalar_one()))
    op.execute(f"ALTER FUNCTION {_RESEAL_SIGNATURE} OWNER TO {OWNER}")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_RESEAL_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_RESEAL_SIGNATURE} TO {USERS}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("""CREATE TRIGGER events_no_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'events are append-only: history cannot be changed'); END""")
        return
    op.execute(f"DROP FUNCTION IF EXISTS {_RESEAL_SIGNATURE}")
    op.execute("""CREATE OR REPLACE FUNCTION flowengine_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only: history cannot be changed or deleted'; END $$""")
