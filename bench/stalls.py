"""How long the stall analysis of a million events takes, against PM4Py and pandas on the same log.

    python bench/stalls.py [--proposals 100000] [--seed 1] [--runs 5] [--cache out/bench]

Generates (or reuses from ``--cache``) a synthetic database of about ten events per proposal
(bench/synthetic.py) and the same log as CSV, then measures, interleaved, each in a fresh
process, ``--runs`` times:

- **flowengine**: ``FlowEngine.analyse()`` on the SQLite file: every figure of the stall report
  (stays, stage stays, months, transitions, loops, funnel, feedback loop, stalls), the load
  from the database included; numpy imported before the clock starts, as pandas is for the
  pandas children (the whole process, imports included, is reported too);
- **PM4Py**: ``pm4py.discover_performance_dfg`` on the log read from the CSV into a DataFrame,
  with every duration per edge (``perf_aggregation_key="raw_values"``), then per edge and per
  state (a state's outgoing durations pooled: its sojourn times) the count, median, p90 and
  max with numpy. Reading the CSV is timed apart and not counted;
- **PM4Py on an EventLog**: the same after ``pm4py.convert_to_event_log`` (counted), PM4Py's
  classic object API;
- **pandas**: the same per-state and per-edge figures with a plain group-by (the next entry of
  each case by ``shift``), the CSV read likewise apart;
- **pandas from the database** (``pandas-db``): the states entered read from the same SQLite
  file with ``read_sql_query``, the load counted as flowengine's is, then the per-state group-by;
- **the bare SQL read** (``sql-read``): those columns fetched with ``sqlite3``, nothing computed:
  the floor any analysis of the database stands on.

``--tools`` picks which run beside flowengine (PM4Py needs ``pip install '.[bench]'``);
``--baseline DIR`` measures flowengine as in another checkout too (the same child, its library
imported from there), interleaved with the rest: a change's before beside its after.

Each child reports its time, its CPU time over the same span (``time.process_time``: every thread
of the process; on a shared machine the figure to compare) and its peak resident memory
(``getrusage``); the per-state medians
of all three are checked against each other. Prints a Markdown table of medians with the
machine and the command to reproduce. PM4Py (AGPL) is used here only: ``pip install '.[bench]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOOLS = ("flowengine", "pm4py", "pm4py-log", "pandas", "pandas-db", "sql-read")
_FROM_DB = ("flowengine", "baseline", "pandas-db", "sql-read")  # the children that read the database, not the CSV


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# -- the children: one measurement each, in a fresh process -----------------------------------

def child_flowengine(db: Path) -> dict[str, Any]:
    """``FlowEngine.analyse()`` timed; its libraries imported before the clock starts, numpy
    included, as pandas' child imports pandas (and numpy with it) before its clock."""
    started = time.perf_counter()
    import numpy  # noqa: F401 - imported before the clock, as pandas is in pandas' child
    import synthetic

    from flowengine.service.facade import FlowEngine

    imported = time.perf_counter()
    # The database is made for real use (its clock is the system's): the analysis is asked "as of" the end.
    with FlowEngine.open(str(db), workflow_dirs=[HERE]) as engine:
        begin, cpu = time.perf_counter(), time.process_time()
        (analysis,) = engine.analyse(as_of=synthetic.END)
        seconds, cpu_seconds = time.perf_counter() - begin, time.process_time() - cpu
    medians = {s.state: s.passed.median for s in analysis.states if s.passed.count}
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "import_seconds": imported - started,
            "peak_mb": _peak_mb(), "medians": medians, "stalls": len(analysis.stalls), "quiet": len(analysis.quiet),
            "proposals": analysis.proposals}


def _read_log(csv_path: Path) -> tuple[Any, float]:
    import pandas as pd

    begin = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype={"case:concept:name": str, "concept:name": str, "trigger": str},
                        parse_dates=["time:timestamp"])
    return frame, time.perf_counter() - begin


def _spread(values: Any) -> tuple[int, float, float, float]:
    import numpy as np

    return (len(values), float(np.quantile(values, 0.5)), float(np.quantile(values, 0.9)), float(np.max(values)))


