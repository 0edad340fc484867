"""Personal data kept apart by default: every database records new steps in event format 3.

Revision ID: 0011_erasable_default
Revises: 0010_policies_by_index

Sets ``personal = erasable`` in ``settings`` (what ``flowengine db erasable`` set by hand) where it
is not set yet: from this migration on, every new step seals its display name, comment and
personal fields as salted commitments and keeps the values apart, erasable. Nothing else
changes: the steps recorded before keep their format (1 or 2) and verify as they were sealed; a
new database is made with the setting from its first step on. Downgrading removes the setting
(new steps are then of format 2 again; those of format 3 already recorded stay and verify).

On PostgreSQL the check of who recorded an event (``events_who_acted``, migrations 0007, 0008
and 0010) runs *after* the insert, at the end of its statement, rather than before: a step of
format 3 then writes its erasable values, its row and its event in one statement (``WITH moved AS
(UPDATE …), kept AS (INSERT INTO erasable …) INSERT INTO events …``), whose every part is done
when the check reads the display name from ``erasable``. It checks the same things and refuses
the same way; the refused statement writes nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0011_erasable_default"
down_revision = "0010_policies_by_index"
branch_labels = None
depends_on = None


_TRIGGER = """CREATE TRIGGER events_who_acted {when} INSERT ON events
       FOR EACH ROW EXECUTE FUNCTION flowengine_check_event()"""


def _check_when(when: str) -> None:
    """The check of who recorded an event, run at ``when`` (PostgreSQL, where migration 0007 made it)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    found = "SELECT 1 FROM pg_trigger WHERE tgname = 'events_who_acted' AND tgrelid = 'events'::regclass"
    if bind.exec_driver_sql(found).first() is None:
        return  # migration 0007 found no roles to enforce: nothing to move
    op.execute("DROP TRIGGER events_who_acted ON events")
    op.execute(_TRIGGER.format(when=when))


def upgrade() -> None:
    op.execute("INSERT INTO settings (name, value) SELECT 'personal', 'erasable' "
               "WHERE NOT EXISTS (SELECT 1 FROM settings WHERE name = 'personal')")
    _check_when("AFTER")


def downgrade() -> None:
    _check_when("BEFORE")
    op.execute("DELETE FROM settings WHERE name = 'personal' AND value = 'erasable'")
