"""How much one `flowengine advance` costs, against what it cannot avoid.

    python bench/advance.py [--runs 15] [--steps 2000]

Prints a Markdown table of medians, each with its baseline measured in the same run:
- a whole `flowengine advance` process against `python -c "import sqlalchemy"` (the floor:
  the CLI must import SQLAlchemy) and `flowengine --help` (click and the lazy command table);
- sequential advances through the Python API on a SQLite file, one transaction each,
  against the same read + update + insert done with the standard library's sqlite3.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PING_PONG = """\
id: ping-pong
version: 1
prefix: PP
roles:
  worker:
states:
  ping: {initial: true, stage: panel, owner: worker}
  pong: {stage: council, owner: worker}
  done: {final: true, outcome: implemented, stage: closed}
transitions:
  - {trigger: hit, from: ping, to: pong}
  - {trigger: hit_back, from: pong, to: ping}
  - {trigger: finish, from: pong, to: done}
"""


def _seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def process_costs(folder: Path, runs: int) -> list[tuple[str, float]]:
    env = {**os.environ, "FLOWENGINE_DB": str(folder / "process.db"), "FLOWENGINE_WORKFLOWS": str(folder),
           "FLOWENGINE_USER": "bench", "FLOWENGINE_ROLE": "worker"}
    # Compiled bytecode as an installed package has it: pip writes .pyc files for SQLAlchemy at
    # install time, so an editable flowengine must be allowed to cache its own for a fair match.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(["flowengine", "proposal", "new", "ping-pong", "--title", "bench"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    for _ in range(2):  # warm-up: writes the bytecode caches
        _seconds(["flowengine", "proposal", "list"], env)
    commands = {
        "python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
        "flowengine --help": ["flowengine", "--help"],
        "flowengine advance (whole process)": ["flowengine", "advance", "PP-1", "hit"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    # Interleaved, so that the machine's drift during the run weighs on the baseline and the
    # command alike; the triggers alternate so that every advance really moves the proposal.
    for index in range(runs):
        commands["flowengine advance (whole process)"][-1] = "hit" if index % 2 == 0 else "hit_back"
        for name, command in commands.items():
            times[name].append(_seconds(command, env))
    return [(name, statistics.median(values)) for name, values in times.items()]


def api_steps(folder: Path, steps: int) -> float:
    from flowengine.records import Actor
    from flowengine.service import FlowEngine

    actor = Actor("bench", "worker")
    with FlowEngine.open(str(folder / "api.db"), workflow_dirs=[folder]) as engine:
        pid = engine.new_proposal("ping-pong", title="bench", actor=actor).proposal.id
        start = time.perf_counter()
        for index in range(steps):
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
        return steps / (time.perf_counter() - start)


def raw_sqlite_steps(folder: Path, steps: int) -> float:
    """The same shape of work with nothing in between: read the row, update it, insert an event."""
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE p (pk INTEGER PRIMARY KEY, state TEXT, version INTEGER)")
    conn.execute("CREATE TABLE e (pk INTEGER PRIMARY KEY, p INTEGER, seq INTEGER, state TEXT, UNIQUE (p, seq))")
    conn.execute("INSERT INTO p VALUES (1, 'ping', 1)")
    start = time.perf_counter()
    for _ in range(steps):
        conn.execute("BEGIN IMMEDIATE")
        state, version = conn.execute("SELECT state, version FROM p WHERE pk = 1").fetchone()
        new = "pong" if state == "ping" else "ping"
        conn.execute("UPDATE p SET state = ?, version = ? WHERE pk = 1 AND version = ?", (new, version + 1, version))
        conn.execute("INSERT INTO e (p, seq, state) VALUES (1, ?, ?)", (version + 1, new))
        conn.execute("COMMIT")
    rate = steps / (time.perf_counter() - start)
    conn.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="process runs per command (median reported)")
    parser.add_argument("--steps", type=int, default=2000, help="sequential API advances")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "ping-pong.yaml").write_text(PING_PONG, encoding="utf-8")
        costs = process_costs(folder, args.runs)
        api = api_steps(folder, args.steps)
        raw = raw_sqlite_steps(folder, args.steps)
    floor = costs[0][1]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} — {date.today().isoformat()}")
    print()
    print("| what | median | ratio |")
    print("| --- | --- | --- |")
    for name, seconds in costs:
        print(f"| {name} | {seconds * 1000:.0f} ms | {seconds / floor:.2f}x the import of SQLAlchemy |")
    print(f"| sequential advances, Python API, SQLite file | {api:,.0f} /s | {api / raw:.2f}x raw sqlite3 |")
    print(f"| the same read + update + insert, raw sqlite3 | {raw:,.0f} /s | 1.00x |")


if __name__ == "__main__":
    main()
