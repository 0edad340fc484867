"""How fast `flowengine import` writes a log, against raw sqlite3 ``executemany`` of the same rows read
by the same reader;
and how fast `flowengine workflow discover` drafts a workflow from the same log.

    python bench/import.py [--runs 5] [--sizes 10000,100000,1000000] [--events-per-case 10]

For each size a CSV log is generated (cases of ``--events-per-case`` events on a small workflow
with a loop; standard XES column names), then, alternating run by run so that the machine's
drift weighs on both alike:

- the import: ``import_log`` through the Python API into a fresh SQLite file — reading the CSV,
  checking every step against the workflow, sealing the hash chains and writing proposals and
  events in one transaction (into a new database, as here, with the secondary indexes built once
  at the end of it);
- the floor, a raw ``sqlite3`` ``executemany`` of the same rows read by the same reader: the log
  read row by row by the import's own reader (the same columns), and after every batch of rows
  (the import's batch size) the rows the import stored for them (read back from its database
  beforehand, untimed: proposals, events and, for events of format 3, their personal values kept
  apart) written with the standard library's ``sqlite3`` ``executemany`` into a
  fresh database with the same schema, indexes and triggers, in one transaction, with the same
  pragmas, and with the garbage collector off as the import has it. What the floor is spared is
  exactly the import's own work: checking every row against the workflow, its roles and the time
  window, building and sealing the events;
- the same floor with the secondary indexes dropped first and built at the end of its transaction,
  as the import does into a new database: against it, the ratio is the import's own work alone,
  with no advantage in how the rows are stored.

- discovery: ``discover_workflow`` through the Python API (reading the log, counting its
  variants, drafting the workflow text), and the whole command ``flowengine workflow discover
  LOG -o draft.yaml`` in a fresh process (start-up and the draft's validation included), against
  the floor of any reading of the log: one pass of the standard library's ``csv.reader`` over it.

Prints Markdown tables of medians: events per second of each, the ratios, and the CPU time of each
(user + system, of this process: less bent by other work on a shared machine than the wall time).
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOOP = """\
id: bench-loop
version: 1
prefix: BL
roles:
  clerk: {kind: administration}
states:
  received: {initial: true, stage: panel, owner: clerk}
  checked: {stage: administration, owner: clerk}
  adjusted: {stage: administration, owner: clerk}
  decided: {stage: political, owner: clerk}
  done: {final: true, outcome: implemented, stage: closed}
transitions:
  - {trigger: check, from: [received, adjusted], to: checked}
  - {trigger: adjust, from: checked, to: adjusted}
  - {trigger: decide, from: checked, to: decided}
  - {trigger: reopen, from: decided, to: received}
  - {trigger: close, from: decided, to: done}
