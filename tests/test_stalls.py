"""The stall analysis against small histories whose figures were worked out by hand.

Five proposals on a four-stage workflow, day 0 = 2019-01-01 00:00 UTC, looked at on day 40:

    TINY-1  created d0; submit d4; recommend d6; approve d16 (answer); finish d26   → implemented
    TINY-2  created d1; submit d3; send_back d8; submit d10; recommend d20; reject d23 (answer) → rejected
    TINY-3  created d2; submit d12                                                  → council since d12
    TINY-4  created d5; withdraw d6                                                 → withdrawn
    TINY-5  created d3; submit d5; recommend d7; approve d9 (answer); progress d19; note d30  → implementation

The same histories are also written through the engine and read back through the store, so
the query path is held to the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from flowengine.analysis.figures import WAITING, Analysis, Privacy, Spread, quantile
from flowengine.analysis.reference import MIN_HISTORY, analyse
from flowengine.definition.model import Workflow
from flowengine.history.records import ADVANCED, CREATED, Step, Trail
from flowengine.service.facade import FlowEngine
from flowengine.views.report import build_comparison, build_sections
from flowengine.views.report_writers import as_csv, as_markdown, as_text

from .databases import DatabaseTargets
from .stall_histories import (
    AS_OF,
    CORRECTED,
    HISTORIES,
    JUMP,
    TINY,
    busy_implementation,
    day,
    open_ended,
    p90_history,
    record_histories,
    tiny_workflow,
    trails,
    upto,
)


@pytest.fixture(scope="module")
def tiny() -> Workflow:
    return tiny_workflow()


@pytest.fixture(scope="module")
def figures(tiny: Workflow) -> Analysis:
    return analyse(tiny, trails(), AS_OF)


# -- spreads -------------------------------------------------------------------------------

def test_quantiles_interpolate_between_closest_ranks_like_numpy() -> None:
    assert quantile([1, 2, 2, 2, 4, 10], 0.5) == 2
    assert quantile([1, 2, 2, 2, 4, 10], 0.9) == pytest.approx(7.0)
    assert quantile([2, 3, 10], 0.9) == pytest.approx(8.6)
    assert quantile([5], 0.9) == 5


def test_an_empty_spread_has_no_figures() -> None:
    assert Spread.of([]) == Spread(0, None, None, None)


# -- states ----------------------------------------------------------------------------------

def test_time_in_each_state_counts_finished_stays_by_everyone_who_passed(figures: Analysis) -> None:
    draft = figures.state("draft")
    council = figures.state("council_review")
    admin = figures.state("admin_review")
    assert draft is not None and council is not None and admin is not None
    assert draft.passed == Spread(6, 2.0, pytest.approx(7.0), 10.0)  # [1, 2, 2, 2, 4, 10]
    assert council.passed == Spread(4, 3.5, pytest.approx(8.5), 10.0)  # [2, 2, 5, 10]
    assert admin.passed == Spread(3, 3.0, pytest.approx(8.6), 10.0)  # [2, 3, 10]


def test_proposals_now_count_open_and_ended_states_at_the_as_of_moment(figures: Analysis) -> None:
    now = {s.state: s.now for s in figures.states}
    assert now == {"draft": 0, "council_review": 1, "admin_review": 0, "implementation": 1,
                   "done": 1, "rejected": 1, "withdrawn": 1}
    assert figures.proposals == 5


def test_current_stays_are_counted_up_to_the_as_of_moment(figures: Analysis) -> None:
    council = figures.state("council_review")
    implementation = figures.state("implementation")
    assert council is not None and implementation is not None
    assert council.waiting == Spread(1, 28.0, 28.0, 28.0)
    assert implementation.waiting == Spread(1, 31.0, 31.0, 31.0)  # progress does not end a stay
    assert council.stays.median == 5.0  # [2, 2, 5, 10, 28]
    assert implementation.stays.median == 20.5  # [10, 31]


def test_severity_ranks_the_state_with_the_longest_dwell_worst(figures: Analysis) -> None:
    severity = {s.state: s.severity for s in figures.states}
    # Medians of finished stays: draft 2, council 3.5, admin 3, implementation 10 (the slowest).
    assert severity == {"draft": 1, "council_review": 2, "admin_review": 2, "implementation": 4,
                        "done": 0, "rejected": 0, "withdrawn": 0}


def test_a_state_nobody_has_left_is_ranked_by_its_current_waits(tiny: Workflow) -> None:
    stuck = {f"TINY-{n}": (0, [(1, "submit")]) for n in range(1, 4)}  # nobody ever left the council
    result = analyse(tiny, trails(stuck), day(41))
    council = result.state("council_review")
    assert council is not None and council.passed.count == 0 and council.typical.median == 40.0
    assert council.severity == 4 and result.state("draft").severity == 1  # type: ignore[union-attr]


def test_over_deadline_and_stalled_counts_are_per_state(figures: Analysis) -> None:
    council = figures.state("council_review")
    implementation = figures.state("implementation")
    assert council is not None and implementation is not None
    assert (council.stalled_now, council.over_deadline_now) == (1, 1)
    assert (implementation.stalled_now, implementation.over_deadline_now) == (1, 1)


def test_entries_and_exits_are_counted_per_month(figures: Analysis) -> None:
    draft = figures.state("draft")
    assert draft is not None
    assert draft.entered_by_month == (("2019-01", 6),)  # five creations and one send-back
    assert draft.left_by_month == (("2019-01", 6),)


# -- stalls ----------------------------------------------------------------------------------

def test_stalls_are_listed_worst_first_with_owner_and_rule(figures: Analysis) -> None:
    assert [(s.proposal, s.state, s.owner, s.rule) for s in figures.stalls] == [
        ("TINY-3", "council_review", "council", "deadline"),
        ("TINY-5", "implementation", "service", "no progress"),
    ]
    council, implementation = figures.stalls
    assert council.since == day(12) and council.days == 28.0 and council.limit_days == 10.0
    # Progress on day 19 restarted the implementation's clock: 21 days without progress, over 20.
    assert implementation.since == day(19) and implementation.days == 21.0 and implementation.limit_days == 20.0


def test_over_its_limit_with_no_record_since_is_a_gap_not_a_stall(tiny: Workflow) -> None:
    silent = {**HISTORIES, "TINY-3": (2, [(12, "submit")])}  # no note: nothing heard since day 12
    result = analyse(tiny, trails(silent), AS_OF)
    assert [s.proposal for s in result.stalls] == ["TINY-5"]
    (gap,) = result.quiet
    assert (gap.proposal, gap.owner, gap.last_heard, gap.heard_days, gap.days, gap.gone_quiet) == (
        "TINY-3", "council", day(12), 28.0, 28.0, True)
    council = result.state("council_review")
    assert council is not None and (council.stalled_now, council.over_deadline_now, council.quiet_now) == (0, 0, 1)
    assert next(s for s in result.stages if s.stage == "council").quiet_now == 1
    assert gap.as_dict()["gone_quiet"] is True and result.as_dict()["gone_quiet"][0]["proposal"] == "TINY-3"


@pytest.mark.parametrize(("heard_on", "stalled"), [(30, True), (29.9, False)])
def test_a_record_within_the_limit_makes_a_long_wait_known(tiny: Workflow, heard_on: float, stalled: bool) -> None:
    """TINY-3's limit is 10 days: heard of 10 days before the as-of day, it is known to be waiting."""
    history = {**HISTORIES, "TINY-3": (2, [(12, "submit"), (heard_on, "note")])}
    result = analyse(tiny, trails(history), AS_OF)
    assert ("TINY-3" in [s.proposal for s in result.stalls]) is stalled
    assert ("TINY-3" in [s.proposal for s in result.quiet]) is not stalled


