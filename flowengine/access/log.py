"""The access log: every grant and revoke, append-only and hash-chained as a proposal's history
is, sealed by :func:`flowengine.history.seal.seal_entry` (written by
:mod:`flowengine.store.access`). The ``grants`` table is what the log
leaves standing; :func:`verify` replays the log, checks each link, and holds the two equal, so a
grant written or removed behind the log's back is found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.clock import iso_utc
from flowengine.history.seal import GENESIS
from flowengine.i18n import t
from flowengine.store import Connection
from flowengine.store import access as store

GRANT, REVOKE, CONVERT = store.GRANT, store.REVOKE, store.CONVERT
entry_hash = store.entry_hash


@dataclass(frozen=True)
class Entry:
    """One grant or revoke as the log records it."""

    seq: int
    action: str
    login: str
    workflow: str
    role: str
    by: str
    at: datetime
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "action": self.action, "login": self.login, "workflow": self.workflow,
                "role": self.role, "by": self.by, "at": iso_utc(self.at), "prev_hash": self.prev_hash,
                "hash": self.hash}


def entries(conn: Connection) -> list[Entry]:
    return [Entry(r.seq, r.action, r.login, r.workflow, r.role, r.by_login, r.at, r.prev_hash, r.hash)
            for r in store.log_entries(conn)]


def head(conn: Connection) -> tuple[int, str]:
    """(how many entries, the newest's hash): what a checkpoint of the access log signs."""
    found = store.log_head(conn)
    return found if found else (0, GENESIS)


def problems(logged: Sequence[Entry], standing: Sequence[tuple[str, str, str]]) -> list[str]:
    """What is wrong with the log and the grants it should leave standing: the first broken link,
    and every grant that is in the table but not in the log's replay, or the other way round."""
    found: list[str] = []
    prev = GENESIS
    replayed: set[tuple[str, str, str]] = set()
    for position, entry in enumerate(logged, start=1):
        if entry.seq != position or entry.prev_hash != prev or entry.hash != entry_hash(
                entry.prev_hash, entry.seq, entry.action, entry.login, entry.workflow, entry.role, entry.by, entry.at):
            found.append(t("access log entry {seq} does not match its seal: the log was rewritten from there",
                           seq=entry.seq))
            break
        prev = entry.hash
        key = (entry.login, entry.workflow, entry.role)
        if entry.action == GRANT:
            replayed.add(key)
        elif entry.action == REVOKE:
            replayed.discard(key)
    else:
        table = set(standing)
        for login, workflow, role in sorted(table - replayed):
            found.append(t("grant of {role} in {workflow} to {login} is not in the access log: it was written "
                           "behind the log's back", role=role, workflow=workflow, login=login))
        for login, workflow, role in sorted(replayed - table):
            found.append(t("grant of {role} in {workflow} to {login} is in the access log but missing from the "
                           "grants: it was removed behind the log's back", role=role, workflow=workflow,
                           login=login))
    return found


def verify(conn: Connection) -> tuple[int, list[str]]:
    """(entries, problems) of the stored log and grants."""
    logged = entries(conn)
    standing = [(g.login, g.workflow, g.role) for g in store.grants_of(conn)]
    return len(logged), problems(logged, standing)
