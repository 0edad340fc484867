"""The export streams: the memory it needs does not grow with the number of events.

Measured with tracemalloc (Python's own allocations, which is where a log gathered in memory
would show), never with a clock: the peak while exporting ten times as many events stays
within a bound of the peak for the smaller log, for every format (OCEL's two passes too).
Rows are fetched in small batches here, so that both logs span many of them: what is bounded
is then the memory of one batch, whatever the number of events.
"""

from __future__ import annotations

import io
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest

from flowengine.eventlog.export import ExportOptions, export_log
from flowengine.history import chain
from flowengine.history.records import ADVANCED, FIELDS_SET, Actor, Event, Proposal
from flowengine.service.facade import FlowEngine
from flowengine.store import eventstream, queries
from flowengine.store.database import Database, resolve_url

from .conftest import FixedClock
from .export_support import T0, at, write_workflows

EVENTS_PER_PROPOSAL = 10
SMALL_LOG = 300  # events; the larger log has ten times as many
BATCH = 30  # rows fetched at a time: small, so that even the smaller log takes many batches
ALLOWED_GROWTH = 1.25  # the larger log's peak may be at most this times the smaller one's, plus slack
SLACK_BYTES = 64 * 1024
PEOPLE = tuple(Actor(f"person {n}", "panel") for n in range(5))


class Sink(io.TextIOBase):
    """Standard output that keeps nothing: what is written is counted and dropped."""

    def __init__(self) -> None:
        self.characters = 0

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)


def template(target: str, folder: Path) -> tuple[Proposal, Event]:
    """One proposal registered through the service: its definition is stored, its rows are a model."""
    with FlowEngine.open(target, workflow_dirs=[write_workflows(folder)], clock=FixedClock(T0)) as flow:
        created = flow.new_proposal("small", title="Template", actor=PEOPLE[0], fields={"summary": "x"}, at=at(0))
    assert created.event is not None
    return created.proposal, created.event


def add_events(target: str, model: tuple[Proposal, Event], first_number: int, events: int) -> None:
    """``events`` more events, in proposals of ten numbered from ``first_number``, written straight
    to the tables (the service would take minutes for this many); the export reads the tables as
    they are, so that is all it needs."""
    proposal, first = model
    with Database(resolve_url(target)) as database, database.write() as conn:
        for number in range(first_number, first_number + events // EVENTS_PER_PROPOSAL):
            pid = f"SML-{number}"
            pk = queries.insert_proposal(conn, replace(proposal, id=pid, title=f"Proposal {number} " + "t" * 80),
                                         prefix="SML", number=number)
            prev_hash = chain.GENESIS
            for seq in range(1, EVENTS_PER_PROPOSAL + 1):
                actor = PEOPLE[(number + seq) % len(PEOPLE)]
                kind = first.kind if seq == 1 else (ADVANCED if seq % 2 else FIELDS_SET)
                event = replace(first, proposal=pid, seq=seq, kind=kind, from_state=None if seq == 1 else "draft",
                                actor=actor.name, role=actor.role, at=at(seq),
                                comment=f"comment {seq} of {pid} " + "c" * 200,
                                changes={"summary": "s" * 100, "cost": seq}, prev_hash=prev_hash,
                                hash=f"{number:032d}{seq:032d}")
                queries.insert_event(conn, pk, event)
                prev_hash = event.hash


def peak_while_exporting(target: str, fmt: str, options: ExportOptions, *, warm_up: bool = False) -> int:
    with Database(resolve_url(target)) as database:
        if warm_up:  # once first, untraced: caches, compiled statements, imports
            export_log(database, Sink(), fmt, options)
        tracemalloc.start()
        try:
            sink = Sink()
            export_log(database, sink, fmt, options)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sink.characters > 0
    return peak


@pytest.mark.parametrize(("fmt", "pseudonymise"), [("csv", False), ("xes", False), ("ocel", False),
                                                    ("ocel", True)])
def test_exporting_ten_times_the_events_needs_no_more_memory(db_target: str, tmp_path: Path, fmt: str,
                                                              pseudonymise: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventstream, "BATCH_ROWS", BATCH)
    options = ExportOptions(pseudonymise=pseudonymise)
    model = template(db_target, tmp_path / "workflows")
    add_events(db_target, model, 2, SMALL_LOG)
    small = peak_while_exporting(db_target, fmt, options, warm_up=True)
    add_events(db_target, model, 2 + SMALL_LOG // EVENTS_PER_PROPOSAL, 9 * SMALL_LOG)
    big = peak_while_exporting(db_target, fmt, options, warm_up=True)
    assert big <= small * ALLOWED_GROWTH + SLACK_BYTES, (small, big)
