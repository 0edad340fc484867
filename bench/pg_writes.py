"""Advances on PostgreSQL: statements per step, one writer's rate, and writers added one by one.

    bash scripts/postgres start        # a throw-away server on loopback (prints its URL)
    python bench/pg_writes.py --db "$(bash scripts/postgres url)" [--steps 400] [--writers 1,2,4,8]

Everything flowengine does here it does as a **member login**, as people use a shared server: a
login in ``flowengine_users`` made for the run (``bench/members.py``), holding the role ``worker``
in the benchmark's workflow, so row-level security and the event trigger of migration 0007
apply to every read and step. ``--db`` names the administrator (who may create roles; the
suite's server's ``postgres``), who makes the schema and the grant.

What is measured, in one run:

- **round trips per advance**: the exchanges with the server of one ``FlowEngine.advance``, read
  from libpq's trace of the connection (each answer ending in ``ReadyForQuery`` is one);
- **sequential advances through the API on one connection**: ``--steps`` advances of one
  proposal back and forth, one transaction each, in this process;
- **the same statements with psycopg alone**, side by side on the same server: read the row, then
  one ``WITH moved AS (UPDATE … RETURNING) INSERT … SELECT`` of an event of the same width, then
  commit — flowengine's two statements without flowengine (nor row-level security): the floor of
  the client's own work and the round trips;
- **the server's CPU** beside the client's, for both: the CPU time of the connection's server
  process, read from ``/proc`` (the server is on this machine, as the suite's is);
- **writers added one by one**: N processes (``--writers``), each advancing a proposal of its
  own ``--steps`` times, started together; the total rate, and its ratio to one writer's; the
  CPU per advance of the writers and of their server processes, the time either spent waiting
  for a CPU (``/proc/PID/schedstat``), and what the server processes were seen doing
  meanwhile (``pg_stat_activity``'s state and wait event, and any lock waited for in
  ``pg_locks``, sampled every 10 ms by the administrator). Then 8 processes advancing *one*
  proposal, each with the version it read (``expected_version``): every conflict has exactly
  one winner, counted.

Prints a Markdown table with the machine, the server version and the date. `--profile N` instead
profiles N sequential advances (`cProfile` on process time) and prints where the client's CPU goes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from advance import PING_PONG  # the same two-state loop as the SQLite benchmark (bench/ is on the path)
from members import default_login, drop, member

ROLE = "worker"


def _engine(url: str, folder: str) -> Any:
    from flowengine.service.facade import FlowEngine

    return FlowEngine.open(url, workflow_dirs=[folder])


def _actor(url: str) -> Any:
    """The login of ``url`` acting under its own name (a member needs no pseudonym then)."""
    from sqlalchemy.engine import make_url

    from flowengine.history.records import Actor

    return Actor(str(make_url(url).username), ROLE)


def round_trips_per_advance(url: str, folder: str) -> int:
    """The round trips of one advance, read from libpq's trace of the write connection: each
    answer the server ends with ``ReadyForQuery`` is one."""
    from psycopg import pq

    actor = _actor(url)
    with _engine(url, folder) as engine, tempfile.TemporaryDirectory() as scratch:
        pid = engine.new_proposal("ping-pong", title="count", actor=actor).proposal.id
        engine.advance(pid, "hit", actor=actor)  # warm: the definition cached
        with engine.database.write() as conn:  # the thread keeps this connection for its writes
            pgconn = conn.connection.driver_connection.pgconn
        trace = Path(scratch) / "libpq.trace"
        with trace.open("w") as out:
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            engine.advance(pid, "hit_back", actor=actor)
            pgconn.untrace()
        return sum(1 for line in trace.read_text(encoding="utf-8").splitlines()
                   if line.split("\t")[:3:2] == ["B", "ReadyForQuery"])


def _writer(url: str, folder: str, pid: str, steps: int, start: Any, out: Any) -> None:
    """Advance ``pid`` ``steps`` times once all writers are ready; put (seconds, own CPU seconds,
    its server process's CPU seconds, the seconds either waited for a CPU — each None where the
    server's process cannot be read)."""
    actor = _actor(url)
    with _engine(url, folder) as engine:
        engine.advance(pid, "hit", actor=actor)
        engine.advance(pid, "hit_back", actor=actor)
        backend = write_backend(engine)
        start.wait()
        queued = (run_queue_wait("self"), run_queue_wait(backend))
        served, cpu, began = server_cpu(backend), time.process_time(), time.perf_counter()
        for index in range(steps):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        seconds, client, after = time.perf_counter() - began, time.process_time() - cpu, server_cpu(backend)
        waited = [None if a is None or b is None else b - a
                  for a, b in zip(queued, (run_queue_wait("self"), run_queue_wait(backend)), strict=True)]
        out.put((seconds, client, None if served is None or after is None else after - served, *waited))


class Writers(NamedTuple):
    """N writers on their own proposals: the total rate, CPU per advance on either side, and
    what their server processes were seen doing (see :func:`_watch`)."""

    rate: float
    client: float  # CPU seconds per advance, all writers' processes together
    server: float | None  # the same for their server processes (None: the server is elsewhere)
    seconds: float  # the slowest writer's time
    seen: dict[str, int]  # samples of the writers' server processes, by what each was doing
    load: float  # the 1-minute load average once they were done
    queued: tuple[float, float] | None  # seconds per advance the writers, and their server processes,
    # spent runnable but waiting for a CPU (None: not readable)


def _watch(admin_url: str, login: str, stop: threading.Event, seen: dict[str, int]) -> None:
    """Every 10 ms until ``stop``: what each server process of ``login`` is doing —
    ``pg_stat_activity``'s state and wait event (``CPU`` when active and waiting on nothing,
    ``idle`` when waiting for its client) — and any lock it waits for (``pg_locks``, not granted)."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            for state, kind, name, waiting in conn.execute(
                    "SELECT a.state, a.wait_event_type, a.wait_event, "
                    "EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) "
                    "FROM pg_stat_activity a WHERE a.usename = %s", (login,)):
                if state == "active":
                    what = "CPU (active, no wait event)" if kind is None else f"{kind}: {name}"
                else:
                    what = f"{state} ({kind}: {name})" if kind else str(state)
                if waiting:
                    what += " — waiting for a lock"
                seen[what] = seen.get(what, 0) + 1
            stop.wait(0.01)


def parallel_rate(url: str, folder: str, writers: int, steps: int, admin_url: str | None = None) -> Writers:
    """``writers`` processes, each advancing a proposal of its own ``steps`` times, started together;
    with ``admin_url`` (who may read every session's activity), their server processes are watched."""
    from sqlalchemy.engine import make_url

    with _engine(url, folder) as engine:  # registered one by one: the race measured is the steps'
        pids = [engine.new_proposal("ping-pong", title="writer", actor=_actor(url)).proposal.id
                for _ in range(writers)]
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    out = context.Queue()
    workers = [context.Process(target=_writer, args=(url, folder, pid, steps, start, out)) for pid in pids]
    seen: dict[str, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(admin_url, str(make_url(url).username), stop, seen)) \
        if admin_url else None
    for worker in workers:
        worker.start()
    if watcher is not None:
        watcher.start()
    try:
        results = [out.get(timeout=600) for _ in workers]
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    for worker in workers:
        worker.join()
    seconds = max(r[0] for r in results)
    served = [r[2] for r in results]
    total = writers * steps
    waits = [r[3:] for r in results]
    queued = None if any(None in w for w in waits) else (sum(w[0] for w in waits) / total,
                                                           sum(w[1] for w in waits) / total)
    return Writers(total / seconds, sum(r[1] for r in results) / total,
                   None if None in served else sum(s for s in served if s is not None) / total, seconds, seen,
                   os.getloadavg()[0], queued)


def _racer(url: str, folder: str, pid: str, rounds: int, start: Any, out: Any) -> None:
    from flowengine.errors import ConflictError

    actor = _actor(url)
    won = lost = 0
    with _engine(url, folder) as engine:
        for _ in range(rounds):
            # Read before the barrier, write after it: every writer of a round holds the version
            # the round began with (a round's writes start only once all have read).
            current = engine.standing(pid)
            trigger = "hit" if current.proposal.state == "ping" else "hit_back"
            start.wait()
            try:
                engine.advance(pid, trigger, actor=actor, expected_version=current.proposal.version)
                won += 1
            except ConflictError:
                lost += 1
    out.put((won, lost))


def conflicts(url: str, folder: str, writers: int, rounds: int) -> tuple[int, int, int]:
    """(rounds, winners, losers) of ``writers`` processes advancing one proposal together."""
    with _engine(url, folder) as engine:
        pid = engine.new_proposal("ping-pong", title="race", actor=_actor(url)).proposal.id
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    out = context.Queue()
    workers = [context.Process(target=_racer, args=(url, folder, pid, rounds, start, out)) for _ in range(writers)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    with _engine(url, folder) as engine:
        moved = engine.standing(pid).proposal.version - 1
    won = sum(w for w, _ in results)
    assert won == moved, (won, moved)  # every win is one event, nothing else was written
    return rounds, won, sum(lost for _, lost in results)


def server_cpu(backend: int) -> float | None:
    """CPU seconds the server process ``backend`` has used (user and system), read from
    ``/proc`` — when the server runs on this machine, as the suite's does; None otherwise."""
    try:
        fields = Path(f"/proc/{backend}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_wait(process: int | str) -> float | None:
    """Seconds the process ``process`` (``"self"``: this one) has spent runnable but waiting for a
    CPU (the scheduler's run queue; ``/proc/PID/schedstat``); None where that is not readable."""
    try:
        return int(Path(f"/proc/{process}/schedstat").read_text(encoding="ascii").split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def write_backend(engine: Any) -> int:
    """The server process of the thread's write connection (the one its steps use)."""
    with engine.database.write() as conn:
        return int(conn.connection.driver_connection.info.backend_pid)


def api_rate(url: str, folder: str, steps: int) -> tuple[float, float, float | None]:
    """(advances per second, client CPU seconds per advance, the server's CPU seconds per
    advance — None when the server is not on this machine)."""
    actor = _actor(url)
    with _engine(url, folder) as engine:
        pid = engine.new_proposal("ping-pong", title="sequential", actor=actor).proposal.id
        for index in range(20):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        backend = write_backend(engine)
        served = server_cpu(backend)
        began, cpu = time.perf_counter(), time.process_time()
        for index in range(steps):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        rate, client = steps / (time.perf_counter() - began), (time.process_time() - cpu) / steps
        after = server_cpu(backend)
        return rate, client, None if served is None or after is None else (after - served) / steps


def profile(url: str, folder: str, steps: int, top: int, out: str | None) -> None:
    """``steps`` sequential advances under ``cProfile`` (on process time, so waiting on the server
    counts nothing): where the client's own CPU goes, printed to stdout by own time."""
    import cProfile
    import pstats

    actor = _actor(url)
    with _engine(url, folder) as engine:
        pid = engine.new_proposal("ping-pong", title="profiled", actor=actor).proposal.id
        for index in range(20):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for index in range(steps):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        profiler.disable()
    if out:
        profiler.dump_stats(out)  # for pstats, snakeviz and the like
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"client CPU under the profiler: {total / steps * 1e6:,.0f} µs per advance")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def psycopg_rate(url: str, steps: int) -> tuple[float, float, float | None]:
    """The same round trips with psycopg alone: read the row; update it under its version and
    insert an event of the same width in one statement; commit. (Per second, CPU per step, the
    server's CPU per step as in :func:`api_rate`.)"""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    table = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {table}_p (pk bigserial PRIMARY KEY, id text UNIQUE, state text, "
                     "version int, updated_at timestamptz, head_hash text)")
        conn.execute(f"CREATE TABLE {table}_e (pk bigserial PRIMARY KEY, proposal_pk bigint, seq int, kind text, "
                     "trigger text, from_state text, to_state text, actor text, role text, at timestamptz, "
                     "entered_at timestamptz, comment text, changes jsonb, details jsonb, idempotency_key text "
                     "UNIQUE, prev_hash text, hash text, UNIQUE (proposal_pk, seq))")
        conn.execute(f"INSERT INTO {table}_p (id, state, version, updated_at, head_hash) "
                     "VALUES ('PP-1', 'ping', 1, now(), 'x')")
        conn.commit()
        try:
            served = server_cpu(conn.info.backend_pid)
            began, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                pk, state, version = conn.execute(
                    f"SELECT pk, state, version FROM {table}_p WHERE id = %s", ("PP-1",)).fetchone()  # type: ignore[misc]
                target = "pong" if state == "ping" else "ping"
                moved = conn.execute(
                    f"WITH moved AS (UPDATE {table}_p SET state = %s, version = %s, updated_at = now(), "
                    "head_hash = %s WHERE pk = %s AND version = %s RETURNING pk) "
                    f"INSERT INTO {table}_e (proposal_pk, seq, kind, trigger, from_state, to_state, actor, role, at, "
                    "entered_at, comment, changes, details, idempotency_key, prev_hash, hash) "
                    "SELECT pk, %s, 'advanced', 'hit', %s, %s, 'bench', 'worker', now(), now(), '', '{}', '{}', "
                    "NULL, %s, %s FROM moved RETURNING seq",
                    (target, version + 1, "h" * 64, pk, version, version + 1, state, target, "p" * 64, "h" * 64))
                assert moved.fetchone() is not None
                conn.commit()
            rate, client = steps / (time.perf_counter() - began), (time.process_time() - cpu) / steps
            after = server_cpu(conn.info.backend_pid)
            return rate, client, None if served is None or after is None else (after - served) / steps
        finally:
            conn.rollback()
            conn.execute(f"DROP TABLE {table}_p, {table}_e")
            conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (postgresql+psycopg://…)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--writers", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the sequential comparison (median)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="instead: profile N sequential advances (cProfile on process time) and print "
                             "where the client's CPU goes")
    parser.add_argument("--top", type=int, default=40, help="entries of the profile printed")
    parser.add_argument("--profile-file", help="also write the profile there (pstats format)")
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",")]
    login = default_login()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ping-pong.yaml").write_text(PING_PONG, encoding="utf-8")
        _engine(args.db, folder).close()  # the schema, made by the administrator
        url = member(args.db, login, [ROLE], ["ping-pong"], Path(folder))
        try:
            if args.profile:
                profile(url, folder, args.profile, args.top, args.profile_file)
                return
            per_step = round_trips_per_advance(url, folder)
            api, raw = [], []
            for _ in range(args.rounds):
                api.append(api_rate(url, folder, args.steps))
                raw.append(psycopg_rate(args.db, args.steps))
            rates = {n: parallel_rate(url, folder, n, args.steps, args.db) for n in counts}
            race = conflicts(url, folder, 8, 50)
        finally:
            drop(args.db, login, [ROLE], ["ping-pong"])
        from sqlalchemy import create_engine, text

        probe = create_engine(args.db)
        with probe.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
        probe.dispose()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {server} on loopback — {date.today().isoformat()}; load average at the end "
          f"{os.getloadavg()[0]:.1f}; flowengine as a login in flowengine_users (row-level security on)")
    print(f"reproduce: python bench/pg_writes.py --db URL --steps {args.steps} --writers {args.writers} "
          f"--rounds {args.rounds}")
    print()
    print("| what | measured | ratio |")
    print("| --- | --- | --- |")
    print(f"| round trips of one `advance` (libpq trace) | {per_step} | |")
    api_median, raw_median = statistics.median(r for r, _, _ in api), statistics.median(r for r, _, _ in raw)
    api_cpu, raw_cpu = statistics.median(c for _, c, _ in api), statistics.median(c for _, c, _ in raw)
    print(f"| sequential API advances, one connection | {api_median:,.0f} /s | "
          f"{api_median / raw_median:.2f}x psycopg alone |")
    print(f"| psycopg alone: read; update + insert in one statement; commit | {raw_median:,.0f} /s | 1.00x |")
    print(f"| client CPU per advance: API / psycopg alone | {api_cpu * 1e6:,.0f} µs / {raw_cpu * 1e6:,.0f} µs | "
          f"{api_cpu / raw_cpu:.2f}x (at most {1 / api_cpu:,.0f} advances/s from the client's side) |")
    if all(s is not None for _, _, s in [*api, *raw]):
        api_server = statistics.median(s for _, _, s in api if s is not None)
        raw_server = statistics.median(s for _, _, s in raw if s is not None)
        print(f"| server CPU per advance (its process, from /proc): API / psycopg alone | {api_server * 1e6:,.0f} µs / "
              f"{raw_server * 1e6:,.0f} µs | {api_server / raw_server:.2f}x (client and server together: at most "
              f"{1 / (api_cpu + api_server):,.0f} advances/s on one core, {2 / (api_cpu + api_server):,.0f} on two) |")
    first = rates[counts[0]].rate
    for n, found in rates.items():
        print(f"| {n} writer process(es) on their own proposals | {found.rate:,.0f} /s | {found.rate / first:.2f}x "
              f"{counts[0]} writer |")
    rounds, won, lost = race
    print(f"| 8 processes advancing one proposal, {rounds} rounds | {won} won, {lost} conflicts | "
          "exactly one winner a round: " + ("yes" if won == rounds else "no") + " |")
    print()
    print("Writers: CPU per advance (client: the writers' processes; server: theirs), the time they spent runnable "
          "but waiting for a CPU (the run queue, /proc/PID/schedstat), CPU-seconds used per second (cores kept busy, "
          "of the machine's), and what their server processes were seen doing (pg_stat_activity and pg_locks, "
          "sampled every 10 ms):")
    print()
    print("| writers | advances/s | client CPU / advance | server CPU / advance | waiting for a CPU / advance: "
          "client, server | cores busy | load | server processes seen |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, found in rates.items():
        total = sum(found.seen.values()) or 1
        seen = "; ".join(f"{what} {count / total:.0%}" for what, count in
                         sorted(found.seen.items(), key=lambda item: -item[1])[:4])
        server = "n/a" if found.server is None else f"{found.server * 1e6:,.0f} µs"
        busy = found.rate * (found.client + (found.server or 0.0))
        queued = "n/a" if found.queued is None else \
            f"{found.queued[0] * 1e6:,.0f} µs, {found.queued[1] * 1e6:,.0f} µs"
        print(f"| {n} | {found.rate:,.0f} | {found.client * 1e6:,.0f} µs | {server} | {queued} | {busy:.2f} of "
              f"{os.cpu_count()} | {found.load:.1f} | {seen} |")


if __name__ == "__main__":
    main()
