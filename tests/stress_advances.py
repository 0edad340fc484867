"""Many processes advancing the same few proposals at once on one database.

The worker functions live here, not in a test module, so that processes started with the
``spawn`` method import only flowengine and this file. ``tests/test_concurrency.py`` and
``tests/test_crash.py`` use them; a longer run by hand is

    python -m tests.stress_advances --processes 8 --advances 200 /tmp/stress.db

which prints what happened and exits 1 if any invariant was broken; give a database URL
instead of the file to run it against a server (e.g. ``"$(scripts/postgres url)/postgres"``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TypeVar

from flowengine.errors import ConflictError
from flowengine.history import chain
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

WORKFLOW_DIR = Path(__file__).resolve().parent / "fixtures" / "store"
WORKFLOW_ID = "ping-pong"
# Named by its file, so creating a proposal reads this one file, not every workflow folder.
WORKFLOW = str(WORKFLOW_DIR / f"{WORKFLOW_ID}.yaml")
PREFIX = "PING"
R = TypeVar("R")  # what a worker process reports
FIXED_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# The one step that leads on from each non-final state of ping-pong, and the role that may take it.
NEXT_STEP = {"a": ("ping", "panel"), "b": ("pong", "council")}
OWNER = Actor("owner", "panel")

START_TIMEOUT = 120.0  # seconds the workers wait for each other at the start line
FINISH_TIMEOUT = 300.0  # seconds the parent waits for all reports (a bound, not an expectation)


def spawn() -> multiprocessing.context.SpawnContext:
    """Fresh interpreters: no state inherited from the parent, the way separate commands run."""
    return multiprocessing.get_context("spawn")


def open_engine(db: str | Path) -> FlowEngine:
    return FlowEngine.open(str(db), workflow_dirs=[WORKFLOW_DIR], clock=lambda: FIXED_NOW)


def create_proposals(db: str | Path, count: int) -> list[str]:
    with open_engine(db) as engine:
        return [engine.new_proposal(WORKFLOW, title=f"Proposal {n}", actor=OWNER).proposal.id
                for n in range(1, count + 1)]


@dataclass(frozen=True)
class Loss:
    """One advance refused with a ConflictError: what the loser had read, and what it was told."""

    proposal: str
    expected_version: int
    actor: str
    role: str
    state: str
    message: str


@dataclass
class WorkerReport:
    worker: str
    attempts: int = 0
    wins: Counter[str] = field(default_factory=Counter)
    losses: list[Loss] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # any other exception, with its traceback
    created: list[tuple[str, str]] = field(default_factory=list)  # (database, proposal id)


def advance_worker(db: str, worker: str, offset: int, proposal_ids: Sequence[str], attempts: int,
                   start: Barrier, reports: Queue[WorkerReport]) -> None:
    """Open an engine, wait for everyone, then make ``attempts`` read-then-advance attempts,
    going round the proposals from ``offset``."""
    report = WorkerReport(worker)
    try:
        engine = open_engine(db)
    except Exception:
        start.abort()
        report.failures.append(traceback.format_exc())
        reports.put(report)
        return
    try:
        start.wait(START_TIMEOUT)
        for attempt in range(attempts):
            proposal_id = proposal_ids[(offset + attempt) % len(proposal_ids)]
            report.attempts += 1
            try:
                read = engine.standing(proposal_id).proposal
                trigger, role = NEXT_STEP[read.state]
            except Exception:
                report.failures.append(traceback.format_exc())
                continue
            try:
                engine.advance(proposal_id, trigger, actor=Actor(worker, role), expected_version=read.version,
                               idempotency_key=f"{worker}-{attempt}")
                report.wins[proposal_id] += 1
            except ConflictError as conflict:
                report.losses.append(Loss(proposal_id, read.version, conflict.actor, conflict.role, conflict.state,
                                          str(conflict)))
            except Exception:
                report.failures.append(traceback.format_exc())
    except Exception:
        report.failures.append(traceback.format_exc())
    finally:
        engine.close()
    reports.put(report)


def create_worker(dbs: Sequence[str], worker: str, count: int, start: Barrier, reports: Queue[WorkerReport]) -> None:
    """For each (new) database in turn: wait for the other worker, open it, create ``count`` proposals."""
    report = WorkerReport(worker)
    try:
        for db in dbs:
            start.wait(START_TIMEOUT)
            with open_engine(db) as engine:
                for n in range(count):
                    created = engine.new_proposal(WORKFLOW, title=f"{worker} {n}", actor=OWNER)
                    report.created.append((db, created.proposal.id))
    except Exception:
        start.abort()
        report.failures.append(traceback.format_exc())
    reports.put(report)


def advance_forever(db: str, proposal_ids: Sequence[str], actor_name: str) -> None:
    """Advance (and now and then set a field) round the proposals until killed."""
    with open_engine(db) as engine:
        step = 0
        while True:
            proposal_id = proposal_ids[step % len(proposal_ids)]
            standing = engine.standing(proposal_id).proposal
            if step % 3 == 2:
                engine.set_fields(proposal_id, {"note": f"note {step}"}, actor=Actor(actor_name, "panel"),
                                  expected_version=standing.version)
            else:
                trigger, role = NEXT_STEP[standing.state]
                engine.advance(proposal_id, trigger, actor=Actor(actor_name, role),
                               expected_version=standing.version, idempotency_key=f"{actor_name}-{step}")
            step += 1


def run_processes(processes: list[SpawnProcess], reports: Queue[WorkerReport]) -> list[WorkerReport]:
    """Every worker's report, in worker order."""
    return sorted(collect_reports(processes, reports), key=lambda r: r.worker)