def test_gone_quiet_lists_the_longest_silent_first(tiny: Workflow) -> None:
    silent = {**HISTORIES, "TINY-3": (2, [(12, "submit")]),
              "TINY-5": (3, [(5, "submit"), (7, "recommend"), (9, "approve"), (19, "progress")])}
    assert [(s.proposal, s.heard_days) for s in analyse(tiny, trails(silent), AS_OF).quiet] == [
        ("TINY-3", 28.0), ("TINY-5", 21.0)]


def test_recorded_progress_keeps_an_implementation_from_counting_as_stalled(tiny: Workflow) -> None:
    later = analyse(tiny, trails(), day(38))  # 19 days since the progress of day 19
    assert [s.proposal for s in later.stalls] == ["TINY-3"]
    no_progress = {**HISTORIES, "TINY-5": (3, [(5, "submit"), (7, "recommend"), (9, "approve"), (30, "note")])}
    without = analyse(tiny, trails(no_progress), day(38))
    assert [s.proposal for s in without.stalls] == ["TINY-3", "TINY-5"]


def test_without_a_deadline_a_stay_longer_than_the_p90_of_history_is_stalled(tiny: Workflow) -> None:
    history = p90_history()  # admin stays of 1..5 days: p90 = 4.6; TINY-6 waits there from day 0
    assert MIN_HISTORY == 5
    early = analyse(tiny, trails(history), day(4.5))
    assert [s.proposal for s in early.stalls if s.state == "admin_review"] == []
    late = analyse(tiny, trails(history), day(5.7))
    stalled = [s for s in late.stalls if s.state == "admin_review"]
    assert [(s.proposal, s.rule) for s in stalled] == [("TINY-6", "p90")]
    assert stalled[0].limit_days == pytest.approx(4.6)
    admin = late.state("admin_review")
    assert admin is not None and (admin.stalled_now, admin.over_deadline_now) == (1, 0)


