"""Synthetic proposal histories for benchmarks: seeded, deterministic, valid hash chains.

    python bench/synthetic.py --proposals 100000 --seed 1 --db out/synthetic.db --csv out/synthetic.csv

Proposals run on ``bench/synthetic-chain.yaml`` (the generic chain with a pilot, twelve-odd
states): they are sent back to the panel, escalated, returned to the administration and sent
back from evaluation to implementation; some stall for a long time; implementations record
progress; every outcome occurs, and proposals created late (or stalled) are still open at
the end. About ten events per proposal, so 100,000 proposals make about a million events.

For other benchmarks and tests, the API is four functions:

- :func:`generate` ``(proposals, seed) -> Iterator[(Proposal, [Event])]``: the histories, each
  event sealed into its proposal's hash chain exactly as the engine seals it;
- :func:`write_sqlite` ``(path, proposals, seed)``: a flowengine database of them (the real
  schema, then plain ``executemany`` of precomputed rows), which ``flowengine audit verify``
  accepts;
- :func:`write_database` ``(target, histories)``: the same through the store's own statements,
  into any flowengine database (SQLite or PostgreSQL); for tests and small sizes;
- :func:`write_csv` ``(path, histories)``: the same log as CSV, one row per state entered
  (``case:concept:name``, ``concept:name``, ``time:timestamp``), for PM4Py and pandas.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORKFLOW_FILE = Path(__file__).resolve().parent / "synthetic-chain.yaml"
WORKFLOW_ID = "synthetic-chain"
PREFIX = "SYN"
START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)  # no event after this: analyse "as of" this moment
SYSTEM = "system"
GENESIS = "0" * 64
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Typical days in each open state (a log-normal around it), and the next steps with weights.
_MEDIAN_DAYS = {"panel_work": 40, "council_review": 25, "administration_review": 45, "political_review": 60,
                "pilot": 70, "implementation": 120, "evaluation": 60}
_NEXT: dict[str, tuple[tuple[str, str, float], ...]] = {  # (trigger, target, weight)
    "panel_work": (("send_to_council", "council_review", 96), ("withdraw", "withdrawn", 4)),
    "council_review": (("recommend", "administration_review", 72), ("send_back", "panel_work", 12),
                       ("reject", "rejected", 7), ("park", "parked", 5), ("withdraw", "withdrawn", 4)),
    "administration_review": (("send_to_politicians", "political_review", 40), ("decide", "pilot", 28),
                              ("send_back", "panel_work", 7), ("escalate", "council_review", 7),
                              ("reject", "rejected", 8), ("park", "parked", 5), ("transfer", "transferred", 3),
                              ("withdraw", "withdrawn", 2)),
    "political_review": (("adopt", "pilot", 70), ("return_to_administration", "administration_review", 10),
                         ("send_back", "panel_work", 5), ("reject", "rejected", 10), ("park", "parked", 5)),
    "pilot": (("scale_up", "implementation", 85), ("park", "parked", 10), ("withdraw", "withdrawn", 5)),
    "implementation": (("start_evaluation", "evaluation", 88), ("park", "parked", 10), ("withdraw", "withdrawn", 2)),
    "evaluation": (("confirm_implemented", "implemented", 65), ("confirm_partial", "partially_implemented", 20),
                   ("continue_implementation", "implementation", 15)),
}
_ROLE = {"send_to_council": "panel", "recommend": "council", "send_to_politicians": "administration",
         "decide": "administration", "adopt": "politician", "scale_up": "service", "start_evaluation": "service",
         "confirm_implemented": "evaluator", "confirm_partial": "evaluator", "escalate": SYSTEM,
         "return_to_administration": "politician", "continue_implementation": "evaluator", "transfer": "administration",
         "withdraw": "panel"}
_BY_SOURCE = {"council_review": "council", "administration_review": "administration",
              "political_review": "politician", "pilot": "service", "implementation": "service"}
_COMMENTED = {"decide", "adopt", "confirm_implemented", "confirm_partial", "send_back", "escalate",
              "return_to_administration", "continue_implementation", "reject", "park", "transfer", "withdraw"}
_PROGRESS_EVERY_DAYS = {"pilot": 25.0, "implementation": 28.0}  # mean gap between progress records
_STALL_SHARE = 0.06  # stays that last many times longer than usual
_ENTERING = ("created", "advanced")  # the events that enter a state: the CSV's rows


@dataclass(frozen=True)
class _Step:
    kind: str
    trigger: str | None
    source: str | None
    target: str
    role: str
    at: int  # microseconds since 1970 (UTC)
    comment: str
    changes: dict[str, Any]
    details: dict[str, Any]


def workflow_text() -> str:
    return WORKFLOW_FILE.read_text(encoding="utf-8")


def generate(proposals: int, seed: int, *, start: datetime = START,
             end: datetime = END) -> Iterator[tuple[Any, list[Any]]]:
    """``proposals`` histories as (Proposal, [Event]) of :mod:`flowengine.history.records`, oldest first,
    each event hash-chained as the engine does it. The same arguments give the same histories."""
    from flowengine.definition.model import content_hash
    from flowengine.history.records import Event, Proposal
    from flowengine.history.steps import ChainBuilder

    text = workflow_text()
    definition = content_hash(text)
    rng = random.Random(seed)
    first, last = _us(start), _us(end)
    created = sorted(rng.randrange(first, last - _DAY_US) for _ in range(proposals))
    for number, born in enumerate(created, start=1):
        pid = f"{PREFIX}-{number}"
        title = f"Synthetic proposal {number}"
        steps = _simulate(rng, born, last, title, definition)
        chain = ChainBuilder(pid)
        events: list[Event] = []
        fields: dict[str, Any] = {}
        for step in steps:
            actor = SYSTEM if step.role == SYSTEM else f"{step.role}-{rng.randrange(1, 9)}"
            at = _moment(step.at)
            if step.kind == "created":
                row = chain.create(step.target, actor, step.role, at, details=step.details, fields=step.changes,
                                   comment=step.comment, at_iso=_iso(at))
            else:
                row = chain.step(step.kind, actor, step.role, at, trigger=step.trigger, to_state=step.target,
                                 comment=step.comment, changes=step.changes, details=step.details, at_iso=_iso(at))
            events.append(row.event())
            fields.update(step.changes)
        head = events[-1]
        yield Proposal(
            id=pid, workflow=WORKFLOW_ID, workflow_version="1", definition_hash=definition, title=title,
            description="", origin="Synthetic user panel", state=head.to_state, fields=fields,
            created_at=events[0].at, updated_at=head.at, state_entered_at=chain.entered_at or head.at, version=head.seq,
            head_hash=head.hash, created_by=events[0].actor,
        ), events


def _simulate(rng: random.Random, born: int, end: int, title: str, definition: str) -> list[_Step]:
    """One proposal's steps up to ``end``: a walk over :data:`_NEXT` with log-normal stays."""
    steps = [_Step("created", None, None, "panel_work", "panel", born, "", {"summary": f"{title}: an idea"},
                   {"title": title, "description": "", "origin": "Synthetic user panel", "workflow": WORKFLOW_ID,
                    "workflow_version": "1", "definition": definition})]
    state, entered = "panel_work", born
    while state in _NEXT:
        choices = _NEXT[state]
        trigger, target, _ = rng.choices(choices, weights=[w for _, _, w in choices])[0]
        days = _MEDIAN_DAYS[state] * rng.lognormvariate(0.0, 0.6)
        if rng.random() < _STALL_SHARE:
            days *= rng.uniform(4.0, 12.0)  # a long stall
        if trigger == "escalate":
            days = 90.0  # tick escalates after exactly 90 days
        leave = entered + int(days * _DAY_US) + rng.randrange(0, 1_000_000)
        clock = entered
        if state in _PROGRESS_EVERY_DAYS:  # progress records while implementing, some far apart
            while True:
                clock += int(rng.expovariate(1.0 / _PROGRESS_EVERY_DAYS[state]) * _DAY_US) + 1
                if clock >= min(leave, end):
                    break
                steps.append(_Step("progress", None, state, state, "service", clock, "", {},
                                   {"percent": rng.randrange(5, 100, 5), "note": "", "milestone": None,
                                    "milestone_date": None}))
        if rng.random() < 0.03 and entered + _DAY_US < min(leave, end):  # a correction of the summary
            steps.append(_Step("fields_set", None, state, state, "project_leader", entered + _DAY_US // 2, "",
                               {"summary": f"{title}: revised"}, {}))
            steps.sort(key=lambda s: s.at)  # among this stay's progress records
        if leave > end:
            break  # still open at the end
        role = _BY_SOURCE.get(state, "panel") if trigger in ("reject", "park", "send_back") else _ROLE[trigger]
        comment = ""
        if trigger in _COMMENTED:
            comment = ("Escalated automatically: 90 days in 'administration_review' without a decision"
                       if trigger == "escalate" else f"Reasons for {trigger}")
        steps.append(_Step("advanced", trigger, state, target, role, leave, comment, {}, {}))
        state, entered = target, leave
    return steps


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _iso(moment: datetime) -> str:
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond:06d}Z")


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a naive UTC datetime in SQLite."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond:06d}")