def child_pm4py(csv_path: Path, *, event_log: bool = False) -> dict[str, Any]:
    """PM4Py on the DataFrame (its fast path), or, with ``event_log``, on the EventLog object it
    converts the DataFrame to (the classic API; the conversion counted)."""
    import os as _os
    import sys as _sys

    frame, read_seconds = _read_log(csv_path)
    quiet, _sys.stdout = _sys.stdout, open(_os.devnull, "w")  # noqa: SIM115 - PM4Py's banner
    try:
        import numpy as np
        import pm4py
    finally:
        _sys.stdout.close()
        _sys.stdout = quiet
    begin = time.perf_counter()
    log = pm4py.convert_to_event_log(frame) if event_log else frame
    dfg, _, _ = pm4py.discover_performance_dfg(log, perf_aggregation_key="raw_values")
    edges = {edge: _spread(np.asarray(seconds) / 86400.0) for edge, seconds in dfg.items()}
    by_state: dict[str, list[Any]] = {}
    for (source, _), seconds in dfg.items():
        by_state.setdefault(source, []).append(np.asarray(seconds))
    states = {state: _spread(np.concatenate(parts) / 86400.0) for state, parts in by_state.items()}
    seconds_taken = time.perf_counter() - begin
    return {"seconds": seconds_taken, "read_seconds": read_seconds, "peak_mb": _peak_mb(),
            "medians": {state: spread[1] for state, spread in states.items()}, "edges": len(edges)}


def child_pandas(csv_path: Path) -> dict[str, Any]:
    frame, read_seconds = _read_log(csv_path)
    begin = time.perf_counter()
    cases = frame.groupby("case:concept:name", sort=False)  # the CSV lists each case's entries in order
    frame["next"] = cases["concept:name"].shift(-1)
    frame["days"] = (cases["time:timestamp"].shift(-1) - frame["time:timestamp"]).dt.total_seconds() / 86400.0
    finished = frame[frame["days"].notna()]

    def p90(values: Any) -> float:
        return float(values.quantile(0.9))

    states = finished.groupby("concept:name")["days"].agg(["count", "median", p90, "max"])
    edges = finished.groupby(["concept:name", "next"])["days"].agg(["count", "median", p90, "max"])
    seconds = time.perf_counter() - begin
    return {"seconds": seconds, "read_seconds": read_seconds, "peak_mb": _peak_mb(),
            "medians": {str(k): float(v) for k, v in states["median"].items()}, "edges": len(edges)}


_ENTERED = ("SELECT p.id AS case_id, e.to_state AS state, e.at AS at FROM events e JOIN proposals p "
            "ON p.pk = e.proposal_pk WHERE e.kind IN ('created', 'advanced') ORDER BY p.pk, e.seq")


def child_pandas_db(db: Path) -> dict[str, Any]:
    """pandas from the same database: the states entered read with ``read_sql_query`` (the load
    counted, as flowengine's is), then the same group-by as :func:`child_pandas`."""
    import pandas as pd

    begin, cpu = time.perf_counter(), time.process_time()
    with sqlite3.connect(db) as conn:
        frame = pd.read_sql_query(_ENTERED, conn)
    frame["at"] = pd.to_datetime(frame["at"], format="%Y-%m-%d %H:%M:%S.%f")
    loaded = time.perf_counter()
    cases = frame.groupby("case_id", sort=False)
    frame["days"] = (cases["at"].shift(-1) - frame["at"]).dt.total_seconds() / 86400.0
    finished = frame[frame["days"].notna()]

    def p90(values: Any) -> float:
        return float(values.quantile(0.9))

    states = finished.groupby("state")["days"].agg(["count", "median", p90, "max"])
    seconds, cpu_seconds = time.perf_counter() - begin, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "read_seconds": loaded - begin, "peak_mb": _peak_mb(),
            "medians": {str(k): float(v) for k, v in states["median"].items()}}


