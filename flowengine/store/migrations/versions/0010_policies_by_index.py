"""Row-level security that costs an index look-up, not a pass over every proposal.

Revision ID: 0010_policies_by_index
Revises: 0009_resealing

On PostgreSQL only; the rules are migration 0007's and 0008's, unchanged. What changes is what
they cost a login in ``flowengine_users``:

- the policies on events and erasable values asked ``proposal_pk IN (SELECT pk FROM proposals)``,
  which the planner runs as a hashed pass over every proposal the login may read — a million rows
  for one proposal's history. They ask ``EXISTS (SELECT FROM proposals WHERE pk = proposal_pk)``
  now: the proposal's own row, through its primary key and the proposals' read policy (the
  planner may still hash it when a statement reads most events, as an analysis does);
- the helpers the policies and the event trigger call were SQL functions. Run with the owner's
  rights (SECURITY DEFINER) and a fixed search path, PostgreSQL never inlines them and plans their
  query again in every statement that calls them; a step's write called eleven. Written in
  PL/pgSQL they keep their plans for the session, at a sixth of the cost;
- the event trigger reads the login's grants in the proposal's workflow once, not once per rule.

Every object here is created as ``flowengine_owner`` (``SET LOCAL ROLE``, which the administrator
running the upgrade may do, being a member): a function replaced keeps its owner, and a policy
belongs to its table. The downgrade restores the policies and helpers as 0008 left them (0009
changed neither).
"""

from __future__ import annotations

from alembic import op

revision = "0010_policies_by_index"
down_revision = "0009_resealing"
branch_labels = None
depends_on = None

OWNER = "flowengine_owner"
USERS = "flowengine_users"

_VISIBLE = "EXISTS (SELECT FROM proposals WHERE proposals.pk = {table}.proposal_pk)"
_SEEN = "proposal_pk IN (SELECT pk FROM proposals)"  # 0007's and 0008's test, for the downgrade


def _helpers(schema: str, language: str) -> list[str]:
    """Migration 0007's helpers, in ``language`` (``plpgsql`` here, ``sql`` as 0007 made them)."""
    definer = f'LANGUAGE {language} STABLE SECURITY DEFINER SET search_path = "{schema}", pg_temp'
    bodies = {
        "flowengine_is_admin() RETURNS boolean":
            "EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow = '*' AND role = 'admin')",
        "flowengine_reads_all() RETURNS boolean":
            "EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow = '*')",
        "flowengine_readable() RETURNS text[]":
            "(SELECT coalesce(array_agg(DISTINCT workflow), '{}') FROM grants "
            "WHERE login = session_user AND role <> 'admin')",
        "flowengine_holds(wf text, wanted text) RETURNS boolean":
            "EXISTS (SELECT 1 FROM grants WHERE login = session_user AND workflow IN (wf, '*') "
            "AND (role = wanted OR (role = '*' AND wanted <> 'admin')))",
        "flowengine_writes(wf text) RETURNS boolean":
            "EXISTS (SELECT 1 FROM grants WHERE login = session_user "
            "AND (workflow IN (wf, '*') AND role <> 'reader' OR workflow = '*' AND role = 'admin'))",
    }
    if language == "sql":
        return [f"CREATE OR REPLACE FUNCTION {head} {definer} AS $$ SELECT {body} $$" for head, body in bodies.items()]
    return [f"CREATE OR REPLACE FUNCTION {head} {definer} AS $$ BEGIN RETURN {body}; END $$"
            for head, body in bodies.items()]


def _check_event(schema: str) -> str:
    """0008's check of a new event, with the login's grants in the workflow read once."""
    return f"""CREATE OR REPLACE FUNCTION flowengine_check_event() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = "{schema}", pg_temp AS $$
        DECLARE wf text; shown text; admin boolean; held text[];
        BEGIN
          SELECT workflow INTO wf FROM proposals WHERE pk = NEW.proposal_pk;
          -- every grant of the login that counts here: in the workflow, or in all ('*')
          SELECT coalesce(bool_or(workflow = '*' AND role = 'admin'), false), coalesce(array_agg(role), '{{}}')
            INTO admin, held FROM grants WHERE login = session_user AND (workflow = wf OR workflow = '*');
          IF admin THEN RETURN NEW; END IF;
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
          -- flowengine_holds(wf, role): the role itself, or '*' (every role but admin)
          IF NOT coalesce(NEW.role = ANY (held) OR ('*' = ANY (held) AND NEW.role <> 'admin'), false) THEN
            RAISE EXCEPTION 'flowengine: % may not act as % in %', session_user, NEW.role, wf
              USING ERRCODE = '42501';
          END IF;
          IF shown = 'system' AND NOT ('system' = ANY (held) OR '*' = ANY (held)) THEN
            RAISE EXCEPTION 'flowengine: system is the engine''s own name' USING ERRCODE = '42501';
          END IF;
          IF shown <> session_user AND NOT ('pseudonym' = ANY (held) OR '*' = ANY (held)) THEN
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


def _policies(visible: str) -> list[str]:
    """The read and insert policies of events and erasable values, with ``visible`` as the test
    that the row's proposal is one the login may read (``{table}``: the table's name)."""
    statements = []
    for table in ("events", "erasable"):
        seen = visible.format(table=table)
        statements += [
            f"DROP POLICY {table}_read ON {table}",
            f"DROP POLICY {table}_insert ON {table}",
            f"CREATE POLICY {table}_read ON {table} FOR SELECT TO {USERS} USING ((SELECT flowengine_reads_all()) "
            f"OR {seen})",
            f"CREATE POLICY {table}_insert ON {table} FOR INSERT TO {USERS} WITH CHECK ({seen})",
        ]
    return statements


def _enforced() -> bool:
    """Whether migration 0007's rules are there to change (PostgreSQL, with its roles)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}'").first() is not None


def upgrade() -> None:
    if not _enforced():
        return
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"SET LOCAL ROLE {OWNER}")
    for statement in [*_helpers(schema, "plpgsql"), _check_event(schema), *_policies(_VISIBLE)]:
        op.execute(statement)
    op.execute("RESET ROLE")


def downgrade() -> None:
    if not _enforced():
        return
    from importlib import import_module

    erasable = import_module("flowengine.store.migrations.versions.0008_erasable")
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"SET LOCAL ROLE {OWNER}")
    for statement in [*_helpers(schema, "sql"), erasable._check_event(schema),
                      *_policies(_SEEN)]:
        op.execute(statement)
    op.execute("RESET ROLE")