def test_without_a_deadline_the_p90_in_implementation_counts_from_the_last_progress(tiny: Workflow) -> None:
    # Six implementations of 10 days (p90 = 10); TINY-7 in implementation since day 0, progress on day 95.
    result = analyse(open_ended(tiny), busy_implementation(), day(100))
    assert result.stalls == ()  # 5 days since its progress, against a p90 of 10
    late = analyse(open_ended(tiny), busy_implementation(), day(106))
    assert [(s.proposal, s.rule, s.days) for s in late.stalls] == [("TINY-7", "p90", 11.0)]


def test_without_a_deadline_and_little_history_nothing_is_called_stalled(tiny: Workflow) -> None:
    history = {"TINY-1": (0, [(0, "submit"), (0, "recommend")])}
    assert analyse(tiny, trails(history), day(400)).stalls == ()


# -- transitions and loops -----------------------------------------------------------------

def test_each_declared_transition_has_its_count_and_median_days_before(figures: Analysis) -> None:
    taken = {(t.source, t.trigger, t.target): (t.taken, t.days_before.median) for t in figures.transitions}
    assert taken[("draft", "submit", "council_review")] == (5, 2.0)  # [4, 2, 2, 10, 2]
    assert taken[("council_review", "send_back", "draft")] == (1, 5.0)
    assert taken[("council_review", "recommend", "admin_review")] == (3, 2.0)  # [2, 10, 2]
    assert taken[("admin_review", "approve", "implementation")] == (2, 6.0)  # [10, 2]
    assert taken[("admin_review", "reject", "rejected")] == (1, 3.0)
    assert taken[("implementation", "finish", "done")] == (1, 10.0)
    assert taken[("draft", "withdraw", "withdrawn")] == (1, 1.0)


def test_declared_transitions_never_taken_are_reported(figures: Analysis) -> None:
    # withdraw is declared from "*": one row for the state it was taken from (draft, above) and
    # one row "*" for all the others, never a row per state.
    assert sorted((t.source, t.trigger) for t in figures.unused) == [("*", "withdraw")]
    assert [(t.source, t.trigger) for t in figures.transitions if t.trigger == "withdraw"] == [
        ("draft", "withdraw"), ("*", "withdraw")]
    assert figures.jumps == ()


def test_a_step_no_transition_declares_is_reported_as_a_jump(tiny: Workflow) -> None:
    result = analyse(tiny, [*trails(), JUMP], AS_OF)  # TINY-9: draft -> done by "shortcut" on day 3
    assert [(t.source, t.trigger, t.target, t.taken, t.declared) for t in result.jumps] == [
        ("draft", "shortcut", "done", 1, False)]


def test_states_the_workflow_does_not_declare_are_still_counted(tiny: Workflow) -> None:
    odd = Trail("TINY-9", "Odd", "tiny", (
        Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
        Step(ADVANCED, "archive", "draft", "archived", "ola", "panel", day(2), False)))
    result = analyse(tiny, [odd], AS_OF)
    archived = result.state("archived")
    assert archived is not None and not archived.declared and archived.now == 1
    assert archived.waiting.median == 38.0


def test_proposals_sent_back_are_counted_by_where_they_came_from(figures: Analysis) -> None:
    assert [(loop.source, loop.target, loop.times, loop.proposals) for loop in figures.loops] == [
        ("council_review", "draft", 1, 1)]  # the re-submission after it goes forward, not back


# -- funnel and feedback -------------------------------------------------------------------

def test_the_funnel_counts_how_far_proposals_got_and_how_they_were_lost(figures: Analysis) -> None:
    funnel = figures.funnel
    rows = {row.stage: (row.reached, dict(row.lost)) for row in funnel.stages}
    assert rows == {
        "panel": (5, {"withdrawn": 1}),
        "council": (4, {WAITING: 1}),
        "administration": (3, {"rejected": 1}),
        "implementation": (2, {WAITING: 1}),
    }
    assert (funnel.proposals, funnel.implemented, funnel.partially_implemented, funnel.evaluated) == (5, 1, 0, 0)
    assert funnel.stages[0].share_lost == pytest.approx(0.2)