def child_sql_read(db: Path) -> dict[str, Any]:
    """The floor: the columns the per-state figures need, read with the standard library's sqlite3
    and nothing computed."""
    begin, cpu = time.perf_counter(), time.process_time()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(_ENTERED).fetchall()
    return {"seconds": time.perf_counter() - begin, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb(),
            "rows": len(rows), "medians": {}}


# -- the parent ------------------------------------------------------------------------------------

def _fingerprint() -> str:
    """Changes when the generator, its workflow or the schema does: the cached files are redone."""
    from flowengine.store.schema import SCHEMA_HEAD

    digest = hashlib.sha256(SCHEMA_HEAD.encode())
    for name in ("synthetic.py", "synthetic-chain.yaml"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:10]


def prepare(cache: Path, proposals: int, seed: int) -> tuple[Path, Path, int]:
    import synthetic

    cache.mkdir(parents=True, exist_ok=True)
    stem = cache / f"synthetic-{proposals}-{seed}-{_fingerprint()}"
    db, csv_path = stem.with_suffix(".db"), stem.with_suffix(".csv")
    if not db.exists() or not csv_path.exists():
        print(f"generating {db} and {csv_path.name} …", file=sys.stderr)
        partial_db, partial_csv = Path(f"{db}.partial"), Path(f"{csv_path}.partial")
        for leftover in (partial_db, Path(f"{partial_db}-wal"), Path(f"{partial_db}-shm"), db, csv_path):
            leftover.unlink(missing_ok=True)
        histories = synthetic.written_to_csv(partial_csv, synthetic.generate(proposals, seed))
        synthetic.write_sqlite(partial_db, proposals, seed, histories=histories)
        partial_csv.rename(csv_path)
        partial_db.rename(db)
    with sqlite3.connect(db) as conn:
        events = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    return db, csv_path, events


def _run_child(tool: str, target: Path, baseline: Path | None = None) -> dict[str, Any]:
    """One child; ``tool`` "baseline" is flowengine's child with the library imported from the
    checkout ``baseline`` (its ``flowengine`` package first on the path)."""
    first = [str(HERE), *([str(baseline)] if tool == "baseline" and baseline is not None else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*first, os.environ.get("PYTHONPATH", "")])}
    begin = time.perf_counter()
    child = "flowengine" if tool == "baseline" else tool
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", child, str(target)],
                          check=True, env=env, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - begin
    return result