"""
def trail(per_case: int) -> list[str]:
    """received → checked → (adjusted → checked)* → decided → done: ``per_case`` events (even, ≥ 4)."""
    loops = max(0, (per_case - 4) // 2)
    return ["received", "checked", *["adjusted", "checked"] * loops, "decided", "done"]


def write_log(path: Path, cases: int, per_case: int) -> int:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    events = 0
    activities = trail(per_case)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case:concept:name", "concept:name", "time:timestamp", "org:resource"])
        for case in range(1, cases + 1):
            moment = start + timedelta(minutes=case)
            for activity in activities:
                writer.writerow([f"case-{case}", activity, moment.isoformat(), f"clerk{case % 17}"])
                moment += timedelta(hours=7, seconds=case % 59)
                events += 1
    return events


Timed = tuple[float, float]  # wall seconds, CPU seconds


def run_import(folder: Path, log: Path, tag: str) -> tuple[Timed, Path]:
    from flowengine.eventlog.importer import import_log
    from flowengine.service.facade import FlowEngine

    target = folder / f"import-{tag}.db"
    with FlowEngine.open(str(target), workflow_dirs=[folder]) as engine:
        start, used = time.perf_counter(), time.process_time()
        import_log(engine, log, "bench-loop")
        return (time.perf_counter() - start, time.process_time() - used), target


Rows = tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[str], list[str], list[tuple[object, ...]],
             list[tuple[object, ...]]]


def stored_rows(database: Path) -> Rows:
    conn = sqlite3.connect(database)
    definitions = conn.execute("SELECT * FROM definitions").fetchall()
    cursor = conn.execute("SELECT * FROM proposals ORDER BY pk")
    proposal_columns = [d[0] for d in cursor.description]
    proposals = cursor.fetchall()
    cursor = conn.execute("SELECT * FROM events ORDER BY pk")
    event_columns = [d[0] for d in cursor.description]
    events = cursor.fetchall()
    # event format 3: the personal values kept apart, one row per value (none in a database of format 2)
    erasable = conn.execute("SELECT proposal_pk, seq, item, value, salt FROM erasable "
                            "ORDER BY proposal_pk, seq, item").fetchall()
    conn.close()
    return proposals, events, proposal_columns, event_columns, definitions, erasable


def run_raw(folder: Path, source: Path, log: Path, tag: str, *, indexes_last: bool = False) -> Timed:
    """The floor: the log read by the import's own reader, and the rows the import stored written
    by the driver alone. The rows are read back from the import's database first (untimed: what
    the import computes — ids, times, hashes — is what the floor is spared), then, timed, the log
    is read row by row as the import reads it and after every batch of rows (the import's batch
    size) the stored rows of that batch go into the same (empty) schema with ``executemany``, in
    one transaction. The rows are dropped again afterwards, so that the imports never run with a
    million of them held in memory. ``indexes_last``: the secondary indexes dropped first and built
    at the end of the transaction, as the import does into a new database."""
    from flowengine.eventlog.importer import BATCH_EVENTS
    from flowengine.eventlog.reading import columns, open_log
    from flowengine.service.facade import FlowEngine

    target = folder / f"raw-{tag}.db"
    FlowEngine.open(str(target)).close()  # the schema, its indexes and triggers, as flowengine creates them
    proposals, events, proposal_columns, event_columns, definitions, erasable = stored_rows(source)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executemany("INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?)", definitions)  # stored before the import too
    insert_proposals = (f"INSERT INTO proposals ({', '.join(proposal_columns)}) "
                        f"VALUES ({', '.join('?' * len(proposal_columns))})")
    insert_events = (f"INSERT INTO events ({', '.join(event_columns)}) "
                     f"VALUES ({', '.join('?' * len(event_columns))})")
    proposal_pk, event_proposal = proposal_columns.index("pk"), event_columns.index("proposal_pk")
    reader = open_log(log)
    gc.collect()
    gc.disable()  # as the import does: the rows held here would otherwise make every pass a long one
    start, used = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    deferred = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                            "AND tbl_name IN ('proposals', 'events') ORDER BY name").fetchall() if indexes_last else []
    for name, _ in deferred:
        conn.execute(f'DROP INDEX "{name}"')
    read = written = proposals_written = erasable_written = 0

    def write_through(upto: int) -> None:
        nonlocal written, proposals_written, erasable_written
        if upto <= written:
            return
        last_pk = events[upto - 1][event_proposal]
        upto_proposal = proposals_written
        while upto_proposal < len(proposals) and proposals[upto_proposal][proposal_pk] <= last_pk:
            upto_proposal += 1
        conn.executemany(insert_proposals, proposals[proposals_written:upto_proposal])
        upto_erasable = erasable_written
        while upto_erasable < len(erasable) and erasable[upto_erasable][0] <= last_pk:  # type: ignore[operator]
            upto_erasable += 1
        if upto_erasable > erasable_written:  # before their events, as the import writes them
            conn.executemany("INSERT INTO erasable VALUES (?, ?, ?, ?, ?)", erasable[erasable_written:upto_erasable])
            erasable_written = upto_erasable
        conn.executemany(insert_events, events[written:upto])
        written, proposals_written = upto, upto_proposal

    for _ in reader.rows(columns(reader, {})):
        read += 1
        if read - written >= BATCH_EVENTS:
            write_through(min(read, len(events)))
    write_through(len(events))
    for _, sql in deferred:
        conn.execute(sql)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start, time.process_time() - used
    gc.enable()
    conn.close()
    if read != len(events):
        raise SystemExit(f"the log has {read:,} rows but the import stored {len(events):,} events")
    return elapsed


def run_discover(log: Path) -> float:
    from flowengine.eventlog.draft import discover_workflow

    start = time.perf_counter()
    discover_workflow(log)
    return time.perf_counter() - start


def run_discover_command(folder: Path, log: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of the whole command in its own process."""
    import resource

    command = [str(Path(sys.executable).parent / "flowengine"), "workflow", "discover", str(log), "-o",
               str(folder / "draft.yaml")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_csv_pass(log: Path) -> float:
    start = time.perf_counter()
    with log.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle):
            pass
    return time.perf_counter() - start