def test_the_feedback_loop_measures_time_until_a_reasoned_answer(figures: Analysis) -> None:
    feedback = figures.feedback
    assert feedback.answered == Spread(3, 16.0, pytest.approx(20.8), 22.0)  # TINY-5 6, TINY-1 16, TINY-2 22
    assert feedback.unanswered == 2  # TINY-3 still waits; TINY-4 was withdrawn, which answers nothing
    assert feedback.unanswered_share == pytest.approx(0.4)
    assert feedback.unanswered_waiting.median == 36.5  # 38 and 35 days


def test_an_escalation_by_the_system_is_not_a_reasoned_answer(tiny: Workflow) -> None:
    escalated = Trail("TINY-1", "x", "tiny", (
        Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
        Step(ADVANCED, "submit", "draft", "council_review", "kari", "panel", day(1), False),
        Step(ADVANCED, "recommend", "council_review", "admin_review", "rita", "council", day(2), False),
        Step(ADVANCED, "reject", "admin_review", "rejected", "system", "system", day(90), True)))
    feedback = analyse(tiny, [escalated], day(100)).feedback
    assert feedback.answered.count == 0 and feedback.unanswered == 1


def test_stage_stays_join_consecutive_states_of_one_stage(figures: Analysis) -> None:
    stages = {s.stage: s for s in figures.stages}
    assert list(stages) == ["panel", "council", "administration", "implementation"]
    assert stages["council"].passed == Spread(4, 3.5, pytest.approx(8.5), 10.0)
    assert stages["council"].waiting.median == 28.0
    assert stages["implementation"].now == 1


# -- as-of views -----------------------------------------------------------------------------

def test_an_as_of_view_sees_only_what_had_happened_by_then(tiny: Workflow) -> None:
    then = analyse(tiny, upto(day(9)), day(9))
    now = {s.state: s.now for s in then.states if s.now}
    assert now == {"draft": 2, "admin_review": 1, "implementation": 1, "withdrawn": 1}
    assert then.stalls == ()
    assert then.feedback.answered.count == 1 and then.feedback.unanswered == 4
    draft = then.state("draft")
    assert draft is not None and draft.waiting == Spread(2, 4.0, pytest.approx(6.4), 7.0)  # TINY-2 1, TINY-3 7


def test_a_day_before_anything_happened_shows_nothing(tiny: Workflow) -> None:
    empty = analyse(tiny, upto(day(-1)), day(-1))
    assert empty.proposals == 0 and empty.stalls == () and empty.feedback.unanswered_share is None


# -- through the store -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[FlowEngine]:
    folder = tmp_path_factory.mktemp("stalls")
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    db = database_targets.new(folder, "stalls.db")
    with FlowEngine.open(db, workflow_dirs=[folder], clock=lambda: day(100)) as engine:
        record_histories(engine)
        yield engine
    database_targets.drop(db)


def test_figures_read_from_the_store_equal_those_from_the_histories(stored: FlowEngine, tiny: Workflow) -> None:
    no_progress = {pid: (c, [s for s in steps if s[1] != "progress"]) for pid, (c, steps) in HISTORIES.items()}
    (from_store,) = stored.analyse(["tiny"], as_of=AS_OF)
    direct = analyse(tiny, trails(no_progress), AS_OF)
    assert from_store.states == direct.states
    assert from_store.transitions == direct.transitions
    assert from_store.funnel == direct.funnel
    assert from_store.feedback == direct.feedback
    assert [s.proposal for s in from_store.stalls] == [s.proposal for s in direct.stalls] == ["TINY-3", "TINY-5"]
    assert from_store.quiet == direct.quiet == ()


def test_an_as_of_view_from_the_store_leaves_out_later_events(stored: FlowEngine, tiny: Workflow) -> None:
    (then,) = stored.analyse(["tiny"], as_of=day(9))
    assert {s.state: s.now for s in then.states if s.now} == {
        "draft": 2, "admin_review": 1, "implementation": 1, "withdrawn": 1}


def test_every_workflow_with_proposals_is_analysed_when_none_is_named(stored: FlowEngine) -> None:
    assert [a.workflow.id for a in stored.analyse(as_of=AS_OF)] == ["tiny"]


def test_fields_set_events_do_not_end_a_stay(tiny: Workflow) -> None:
    result = analyse(tiny, [CORRECTED], day(6))  # fields set on day 2, submitted on day 5
    draft = result.state("draft")
    assert draft is not None and draft.passed == Spread(1, 5.0, 5.0, 5.0)


