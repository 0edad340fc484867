"""PostgreSQL enforces who may act, so a client that goes around flowengine cannot forge.

Revision ID: 0007_postgresql_enforcement
Revises: 0006_access

On PostgreSQL only (SQLite has no logins; its file's permissions are the boundary):

- the tables belong to ``flowengine_owner``, a role nobody logs in as (the administrator who
  runs ``flowengine db upgrade`` is a member of it; everyone else acts through
  ``flowengine_users``, the group of the people's own logins). The roles are made here when
  the migrating login may create roles; otherwise the DBA makes them first (README);
- row-level security on proposals and events: a login reads the proposals (and their events)
  of the workflows it holds a role in (administrators: all), and writes only where it holds a
  role other than ``reader``;
- a trigger refuses an event whose recorded login is not ``session_user``, whose role the
  login does not hold in the proposal's workflow, whose display name is another's without the
  ``pseudonym`` capability, that claims the engine's own name without ``system``, or (in a
  database made for real use) whose recording time is not the transaction's, ``now()``.
  Administrators are trusted with imports and migrations, which carry other logins' steps;
- grants and the access log are written by administrators only; nobody updates or deletes an
  event or an access log entry (no privilege, and the append-only triggers stay);
- proposal numbers are drawn from every row, including those a login cannot see, so two
  municipalities sharing a prefix never collide.
"""

from __future__ import annotations

from alembic import op

revision = "0007_postgresql_enforcement"
down_revision = "0006_access"
branch_labels = None
depends_on = None

OWNER = "flowengine_owner"
USERS = "flowengine_users"
TABLES = ("alembic_version", "definitions", "proposals", "events", "grants", "access_log", "settings")
_OWNED_FUNCTIONS = ("flowengine_events_append_only()", "flowengine_access_log_append_only()")
_HELPERS = ("flowengine_is_admin()", "flowengine_reads_all()", "flowengine_readable()", "flowengine_holds(text, text)",
            "flowengine_writes(text)", "flowengine_next_number(text)", "flowengine_check_event()")


def _functions(schema: str) -> list[str]:
    """What the policies and the trigger ask, read with the owner's rights (so the grants table's
    own policies do not apply to the question) and a fixed search path."""
    definer = f'LANGUAGE sql STABLE SECURITY DEFINER SET search_path = "{schema}", pg_temp'
    return [
        f"""CREATE FUNCTION flowengine_is_admin() RETURNS boolean {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow = '*' AND role = 'admin') $$""",
        f"""CREATE FUNCTION flowengine_reads_all() RETURNS boolean {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow = '*') $$""",
        f"""CREATE FUNCTION flowengine_readable() RETURNS text[] {definer} AS $$
            SELECT coalesce(array_agg(DISTINCT workflow), '{{}}') FROM grants
            WHERE login = session_user AND role <> 'admin' $$""",
        f"""CREATE FUNCTION flowengine_holds(wf text, wanted text) RETURNS boolean {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow IN (wf, '*')
                           AND (role = wanted OR (role = '*' AND wanted <> 'admin'))) $$""",
        f"""CREATE FUNCTION flowengine_writes(wf text) RETURNS boolean {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM grants WHERE login = session_user
                           AND (workflow IN (wf, '*') AND role <> 'reader' OR workflow = '*' AND role = 'admin')) $$""",
        f"""CREATE FUNCTION flowengine_next_number(wanted text) RETURNS integer {definer.replace('STABLE', 'VOLATILE')}
            AS $$ SELECT coalesce(max(number), 0) + 1 FROM proposals WHERE prefix = wanted $$""",
        f"""CREATE FUNCTION flowengine_check_event() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = "{schema}", pg_temp AS $$
            DECLARE wf text;
            BEGIN
              IF flowengine_is_admin() THEN RETURN NEW; END IF;
              SELECT workflow INTO wf FROM proposals WHERE pk = NEW.proposal_pk;
              IF NEW.login IS DISTINCT FROM session_user THEN
                RAISE EXCEPTION 'flowengine: % may not record a step as login %', session_user,
                  coalesce(NEW.login, 'NULL') USING ERRCODE = '42501';
              END IF;
              IF NOT flowengine_holds(wf, NEW.role) THEN
                RAISE EXCEPTION 'flowengine: % may not act as % in %', session_user, NEW.role, wf
                  USING ERRCODE = '42501';
              END IF;
              IF NEW.actor = 'system' AND NOT flowengine_holds(wf, 'system') THEN
                RAISE EXCEPTION 'flowengine: system is the engine''s own name' USING ERRCODE = '42501';
              END IF;
              IF NEW.actor <> session_user AND NOT flowengine_holds(wf, 'pseudonym') THEN
                RAISE EXCEPTION 'flowengine: % may not record steps under another name in %', session_user, wf
                  USING ERRCODE = '42501';
              END IF;
              IF (SELECT value FROM settings WHERE name = 'clock') IS DISTINCT FROM 'injected'
                 AND NEW.recorded_at IS DISTINCT FROM now() THEN
                RAISE EXCEPTION 'flowengine: a step is recorded at the database''s time (%), not %', now(),
                  NEW.recorded_at USING ERRCODE = '42501';
              END IF;
              RETURN NEW;
            END $$""",
    ]


