"""The per-state and per-transition spreads of the stall analysis, aggregated by PostgreSQL itself:
each workflow's count, median, 90th percentile and longest of the finished stays before each
step, without handing every event to the client.

A step's stay is its time minus that of the creation or step before it in its proposal's
history (migrations rename a stay, they do not end it), in days as the analysis computes them:
whole microseconds since 1970 (:func:`aggregates.MICROS`), their difference as a double, divided
by 10**6 and by 86,400, never below 0. The state is the step's source, the transition its
source, trigger and target. Medians and 90th percentiles are PostgreSQL's ``percentile_cont``,
which interpolates linearly between the two closest ranks at ``q * (n - 1)`` — the formula of
:func:`flowengine.analysis.figures.quantile` (numpy's default), with the same floating-point
operations, so the figures equal the Python analysis' to the last bit (a test holds them to it).

PostgreSQL only: SQLite has no ordered-set aggregates. Row-level security applies as to any
read: a member sees the workflows it may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from flowengine.clock import as_utc
from flowengine.errors import StoreError
from flowengine.history.records import ADVANCED, CREATED
from flowengine.i18n import t

STATE = "state"
TRANSITION = "transition"


@dataclass(frozen=True)
class SpreadRow:
    """One state's (``kind`` :data:`STATE`: trigger and target None) or one transition's stays."""

    workflow: str
    kind: str
    source: str
    trigger: str | None
    target: str | None
    count: int
    median: float
    p90: float
    max: float


_SPREADS = f"""
WITH entering AS (
    SELECT p.workflow, e.kind, e.from_state, e.trigger, e.to_state,
           round(extract(epoch FROM e.at) * 1000000)::bigint AS at_us,
           lag(round(extract(epoch FROM e.at) * 1000000)::bigint)
               OVER (PARTITION BY e.proposal_pk ORDER BY e.seq) AS before_us
    FROM events e JOIN proposals p ON p.pk = e.proposal_pk
    WHERE e.kind IN ('{CREATED}', '{ADVANCED}') AND e.at <= :until
      AND (CAST(:workflows AS text[]) IS NULL OR p.workflow = ANY(CAST(:workflows AS text[])))
), stays AS (
    SELECT workflow, from_state, trigger, to_state,
           greatest((at_us - before_us)::float8 / 1000000 / 86400, 0) AS days
    FROM entering WHERE kind = '{ADVANCED}' AND from_state IS NOT NULL
)
SELECT workflow, grouping(to_state), from_state, trigger, to_state, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days), percentile_cont(0.9) WITHIN GROUP (ORDER BY days),
       max(days)
FROM stays
GROUP BY GROUPING SETS ((workflow, from_state), (workflow, from_state, trigger, to_state))
"""


def spreads(conn: Connection, until: datetime, workflows: Sequence[str] | None = None) -> list[SpreadRow]:
    """Every state's and transition's spread of finished stays up to ``until`` (``workflows``:
    only these; default every one the login may read), sorted by workflow, kind and key."""
    if conn.dialect.name != "postgresql":
        raise StoreError(t("the stays are aggregated by the database on PostgreSQL only; on {dialect} the "
                           "analysis computes them", dialect=conn.dialect.name))
    rows = conn.execute(text(_SPREADS), {"until": as_utc(until),
                                         "workflows": list(workflows) if workflows is not None else None})
    found = [SpreadRow(workflow, STATE if per_state else TRANSITION, source, None if per_state else trigger,
                       None if per_state else target, int(count), float(median), float(p90), float(longest))
             for workflow, per_state, source, trigger, target, count, median, p90, longest in rows]
    return sorted(found, key=lambda r: (r.workflow, r.kind, r.source, r.trigger or "", r.target or ""))