Discovery = tuple[float, float, float, float]  # medians: API, whole command, its CPU time, csv pass


def measure(folder: Path, cases: int, per_case: int, runs: int) -> tuple[int, Timed, Timed, Timed, Discovery]:
    log = folder / f"log-{cases}.csv"
    events = write_log(log, cases, per_case)
    imports: list[Timed] = []
    raws: list[Timed] = []
    lasts: list[Timed] = []
    discovers: list[float] = []
    commands: list[float] = []
    cpu: list[float] = []
    passes: list[float] = []
    source: Path | None = None
    for index in range(runs):
        passes.append(run_csv_pass(log))
        discovers.append(run_discover(log))
        wall, used = run_discover_command(folder, log)
        commands.append(wall)
        cpu.append(used)
        timed, database = run_import(folder, log, f"{cases}-{index}")
        imports.append(timed)
        if source is None:
            source = database  # the rows the import stored: the raw runs write exactly these
        else:
            database.unlink()
        raws.append(run_raw(folder, source, log, f"{cases}-{index}"))
        (folder / f"raw-{cases}-{index}.db").unlink()
        lasts.append(run_raw(folder, source, log, f"{cases}-{index}", indexes_last=True))
        (folder / f"raw-{cases}-{index}.db").unlink()
    if source is not None:
        source.unlink()
    for leftover in folder.glob("*.db-*"):
        leftover.unlink()
    log.unlink()
    discovery = (statistics.median(discovers), statistics.median(commands), statistics.median(cpu),
                 statistics.median(passes))
    return events, medians(imports), medians(raws), medians(lasts), discovery


def medians(timed: list[Timed]) -> Timed:
    return statistics.median(wall for wall, _ in timed), statistics.median(cpu for _, cpu in timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per size (median reported)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="events per log, comma-separated")
    parser.add_argument("--events-per-case", type=int, default=10)
    args = parser.parse_args()
    results = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench-loop.yaml").write_text(LOOP, encoding="utf-8")
        for size in (int(text) for text in args.sizes.split(",")):
            cases = max(1, size // args.events_per_case)
            results.append((cases, *measure(folder, cases, args.events_per_case, args.runs)))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {platform.system()} — {date.today().isoformat()}; "
          f"medians of {args.runs} interleaved runs; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print()
    print("| log | flowengine import | same reader + raw sqlite3 executemany of the same rows | ratio "
          "| the same, indexes built last | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for cases, events, imported, raw, last, _ in results:
        print(f"| {events:,} events / {cases:,} cases | {events / imported[0]:,.0f} events/s ({imported[0]:.2f} s) "
              f"| {events / raw[0]:,.0f} events/s ({raw[0]:.2f} s) | {raw[0] / imported[0]:.2f}x "
              f"| {events / last[0]:,.0f} events/s ({last[0]:.2f} s) | {last[0] / imported[0]:.2f}x |")
    print()
    print("CPU time (user + system), medians: import, the two floors, and the ratios")
    print()
    print("| log | import | floor | ratio | floor, indexes built last | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for cases, events, imported, raw, last, _ in results:
        print(f"| {events:,} events / {cases:,} cases | {imported[1]:.2f} s | {raw[1]:.2f} s "
              f"| {raw[1] / imported[1]:.2f}x | {last[1]:.2f} s | {last[1] / imported[1]:.2f}x |")
    print()
    print("| log | discover, Python API | discover, whole command (CPU time) | one csv.reader pass over the log "
          "| API / csv pass |")
    print("| --- | --- | --- | --- | --- |")
    for cases, events, _, _, _, (api, command, used, reading) in results:
        print(f"| {events:,} events / {cases:,} cases | {api:.2f} s | {command:.2f} s ({used:.2f} s) "
              f"| {reading:.2f} s | {api / reading:.2f}x |")


if __name__ == "__main__":
    main()
