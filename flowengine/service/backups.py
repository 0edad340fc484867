"""Backing up a database and restoring one, each audited at once: a backup nobody can trust is
found out the day it is made, not the day it is needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowengine.errors import StoreError
from flowengine.service.facade import AuditReport, FlowEngine
from flowengine.store import Database, migrate, resolve_url
from flowengine.store import backup as copies


@dataclass(frozen=True)
class CopyReport:
    """A backup written (or restored from), the database it came from or went to, and the audit
    of exactly what was copied."""

    file: Path
    kind: str
    size: int
    database: str
    audit: AuditReport

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.file), "kind": self.kind, "bytes": self.size, "database": self.database,
                "audit": self.audit.as_dict()}


def backup(target: str | None, file: Path) -> CopyReport:
    """Back up the database ``target`` (a path or URL; None: the default) into the new ``file``."""
    with Database(resolve_url(target, create=False)) as database:
        if database.schema_revision() is None:
            raise StoreError(f"there is no flowengine database at {database.display_name} to back up")
        if database.dialect == copies.SQLITE:
            with copies.backing_up_sqlite(database, file) as copied:
                audit = FlowEngine(copied).verify()
        else:
            with copies.snapshot(database) as (snapshot_id, frozen):
                copies.backup_postgresql(database, file, snapshot_id)
                audit = FlowEngine(frozen).verify()
        return CopyReport(file, database.dialect, file.stat().st_size, database.display_name, audit)


def restore(file: Path, target: str | None) -> CopyReport:
    """Restore the backup ``file`` into the empty database ``target`` (a path or URL)."""
    kind = copies.kind_of(file)
    with Database(resolve_url(target)) as database:
        if kind != database.dialect:
            raise StoreError(f"{file} is a {kind} backup and {database.display_name} a {database.dialect} database; "
                             f"restore it into a {kind} database")
        if database.dialect == copies.SQLITE:
            with copies.restoring_sqlite(file, database) as copied:
                migrate.ensure_schema(copied)  # an older backup is brought up to date, as any SQLite file is
                audit = FlowEngine(copied).verify()
        else:
            copies.restore_postgresql(file, database)
            migrate.ensure_schema(database)
            audit = FlowEngine(database).verify()
        return CopyReport(file, kind, file.stat().st_size, database.display_name, audit)
