"""Many workflows analysed at once: the log split by workflow in one pass, and what the
analyses ask of the database part-way (latest progress, who acted last) asked for a batch of
workflows in one statement each, not once per workflow.

A national database holds hundreds of workflows. Filtering the whole log for each one costs the
log's length times their number, and a statement per workflow and question costs a round trip
and, on PostgreSQL under row-level security, a pass of the policies each: 650 workflows made
about 1,300 statements. Here each :meth:`Figures.analysis <flowengine.analysis.columnar.figures.Figures.analysis>`
is a generator that yields what it needs; the workflows of a batch run until each waits, their
needs are merged into one statement per kind, and the answers are handed back. A batch holds
workflows up to :data:`BATCH_EVENTS` events, so the arrays of the workflows waiting at once
stay bounded however large the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from flowengine.analysis.columnar.arrays import EventColumns, Ints, event_columns, parse_ints, split_groups
from flowengine.analysis.columnar.figures import (
    LAST_HEARD,
    PROGRESS_SEQS,
    PROGRESS_TIMES,
    Analysing,
    Figures,
    Need,
)
from flowengine.analysis.figures import Analysis
from flowengine.analysis.reference import answering
from flowengine.clock import as_utc
from flowengine.definition.model import Workflow
from flowengine.meter import Meter, no_meter
from flowengine.store import Connection, aggregates

BATCH_EVENTS = 1_000_000  # events of the workflows analysed together (their arrays alive at once)


def analyse_all(conn: Connection, workflows: Sequence[Workflow], as_of: datetime, meter: Meter = no_meter, *,
                reading: aggregates.Reading | None = None) -> list[Analysis]:
    """The analysis of each workflow's proposals as of ``as_of``, as :func:`flowengine.analysis.reference.analyse`
    gives it; ``meter`` is told one unit per phase read (:data:`aggregates.PHASES`) and one per workflow.
    ``reading``: :func:`aggregates.read` of the same moment and workflows, when the caller has
    read it already (its meter then told the phases); its text is let go once parsed, so a caller
    should not keep a reference of its own (``reading=found.pop()``)."""
    moment = as_utc(as_of)
    if reading is None:
        reading = aggregates.read(conn, moment, answering(workflows), meter)
    time_format = aggregates.time_format(conn)
    members = {m.workflow: parse_ints(m.proposals, m.count) for m in reading.members}
    wanted = [members.get(workflow.id, np.zeros(0, dtype=np.int64)) for workflow in workflows]
    del members
    # The groups taken out of the reading, so that each one's text is let go once parsed.
    steps, answer_groups = list(reading.steps), list(reading.answers)
    del reading
    views = split_groups(steps, time_format, wanted)
    answers = split_groups(answer_groups, time_format, wanted, check=False)
    del wanted
    step_names = tuple(steps)
    found: list[Analysis | None] = [None] * len(workflows)
    batch: list[tuple[int, Analysing]] = []
    events = 0
    for index, workflow in enumerate(workflows):
        view, views[index] = views[index], None  # the batch holds it from here
        if view is None or not view.pk.size:
            found[index] = _reference(conn, workflow, moment)
            meter(1)
            continue
        answered = answers[index]
        assert answered is not None  # unchecked views are never None
        batch.append((index, Figures(workflow, moment, step_names, view, answer_groups, answered).analysis()))
        events += view.pk.size
        if events >= BATCH_EVENTS:
            _run(conn, moment, batch, found, meter)
            batch, events = [], 0
    _run(conn, moment, batch, found, meter)
    return [analysis for analysis in found if analysis is not None]


def _reference(conn: Connection, workflow: Workflow, moment: datetime) -> Analysis:
    from flowengine.analysis.reference import analyse
    from flowengine.store import queries

    return analyse(workflow, queries.trails(conn, until=moment, workflow=workflow.id), moment)


def _run(conn: Connection, moment: datetime, batch: list[tuple[int, Analysing]], found: list[Analysis | None],
         meter: Meter) -> None:
    """Run a batch's analyses to their end, meeting their needs kind by kind, one statement each."""
    waiting: list[tuple[int, Analysing, Need]] = []

    def resume(index: int, analysing: Analysing, answer: Any) -> None:
        try:
            need = analysing.send(answer)
        except StopIteration as done:
            found[index] = done.value
            meter(1)
        else:
            waiting.append((index, analysing, need))

    for index, analysing in batch:
        resume(index, analysing, None)
    while waiting:
        kind = waiting[0][2].kind
        now = [entry for entry in waiting if entry[2].kind == kind]
        waiting[:] = [entry for entry in waiting if entry[2].kind != kind]
        answer = _read(conn, moment, kind, np.concatenate([need.pks for _, _, need in now]))
        for index, analysing, _ in now:
            resume(index, analysing, answer)


def _read(conn: Connection, moment: datetime, kind: str, pks: Ints) -> EventColumns | dict[int, aggregates.Current]:
    """What ``kind`` of need asks for these proposals (of several workflows): each analysis picks its own."""
    wanted = pks.tolist()
    if kind == LAST_HEARD:
        return aggregates.current(conn, wanted, moment)
    read = aggregates.latest_progress_seqs if kind == PROGRESS_SEQS else aggregates.latest_progress
    assert kind in (PROGRESS_TIMES, PROGRESS_SEQS)
    return event_columns(read(conn, moment, wanted), aggregates.time_format(conn))

