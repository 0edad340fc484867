"""A title search that reads an index on SQLite too: an FTS5 table of the titles by trigrams.

Revision ID: 0014_title_trigrams
Revises: 0013_waiting_by_state

On SQLite only (PostgreSQL has migration 0012's trigram index). ``proposal list --title TEXT``
read every title of a million proposals for a text few of them hold (``LIKE`` and ``GLOB``
serve no index). ``proposals_title_fts`` is an FTS5 table with the ``trigram`` tokenizer
(``case_sensitive 0``) over ``proposals.title``, its content the proposals' own rows (``content=``,
nothing stored twice but the index), kept current by three triggers on ``proposals`` (insert,
delete, an update of the title), and built here from the rows there are. The page asks it for
the candidates of a text of three letters or more (:mod:`flowengine.store.titles`).

Where this process's SQLite lacks FTS5 or the ``trigram`` tokenizer (before 3.34), nothing is
made and the search reads every title as before. A newer SQLite later does not add it by itself
(the revision is recorded); :data:`~flowengine.store.titles.FTS_TABLE`, a ``CREATE TRIGGER`` for
each of :data:`~flowengine.store.titles.FTS_TRIGGERS` and :data:`~flowengine.store.titles.FTS_REBUILD`,
run in one transaction, do. A file made here needs an SQLite with FTS5 to be written to (the
triggers write the table).

The downgrade drops the triggers and the table.
"""

from __future__ import annotations

from alembic import op

from flowengine.store import titles

revision = "0014_title_trigrams"
down_revision = "0013_waiting_by_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite" or not titles.trigrams_available():
        return
    op.execute(titles.FTS_TABLE)
    for name, body in titles.FTS_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(titles.FTS_REBUILD)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in titles.FTS_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {titles.FTS}")
