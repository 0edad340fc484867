"""A national programme's data set: 650 municipalities, 1,000,000 proposals, 10,000,000 events.

    python bench/national.py --db out/national.db                       # SQLite, the full size
    python bench/national.py --db postgresql+psycopg://…/flowengine --scale 0.1
    python bench/national.py --db out/tiny.db --municipalities 8 --scale 0.0005

Norway and Sweden have about 650 municipalities between them; a national programme running user
panels everywhere keeps one shared database. Each municipality runs a variant of one of the
bundled chains (``workflows/municipalities/*.yaml`` and the generic innovation chain): its own
id (``trondheim-042``), prefix (``TRDAQ``) and title, so 650 stored definitions. Proposals walk
their variant's declared transitions — forward mostly, sent back now and then (loops), out to
every outcome — with log-normal stays, some many times longer than usual (long stalls), notes
while waiting and progress records while implementing; the fields a step requires are set by
that step and the comments it requires are written. About ten events per proposal. The same
``--seed`` gives the same data set, byte for byte.

Every event is built and sealed by flowengine's own step builder (``ChainBuilder``, the one
sealing function), so ``flowengine audit verify`` accepts the result, and written by the store's
bulk load (``flowengine.store.bulkload``): one transaction, SQLite's ``executemany`` with the
indexes built at the end, or PostgreSQL's ``COPY`` as the tables' owner with keys, constraints
and triggers set aside the way a restore does. Building and sealing cost most of the time, so
``--workers`` processes (one per core by default) build the histories, a job of up to 2,000
proposals of one municipality at a time, each job with its own seed, while this process writes:
the data set is the same, byte for byte, for any number of workers.

``--scale`` multiplies the number of proposals (1,000,000 at 1.0); ``--municipalities`` the
number of workflows. The API for tests: :func:`build` ``(target, *, scale, municipalities, seed, workers)``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASES = ("workflows/municipalities/trondheim.yaml", "workflows/municipalities/melhus.yaml",
         "workflows/municipalities/stjordal.yaml", "workflows/municipalities/ostersund.yaml",
         "workflows/municipalities/timra.yaml", "workflows/default/innovation-chain.yaml")
MUNICIPALITIES = 650
PROPOSALS = 1_000_000
START = datetime(2016, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)  # no event after this
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
_CHUNK = 2000  # proposals a job: built by one process, written as one batch
# Typical days in a state of each stage (log-normal around it); a stay is a long stall this often.
_MEDIAN_DAYS = {"panel": 40, "council": 25, "administration": 45, "political": 60, "implementation": 120,
                "evaluation": 60}
_STALL_SHARE = 0.06
_NOTE_CHANCE = 0.25  # a note while waiting ("still waiting for the committee")
_PROGRESS_EVERY_DAYS = 40.0
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Variant:
    """One municipality's workflow: its text, hash and what a walk needs of its definition."""

    id: str
    prefix: str
    text: str
    source: str
    digest: str
    walk: Walk


@dataclass(frozen=True)
class Move:
    trigger: str
    target: str
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    comment: bool
    weight: float


@dataclass(frozen=True)
class Walk:
    """A base chain as the walks read it: moves per state, stages, field types, the initial state."""

    initial: str
    moves: dict[str, tuple[Move, ...]]
    stages: dict[str, str | None]
    fields: dict[str, tuple[str, tuple[str, ...]]]
    creator: str
    version: str