def _machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        ram = f"{int(memory.split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        ram = "?"
    versions = []
    for name in ("numpy", "pandas", "pm4py", "sqlalchemy"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:
            versions.append(f"{name} missing")
    return [("CPU", f"{cpu}, {os.cpu_count()} cores"), ("RAM", ram), ("OS", platform.platform()),
            ("Python", platform.python_version()), ("SQLite", sqlite3.sqlite_version),
            ("packages", ", ".join(versions)), ("date", date.today().isoformat())]


def _describe(checkout: Path | None) -> str:
    """The checkout's commit, where git can say."""
    if checkout is None:
        return ""
    found = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h"], capture_output=True, text=True)
    return f"commit {found.stdout.strip()}" if found.returncode == 0 and found.stdout.strip() else "not a git checkout"


def _agree(results: dict[str, list[dict[str, Any]]]) -> str:
    ours = results["flowengine"][-1]["medians"]
    lines = []
    for tool in ("baseline", "pm4py", "pm4py-log", "pandas", "pandas-db"):
        if tool not in results:
            continue
        theirs = results[tool][-1]["medians"]
        shared = set(ours) & set(theirs)
        worst = max((abs(ours[s] - theirs[s]) for s in shared), default=0.0)
        lines.append(f"{tool}: {len(shared)} states compared, largest difference in median days {worst:.2e}"
                     + ("" if set(ours) == set(theirs) else f" (states only one side has: {set(ours) ^ set(theirs)})"))
    return "; ".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("out/bench"))
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help="which to measure beside flowengine, comma-separated (default: all)")
    parser.add_argument("--baseline", type=Path,
                        help="also measure flowengine as in this checkout (e.g. `git worktree add ../before main`), "
                             "interleaved: the before beside the after")
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("target", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run: Any = {"flowengine": child_flowengine, "pm4py": child_pm4py, "pandas": child_pandas,
                    "pm4py-log": partial(child_pm4py, event_log=True), "pandas-db": child_pandas_db,
                    "sql-read": child_sql_read}[args.child]
        print(json.dumps(run(args.target)))
        return 0
    sys.path.insert(0, str(HERE))
    db, csv_path, events = prepare(args.cache, args.proposals, args.seed)
    tools = ["flowengine", *(["baseline"] if args.baseline else []),
             *(t for t in TOOLS if t in args.tools.split(",") and t != "flowengine")]
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    loads = os.getloadavg()
    for warm in tools[:2] if args.baseline else tools[:1]:  # the operating system's file cache, the bytecode
        _run_child(warm, db, args.baseline)
    for run in range(args.runs):
        for tool in tools:  # interleaved: the machine's drift weighs on all alike
            results[tool].append(_run_child(tool, db if tool in _FROM_DB else csv_path, args.baseline))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{t} {results[t][-1]['seconds']:.2f} s" for t in tools),
              file=sys.stderr)

    def median(tool: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results[tool]))

    def cpu(tool: str) -> str:
        """The median CPU time and its ratio to flowengine's, where the child measured it."""
        if not all("cpu_seconds" in r for r in results[tool]):
            return " | "
        seconds = median(tool, "cpu_seconds")
        return f" {seconds:.2f} s | {seconds / median('flowengine', 'cpu_seconds'):.2f}x "

    ours = median("flowengine", "seconds")
    print(f"Stall analysis of {events:,} events ({args.proposals:,} proposals), medians of {args.runs} "
          f"interleaved runs, each in a fresh process; measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {loads[0]:.1f} before and {os.getloadavg()[0]:.1f} after.\n")
    print("| what | median | ratio | CPU time | CPU ratio | peak memory |\n| --- | --- | --- | --- | --- | --- |")
    print(f"| flowengine `FlowEngine.analyse()`, SQLite file, load included | {ours:.2f} s | 1.00x |"
          f"{cpu('flowengine')}| {median('flowengine', 'peak_mb'):.0f} MB |")
    whole = median("flowengine", "process_seconds")
    print(f"| the same, whole process (Python start, imports, open, analyse) | {whole:.2f} s | {whole / ours:.2f}x "
          "| | | |")
    for tool, label in (("baseline", f"flowengine as in `--baseline` ({_describe(args.baseline)}), the same call"),
                        ("pm4py", "PM4Py `discover_performance_dfg` on the DataFrame + per-state sojourn"),
                        ("pm4py-log", "PM4Py the same on its EventLog (`convert_to_event_log` counted)"),
                        ("pandas", "pandas group-by: per-state and per-edge durations"),
                        ("pandas-db", "pandas from the same database: `read_sql_query` + the per-state group-by, "
                                      "load included"),
                        ("sql-read", "bare SQL read of the columns those figures need (`sqlite3`, nothing "
                                     "computed)")):
        if tool not in results:
            continue
        seconds = median(tool, "seconds")
        print(f"| {label} | {seconds:.2f} s | {seconds / ours:.2f}x |{cpu(tool)}| {median(tool, 'peak_mb'):.0f} MB |")
    if "pandas" in results:
        print(f"| reading the CSV into a DataFrame (not counted above) | {median('pandas', 'read_seconds'):.2f} s "
              "| | | | |")
    if "pandas-db" in results:
        print(f"| … of which pandas' load from the database | {median('pandas-db', 'read_seconds'):.2f} s | | | | |")
    print()
    for name, value in _machine():
        print(f"- {name}: {value}")
    print(f"- figures agree: {_agree(results)}")
    print(f"- stalled proposals found: {results['flowengine'][-1]['stalls']:,}; gone quiet: "
          f"{results['flowengine'][-1].get('quiet', 0):,}")
    others = ",".join(t for t in tools if t != "baseline")
    command = (f"python bench/stalls.py --proposals {args.proposals} --seed {args.seed} --runs {args.runs} "
               f"--tools {others}" + (" --baseline ../before" if args.baseline else ""))
    print(f"- reproduce: `pip install -e '.[bench]' && {command}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