def write_sqlite(path: Path, proposals: int, seed: int, *, start: datetime = START, end: datetime = END,
                 histories: Iterable[tuple[Any, list[Any]]] | None = None) -> int:
    """A new flowengine database at ``path`` holding the generated histories; returns the number
    of events. The schema comes from flowengine's own migrations; the rows go in with executemany."""
    from flowengine.store import migrate
    from flowengine.store.database import Database

    if path.exists():
        raise FileExistsError(f"{path} exists; remove it first")
    database = Database(f"sqlite:///{path}")
    try:
        migrate.ensure_schema(database)
    finally:
        database.dispose()
    text = workflow_text()
    count = 0
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        stamp = _sqlite_time(start)
        chosen = generate(proposals, seed, start=start, end=end) if histories is None else histories
        first = True
        for batch in _batches(chosen, 2000):
            if first:
                proposal = batch[0][0]
                conn.execute("INSERT INTO definitions (content_hash, workflow, version, source, text, stored_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (proposal.definition_hash, WORKFLOW_ID, "1", "bench/synthetic-chain.yaml", text, stamp))
                first = False
            conn.executemany(
                "INSERT INTO proposals (pk, id, prefix, number, workflow, definition_hash, title, description, "
                "origin, state, fields, created_at, created_by, updated_at, state_entered_at, version, head_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(int(p.id.rpartition("-")[2]), p.id, PREFIX, int(p.id.rpartition("-")[2]), p.workflow,
                  p.definition_hash, p.title, p.description, p.origin, p.state, json.dumps(p.fields),
                  _sqlite_time(p.created_at), p.created_by, _sqlite_time(p.updated_at),
                  _sqlite_time(p.state_entered_at), p.version, p.head_hash) for p, _ in batch])
            rows = [(int(e.proposal.rpartition("-")[2]), e.seq, e.kind, e.trigger, e.from_state, e.to_state, e.actor,
                     e.role, _sqlite_time(e.at), _sqlite_time(e.entered_at), e.comment, json.dumps(e.changes),
                     json.dumps(e.details), e.idempotency_key, e.prev_hash, e.hash)
                    for _, events in batch for e in events]
            conn.executemany(
                "INSERT INTO events (proposal_pk, seq, kind, \"trigger\", from_state, to_state, actor, role, at, "
                "entered_at, comment, changes, details, idempotency_key, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            count += len(rows)
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    return count


def write_database(target: str, histories: Iterable[tuple[Any, list[Any]]], *, text: str | None = None,
                   source: str = "bench/synthetic-chain.yaml") -> int:
    """Store histories in any flowengine database (a SQLite path or a PostgreSQL URL) through the
    store's own statements, in one transaction; ``text`` is the definition they run under (the
    synthetic chain's by default). Slower than :func:`write_sqlite`: for tests and small sizes.
    Returns the number of events."""
    from flowengine.clock import system_clock
    from flowengine.definition.model import content_hash
    from flowengine.store import migrate, queries
    from flowengine.store.database import Database, resolve_url

    text = workflow_text() if text is None else text
    digest = content_hash(text)
    database = Database(resolve_url(target))
    count = 0
    try:
        migrate.ensure_schema(database)
        with database.write() as conn:
            for proposal, events in histories:
                if proposal.definition_hash != digest:
                    raise ValueError(f"{proposal.id} runs under {proposal.definition_hash[:12]}, not the text given")
                if not queries.has_definition(conn, digest):
                    queries.insert_definition(conn, content_hash=digest, workflow=proposal.workflow,
                                              version=proposal.workflow_version, source=source, text=text,
                                              at=system_clock())
                prefix, _, number = proposal.id.rpartition("-")
                pk = queries.insert_proposal(conn, proposal, prefix=prefix, number=int(number))
                for event in events:
                    queries.insert_event(conn, pk, event)
                count += len(events)
    finally:
        database.dispose()
    return count


def write_csv(path: Path, histories: Iterable[tuple[Any, list[Any]]]) -> int:
    """The log as process-mining tools read it: one row per state entered (creation and every
    step), ordered by case and time; returns the number of rows."""
    return sum(sum(1 for e in events if e.kind in _ENTERING) for _, events in written_to_csv(path, histories))


def written_to_csv(path: Path, histories: Iterable[tuple[Any, list[Any]]]) -> Iterator[tuple[Any, list[Any]]]:
    """The histories, passed on unchanged while their CSV rows are written to ``path``: one
    generation can feed both the database and the CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["case:concept:name", "concept:name", "time:timestamp", "trigger"])
        for proposal, events in histories:
            out.writerows([proposal.id, event.to_state, _iso(event.at), event.trigger or ""]
                          for event in events if event.kind in _ENTERING)
            yield proposal, events


def _batches(items: Iterable[tuple[Any, list[Any]]], size: int) -> Iterator[list[tuple[Any, list[Any]]]]:
    batch: list[tuple[Any, list[Any]]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="write a SQLite database here (must not exist)")
    parser.add_argument("--csv", type=Path, help="write the log as CSV here")
    args = parser.parse_args(argv)
    if not args.db and not args.csv:
        parser.error("give --db, --csv or both")
    started = time.perf_counter()
    histories = generate(args.proposals, args.seed)
    if args.csv:
        histories = written_to_csv(args.csv, histories)
    if args.db:
        events = write_sqlite(args.db, args.proposals, args.seed, histories=histories)
        print(f"wrote {args.db}: {args.proposals} proposals, {events} events", file=sys.stderr)
    else:
        for _ in histories:
            pass
    if args.csv:
        print(f"wrote {args.csv}", file=sys.stderr)
    print(f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