def variants(count: int) -> list[Variant]:
    """``count`` municipal variants, each base chain in turn."""
    from flowengine.definition.loader import load_workflow
    from flowengine.definition.model import content_hash

    bases = []
    for name in BASES:
        text = (ROOT / name).read_text(encoding="utf-8")
        bases.append((name, text, _walk(load_workflow(ROOT / name))))
    found = []
    for number in range(count):
        name, text, walk = bases[number % len(bases)]
        base_id = re.search(r"^id: (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]
        base_prefix = re.search(r"^prefix: (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]
        serial = number // len(bases)
        wid = f"{base_id}-{serial + 1:03d}"
        prefix = base_prefix[:4] + _LETTERS[serial // 26 % 26] + _LETTERS[serial % 26]
        own = re.sub(r"^id: \S+$", f"id: {wid}", text, count=1, flags=re.M)
        own = re.sub(r"^prefix: \S+$", f"prefix: {prefix}", own, count=1, flags=re.M)
        own = re.sub(r"^title: (.*)$", rf"title: \1 (municipality {number + 1})", own, count=1, flags=re.M)
        found.append(Variant(wid, prefix, own, f"national/{wid}.yaml", content_hash(own), walk))
    return found


def _walk(workflow: Any) -> Walk:
    """Moves weighted so that most proposals go forward: a step further from the start is likely,
    a step back (a loop) or out to an outcome other than implemented less so."""
    initial = workflow.initial_state.id
    depth = {initial: 0}
    frontier = [initial]
    while frontier:
        state = frontier.pop(0)
        for transition in workflow.transitions:
            if (state in transition.sources or transition.from_any) and transition.target not in depth:
                depth[transition.target] = depth[state] + 1
                frontier.append(transition.target)
    moves: dict[str, list[Move]] = {}
    for transition in workflow.transitions:
        sources = [s for s, st in workflow.states.items() if not st.final] if transition.from_any else \
            list(transition.sources)
        for source in sources:
            target = workflow.states[transition.target]
            if target.final:
                weight = 5.0 if target.outcome in ("implemented", "partially_implemented", "adopted") else 0.4
            elif depth.get(transition.target, 0) <= depth.get(source, 0):
                weight = 0.9  # back: a loop
            else:
                weight = 6.0
            moves.setdefault(source, []).append(Move(transition.trigger, transition.target, transition.roles,
                                                     transition.requires, transition.requires_comment, weight))
    first = next(t for t in workflow.transitions if initial in t.sources)
    return Walk(initial, {state: tuple(found) for state, found in moves.items()},
                {name: state.stage for name, state in workflow.states.items()},
                {name: (f.type, f.options) for name, f in workflow.fields.items()},
                first.roles[0], str(workflow.version))


@dataclass(frozen=True)
class Job:
    """Up to ``_CHUNK`` consecutive proposals of one variant, with everything needed to build them
    alone (so any process may): their creation times, first number and key, and their own seed."""

    variant: int  # index into the chosen variants
    first_number: int
    borns: tuple[int, ...]
    first_pk: int
    seed: str


def plan(chosen: list[Variant], proposals: int, seed: int) -> list[Job]:
    """The data set cut into jobs, in the order they are stored; the same arguments give the same jobs."""
    rng = random.Random(seed)
    first, last = _us(START), _us(END)
    share = [rng.lognormvariate(0.0, 0.8) for _ in chosen]  # municipalities differ in size
    total = sum(share)
    counts = [int(proposals * s / total) for s in share]
    for index in range(proposals - sum(counts)):
        counts[index % len(counts)] += 1
    jobs = []
    pk = 1
    for index, (variant, count) in enumerate(zip(chosen, counts, strict=True)):
        own = random.Random(f"{seed}:{variant.id}")
        borns = sorted(own.randrange(first, last - _DAY_US) for _ in range(count))
        for chunk, start in enumerate(range(0, count, _CHUNK)):
            part = tuple(borns[start:start + _CHUNK])
            jobs.append(Job(index, start + 1, part, pk, f"{seed}:{variant.id}:{chunk}"))
            pk += len(part)
    return jobs


def histories(chosen: list[Variant], proposals: int, seed: int) -> Iterator[tuple[Variant, int, list[Any], int]]:
    """(variant, number, built events, created µs) per proposal, oldest first within each variant;
    the same arguments give the same histories."""
    for job in plan(chosen, proposals, seed):
        yield from built(chosen, job)


def built(chosen: list[Variant], job: Job) -> Iterator[tuple[Variant, int, list[Any], int]]:
    """The histories of one job, each built and sealed by flowengine's step builder."""
    from flowengine.history.steps import ChainBuilder, creation_details

    rng = random.Random(job.seed)
    last = _us(END)
    variant = chosen[job.variant]
    walk = variant.walk
    for number, born in enumerate(job.borns, start=job.first_number):
        pid = f"{variant.prefix}-{number}"
        title = f"Proposal {number} of {variant.id}: " + rng.choice(_TOPICS)
        chain = ChainBuilder(pid)
        at = _moment(born)
        details = creation_details(title=title, description="", origin="User panel", workflow=variant.id,
                                   workflow_version=walk.version, definition=variant.digest)
        events = [chain.create(walk.initial, f"{walk.creator}-{rng.randrange(1, 9)}", walk.creator, at,
                               details=details, fields={}, comment="", at_iso=_iso(at))]
        _steps(rng, walk, chain, events, born, last)
        yield variant, number, events, born


def prepared(chosen: list[Variant], job: Job, dialect: str) -> Any:
    """One job's rows, ready for the loader of a ``dialect`` database (what a worker process returns)."""
    from flowengine.store.bulkload import prepare

    batch: list[Any] = []
    times: list[tuple[str, str, str]] = []
    for variant, number, events, _ in built(chosen, job):
        head = events[-1]
        entered = max((e for e in events if e.kind in ("created", "advanced")), key=lambda e: e.seq)
        fields: dict[str, Any] = {}
        for event in events:
            fields.update(event.changes)
        batch.append(((head.proposal, variant.prefix, number, variant.id, variant.digest, events[0].details["title"],
                       "", "User panel", head.to_state, fields, events[0].at, events[0].actor, head.at, entered.at,
                       head.seq, head.hash), events))
        times.append((events[0].at_iso, head.at_iso, entered.at_iso))
    return prepare(dialect, batch, times, job.first_pk)


_WORKER: dict[str, Any] = {}  # a worker process's variants and dialect, set once when it starts


def _start_worker(chosen: list[Variant], dialect: str) -> None:
    _WORKER["chosen"] = chosen
    _WORKER["dialect"] = dialect


def _work(job: Job) -> Any:
    return prepared(_WORKER["chosen"], job, _WORKER["dialect"])


def _prepared_in_order(chosen: list[Variant], jobs: list[Job], dialect: str, workers: int) -> Iterator[Any]:
    """Each job's rows in order: made here (``workers`` 0) or by worker processes, at most a few
    jobs ahead of the writer so memory stays bounded."""
    if workers <= 0:
        for job in jobs:
            yield prepared(chosen, job, dialect)
        return
    import multiprocessing

    # forked: the workers start with the variants already read, and never touch the database
    with multiprocessing.get_context("fork").Pool(workers, _start_worker, (chosen, dialect)) as pool:
        pending: deque[Any] = deque()
        for job in jobs:
            pending.append(pool.apply_async(_work, (job,)))
            if len(pending) >= 3 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _steps(rng: random.Random, walk: Walk, chain: Any, events: list[Any], born: int, end: int) -> None:
    from flowengine.history.records import ADVANCED, NOTED, PROGRESS

    state, entered = walk.initial, born
    while state in walk.moves:
        stage = walk.stages.get(state) or "administration"
        days = _MEDIAN_DAYS.get(stage, 30) * rng.lognormvariate(0.0, 0.6)
        if rng.random() < _STALL_SHARE:
            days *= rng.uniform(4.0, 12.0)  # a long stall
        leave = entered + int(days * _DAY_US) + rng.randrange(1, 1_000_000)
        moments = []
        if stage == "implementation":
            clock = entered
            while (clock := clock + int(rng.expovariate(1 / _PROGRESS_EVERY_DAYS) * _DAY_US) + 1) < min(leave, end):
                moments.append((clock, PROGRESS))
        if rng.random() < _NOTE_CHANCE:
            moments.append((entered + int((leave - entered) * rng.uniform(0.3, 0.9)), NOTED))
        for clock, kind in sorted(moments):
            if clock >= end:
                break
            at = _moment(clock)
            if kind == PROGRESS:
                events.append(chain.step(PROGRESS, "service-1", "service", at, details={
                    "percent": rng.randrange(5, 100, 5), "note": "", "milestone": None, "milestone_date": None},
                    at_iso=_iso(at)))
            else:
                events.append(chain.step(NOTED, "project-leader", "project_leader", at,
                                         comment="Asked again: still waiting", at_iso=_iso(at)))
        if leave >= end:
            return  # still open at the end
        choices = walk.moves[state]
        move = rng.choices(choices, weights=[m.weight for m in choices])[0]
        at = _moment(leave)
        changes = {name: _value(rng, *walk.fields.get(name, ("text", ()))) for name in move.requires}
        role = rng.choice(move.roles) if move.roles else "system"
        events.append(chain.step(ADVANCED, f"{role}-{rng.randrange(1, 9)}", role, at, trigger=move.trigger,
                                 to_state=move.target, comment=f"Reasons for {move.trigger}" if move.comment else "",
                                 changes=changes, at_iso=_iso(at)))
        state, entered = move.target, leave


def _value(rng: random.Random, kind: str, options: tuple[str, ...]) -> Any:
    if kind == "number":
        return rng.randrange(1000, 500_000, 500)
    if kind == "date":
        return "2019-06-01"
    if kind == "choice":
        return options[0] if options else "yes"
    if kind == "url":
        return "https://example.org/case"
    return "As decided"


_TOPICS = ("a meeting place in the centre", "clearer web information", "peer-support workers",
           "an open activity house", "a recovery college", "a user-run recovery centre",
           "a personal ombudsman", "an information portal", "evening opening hours", "a digital self-help service")


def build(target: str, *, scale: float = 1.0, municipalities: int = MUNICIPALITIES, seed: int = 1,
          workers: int = 0, report: Any = None) -> tuple[int, int]:
    """Write the data set into a new flowengine database (a SQLite path or a URL) in one bulk
    load; returns the numbers of proposals and events. ``workers``: processes building and
    sealing histories while this one writes (0: all here); the data set does not depend on it."""
    from flowengine.clock import system_clock
    from flowengine.store import migrate, queries
    from flowengine.store.bulkload import loading
    from flowengine.store.database import Database, resolve_url

    chosen = variants(municipalities)
    jobs = plan(chosen, max(1, round(PROPOSALS * scale)), seed)
    database = Database(resolve_url(target))
    try:
        migrate.ensure_schema(database)
        with database.write() as conn:
            if queries.workflows_in_use(conn):
                raise SystemExit(f"{target} already holds proposals; give a new database")
            stamp = system_clock()
            for variant in chosen:
                if not queries.has_definition(conn, variant.digest):
                    queries.insert_definition(conn, content_hash=variant.digest, workflow=variant.id,
                                              version=variant.walk.version, source=variant.source, text=variant.text,
                                              at=stamp)
        with loading(database) as loader:
            for rows in _prepared_in_order(chosen, jobs, database.dialect, workers):
                loader.write_prepared(rows)
                if report:
                    report(loader.proposals, loader.events)
    finally:
        database.dispose()
    return loader.proposals, loader.events


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _iso(moment: datetime) -> str:
    """``clock.iso_utc`` of an aware UTC time: ``2016-01-01T00:00:00.000000Z``."""
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a new SQLite file or a PostgreSQL URL")
    parser.add_argument("--scale", type=float, default=1.0, help="share of 1,000,000 proposals (default 1)")
    parser.add_argument("--municipalities", type=int, default=MUNICIPALITIES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes building and sealing histories while the main one writes "
                             "(default: one per core; 0: all in one process); the data set is the same")
    args = parser.parse_args(argv)
    if "://" not in args.db and Path(args.db).exists():
        parser.error(f"{args.db} exists; remove it first")
    started = time.perf_counter()

    shown = [0]

    def report(proposals: int, events: int) -> None:
        if proposals - shown[0] >= 50_000:
            shown[0] = proposals
            rate = events / (time.perf_counter() - started)
            print(f"{proposals} proposals, {events} events ({rate:,.0f} events/s)", file=sys.stderr)

    cpu = time.process_time()
    proposals, events = build(args.db, scale=args.scale, municipalities=args.municipalities, seed=args.seed,
                              workers=args.workers, report=report)
    took = time.perf_counter() - started
    print(f"wrote {args.db}: {args.municipalities} workflows, {proposals} proposals, {events} events in {took:.0f} s "
          f"({events / took:,.0f} events/s; {args.workers} worker processes; this process's CPU "
          f"{time.process_time() - cpu:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
