"""PostgreSQL's own aggregation of the per-state and per-transition stays (flowengine.store.spreads)
equals the Python analysis on a generated national database: every state's and transition's
count, median, 90th percentile and longest stay, bit for bit, at the end and part-way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowengine.errors import StoreError
from flowengine.service.facade import FlowEngine
from flowengine.store import spreads

from .conftest import FixedClock
from .test_national import national


@pytest.mark.postgresql_only
@pytest.mark.parametrize("until", [national.END, datetime(2019, 7, 1, tzinfo=UTC)])
def test_the_servers_per_state_and_transition_figures_are_the_analysis(db_target: str, until: datetime) -> None:
    national.build(db_target, scale=0.002, municipalities=12, seed=3)
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        analyses = engine.analyse(as_of=until)
        with engine.database.read() as conn:
            rows = spreads.spreads(conn, until)
            some = spreads.spreads(conn, until, [analyses[0].workflow.id])
    expected = []
    for analysis in analyses:
        wid = analysis.workflow.id
        expected += [spreads.SpreadRow(wid, spreads.STATE, s.state, None, None, s.passed.count, s.passed.median,
                                       s.passed.p90, s.passed.max)
                     for s in analysis.states if s.passed.count]
        expected += [spreads.SpreadRow(wid, spreads.TRANSITION, t.source, t.trigger, t.target, t.taken,
                                       t.days_before.median, t.days_before.p90, t.days_before.max)
                     for t in analysis.transitions if t.taken]
    expected.sort(key=lambda r: (r.workflow, r.kind, r.source, r.trigger or "", r.target or ""))
    assert len(analyses) == 12 and len(rows) > 200
    assert rows == expected  # floats compared exactly: the same arithmetic on the same ranks
    assert some == [row for row in rows if row.workflow == analyses[0].workflow.id]


def test_sqlite_leaves_the_stays_to_the_analysis(tmp_path: Path) -> None:
    with FlowEngine.open(str(tmp_path / "f.db")) as engine, engine.database.read() as conn, \
            pytest.raises(StoreError, match="PostgreSQL only; on sqlite the analysis computes them"):
        spreads.spreads(conn, national.END)