_POLICIES = [
    "ALTER TABLE proposals ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE events ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE grants ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE access_log ENABLE ROW LEVEL SECURITY",
    # (SELECT …): evaluated once per statement, not once per row
    f"""CREATE POLICY proposals_read ON proposals FOR SELECT TO {USERS}
        USING ((SELECT flowengine_reads_all()) OR workflow::text = ANY ((SELECT flowengine_readable())::text[]))""",
    f"CREATE POLICY proposals_insert ON proposals FOR INSERT TO {USERS} WITH CHECK (flowengine_writes(workflow))",
    f"""CREATE POLICY proposals_update ON proposals FOR UPDATE TO {USERS} USING (flowengine_writes(workflow))
        WITH CHECK (flowengine_writes(workflow))""",
    f"""CREATE POLICY events_read ON events FOR SELECT TO {USERS}
        USING ((SELECT flowengine_reads_all()) OR proposal_pk IN (SELECT pk FROM proposals))""",
    f"""CREATE POLICY events_insert ON events FOR INSERT TO {USERS}
        WITH CHECK (proposal_pk IN (SELECT pk FROM proposals))""",
    f"CREATE POLICY grants_read ON grants FOR SELECT TO {USERS} USING (true)",
    f"CREATE POLICY grants_insert ON grants FOR INSERT TO {USERS} WITH CHECK (flowengine_is_admin())",
    f"CREATE POLICY grants_delete ON grants FOR DELETE TO {USERS} USING (flowengine_is_admin())",
    f"CREATE POLICY access_log_read ON access_log FOR SELECT TO {USERS} USING (true)",
    f"""CREATE POLICY access_log_insert ON access_log FOR INSERT TO {USERS}
        WITH CHECK (flowengine_is_admin() AND by_login = session_user)""",
    """CREATE TRIGGER events_who_acted BEFORE INSERT ON events
       FOR EACH ROW EXECUTE FUNCTION flowengine_check_event()""",
]

_PRIVILEGES = [
    f"GRANT SELECT ON alembic_version, settings TO {USERS}",
    f"GRANT SELECT, INSERT ON definitions, events, access_log TO {USERS}",
    f"GRANT SELECT, INSERT, UPDATE ON proposals TO {USERS}",
    f"GRANT SELECT, INSERT, DELETE ON grants TO {USERS}",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN CREATE ROLE {OWNER} NOLOGIN; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USERS}') THEN CREATE ROLE {USERS} NOLOGIN; END IF;
        END $$""")
    for statement in [*_functions(schema), *_POLICIES, *_PRIVILEGES]:
        op.execute(statement)
    # The owner's functions run with its rights: it needs the schema (the DBA grants it where the
    # migrating login does not own the schema; see README).
    op.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {OWNER}')
    op.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {USERS}')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {USERS}')
    op.execute(f"GRANT EXECUTE ON FUNCTION flowengine_next_number(text) TO {USERS}")
    for table in TABLES:  # its sequences go with it
        op.execute(f"ALTER TABLE {table} OWNER TO {OWNER}")
    for function in (*_OWNED_FUNCTIONS, *_HELPERS):
        op.execute(f"ALTER FUNCTION {function} OWNER TO {OWNER}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    user = bind.exec_driver_sql("SELECT current_user").scalar_one()
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} OWNER TO "{user}"')
    op.execute("DROP TRIGGER IF EXISTS events_who_acted ON events")
    for table, names in (("proposals", ("read", "insert", "update")), ("events", ("read", "insert")),
                         ("grants", ("read", "insert", "delete")), ("access_log", ("read", "insert"))):
        for name in names:
            op.execute(f"DROP POLICY IF EXISTS {table}_{name} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for function in _HELPERS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for function in _OWNED_FUNCTIONS:
        op.execute(f'ALTER FUNCTION {function} OWNER TO "{user}"')
    for table in TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {USERS}")
