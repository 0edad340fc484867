"""What drawing a stall diagram costs beyond Graphviz's own ``dot``.

    python bench/diagram.py [--runs 31] [--proposals 400] [--seed 1]

Two comparisons, each in one run. **The whole command** (issue 20: "``stalls diagram`` as a whole
command ≤ ``dot`` alone + 250 ms"): ``flowengine stalls diagram synthetic-chain -o out.svg`` as its
own process on a SQLite database of ``--proposals`` seeded synthetic histories (``bench/synthetic.py``,
the synthetic chain's 14 states), against ``dot -Tsvg`` of the very DOT file the same command
writes with ``-o out.dot``, and ``python -c "import sqlalchemy"`` (the floor of any command that
reads a database); interleaved, ``--runs`` times after two warm-up rounds, with the bytecode cache
written and used (``PYTHONDONTWRITEBYTECODE`` dropped, as after an install); the CPU time of each
process too (its user and system time, which other work on a shared machine disturbs far less
than the wall clock; the command's includes the ``dot`` it runs). Then **the drawing call** in this
process:

- the subject: the bundled ``innovation-chain`` (12 states, 23 transitions) with a seeded,
  realistic history: ``--proposals`` proposals created over three years, each walking the
  declared transitions with log-normal stays (some sent back, some stalled, some still open),
  analysed as of the end of the third year with :func:`flowengine.analysis.reference.analyse`. The history
  and the analysis are made once, before any timing;
- **render_stall_diagram**: one call of :func:`flowengine.views.stall_diagram.render_stall_diagram`
  ``(analysis, out.svg)`` in this (warm) process: building the diagram model from the figures,
  writing it as DOT text,
  running ``dot -Tsvg`` through the graphviz package, stamping the SVG with its digest and
  writing it atomically;
- **dot alone**: ``dot -Tsvg -o out.svg`` as a subprocess, fed the identical DOT text on its
  standard input (what :func:`~flowengine.views.stall_diagram.stall_diagram_dot` returns for the analysis);
- both ``--runs`` times, interleaved (dot alone, then the call, in turn), so the machine's drift
  weighs on both alike; the table gives the medians, the difference and the ratio. Two warm-up
  rounds of each come first and are not counted;
- **flowengine's own CPU time**: the CPU time this process spends in each call (``dot`` runs in a
  child process, whose time is not counted): the part flowengine adds, and a figure that other
  work on a shared machine disturbs far less than the wall-clock times.

Prints a Markdown table (machine, date, medians, difference, ratio, how to reproduce).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowengine.analysis.reference import analyse
from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Workflow
from flowengine.definition.registry import locate_workflow, search_dirs
from flowengine.history.records import ADVANCED, CREATED, Step, Trail
from flowengine.views.drawing import dot_digest, stamp_svg
from flowengine.views.stall_diagram import render_stall_diagram, stall_diagram_dot

WORKFLOW = "innovation-chain"
START = datetime(2016, 1, 1, tzinfo=UTC)
YEARS = 3
# Typical days spent in a state of each stage before the next step (the median of a log-normal).
_STAGE_DAYS = {"panel": 30, "council": 21, "administration": 50, "political": 60, "implementation": 120,
               "evaluation": 45}


def history(proposals: int, seed: int) -> tuple[Workflow, list[Trail], datetime]:
    """(workflow, trails, as_of): seeded walks along the declared transitions."""
    workflow = load_workflow(locate_workflow(WORKFLOW, search_dirs()).path)
    initial = workflow.initial_state
    assert initial is not None
    rng = random.Random(seed)
    as_of = START + timedelta(days=365 * YEARS)
    trails = []
    for number in range(1, proposals + 1):
        at = START + timedelta(days=rng.uniform(0, 365 * YEARS - 30))
        steps = [Step(CREATED, None, None, initial.id, "panel-1", "panel", at, False)]
        state = workflow.states[initial.id]
        while not state.final:
            median = _STAGE_DAYS.get(state.stage or "", 30) * (6 if rng.random() < 0.05 else 1)  # some stall
            at = at + timedelta(days=math.exp(rng.gauss(math.log(median), 0.6)))
            if at > as_of:
                break  # still waiting here
            out = workflow.outgoing(state.id)
            weights = [1 if workflow.states[t.target].final else 4 for t in out]
            taken = rng.choices(out, weights)[0]
            role = taken.roles[0] if taken.roles else "system"
            steps.append(Step(ADVANCED, taken.trigger, state.id, taken.target, f"{role}-1", role, at,
                              taken.requires_comment))
            state = workflow.states[taken.target]
        trails.append(Trail(f"INN-{number}", f"Proposal {number}", workflow.id, tuple(steps), workflow.content_hash))
    trails.sort(key=lambda trail: trail.steps[0].at)
    return workflow, trails, as_of


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _code_of(revision: str, folder: Path) -> str:
    """This repository's ``flowengine`` and ``flowengine_cli`` as they were at ``revision``, unpacked
    in ``folder``: what to put first on ``PYTHONPATH`` to run the command as it was then."""
    import tarfile

    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", "--format=tar", revision, "flowengine", "cli"], cwd=root,
                             capture_output=True, check=True).stdout
    tree, path = folder / "tree", folder / "path"
    tree.mkdir(parents=True)
    path.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as unpacked:
        unpacked.extractall(tree, filter="data")
    (path / "flowengine").symlink_to(tree / "flowengine")
    (path / "flowengine_cli").symlink_to(tree / "cli")
    return str(path)


def whole_command(runs: int, proposals: int, seed: int, before: str | None = None) -> None:
    """``flowengine stalls diagram`` as a process against ``dot`` alone on the same DOT file (and,
    with ``before``, the same command as it was at that revision, in the same loop)."""
    import synthetic  # bench/ is on the path when a bench script runs
    from advance import console_script

    flowengine = console_script()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = folder / "diagram.db"
        events = synthetic.write_database(str(database), synthetic.generate(proposals, seed=seed))
        env = {**os.environ, "FLOWENGINE_DB": str(database), "XDG_CACHE_HOME": str(folder / "cache")}
        for name in ("PYTHONDONTWRITEBYTECODE", "FLOWENGINE_READ_DB", "FLOWENGINE_LANG"):
            env.pop(name, None)
        base = [flowengine, "stalls", "diagram", synthetic.WORKFLOW_ID,
                "--workflows", str(synthetic.WORKFLOW_FILE.parent),
                "--as-of", synthetic.END.date().isoformat(), "--quiet", "-o"]
        subprocess.run([*base, str(folder / "same.dot")], check=True, env=env, stdout=subprocess.DEVNULL)
        commands = {
            "`dot -Tsvg same.dot -o out.svg` (the DOT file the command writes)":
                (["dot", "-Tsvg", str(folder / "same.dot"), "-o", str(folder / "alone.svg")], env),
            "`flowengine stalls diagram … -o out.svg` (whole process)": ([*base, str(folder / "drawn.svg")], env),
            'floor: `python -c "import sqlalchemy"`': ([sys.executable, "-c", "import sqlalchemy"], env),
        }
        if before is not None:
            # Its own cache folder: a definition built by one code is kept under that code's stamp, and
            # keeping it drops those of other code, so a shared folder would make both rebuild every run.
            old = {**env, "PYTHONPATH": _code_of(before, folder / "before"),
                   "XDG_CACHE_HOME": str(folder / "before-cache")}
            commands[f"the same command at {before} (same loop)"] = ([*base, str(folder / "before.svg")], old)
        load_before = os.getloadavg()[0]
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for index in range(runs + 2):
            for name, (command, its_env) in commands.items():
                wall, cpu = _process(command, its_env)
                if index >= 2:
                    walls[name].append(wall)
                    cpus[name].append(cpu)
        same = (folder / "before.svg").read_bytes() == (folder / "drawn.svg").read_bytes() if before else None
    dot_name, command_name = list(commands)[:2]
    dot_wall, dot_cpu = statistics.median(walls[dot_name]), statistics.median(cpus[dot_name])
    print(f"subject: {synthetic.WORKFLOW_ID}, {proposals} proposals, {events} events (SQLite); medians of {runs} "
          f"interleaved runs; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print()
    print("| process | wall median | beyond dot alone | CPU median | beyond dot alone |")
    print("| --- | --- | --- | --- | --- |")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        beyond = "—" if name == dot_name else f"{(wall - dot_wall) * 1000:+.0f} ms"
        beyond_cpu = "—" if name == dot_name else f"{(cpu - dot_cpu) * 1000:+.0f} ms"
        print(f"| {name} | {wall * 1000:.0f} ms | {beyond} | {cpu * 1000:.0f} ms | {beyond_cpu} |")
    by_wall = statistics.median(walls[command_name]) - dot_wall <= 0.250
    by_cpu = statistics.median(cpus[command_name]) - dot_cpu <= 0.250
    if same is not None:
        print(f"\nthe command drew the same SVG as at {before}: {same}")
    print(f"\ntarget: the whole command ≤ dot alone + 250 ms: {'met' if by_wall else 'not met'} by wall time, "
          f"{'met' if by_cpu else 'not met'} by CPU time (the command's CPU includes the dot it runs) in this run")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=31, help="interleaved runs of each (medians reported)")
    parser.add_argument("--proposals", type=int, default=400, help="proposals in the seeded history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-process", action="store_true", help="only the drawing call in this process")
    parser.add_argument("--before", metavar="REVISION",
                        help="also run the command as it was at this git revision, in the same loop")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}, {_dot_version()} — {datetime.now().date().isoformat()}")
    print(f"reproduce: python bench/diagram.py --runs {args.runs} --proposals {args.proposals} --seed {args.seed}"
          + (f" --before {args.before}" if args.before else ""))
    print()
    if not args.skip_process:
        whole_command(args.runs, args.proposals, args.seed, args.before)

    workflow, trails, as_of = history(args.proposals, args.seed)
    analysis = analyse(workflow, trails, as_of)
    source = stall_diagram_dot(analysis)
    dot_text = source.encode("utf-8")
    times: dict[str, list[float]] = {"dot": [], "render": []}
    own_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        alone, drawn = Path(tmp) / "alone.svg", Path(tmp) / "drawn.svg"
        actions: dict[str, Callable[[], object]] = {
            "dot": lambda: subprocess.run(["dot", "-Tsvg", "-o", str(alone)], input=dot_text, check=True),
            "render": lambda: render_stall_diagram(analysis, drawn),
        }
        for index in range(args.runs + 2):
            for name, action in actions.items():
                cpu = time.process_time()
                seconds = _seconds(action)
                cpu = time.process_time() - cpu
                if index >= 2:
                    times[name].append(seconds)
                    if name == "render":
                        own_cpu.append(cpu)
        same = drawn.read_bytes() == stamp_svg(alone.read_bytes(), dot_digest(source))
    dot_alone, render = statistics.median(times["dot"]), statistics.median(times["render"])
    stays = sum(len(trail.steps) for trail in trails)
    print(f"subject: {workflow.id} ({len(workflow.states)} states, {len(workflow.transitions)} transitions), "
          f"{analysis.proposals} proposals, {stays} events, {len(analysis.stalls)} stalled now; "
          f"DOT {len(dot_text):,} bytes; both drew the same SVG (but for the stamp): {same}")
    print(f"medians of {args.runs} interleaved runs; reproduce: python bench/diagram.py --runs {args.runs} "
          f"--proposals {args.proposals} --seed {args.seed}")
    print()
    print("| what | median | beyond dot alone |")
    print("| --- | --- | --- |")
    print(f"| `dot -Tsvg` of the same DOT text (subprocess) | {dot_alone * 1000:.1f} ms | — |")
    print(f"| `render_stall_diagram` (model from figures, DOT, dot, stamp, atomic write) | {render * 1000:.1f} ms | "
          f"{(render - dot_alone) * 1000:+.1f} ms ({render / dot_alone:.2f}x) |")
    print(f"| of which CPU time in this process (dot runs in its own) | {statistics.median(own_cpu) * 1000:.1f} ms "
          "| — |")


def _dot_version() -> str:
    done = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().replace("dot - graphviz version", "Graphviz") or "dot"


if __name__ == "__main__":
    main()
