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

``--baseline FLOWENGINE`` runs the same commands with another checkout's console script too (its
own install, e.g. the main branch before a change), each right after this one's, so both are
measured under the same load; the table then has both sides and their ratios.

Prints a Markdown table: medians of wall time and of the CPU time each process used itself (user
and system, from the children's resource usage; on PostgreSQL the server's share is not in it:
on a shared machine the steadier figure), ratios to the floor's, the database's size, machine,
date and load average.
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
import tempfile
import time
from datetime import date

from advance import console_script  # bench/ is on the path when a bench script runs
from members import default_login, drop, member

FLOOR = 'python -c "import sqlalchemy"'


def _seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process."""
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


def _measure(sides: dict[str, str], env: dict[str, str], runs: int, picked: str, cursor: str,
             movable: list[tuple[str, str, str]]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Each command of each side (name → console script) ``runs`` times, interleaved, after one
    warm-up round: (wall, CPU) seconds by (command, side). With two sides each has a cache folder
    of its own: the build cache keeps one build per definition, stamped by the building code, so
    two checkouts on one cache would rebuild each other's."""
    caches = {side: tempfile.mkdtemp(prefix=f"interactive-{side}-") for side in sides} if len(sides) > 1 else {}
    envs = {side: {**env, "XDG_CACHE_HOME": caches[side]} if side in caches else env for side in sides}
    def commands(flowengine: str) -> dict[str, list[str]]:
        return {
            "proposal list": [flowengine, "proposal", "list"],
            f"proposal list --after {cursor}": [flowengine, "proposal", "list", "--after", cursor],
            "proposal list --sort waiting --stage implementation": [flowengine, "proposal", "list", "--sort",
                                                                    "waiting", "--stage", "implementation"],
            "proposal list --overdue --sort updated": [flowengine, "proposal", "list", "--overdue", "--sort",
                                                       "updated"],
            "proposal list --title 'recovery college'": [flowengine, "proposal", "list", "--title",
                                                         "recovery college"],
            "proposal list --json": [flowengine, "proposal", "list", "--json"],
            f"proposal show {picked}": [flowengine, "proposal", "show", picked],
            f"proposal show {picked} --json": [flowengine, "proposal", "show", picked, "--json"],
            f"history {picked}": [flowengine, "history", picked],
        }

    advance = "advance ID TRIGGER (another open proposal each run)"
    times: dict[tuple[str, str], list[tuple[float, float]]] = {(FLOOR, ""): []}
    for side, flowengine in sides.items():
        times |= {(name, side): [] for name in [*commands(flowengine), advance]}
    steps = iter(movable)
    for index in range(runs + 1):
        measured = _seconds([sys.executable, "-c", "import sqlalchemy"], env)
        if index:
            times[(FLOOR, "")].append(measured)
        for name in commands(next(iter(sides.values()))):
            for side, flowengine in sides.items():
                measured = _seconds(commands(flowengine)[name], envs[side])
                if index:
                    times[(name, side)].append(measured)
        for side, flowengine in sides.items():
            step = next(steps, None)
            if step is None:
                continue
            pid, trigger, role = step
            measured = _seconds([flowengine, "advance", pid, trigger, "--comment", "Benchmark step", "--role", role],
                                envs[side])
            if index:
                times[(advance, side)].append(measured)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a national database (bench/national.py): file or URL")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", metavar="FLOWENGINE",
                        help="another checkout's console script (its own install), run beside this one")
    args = parser.parse_args()
    sides = {"this": console_script(), **({"baseline": args.baseline} if args.baseline else {})}
    picked, cursor, movable, proposals, events = subjects(args.db, len(sides) * (args.runs + 1), args.seed)
    server = "://" in args.db and not args.db.startswith("sqlite")
    login = default_login() if server else "bench"
    target = member(args.db, login, ["*"], ["*"]) if server else args.db
    env = {**os.environ, "FLOWENGINE_DB": target, "FLOWENGINE_PAGER": "cat", "FLOWENGINE_USER": login}
    for name in ("FLOWENGINE_WORKFLOWS", "FLOWENGINE_ROLE", "FLOWENGINE_READ_DB", "FLOWENGINE_NOW",
                 "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    load = os.getloadavg()[0]
    try:
        times = _measure(sides, env, args.runs, picked, cursor, movable)
    finally:
        if server:
            drop(args.db, login, ["*"], ["*"])
    floor = [statistics.median(values) for values in zip(*times[(FLOOR, "")], strict=True)]
    backend = "PostgreSQL, as a login in flowengine_users (row-level security on)" if server else \
        f"SQLite {sqlite3.sqlite_version}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}, {backend} — {date.today().isoformat()}; load average {load:.1f} at the "
          f"start, {os.getloadavg()[0]:.1f} at the end")
    print(f"database: {proposals:,} proposals, {events:,} events; medians of {args.runs} interleaved runs; "
          f"reproduce: python bench/interactive.py --db DB --runs {args.runs}"
          + (" --baseline FLOWENGINE" if args.baseline else ""))
    print()
    header = " | ".join(f"{side}: wall | ratio | CPU | ratio" for side in sides)
    print(f"| command (whole process) | {header} |")
    print("| --- |" + " --- | --- | --- | --- |" * len(sides))
    names = list(dict.fromkeys(name for name, _ in times))
    for name in names:
        cells = []
        for side in sides if name != FLOOR else [""]:
            values = times.get((name, side), [])
            if not values:
                cells.append("| | | ")
                continue
            wall, cpu = (statistics.median(column) for column in zip(*values, strict=True))
            cells.append(f"{wall * 1000:,.0f} ms | {wall / floor[0]:.2f}x | "
                         f"{cpu * 1000:,.0f} ms | {cpu / floor[1]:.2f}x")
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