def collect_reports(processes: list[SpawnProcess], reports: Queue[R]) -> list[R]:
    """Start the processes and collect one report from each, in the order they come; a process
    that dies without one fails the run instead of leaving the caller waiting."""
    for process in processes:
        process.start()
    collected: list[R] = []
    deadline = time.monotonic() + FINISH_TIMEOUT
    try:
        while len(collected) < len(processes):
            try:
                collected.append(reports.get(timeout=0.5))
            except queue.Empty:
                dead = [p.name for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"worker processes died without a report: {dead}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no report from every worker within {FINISH_TIMEOUT:.0f} s") from None
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    return collected


def run_advances(db: str | Path, *, processes: int, attempts: int,
                 proposals: int) -> tuple[list[str], list[WorkerReport]]:
    """Create the proposals, then let ``processes`` workers make ``attempts`` advances each."""
    proposal_ids = create_proposals(db, proposals)
    context = spawn()
    start = context.Barrier(processes)
    reports: Queue[WorkerReport] = context.Queue()
    workers = [context.Process(target=advance_worker, name=f"worker-{n}",
                               args=(str(db), f"worker-{n}", n, proposal_ids, attempts, start, reports))
               for n in range(processes)]
    return proposal_ids, run_processes(workers, reports)


def run_creations(dbs: Sequence[str | Path], *, processes: int, count: int) -> list[WorkerReport]:
    """``processes`` workers open each new database at the same moment and create ``count`` proposals each."""
    context = spawn()
    start = context.Barrier(processes)
    reports: Queue[WorkerReport] = context.Queue()
    workers = [context.Process(target=create_worker, name=f"creator-{n}",
                               args=([str(db) for db in dbs], f"creator-{n}", count, start, reports))
               for n in range(processes)]
    return run_processes(workers, reports)


def problems(db: str | Path, proposal_ids: Sequence[str], reports: Sequence[WorkerReport]) -> list[str]:
    """Every invariant the concurrency test checks, as a list of what is wrong (empty: all fine)."""
    found = [f"{r.worker}: {failure}" for r in reports for failure in r.failures]
    wins: Counter[str] = Counter()
    for report in reports:
        wins.update(report.wins)
        if sum(report.wins.values()) + len(report.losses) + len(report.failures) != report.attempts:
            found.append(f"{report.worker}: attempts do not add up")
    with open_engine(db) as engine:
        histories = {pid: engine.history(pid) for pid in proposal_ids}
        for pid, (proposal, events) in histories.items():
            if len(events) != 1 + wins[pid]:
                found.append(f"{pid}: {len(events)} events for {wins[pid]} wins")
            if [e.seq for e in events] != list(range(1, len(events) + 1)):
                found.append(f"{pid}: sequence numbers {[e.seq for e in events]}")
            if proposal.state != chain.replay(events).state:
                found.append(f"{pid}: row in {proposal.state}, replay in {chain.replay(events).state}")
        for loss in (loss for r in reports for loss in r.losses):
            events = histories[loss.proposal][1]
            if not any(e.seq > loss.expected_version and (e.actor, e.role, e.to_state) == (
                    loss.actor, loss.role, loss.state) for e in events):
                found.append(f"{loss.proposal}: conflict names no later step: {loss.message}")
            if not all(part in loss.message for part in (loss.proposal, loss.actor, loss.state,
                                                         "nothing was written")):
                found.append(f"{loss.proposal}: unclear conflict message: {loss.message}")
        audit = engine.verify()
        if not audit.ok:
            found.append(f"verify: {audit.as_dict()}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stress_advances", description=__doc__.splitlines()[0])
    parser.add_argument("db", help="SQLite file (created if missing) or database URL to use")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--advances", type=int, default=200, help="advance attempts per process")
    parser.add_argument("--proposals", type=int, default=3, help="proposals they all advance")
    args = parser.parse_args(argv)
    began = time.monotonic()
    proposal_ids, reports = run_advances(args.db, processes=args.processes, attempts=args.advances,
                                         proposals=args.proposals)
    wins = sum(sum(r.wins.values()) for r in reports)
    losses = sum(len(r.losses) for r in reports)
    print(f"{args.processes} processes x {args.advances} attempts on {', '.join(proposal_ids)}: "
          f"{wins} advances, {losses} conflicts, {time.monotonic() - began:.1f} s")
    found = problems(args.db, proposal_ids, reports)
    for problem in found:
        print("PROBLEM:", problem, file=sys.stderr)
    print("all invariants hold" if not found else f"{len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
