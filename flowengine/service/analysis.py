"""Where proposals stall, per workflow, for the façade: the declared workflows looked up, the
columnar analysis run over the store's index scans (see :mod:`flowengine.analysis.columnar`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from flowengine import collector
from flowengine.clock import as_utc
from flowengine.meter import Meter, no_meter
from flowengine.service.context import Engine
from flowengine.service.lookup import declared_workflows
from flowengine.store import queries, spreads

if TYPE_CHECKING:
    from flowengine.analysis.figures import Analysis
    from flowengine.analysis.provenance import Marks
    from flowengine.definition.model import Workflow


# The share of the readable proposals below which PostgreSQL walks the histories itself
# (flowengine.analysis.server) rather than hand the log to the client (flowengine.analysis.columnar).
# Measured on the national set (10M events, 650 workflows): walking all of it cost the server
# 112 s of CPU against 32 s for the reads of the column-wise path, the client's share the same
# (about 21 s, mostly per-workflow work); the reads are of the whole log whatever is asked, the
# walk's cost grows with what it walks — for one workflow of 2 % of the proposals 16 s wall and
# 64 MB against 28 s and 540 MB. A quarter leaves the walk the cases it wins by a margin.
WALK_SHARE = 0.25


def analyse(engine: Engine, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
            meter: Meter | None = None) -> list[Analysis]:
    meter = meter or no_meter
    moment = min(as_utc(as_of), engine.clock()) if as_of else engine.clock()
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        for workflow in workflows:
            perms.check_read(workflow)
        names = list(dict.fromkeys(workflows)) or perms.readable(queries.workflows_in_use(conn))
        # Asked for some workflows, PostgreSQL walks just theirs; asked for (nearly) all, the
        # client reads the log, which costs the server less than walking it (see WALK_SHARE).
        walk = bool(workflows) and engine.database.dialect == "postgresql" and (
            spreads.share(conn, names) < WALK_SHARE)
    if not names:
        return []
    # Everything made from here on lasts as long as the analyses (the definitions, the figures)
    # or is let go without cycles (the read text, the arrays): the collector's passes would only
    # cost time — a fifth of a national report's.
    with collector.paused():
        return _analysed(engine, names, moment, meter, walk=walk)


def _analysed(engine: Engine, names: Sequence[str], moment: datetime, meter: Meter, *, walk: bool) -> list[Analysis]:
    declared = declared_workflows(engine, names)
    found = (_on_the_server if walk else _columnar)(engine, declared, moment, meter)
    # The same instant in the reader's zone, so titles name the day they asked about.
    return [replace(analysis, as_of=analysis.as_of.astimezone()) for analysis in found]


def _columnar(engine: Engine, declared: Sequence[Workflow], moment: datetime, meter: Meter) -> list[Analysis]:
    """The events read into the client and analysed column-wise: on SQLite always; on
    PostgreSQL when most of the log is asked for, and for histories the server's walk does not
    follow (see :func:`_on_the_server`)."""
    from flowengine.analysis import preload, reference
    from flowengine.store import aggregates

    numpy_ready = preload.in_background("flowengine.analysis.columnar")
    with engine.database.read() as conn:
        # SQLite: a second reader on the second core (see aggregates.read; not on PostgreSQL).
        beside = engine.database.read if engine.database.dialect == "sqlite" else None
        reading = [aggregates.read(conn, moment, reference.answering(declared), meter, beside=beside)]
        numpy_ready()
        from flowengine.analysis.columnar import analyse_all

        # Handed over, not kept here: the analysis lets the read text go once it is parsed.
        return analyse_all(conn, declared, moment, meter, reading=reading.pop())


def _on_the_server(engine: Engine, declared: Sequence[Workflow], moment: datetime, meter: Meter) -> list[Analysis]:
    """PostgreSQL aggregates the figures itself (:mod:`flowengine.analysis.server`): a few rows
    per state come to the client, not every event. A workflow whose histories the walk does not
    follow (a migration's renamed stay, a step recorded before the one it follows, an undeclared
    state) is analysed column-wise."""
    from flowengine.analysis import server
    from flowengine.store import aggregates

    with engine.database.read() as conn:
        found = server.analyse_all(conn, declared, moment)
    meter(aggregates.PHASES + len(found))
    rest = [w for w in declared if w.id not in found]
    if rest:
        found.update((a.workflow.id, a) for a in _columnar(engine, rest, moment, meter))
    return [found[w.id] for w in declared]


def newest_step(engine: Engine, workflows: Sequence[str] = ()) -> datetime | None:
    """When the newest event of the workflows (all when none is named) happened, if any."""
    with engine.database.read() as conn:
        return queries.newest_step(conn, workflows)


def provenance_marks(engine: Engine, analyses: Sequence[Analysis]) -> dict[str, Marks]:
    """For histories rebuilt from a source (their steps record provenance): which kind of step
    each figure of each analysis rests on, by workflow id. Empty when no proposal of those
    workflows records one: the rows say so (migration 0004), so no event is read then."""
    from flowengine.analysis.provenance import marks

    with engine.database.read() as conn:
        marked = set(queries.workflows_with_provenance(conn, [a.workflow.id for a in analyses]))
        return {a.workflow.id: marks(a.workflow, queries.histories(conn, until=a.as_of, workflow=a.workflow.id),
                                     a.as_of)
                for a in analyses if a.workflow.id in marked}
