"""The stall analysis' figures aggregated by PostgreSQL itself: each workflow's spreads of stays
(per state, transition and stage, current waits, the feedback loop), its counts (entered and
left per month, loops, where proposals are now and how far they got) and the open proposals
that may be over their limit, in one statement, without handing every event to the client.

One pass over the creations and steps up to the moment, in each proposal's order, does what the
reference's walk does (:func:`flowengine.analysis.reference.analyse`):

- a step's stay is its time minus that of the creation or step before it, in days as the
  analysis computes them: whole microseconds since 1970, their difference as a double, divided
  by 10**6 and by 86,400, never below 0; the state is the step's source, the transition its
  source, trigger and target;
- a stage stay runs from the step that entered a stage to the one that left it; the feedback
  loop takes each proposal's first commented answering step (by sequence number), the funnel
  its furthest stage, a loop is a step to a state earlier in the chain;
- medians and 90th percentiles are ``percentile_cont``, which interpolates linearly between the
  two closest ranks at ``q * (n - 1)`` — the formula of :func:`flowengine.analysis.figures.quantile`
  (numpy's default), with the same floating-point operations, so the figures equal the Python
  analysis' to the last bit (tests hold them to it).

What the statement must know of the definitions — each state's stage, place in the funnel and
the chain, whether it is final or answers the panel, the least time after which a proposal in it
can be over its limit — it is handed as arrays (:class:`Shape`); the store knows no workflow.
Histories with migrations (a renamed stay) are not walked here: :func:`migrated` names their
workflows, which the Python analysis takes.

The walk costs the server about a microsecond of CPU per event and operator (the sort into each
proposal's order, two window passes, the grouped sorts of the percentiles): more than the
column-wise path's reads of the same log, less than those reads when only a few workflows are
asked, which that path reads the whole log for. ``flowengine.service.analysis`` decides.

PostgreSQL only: SQLite has no ordered-set aggregates. Row-level security applies as to any
read: a member sees the workflows it may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from flowengine.clock import as_utc
from flowengine.errors import StoreError
from flowengine.history.records import ADVANCED, CREATED, MIGRATED, PROGRESS, SYSTEM
from flowengine.i18n import t

STATE = "state"  # steps (their stays in the source state), current waits: by state; in detail by transition
STAGE = "stage"  # stage stays ended by a change of stage, current stage stays: by stage code
ANSWER = "answer"  # per proposal, days to its first reasoned answer, or waiting for one
END = "end"  # per proposal, in detail: furthest funnel code, current state, flags (EVALUATED, IN_PROGRESS)
OPEN = "open"  # in detail: an open proposal past the least limit of its state, its pk and clock
UNFOLLOWED = "unfollowed"  # a history the walk does not follow: see :func:`figures`
ENTERED = "entered"
LEFT = "left"
EVALUATED = "e"  # flags of an END row: reached the evaluation stage
IN_PROGRESS = "p"  # open, in the implementation stage, progress recorded in this stay
LOOP = "loop"  # in detail: steps back from a state (k1) to an earlier one (k3)
LOOPED = "looped"  # in detail: proposals that took such a step
_CATS = (STATE, STAGE, ANSWER, END, OPEN, UNFOLLOWED, LOOP, LOOPED, ENTERED, LEFT)  # numbered from 1
_STAGE_SPAN = 16  # a stage key is the workflow's index times this, plus the stage code plus one

Stats = tuple[int, float | None, float | None, float | None]  # count, median, 90th percentile, max


@dataclass(frozen=True)
class StateShape:
    """What the statement knows of one state of one workflow. ``stage``: a code, equal for
    states of one stage (-1: none — final, undeclared or without a stage); ``funnel``: the index
    of its stage in the funnel (-1: none); ``rank``: its place in the chain, a step to a lower one
    goes back (None: out of the chain); ``least_us``: a proposal in it is over its deadline no
    sooner than this long after entering it (None: it has no deadline; then the p90 of its
    finished stays may be its limit, which is checked by the caller)."""

    workflow: str
    state: str
    stage: int
    funnel: int
    final: bool
    rank: int | None
    answers: bool
    least_us: int | None = None


@dataclass(frozen=True)
class Shape:
    """The definitions as the statement needs them: every state, the (workflow, source, trigger,
    target) of the steps that answer the panel when commented (besides any step into a state that
    ``answers``), and the codes of the implementation and evaluation stages."""

    states: Sequence[StateShape]
    answering: Sequence[tuple[str, str, str, str]]
    implementation: int
    evaluation: int


@dataclass(frozen=True)
class Group:
    """One group of the walk: ``cat`` (:data:`STATE`, :data:`STAGE`, :data:`ANSWER`, :data:`END`,
    :data:`OPEN`, :data:`UNFOLLOWED`) keyed by ``k1``, in ``detail`` also by ``k2`` and ``k3``;
    ``rows`` in it; the spreads of its finished stays (``done``), of its current waits
    (``waiting``) and of both (``both``)."""

    workflow: str
    cat: str
    k1: str | None
    k2: str | None
    k3: str | None
    detail: bool
    rows: int
    done: Stats
    waiting: Stats
    both: Stats


@dataclass(frozen=True)
class Loop:
    workflow: str
    source: str
    target: str
    times: int
    proposals: int


@dataclass
class ServerFigures:
    groups: list[Group] = field(default_factory=list)
    # (workflow, ENTERED or LEFT, state) → month ("YYYY-MM", UTC) → stays entered or left in it
    monthly: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    loops: list[Loop] = field(default_factory=list)


_MICROS = "round(extract(epoch FROM {}) * 1000000)::bigint"
_DAYS = "greatest(({} - {})::float8 / 1000000 / 86400, 0)"
_SHAPE = """
shape AS (
    SELECT * FROM unnest(CAST(:s_name AS text[]), CAST(:s_workflow AS int[]), CAST(:s_state AS text[]),
                         CAST(:s_stage AS int[]), CAST(:s_funnel AS int[]), CAST(:s_final AS bool[]),
                         CAST(:s_answers AS bool[]), CAST(:s_least AS bigint[]), CAST(:s_rank AS int[]))
        WITH ORDINALITY AS s(workflow, wid, state, stage, funnel, final, answers, least_us, rank, sid)
)"""
_SPREADS = "count(v.days){f}, percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY v.days){f}, max(v.days){f}"

# Keys are numbers, not names: a state is its place in the shape (``sid``, which names its
# workflow too), so the statement's sorts compare integers. The steps are joined to the shape by
# hash (the only join of the events), then put in each proposal's order once for both windows.
_WALK = f"""
WITH {_SHAPE}, answering AS (
    SELECT * FROM unnest(CAST(:a_source AS bigint[]), CAST(:a_trigger AS text[]), CAST(:a_target AS bigint[]))
        AS a(source, trigger, target)
), entering AS (
    SELECT e.proposal_pk AS pk, e.seq, e.kind = '{ADVANCED}' AS step, e.from_state, e.trigger, e.to_state,
           {_MICROS.format('e.at')} AS at_us, t.sid, t.wid, coalesce(t.stage, -1) AS stage,
           coalesce(t.funnel, -1) AS funnel, coalesce(t.final, false) AS final, t.least_us,
           t.least_us IS NULL AS p90_limit, coalesce(t.answers, false) AS answers, t.rank,
           extract(epoch FROM date_trunc('month', e.at AT TIME ZONE 'UTC'))::bigint AS month_s,
           e.kind = '{ADVANCED}' AND e.comment <> '' AND e.role <> '{SYSTEM}' AS commented
    FROM events e JOIN proposals p ON p.pk = e.proposal_pk
         LEFT JOIN shape t ON t.workflow = p.workflow AND t.state = e.to_state
    WHERE e.kind IN ('{CREATED}', '{ADVANCED}') AND e.at <= :until AND p.workflow = ANY(CAST(:workflows AS text[]))
), stepped AS (
    SELECT n.*, lag(n.sid) OVER w AS from_sid, lag(n.rank) OVER w AS from_rank, lag(n.at_us) OVER w AS before_us,
           lag(n.stage) OVER w AS stage_before, lead(n.seq) OVER w IS NULL AS last,
           first_value(n.at_us) OVER w AS created_us,
           n.sid IS NULL OR (n.step AND n.from_state IS DISTINCT FROM lag(n.to_state) OVER w) AS unfollowed,
           n.commented AND (n.answers OR (lag(n.sid) OVER w, n.trigger, n.sid) IN (
               SELECT source, trigger, target FROM answering)) AS answer
    FROM entering n WINDOW w AS (PARTITION BY n.pk ORDER BY n.seq)
), walked AS MATERIALIZED (
    SELECT s.pk, s.seq, s.step, s.trigger, s.at_us, s.sid, s.wid, s.stage, s.final, s.least_us, s.p90_limit,
           s.from_sid, s.before_us, s.stage_before, s.last, s.created_us, s.unfollowed, s.month_s,
           s.step AND s.rank < s.from_rank AS back,
           s.stage_before IS DISTINCT FROM s.stage AS changed,
           max(CASE WHEN s.stage_before IS DISTINCT FROM s.stage THEN s.at_us END) OVER w AS run_began,
           greatest(s.funnel, max(s.funnel) OVER w) AS furthest,
           coalesce(bool_or(s.stage = :evaluation) OVER w, false) OR s.stage = :evaluation AS evaluated,
           coalesce(min(CASE WHEN s.answer THEN s.at_us END) OVER w, CASE WHEN s.answer THEN s.at_us END) AS answered_us
    FROM stepped s WINDOW w AS (PARTITION BY s.pk ORDER BY s.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT v.cat, v.k1, v.k2, v.k3, grouping(v.k2, v.k3) = 0, count(*),
       {_SPREADS.format(f=' FILTER (WHERE NOT v.waiting)')}, {_SPREADS.format(f=' FILTER (WHERE v.waiting)')},
       {_SPREADS.format(f='')}
FROM (
    -- each step: its stay in its source state
    SELECT 1 AS cat, x.from_sid AS k1, coalesce(x.trigger, '') AS k2, x.sid AS k3,
           {_DAYS.format('x.at_us', 'x.before_us')} AS days, false AS waiting
    FROM walked x WHERE x.step
    UNION ALL  -- each change of stage: the stage stay it ends
    SELECT 2, x.wid * {_STAGE_SPAN} + x.stage_before + 1, NULL, NULL, {_DAYS.format('x.at_us', 'x.run_began')}, false
    FROM walked x WHERE x.changed AND x.stage_before <> -1
    UNION ALL  -- each step back in the chain, and once per proposal and pair of states
    SELECT 7, x.from_sid, NULL, x.sid, NULL, false FROM walked x WHERE x.back
    UNION ALL
    SELECT 8, d.from_sid, NULL, d.sid, NULL, false
    FROM (SELECT DISTINCT x.pk, x.from_sid, x.sid FROM walked x WHERE x.back) AS d
    UNION ALL  -- stays entered and left, by month (its first second, since 1970)
    SELECT 9, x.sid, NULL, x.month_s, NULL, false FROM walked x
    UNION ALL
    SELECT 10, x.from_sid, NULL, x.month_s, NULL, false FROM walked x WHERE x.step
    UNION ALL  -- a step recorded before the one it follows, or one the walk cannot place
    SELECT 6, array_position(CAST(:workflows AS text[]), p.workflow::text), NULL, NULL, NULL, false
    FROM walked x JOIN proposals p ON p.pk = x.pk WHERE x.at_us < x.before_us OR x.unfollowed
    UNION ALL  -- each proposal: where it waits, its feedback, how far it got, whether it may be over its limit
    SELECT v.cat, v.k1, v.k2, v.k3, v.days, v.waiting
    FROM walked x CROSS JOIN LATERAL (VALUES
        (CASE WHEN NOT x.final THEN 1 END, x.sid, NULL, NULL::bigint, {_DAYS.format(':now_us', 'x.at_us')}, true),
        (CASE WHEN NOT x.final AND x.stage <> -1 THEN 2 END, x.wid * {_STAGE_SPAN} + x.stage + 1, NULL, NULL,
         {_DAYS.format(':now_us', 'CASE WHEN x.changed THEN x.at_us ELSE x.run_began END')}, true),
        (3, x.wid, NULL, NULL,
         CASE WHEN x.answered_us IS NULL THEN {_DAYS.format(':now_us', 'x.created_us')}
              ELSE {_DAYS.format('x.answered_us', 'x.created_us')} END, x.answered_us IS NULL),
        (4, x.sid, CASE WHEN x.evaluated THEN '{EVALUATED}' ELSE '' END
         || CASE WHEN NOT x.final AND x.stage = :implementation AND EXISTS (
                SELECT FROM events y WHERE y.proposal_pk = x.pk AND y.kind = '{PROGRESS}' AND y.seq > x.seq
                                       AND y.at <= :until) THEN '{IN_PROGRESS}' ELSE '' END, x.furthest, NULL, false),
        (CASE WHEN NOT x.final AND (x.p90_limit OR :now_us - x.at_us > x.least_us) THEN 5 END,
         x.sid, coalesce(CASE WHEN x.stage = :implementation THEN (
                SELECT {_MICROS.format('y.at')} FROM events y
                WHERE y.proposal_pk = x.pk AND y.kind = '{PROGRESS}' AND y.seq > x.seq AND y.at <= :until
                ORDER BY y.seq DESC LIMIT 1) END, x.at_us)::text, x.pk, NULL, false)
    ) AS v(cat, k1, k2, k3, days, waiting)
    WHERE x.last AND v.cat IS NOT NULL
) AS v
GROUP BY GROUPING SETS ((v.cat, v.k1), (v.cat, v.k1, v.k2, v.k3))
"""

# For the walk's transaction alone (both end with it): at least 256 MB for each sort — a DBA's
# larger work_mem for the login stands —, and the shape looked up by hash, not by a sort of every
# event on its workflow and state names (which the planner would otherwise pick).
_SETTINGS = ("SELECT set_config('work_mem', '256MB', true) "
             "WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('256MB')",
             "SET LOCAL enable_mergejoin = off")


def _postgresql_only(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise StoreError(t("the stays are aggregated by the database on PostgreSQL only; on {dialect} the "
                           "analysis computes them", dialect=conn.dialect.name))


def _stats(count: int, quantiles: list[float] | None, longest: float | None) -> Stats:
    if not count or quantiles is None:
        return (0, None, None, None)
    return (int(count), float(quantiles[0]), float(quantiles[1]), float(longest) if longest is not None else None)


def figures(conn: Connection, until: datetime, now_us: int, workflows: Sequence[str], shape: Shape) -> ServerFigures:
    """The figures of ``workflows`` (those the login may read) from their creations and steps up
    to ``until``; ``now_us``: that moment in microseconds since 1970, which waits are counted to.

    The walk follows histories as flowengine writes them; a workflow with a history it does not
    follow — a step recorded earlier than the one before it, a step into a state its definition
    does not declare, one that names another source than the state it left — has a group of
    kind :data:`UNFOLLOWED`, and its other figures are to be taken from the Python analysis."""
    _postgresql_only(conn)
    names = list(workflows)
    index = {name: position for position, name in enumerate(names, 1)}  # array_position counts from 1
    states = [s for s in shape.states if s.workflow in index]
    sid = {(s.workflow, s.state): position for position, s in enumerate(states, 1)}  # WITH ORDINALITY
    answering = [(sid[(w, source)], trigger, sid[(w, target)]) for w, source, trigger, target in shape.answering
                 if (w, source) in sid and (w, target) in sid]
    found = ServerFigures()
    extra: dict[tuple[str, int, int], int] = {}  # loops and months: (kind, state's sid, target's sid or month)
    walk = {
        "until": as_utc(until), "workflows": names, "now_us": now_us,
        "s_name": [s.workflow for s in states], "s_workflow": [index[s.workflow] for s in states],
        "s_state": [s.state for s in states],
        "s_stage": [s.stage for s in states], "s_funnel": [s.funnel for s in states],
        "s_final": [s.final for s in states], "s_answers": [s.answers for s in states],
        "s_least": [s.least_us for s in states], "s_rank": [s.rank for s in states],
        "a_source": [a[0] for a in answering], "a_trigger": [a[1] for a in answering],
        "a_target": [a[2] for a in answering],
        "implementation": shape.implementation, "evaluation": shape.evaluation,
    }
    for setting in _SETTINGS:
        conn.execute(text(setting))
    for (cat_code, k1, k2, k3, detail, rows, *stats) in conn.execute(text(_WALK), walk):
        cat = _CATS[cat_code - 1]
        key: tuple[str, str | None, str | None, str | None]
        if k1 is None:  # no state, workflow or source: a creation, or a workflow marked UNFOLLOWED
            continue
        if cat in (STAGE,):
            key = (names[k1 // _STAGE_SPAN - 1], str(k1 % _STAGE_SPAN - 1), None, None)
        elif cat in (ANSWER, UNFOLLOWED):
            key = (names[k1 - 1], None, None, None)
        elif cat == END:
            state = states[k1 - 1]
            key = (state.workflow, str(k3) if k3 is not None else None, state.state, k2)
        elif cat == OPEN:
            state = states[k1 - 1]
            key = (state.workflow, state.state, str(k3) if k3 is not None else None, k2)
        elif cat in (LOOP, LOOPED, ENTERED, LEFT):
            if detail and k3 is not None:
                extra[(cat, k1, k3)] = int(rows)
            continue
        else:
            state = states[k1 - 1]
            key = (state.workflow, state.state, k2, states[k3 - 1].state if k3 is not None else None)
        found.groups.append(Group(key[0], cat, key[1], key[2], key[3], bool(detail), int(rows),
                                  _stats(*stats[0:3]), _stats(*stats[3:6]), _stats(*stats[6:9])))
    for (cat, k1, k3), n in extra.items():
        state = states[k1 - 1]
        if cat == LOOP:
            found.loops.append(Loop(state.workflow, state.state, states[k3 - 1].state, n, extra[(LOOPED, k1, k3)]))
        elif cat in (ENTERED, LEFT):
            month = datetime.fromtimestamp(k3, UTC)
            found.monthly.setdefault((state.workflow, cat, state.state), {})[f"{month.year:04d}-{month.month:02d}"] = n
    return found


_MIGRATED = f"""
SELECT DISTINCT p.workflow FROM events e JOIN proposals p ON p.pk = e.proposal_pk
WHERE e.kind = '{MIGRATED}' AND e.at <= :until AND p.workflow = ANY(CAST(:workflows AS text[]))
"""


def migrated(conn: Connection, until: datetime, workflows: Sequence[str]) -> set[str]:
    """Which of ``workflows`` have a history with a migration up to ``until`` (read from the
    index that leads with the kind): their stays are renamed part-way, which :func:`figures`
    does not follow."""
    _postgresql_only(conn)
    return {row[0] for row in conn.execute(text(_MIGRATED), {"until": as_utc(until), "workflows": list(workflows)})}


_SHARE = """
SELECT count(*) FILTER (WHERE workflow = ANY(CAST(:workflows AS text[]))), count(*) FROM proposals
"""


def share(conn: Connection, workflows: Sequence[str]) -> float:
    """The share of the proposals the login may read that belong to ``workflows`` (1 when it may
    read none): how much of the log a walk of theirs covers."""
    _postgresql_only(conn)
    mine, readable = conn.execute(text(_SHARE), {"workflows": list(workflows)}).one()
    return int(mine) / int(readable) if readable else 1.0
