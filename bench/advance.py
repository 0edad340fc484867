"""How much one `flowengine advance` costs, against what it cannot avoid.

    python bench/advance.py [--runs 31] [--steps 1000] [--rounds 9]

Prints a Markdown table of medians, each with its baseline measured in the same run:

- whole processes, each run ``--runs`` times, interleaved (every command once, then again), on
  a proposal of a small workflow in a SQLite file:
  ``python -c "import sqlalchemy"`` (the floor: a command that writes must import SQLAlchemy),
  ``flowengine --help`` (click and the lazy command table), ``flowengine advance`` (the
  definition it runs under already built and kept, as for every step but the first after an
  install or a new definition), and ``flowengine advance`` with an empty cache folder each time
  (that first step: the stored YAML is parsed and the build kept);
- sequential advances through the Python API on a SQLite file, one transaction each, in
  ``--rounds`` rounds of ``--steps``, interleaved with the same work done by the standard
  library's sqlite3 (read the row, update it, insert an event; BEGIN IMMEDIATE … COMMIT) on a
  minimal two-table schema and on flowengine's own schema (its indexes, foreign keys and
  append-only triggers): the database's own share of a step. Rates are medians of the rounds.

The console script is the one installed beside this Python (a version manager's shim in front
of it would add its own start-up to the command but not to the baseline). Bytecode is cached
for flowengine as pip caches it for SQLAlchemy at install time, whatever PYTHONDONTWRITEBYTECODE
says, and a warm-up run writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
IMPORT = "python -c 'import sqlalchemy'"
HELP = "flowengine --help"
ADVANCE = "flowengine advance (whole process)"
ADVANCE_COLD = "flowengine advance, definition not yet built (first step after install)"


def console_script() -> str:
    beside = Path(sys.executable).with_name("flowengine")
    found = str(beside) if beside.exists() else shutil.which("flowengine")
    if not found:
        raise SystemExit("flowengine is not installed: pip install -e .")
    return found


def _seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def process_costs(folder: Path, runs: int) -> dict[str, float]:
    flowengine = console_script()
    env = {**os.environ, "FLOWENGINE_DB": str(folder / "process.db"), "FLOWENGINE_WORKFLOWS": str(folder),
           "FLOWENGINE_USER": "bench", "FLOWENGINE_ROLE": "worker", "XDG_CACHE_HOME": str(folder / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([flowengine, "proposal", "new", "ping-pong", "--title", "bench"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    for _ in range(2):  # warm-up: writes the bytecode caches
        _seconds([flowengine, "proposal", "list"], env)
    commands = {
        IMPORT: [sys.executable, "-c", "import sqlalchemy"],
        HELP: [flowengine, "--help"],
        ADVANCE: [flowengine, "advance", "PP-1", "hit"],
        ADVANCE_COLD: [flowengine, "advance", "PP-1", "hit_back"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    # Interleaved, so that the machine's drift during the run weighs on the baseline and the
    # commands alike; the two advances alternate the triggers, so every one really moves it.
    for index in range(runs + 1):
        for name, command in commands.items():
            cold = {**env, "XDG_CACHE_HOME": str(folder / f"cold-{index}")} if name == ADVANCE_COLD else env
            seconds = _seconds(command, cold)
            if index:  # the first round warms the caches up
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


class _Rounds:
    """Step functions run in interleaved rounds; each reports its median rate."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.rates: dict[str, list[float]] = {}

    def run(self, name: str, step: Callable[[int], None], offset: int) -> None:
        start = time.perf_counter()
        for index in range(offset, offset + self.steps):
            step(index)
        self.rates.setdefault(name, []).append(self.steps / (time.perf_counter() - start))

    def median(self, name: str) -> float:
        return statistics.median(self.rates[name])


