"""What hostile input costs: pathological workflows and logs, whole commands, time and peak memory.

    python bench/hostile.py [--states 2000] [--proposals 200] [--mb 1024] [--runs 3]

What is measured, precisely:

- **workflows**: a workflow of ``--states`` states where every state but the first is the target
  of a transition ``from: "*"`` (the shape that once expanded into states² edges). Whole
  processes, each ``--runs`` times, interleaved with the baseline: ``flowengine workflow
  validate``, ``workflow show``, ``workflow diagram -o x.dot`` (the diagram model and its DOT;
  Graphviz's own layout is not flowengine's), and on a database of ``--proposals`` proposals
  moved along it at random (made once, before any timing), ``stalls report`` (the analysis and
  every section), ``stalls diagram -o x.dot`` and ``advance`` (one step along a transition
  from ``"*"``: the engine's machine for the state it leaves); these three on the database's own
  clock, as a database made for real use requires. The baseline is the bare read of the same file
  with PyYAML (``yaml.safe_load``), the least any check of it costs; ratios are to it.
- **logs**: files of about ``--mb`` MB each, written once into a temporary folder: a CSV field of
  that size on one line, the same field spread over short lines, a line of nothing but commas,
  a header line that long, an XES attribute value that long, an XES trace nested a million
  elements deep, one XES trace of ``--mb`` times 1,000 events, and OCEL 2.0 JSON: a string value
  of that size, an event nested a million levels deep, one case of 100,001 events (``--only
  ocel`` imports these alone). Each is imported once with
  ``flowengine import FILE --workflow trondheim`` into a fresh database: exit code, seconds and
  the process's peak resident memory (``ru_maxrss`` of the child). The baseline is the import
  of a valid log of 20,000 events (written to the database).

Prints Markdown tables (machine, date, medians, ratios, how to reproduce).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CLI = [sys.executable, "-m", "flowengine_cli"]
NOW = "2019-06-01T00:00:00Z"


def star_workflow(states: int) -> str:
    lines = ["id: star", "version: 1", "prefix: STAR", "roles:", "  panel: {kind: panel}", "states:"]
    for index in range(states):
        if index == states - 1:
            lines.append(f"  s{index}: {{final: true, outcome: implemented}}")
        else:
            lines.append(f"  s{index}: {{stage: panel, owner: panel, deadline: 30d"
                         f"{', initial: true' if index == 0 else ''}}}")
    lines.append("transitions:")
    lines += [f'  - {{trigger: go{index}, from: "*", to: s{index}, roles: [panel]}}' for index in range(1, states)]
    return "\n".join(lines) + "\n"


def run(args: list[str], env: dict[str, str] | None = None, *,
        fixed_clock: bool = True) -> tuple[float, float, int, float]:
    """(seconds, peak MB, exit code, CPU seconds) of one whole process, by GNU time (``%M``,
    ``%U``, ``%S``): a child forked from this process would start from this process's own peak.
    The CPU time is what other work on a shared machine disturbs least. ``fixed_clock`` off for a
    command on a database made for real use, which refuses a fixed clock (a report is given its
    date with ``--as-of`` instead)."""
    environment = {**os.environ, "FLOWENGINE_NOW": NOW, **(env or {})}
    if not fixed_clock:
        environment.pop("FLOWENGINE_NOW")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as measured:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", measured.name, *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment, check=False)
        seconds = time.perf_counter() - started
        peak, user, system = measured.read().strip().splitlines()[-1].split()
    return seconds, int(peak) / 1024, done.returncode, float(user) + float(system)


def populate(folder: Path, database: Path, states: int, proposals: int) -> None:
    """``proposals`` cases moved at random along the workflow, imported as one log (one read of
    the workflow, however many steps)."""
    from flowengine.eventlog.importer import import_log
    from flowengine.service.facade import FlowEngine

    rng = random.Random(1)
    log = folder / "star-log.csv"
    with log.open("w", encoding="utf-8") as out:
        out.write("case:concept:name,concept:name,time:timestamp,org:resource,org:role\n")
        for number in range(proposals):
            at = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=number)
            out.write(f"c{number},s0,{at.isoformat()},pia,panel\n")
            for _ in range(rng.randint(0, 6)):
                at += timedelta(days=rng.randint(1, 60))
                out.write(f"c{number},s{rng.randint(1, states - 2)},{at.isoformat()},pia,panel\n")
    with FlowEngine.open(str(database), workflow_dirs=[folder]) as flow:
        import_log(flow, log, "star")


def workflows(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "star.yaml"
    path.write_text(star_workflow(args.states), encoding="utf-8")
    database = folder / "star.db"
    populate(folder, database, args.states, args.proposals)
    env = {"FLOWENGINE_WORKFLOWS": str(folder), "FLOWENGINE_DB": str(database)}
    cases = {
        "baseline: `yaml.safe_load` of the file": [sys.executable, "-c", "import sys, yaml; yaml.safe_load("
                                                   "open(sys.argv[1], encoding='utf-8'))", str(path)],
        "`flowengine workflow validate`": [*CLI, "workflow", "validate", str(path)],
        "`flowengine workflow show`": [*CLI, "workflow", "show", str(path), "--no-pager"],
        "`flowengine workflow diagram -o x.dot`": [*CLI, "workflow", "diagram", str(path), "-o",
                                                   str(folder / "x.dot")],
        "`flowengine stalls report`": [*CLI, "stalls", "report", "--as-of", "2019-06-01", "--no-pager", "--quiet"],
        "`flowengine stalls diagram star -o x.dot`": [*CLI, "stalls", "diagram", "star", "--as-of", "2019-06-01",
                                                      "-o", str(folder / "s.dot")],
        # One step along a transition from "*" (STAR-1 is moved to s1 and back to it each time).
        "`flowengine advance STAR-1 go1`": [*CLI, "advance", "STAR-1", "go1", "--as", "pia", "--role", "panel"],
    }
    on_database = {name for name, command in cases.items() if command[3:4] in (["stalls"], ["advance"])}
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    memory: dict[str, float] = {}
    codes: dict[str, int] = {}
    for _ in range(args.runs):
        for name, command in cases.items():
            seconds, peak, code, used = run(command, env, fixed_clock=name not in on_database)
            times[name].append(seconds)
            cpu[name].append(used)
            memory[name] = max(memory.get(name, 0.0), peak)
            codes[name] = code
    base = statistics.median(times[next(iter(cases))])
    base_cpu = statistics.median(cpu[next(iter(cases))])
    print(f"\n{args.states} states, {args.states - 1} transitions from \"*\", {args.proposals} proposals; "
          f"medians of {args.runs} runs\n")
    print("| what | median | ratio | CPU time (median) | CPU ratio | peak memory | exit |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for name in cases:
        median, used = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"| {name} | {median:.2f} s | {median / base:.2f}x | {used:.2f} s | {used / base_cpu:.2f}x | "
              f"{memory[name]:.0f} MB | {codes[name]} |")


def write_logs(folder: Path, megabytes: int) -> dict[str, Path]:
    size = megabytes * 1024 * 1024
    header = "case:concept:name,concept:name,time:timestamp,org:resource,org:role\n"
    block = 1 << 20
    files: dict[str, Path] = {}

    def csv_file(name: str, start: str, unit: str, end: str) -> None:
        path = folder / name
        with path.open("w", encoding="utf-8") as out:
            out.write(start)
            for _ in range(size // block):
                out.write(unit * (block // len(unit)))
            out.write(end)
        files[name] = path

    csv_file("field-one-line.csv", header + 'C1,panel_work,2017-10-18T11:00:00+00:00,lead,"', "x", '",p\n')
    csv_file("field-short-lines.csv", header + 'C1,panel_work,2017-10-18T11:00:00+00:00,lead,"', "x" * 99 + "\n",
             '",p\n')
    csv_file("line-of-commas.csv", header, ",", "\n")
    csv_file("header-line.csv", "", "h", "\n")
    xes = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016"><trace>'
    csv_file("attribute.xes", xes + '<string key="concept:name" value="', "y", '"/></trace></log>\n')
    deep = folder / "deep.xes"
    with deep.open("w", encoding="utf-8") as out:
        out.write(xes + '<list key="l">' * 1_000_000 + "</list>" * 1_000_000 + "</trace></log>\n")
    files["deep.xes"] = deep
    long = folder / "long-trace.xes"
    event = ('<event><string key="concept:name" value="panel_work"/>'
             '<date key="time:timestamp" value="2017-10-18T11:00:00+00:00"/></event>')
    with long.open("w", encoding="utf-8") as out:
        out.write(xes + '<string key="concept:name" value="C1"/>')
        for _ in range(megabytes):
            out.write(event * 1000)
        out.write("</trace></log>\n")
    files["long-trace.xes"] = long
    files.update(write_ocel_logs(folder, megabytes))
    return files


OCEL_START = ('{"objectTypes": [{"name": "proposal", "attributes": []}], "eventTypes": [], '
              '"objects": [{"id": "C1", "type": "proposal"}], "events": [')
OCEL_EVENT = ('{{"id": "e{number}", "type": "panel_work", "time": "2017-10-18T11:00:00+00:00", "attributes": '
              '[{{"name": "org:resource", "value": "lead"}}, {{"name": "org:role", "value": "prosjektleder"}}], '
              '"relationships": [{{"objectId": "C1", "qualifier": "case"}}]}}')


def write_ocel_logs(folder: Path, megabytes: int) -> dict[str, Path]:
    """OCEL 2.0 JSON: a string value of ``megabytes`` MB, an event nested a million levels deep,
    and one case of more events than one case may have (``ocel_reader.MAX_EVENTS_PER_CASE`` + 1,
    whatever ``megabytes``: the most rows one case can be made to hold)."""
    from flowengine.eventlog.ocel_reader import MAX_EVENTS_PER_CASE as MAX_EVENTS

    files: dict[str, Path] = {}
    value = folder / "value.jsonocel"
    with value.open("w", encoding="utf-8") as out:
        out.write(OCEL_START + OCEL_EVENT.format(number=1).replace('"lead"', '"'))
        for _ in range(megabytes):
            out.write("y" * (1 << 20))
        out.write('"}], "relationships": []}]}\n')
    files["an OCEL string value of that size"] = value
    deep = folder / "deep.jsonocel"
    deep.write_text(OCEL_START + '{"id": "e1", "attributes": ' + "[" * 1_000_000 + "]" * 1_000_000 + "}]}\n",
                    encoding="utf-8")
    files["an OCEL event nested a million levels deep"] = deep
    many = folder / "many-events.jsonocel"
    with many.open("w", encoding="utf-8") as out:
        out.write(OCEL_START)
        for number in range(1, MAX_EVENTS + 2):
            out.write(("" if number == 1 else ", ") + OCEL_EVENT.format(number=number))
        out.write("]}\n")
    files[f"an OCEL case of {MAX_EVENTS + 1:,} events"] = many
    return files


def valid_log(folder: Path, events: int) -> Path:
    path = folder / "valid.csv"
    steps = ["panel_work", "council_review"]
    with path.open("w", encoding="utf-8") as out:
        out.write("case:concept:name,concept:name,time:timestamp,org:resource,org:role\n")
        start = datetime(2017, 1, 1, tzinfo=UTC)
        for case in range(events // 2):
            for index, step in enumerate(steps):
                role = "prosjektleder"
                at = (start + timedelta(minutes=case, days=index)).isoformat()
                out.write(f"C{case},{step},{at},lead,{role}\n")
    return path


def logs(args: argparse.Namespace, folder: Path) -> None:
    files = {"baseline: a valid log of 20,000 events (written)": valid_log(folder, 20_000),
             **(write_ocel_logs(folder, args.mb) if args.only == "ocel" else write_logs(folder, args.mb))}
    print(f"\nhostile logs of about {args.mb} MB, each imported once\n")
    print("| file | size | exit | seconds | CPU time | peak memory |\n| --- | --- | --- | --- | --- | --- |")
    for number, (name, path) in enumerate(files.items()):
        database = folder / f"import-{number}.db"
        seconds, peak, code, used = run([*CLI, "import", str(path), "--workflow", "trondheim", "--db", str(database)])
        print(f"| {name} | {path.stat().st_size / 1e6:,.0f} MB | {code} | {seconds:.1f} s | {used:.1f} s | "
              f"{peak:.0f} MB |")
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=2000)
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("workflows", "logs", "ocel"), help="ocel: the OCEL 2.0 logs alone")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}; {datetime.now(UTC):%Y-%m-%d}")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        if args.only not in ("logs", "ocel"):
            workflows(args, folder)
        if args.only != "workflows":
            logs(args, folder)
    only = f" --only {args.only}" if args.only else ""
    print(f"\nreproduce: python bench/hostile.py --states {args.states} --proposals {args.proposals} "
          f"--mb {args.mb} --runs {args.runs}{only}")


if __name__ == "__main__":
    main()
