"""Two checkouts' sequential advances on PostgreSQL, taking turns: client CPU per advance side by side.

    git worktree add ../flowengine-before <commit>      # the version to compare with
    python bench/pg_writes_ab.py --db "$(bash scripts/postgres url)/pw" --before ../flowengine-before

On a machine shared with other work, two runs of ``bench/pg_writes.py`` a minute apart differ more
than two versions of a step do. Here each version runs in a process of its own (``flowengine``
imported from its checkout, this benchmark's code from this one), each as a member login of its
own on the same server; they take turns, ``--steps`` advances a round each, for ``--rounds``
rounds, so both meet the same load. Printed: client CPU per advance (best and median round) and
advances per second (median and best) for each, the server's CPU per advance (its process's,
read from ``/proc`` when the server runs on this machine), and psycopg alone between the rounds
as in ``bench/pg_writes.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(db: str, steps: int) -> None:
    """One version's side: set up, say ``ready``, then run a round for each ``go`` (``raw``: a
    round of psycopg alone), answering ``CPU-µs-per-advance rate server-CPU-µs-per-advance``
    (the server's: ``nan`` when it is not on this machine)."""
    sys.path.insert(0, str(HERE))
    import pg_writes
    from advance import PING_PONG
    from members import drop, member

    login = f"flowengine_ab_{os.getpid()}"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "ping-pong.yaml").write_text(PING_PONG, encoding="utf-8")
        pg_writes._engine(db, folder).close()
        url = member(db, login, [pg_writes.ROLE], ["ping-pong"], Path(folder))
        try:
            actor = pg_writes._actor(url)
            with pg_writes._engine(url, folder) as engine:
                pid = engine.new_proposal("ping-pong", title="turns", actor=actor).proposal.id
                for index in range(50):
                    engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
                backend = pg_writes.write_backend(engine)
                print("ready", flush=True)
                for line in sys.stdin:
                    if line.strip() == "raw":
                        rate, cpu, server = pg_writes.psycopg_rate(db, steps)
                        print(f"{cpu * 1e6:.1f} {rate:.1f} {(server or float('nan')) * 1e6:.1f}", flush=True)
                        continue
                    if line.strip() != "go":
                        break
                    served = pg_writes.server_cpu(backend)
                    began, cpu_began = time.perf_counter(), time.process_time()
                    for index in range(steps):
                        engine.advance(pid, "hit" if index % 2 == 0 else "hit_back", actor=actor)
                    cpu, rate = (time.process_time() - cpu_began) / steps, steps / (time.perf_counter() - began)
                    after = pg_writes.server_cpu(backend)
                    server = float("nan") if served is None or after is None else (after - served) / steps
                    print(f"{cpu * 1e6:.1f} {rate:.1f} {server * 1e6:.1f}", flush=True)
        finally:
            drop(db, login, [pg_writes.ROLE], ["ping-pong"])


def _ask(process: subprocess.Popen[str], word: str) -> tuple[float, float, float]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(word + "\n")
    process.stdin.flush()
    cpu, rate, server = process.stdout.readline().split()
    return float(cpu), float(rate), float(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (postgresql+psycopg://…), an administrator")
    parser.add_argument("--before", required=True, type=Path, help="a checkout of the version to compare with")
    parser.add_argument("--steps", type=int, default=500, help="advances per round")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.db, args.steps)
        return
    trees = {"before": args.before.resolve(), "this": HERE.parent}
    processes = {}
    for name, tree in trees.items():
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--db", args.db, "--before", str(tree),
                   "--steps", str(args.steps)]
        process = processes[name] = subprocess.Popen(command, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {name} checkout's worker did not start")
    found: dict[str, list[tuple[float, float, float]]] = {name: [] for name in [*processes, "psycopg alone"]}
    for _ in range(args.rounds):
        for name, process in processes.items():
            found[name].append(_ask(process, "go"))
        found["psycopg alone"].append(_ask(processes["this"], "raw"))
    for process in processes.values():
        assert process.stdin is not None
        process.stdin.write("stop\n")
        process.stdin.flush()
        process.wait()
    print(f"{args.rounds} rounds of {args.steps} advances each, taking turns; load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    print()
    print("| version | client CPU per advance: best, median | server CPU per advance: best, median "
          "| advances/s: median, best |")
    print("| --- | --- | --- | --- |")
    for name, rounds in found.items():
        cpus, rates, servers = [r[0] for r in rounds], [r[1] for r in rounds], [r[2] for r in rounds]
        print(f"| {name} | {min(cpus):,.0f} µs, {statistics.median(cpus):,.0f} µs | "
              f"{min(servers):,.0f} µs, {statistics.median(servers):,.0f} µs | "
              f"{statistics.median(rates):,.0f}, {max(rates):,.0f} |")


if __name__ == "__main__":
    main()