def _raw_minimal(path: Path) -> Callable[[int], None]:
    """The shape of a step with nothing in between: read the row, update it, insert an event."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE p (pk INTEGER PRIMARY KEY, state TEXT, version INTEGER)")
    conn.execute("CREATE TABLE e (pk INTEGER PRIMARY KEY, p INTEGER, seq INTEGER, state TEXT, UNIQUE (p, seq))")
    conn.execute("INSERT INTO p VALUES (1, 'ping', 1)")

    def step(_index: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        state, version = conn.execute("SELECT state, version FROM p WHERE pk = 1").fetchone()
        new = "pong" if state == "ping" else "ping"
        conn.execute("UPDATE p SET state = ?, version = ? WHERE pk = 1 AND version = ?", (new, version + 1, version))
        conn.execute("INSERT INTO e (p, seq, state) VALUES (1, ?, ?)", (version + 1, new))
        conn.execute("COMMIT")

    return step


def _raw_own_schema(path: Path, folder: Path) -> Callable[[int], None]:
    """The statements a step runs, with the values it stores, on flowengine's own tables: what
    SQLite itself spends on a step, with nothing of flowengine's in between."""
    from flowengine.history.records import Actor
    from flowengine.service.facade import FlowEngine

    with FlowEngine.open(str(path), workflow_dirs=[folder]) as engine:
        engine.new_proposal("ping-pong", title="bench", actor=Actor("bench", "worker"))
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"):
        conn.execute(pragma)
    select = ("SELECT proposals.pk, proposals.id, proposals.workflow, definitions.version, proposals.definition_hash, "
              "proposals.title, proposals.description, proposals.origin, proposals.state, proposals.fields, "
              "proposals.created_at, proposals.updated_at, proposals.state_entered_at, proposals.version, "
              "proposals.head_hash, proposals.created_by FROM proposals JOIN definitions "
              "ON proposals.definition_hash = definitions.content_hash WHERE proposals.id = ?")
    update = ("UPDATE proposals SET state=?, fields=?, updated_at=?, state_entered_at=?, version=?, head_hash=? "
              "WHERE proposals.pk = ? AND proposals.version = ?")
    insert = ('INSERT INTO events (proposal_pk, seq, kind, "trigger", from_state, to_state, actor, role, at, '
              "entered_at, comment, changes, details, idempotency_key, prev_hash, hash) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def step(index: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(select, ("PP-1",)).fetchone()
        pk, state, version, prev = row[0], row[8], row[13], row[14]
        new = "pong" if state == "ping" else "ping"
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
        digest = f"{index:064x}"
        conn.execute(update, (new, json.dumps({}), now, now, version + 1, digest, pk, version))
        conn.execute(insert, (pk, version + 1, "advanced", "hit", state, new, "bench", "worker", now, now, "",
                              json.dumps({}), json.dumps({}), None, prev, digest))
        conn.execute("COMMIT")

    return step


def api_rates(folder: Path, steps: int, rounds: int) -> dict[str, float]:
    from flowengine.history.records import Actor
    from flowengine.service.facade import FlowEngine

    actor = Actor("bench", "worker")
    measured = _Rounds(steps)
    minimal = _raw_minimal(folder / "raw.db")
    own = _raw_own_schema(folder / "raw-own.db", folder)
    with FlowEngine.open(str(folder / "api.db"), workflow_dirs=[folder]) as engine:
        pid = engine.new_proposal("ping-pong", title="bench", actor=actor).proposal.id

        def advance(index: int) -> None:
            engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)

        for number in range(rounds + 1):
            offset = number * steps
            for name, step in (("api", advance), ("minimal", minimal), ("own", own)):
                measured.run(name, step, offset)
    # The first round warms up (compiled statements, page cache) and is dropped.
    return {name: statistics.median(rates[1:]) for name, rates in measured.rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=31, help="process runs per command (median reported)")
    parser.add_argument("--steps", type=int, default=1000, help="sequential API advances per round")
    parser.add_argument("--rounds", type=int, default=9, help="rounds of API advances (median rate reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "ping-pong.yaml").write_text(PING_PONG, encoding="utf-8")
        costs = process_costs(folder, args.runs)
        rates = api_rates(folder, args.steps, args.rounds)
    floor = costs[IMPORT]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}, SQLite {sqlite3.sqlite_version} — {date.today().isoformat()}")
    print(f"processes: medians of {args.runs} interleaved runs; API: medians of {args.rounds} rounds of "
          f"{args.steps} steps; reproduce: python bench/advance.py --runs {args.runs} --steps {args.steps} "
          f"--rounds {args.rounds}")
    print()
    print("| what | median | ratio |")
    print("| --- | --- | --- |")
    for name, seconds in costs.items():
        ratio = "1.00x" if name == IMPORT else f"{seconds / floor:.2f}x the import of SQLAlchemy"
        print(f"| {name} | {seconds * 1000:.0f} ms | {ratio} |")
    own, minimal = rates["own"], rates["minimal"]
    print(f"| sequential advances, Python API, SQLite file | {rates['api']:,.0f} /s | "
          f"{rates['api'] / own:.2f}x raw sqlite3 on flowengine's schema |")
    print(f"| the same statements, raw sqlite3, flowengine's schema | {own:,.0f} /s | 1.00x |")
    print(f"| read + update + insert, raw sqlite3, minimal schema | {minimal:,.0f} /s | {minimal / own:.2f}x |")


if __name__ == "__main__":
    main()
