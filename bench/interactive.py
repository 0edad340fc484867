"""Interactive commands as whole processes on a national database, against importing SQLAlchemy.

    python bench/national.py --db out/national.db [--scale 1]      # build the data set first
    python bench/interactive.py --db out/national.db [--runs 11]
    python bench/interactive.py --db postgresql+psycopg://…/flowengine [--runs 11]

What is measured: each command below started as its own process (``flowengine …``, output to
/dev/null), ``--runs`` times, interleaved with ``python -c "import sqlalchemy"`` — the floor of
any command that reads the database — so the machine's drift weighs on all alike; one warm-up
round first (bytecode and built definitions cached, as after any first use). "Now" is the
database's own clock (a database made for real use, as the national one is, takes no fixed
"now"): every open proposal has waited at least since the data set's end. The proposals the
commands name are picked once, seeded: one in the middle of the id order, an open one that can
be advanced (each run advances another).

On PostgreSQL the commands connect as a **member login**, as people use a shared server: a login
in ``flowengine_users`` made for the run (``bench/members.py``) holding every role in every
workflow (``*`` in ``*``, not ``admin``), so row-level security and the event trigger apply; ``--db``
names the administrator who made the data set (and may create roles). The bytecode cache is
written and used (``PYTHONDONTWRITEBYTECODE`` is dropped for the commands), as after any install.

Prints a Markdown table: medians of wall time and of the CPU time each process used itself (user
and system, from the children's resource usage; on PostgreSQL the server's share is not in it),
ratios to the floor's, the database's size, machine, date and load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date

from advance import console_script  # bench/ is on the path when a bench script runs
from members import default_login, drop, member

FLOOR = 'python -c "import sqlalchemy"'


def _seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The command's wall time and the CPU time (user + system) its process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def subjects(target: str, runs: int, seed: int) -> tuple[str, str, list[tuple[str, str, str]], int, int]:
    """A proposal in the middle, a page cursor, ``runs + 1`` open proposals each with a step that
    needs nothing more (id, trigger, role), and the numbers of proposals and events."""
    from flowengine.service.facade import FlowEngine

    rng = random.Random(seed)
    with FlowEngine.open(target) as engine, engine.database.read() as conn:
        proposals = int(conn.exec_driver_sql("SELECT count(*) FROM proposals").scalar_one())
        events = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
        prefixes = [row[0] for row in conn.exec_driver_sql("SELECT DISTINCT prefix FROM proposals ORDER BY 1")]
        middle = prefixes[len(prefixes) // 2]

        def numbers(prefix: str) -> list[int]:  # a small set has few proposals a municipality
            from sqlalchemy import text

            return [row[0] for row in conn.execute(
                text("SELECT number FROM proposals WHERE prefix = :p ORDER BY number"), {"p": prefix})]

        in_middle = numbers(middle)
        picked = f"{middle}-{in_middle[rng.randrange(0, min(29, len(in_middle)))]}"
        third = prefixes[len(prefixes) // 3]
        cursor = f"{third}-{numbers(third)[:5][-1]}"
        movable: list[tuple[str, str, str]] = []
        for prefix in rng.sample(prefixes, len(prefixes)):
            for standing in engine.each_proposal(workflow=None, title=None, after=f"{prefix}-1", sort="id"):
                if standing.proposal.id.rpartition("-")[0] != prefix or len(movable) > runs:
                    break
                step = next((s for s in standing.next_steps if not s.missing_fields and s.roles), None)
                if step is not None and not standing.final:
                    movable.append((standing.proposal.id, step.trigger, step.roles[0]))
                    break
            if len(movable) > runs:
                break
    return picked, cursor, movable, proposals, events


def _measure(flowengine: str, env: dict[str, str], runs: int, picked: str, cursor: str,
             movable: list[tuple[str, str, str]]) -> dict[str, list[tuple[float, float]]]:
    """Each command ``runs`` times, interleaved, after one warm-up round (wall and CPU seconds)."""
    commands: dict[str, list[str]] = {
        FLOOR: [sys.executable, "-c", "import sqlalchemy"],
        "proposal list": [flowengine, "proposal", "list"],
        f"proposal list --after {cursor}": [flowengine, "proposal", "list", "--after", cursor],
        "proposal list --sort waiting --stage implementation": [flowengine, "proposal", "list", "--sort", "waiting",
                                                                "--stage", "implementation"],
        "proposal list --overdue --sort updated": [flowengine, "proposal", "list", "--overdue", "--sort", "updated"],
        "proposal list --title 'recovery college'": [flowengine, "proposal", "list", "--title", "recovery college"],
        f"proposal show {picked}": [flowengine, "proposal", "show", picked],
        f"history {picked}": [flowengine, "history", picked],
    }
    advance = "advance ID TRIGGER (another open proposal each run)"
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in [*commands, advance]}
    for index in range(runs + 1):
        for name, command in commands.items():
            seconds = _seconds(command, env)
            if index:
                times[name].append(seconds)
        if index < len(movable):
            pid, trigger, role = movable[index]
            seconds = _seconds([flowengine, "advance", pid, trigger, "--comment", "Benchmark step", "--role", role],
                               env)
            if index:
                times[advance].append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a national database (bench/national.py): file or URL")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    flowengine = console_script()
    picked, cursor, movable, proposals, events = subjects(args.db, args.runs, args.seed)
    server = "://" in args.db and not args.db.startswith("sqlite")
    login = default_login() if server else "bench"
    target = member(args.db, login, ["*"], ["*"]) if server else args.db
    env = {**os.environ, "FLOWENGINE_DB": target, "FLOWENGINE_PAGER": "cat", "FLOWENGINE_USER": login}
    for name in ("FLOWENGINE_WORKFLOWS", "FLOWENGINE_ROLE", "FLOWENGINE_READ_DB", "FLOWENGINE_NOW",
                 "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    load = os.getloadavg()[0]
    try:
        times = _measure(flowengine, env, args.runs, picked, cursor, movable)
    finally:
        if server:
            drop(args.db, login, ["*"], ["*"])
    floor = statistics.median(wall for wall, _ in times[FLOOR])
    floor_cpu = statistics.median(cpu for _, cpu in times[FLOOR])
    backend = "PostgreSQL, as a login in flowengine_users (row-level security on)" if server else \
        f"SQLite {sqlite3.sqlite_version}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}, {backend} — {date.today().isoformat()}; load average {load:.1f} at the "
          f"start, {os.getloadavg()[0]:.1f} at the end")
    print(f"database: {proposals:,} proposals, {events:,} events; medians of {args.runs} interleaved runs; "
          f"reproduce: python bench/interactive.py --db DB --runs {args.runs}")
    print()
    print("| command (whole process) | median | ratio to the floor | CPU (the process's own) | CPU ratio |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in times.items():
        if values:
            median = statistics.median(wall for wall, _ in values)
            cpu = statistics.median(cpu for _, cpu in values)
            print(f"| `{name}` | {median * 1000:.0f} ms | {median / floor:.2f}x | {cpu * 1000:.0f} ms | "
                  f"{cpu / floor_cpu:.2f}x |")


if __name__ == "__main__":
    main()
