"""A real streaming replica of the suite's PostgreSQL server, for the tests of ``--read-db``.

A second cluster on loopback, made from the first with ``pg_basebackup -R`` (a hot standby that
follows the primary's write-ahead log), started on a port of its own, stopped and deleted at
the end. The primary's loopback rule for replication (trust) is what ``scripts/postgres``'s
``initdb`` writes. As root, the cluster runs as ``postgres``, as the primary does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_CATCH_UP_SECONDS = 60.0


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"),
                   key=lambda p: [int(part) for part in p.parent.parent.name.split(".") if part.isdigit()])
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Replica:
    """A running hot standby of ``primary`` (a server URL), listening on ``port``."""

    primary: str
    port: int

    def url(self, target: str) -> str:
        """``target`` (a URL on the primary: database, options and all) as read on the replica."""
        return make_url(target).set(port=self.port).render_as_string(hide_password=False)

    def catch_up(self, target: str) -> None:
        """Wait until the replica has replayed everything the primary has written so far (its WAL
        insert position now: the suite's server commits without waiting for the flush, so the
        flushed position may not hold the last commit yet), polling; fails after a minute rather
        than hang."""
        primary = create_engine(target)
        replica = create_engine(self.url(target))
        try:
            with primary.connect() as conn:
                position = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
            deadline = time.monotonic() + _CATCH_UP_SECONDS
            while True:
                with replica.connect() as conn:
                    done = conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn)"),
                                        {"p": str(position)}).scalar_one()
                if done:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"the replica did not replay up to {position} within {_CATCH_UP_SECONDS} s")
                time.sleep(0.05)
        finally:
            primary.dispose()
            replica.dispose()


@contextmanager
def streaming_replica(primary: str) -> Iterator[Replica]:
    """Start a hot standby of the server at ``primary``; stop it and delete it afterwards."""
    url = make_url(primary)
    bindir = _bindir()
    home = Path(tempfile.mkdtemp(prefix="fe-pg-replica-", dir="/tmp"))
    data = home / "data"
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    try:
        subprocess.run(_as_owner([str(bindir / "pg_basebackup"), "-h", url.host or "127.0.0.1",
                                  "-p", str(url.port or 5432), "-U", url.username or "postgres", "-D", str(data),
                                  "-R", "-X", "stream", "--checkpoint=fast"]),
                       check=True, capture_output=True, timeout=300)
        settings = (f"\n# a streaming replica for the suite\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{home}'\nhot_standby = on\n")
        subprocess.run(_as_owner(["sh", "-c", f"cat >> '{data}/postgresql.conf'"]), input=settings.encode(),
                       check=True, timeout=30)
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(home / "server.log"),
                                  "-w", "-t", "120"]), check=True, capture_output=True, timeout=180)
        yield Replica(primary, port)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_owner([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]),
                           capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