# -- the report --------------------------------------------------------------------------------

def _section(sections: Sequence[object], key: str) -> object:
    return next(s for s in sections if getattr(s, "key", None) == key)


def test_the_report_starts_with_the_worst_stall_and_who_must_act(figures: Analysis) -> None:
    sections = build_sections([figures])
    stalls = sections[0]
    assert stalls.key == "stalls"
    assert [(row[0], row[4], row[6]) for row in stalls.rows] == [("TINY-3", "council", 28.0),
                                                                 ("TINY-5", "service", 21.0)]
    assert stalls.rows[0][9] == "ola (panel)"  # who took the last step: the panel submitted it


def test_the_report_for_publication_shows_roles_and_hides_small_counts(figures: Analysis) -> None:
    sections = build_sections([figures], privacy=Privacy.publication())
    assert sections[0].rows[0][9] == "panel"
    funnel = _section(sections, "funnel")
    assert funnel.rows[0] == ("user panel", 5, "<3", None, "withdrawn <3", 0)  # type: ignore[attr-defined]
    states = _section(sections, "states")
    council = next(row for row in states.rows if row[0] == "council_review")  # type: ignore[attr-defined]
    assert council[4] == "<3" and council[8] == 4 and council[9] == 3.5  # 4 stays: enough to show
    admin = next(row for row in states.rows if row[0] == "admin_review")  # type: ignore[attr-defined]
    assert admin[8] == 3 and admin[9] == 3.0
    impl = next(row for row in states.rows if row[0] == "implementation")  # type: ignore[attr-defined]
    assert impl[8] == "<3" and impl[9] is None  # one finished stay: no median from it


def test_every_report_format_carries_the_same_figures(figures: Analysis) -> None:
    sections = build_sections([figures], language="nb")
    text, markdown, table_csv = as_text(sections), as_markdown(sections), as_csv(sections)
    for written in (text, markdown, table_csv):
        assert "TINY-3" in written and "28.0" in written
    assert "brukerpanel" in text  # stage names in the chosen language
    assert markdown.startswith("## Forslag som har stoppet opp, verst først")  # headings in it too
    assert table_csv.splitlines()[0] == "section,workflow,row,column,value"
    assert "stalls,,TINY-3,dager,28.0" in table_csv  # column names as the reader reads them


def test_the_comparison_puts_workflows_side_by_side(figures: Analysis) -> None:
    days, funnel = build_comparison([figures, figures])
    assert days.columns == ("stage", "tiny", "tiny")
    assert days.rows[1] == ("user council", "3.5 / 8.5 (4)", "3.5 / 8.5 (4)")
    assert funnel.rows[-2] == ("implemented", "1 of 5 (20%)", "1 of 5 (20%)")


def test_json_report_figures_are_plain_numbers(figures: Analysis) -> None:
    data = figures.as_dict()
    assert data["stalls"][0]["proposal"] == "TINY-3"
    assert data["feedback"]["answered"]["median_days"] == 16.0
    assert data["undeclared_jumps"] == []


def test_a_stall_as_json_keeps_every_field_in_order_with_times_as_text(figures: Analysis) -> None:
    from dataclasses import asdict, fields

    from flowengine.clock import iso_utc

    stall = figures.stalls[0]
    data = stall.as_dict()
    assert list(data) == [f.name for f in fields(stall)] + ["gone_quiet"]
    expected = {**asdict(stall), "since": iso_utc(stall.since), "last_heard": iso_utc(stall.last_heard),
                "gone_quiet": stall.gone_quiet}
    assert data == expected


@pytest.mark.parametrize(("privacy", "small"), [(Privacy(), None), (Privacy(min_count=1), None),
                                                (Privacy(min_count=3), "<3")])
def test_the_monthly_flow_shows_counts_as_they_are_unless_a_threshold_hides_them(
        figures: Analysis, privacy: Privacy, small: str | None) -> None:
    flow = next(s for s in build_sections([figures], privacy=privacy) if s.key == "flow")
    expected = []
    for s in figures.states:
        entered, left = dict(s.entered_by_month), dict(s.left_by_month)
        for month in sorted(entered.keys() | left.keys()):
            counts = (entered.get(month, 0), left.get(month, 0))
            expected.append((s.state, month, *(small if small and 0 < n < 3 else n for n in counts)))
    assert flow.rows == tuple(expected)
    assert any(0 < n < 3 for row in expected for n in row[2:] if isinstance(n, int)) == (small is None)
