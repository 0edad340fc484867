"""Proposal lists at any size: keyset pages that chain into exactly the whole list, filters the
store answers, ``--all`` streamed a batch at a time, and queries that read an index in each order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from flowengine.errors import InvalidInput, NotFound
from flowengine.service.facade import FlowEngine, Standing
from flowengine.store import listing, pages

from .cli_support import make_run, ok, one_error_line
from .conftest import FixedClock
from .test_synthetic import synthetic

NOW = synthetic.END + timedelta(days=3)
SORTS = ("id", "waiting", "updated", "state")
FILTERS: list[dict[str, Any]] = [
    {}, {"stage": "implementation"}, {"owner": "council"}, {"overdue": True}, {"state": "parked"},
    {"workflow": "synthetic-chain", "stage": "political"}, {"title": "PROPOSAL 1"},
    {"workflow": "synthetic-chain", "owner": "service", "overdue": True},
]


@pytest.fixture
def national(db_target: str) -> Iterator[FlowEngine]:
    """240 synthetic proposals (loops, stalls, every outcome), "now" just after the last event."""
    synthetic.write_database(db_target, synthetic.generate(240, seed=11))
    with FlowEngine.open(db_target, clock=FixedClock(NOW)) as engine:
        yield engine


def replayed(engine: FlowEngine, sort: str, **wanted: Any) -> list[str]:
    """The list the past-moment path makes (every history replayed), at "now": the reference."""
    return [s.proposal.id for s in engine.proposals(as_of=NOW, sort=sort, **wanted)]


def walked(engine: FlowEngine, sort: str, limit: int, **wanted: Any) -> list[str]:
    """Every page, each starting after the last one's 'next'."""
    found: list[str] = []
    after = None
    while True:
        page = engine.proposal_page(sort=sort, after=after, limit=limit, **wanted)
        found += [s.proposal.id for s in page.standings]
        assert len(page.standings) <= limit
        if page.next_after is None:
            return found
        assert page.next_after == found[-1] and len(page.standings) == limit
        after = page.next_after


@pytest.mark.parametrize("sort", SORTS)
def test_pages_chained_by_their_next_give_exactly_the_replayed_list(national: FlowEngine, sort: str) -> None:
    for wanted in FILTERS:
        expected = replayed(national, sort, **wanted)
        assert walked(national, sort, 7, **wanted) == expected, wanted
        assert [s.proposal.id for s in national.each_proposal(sort=sort, **wanted)] == expected, wanted
    assert len(replayed(national, sort)) == 240


def test_the_filters_each_keep_only_what_they_name(national: FlowEngine) -> None:
    every = list(national.each_proposal())
    assert {s.stage for s in national.each_proposal(stage="implementation")} == {"implementation"}
    assert all(s.overdue for s in national.each_proposal(overdue=True))
    assert 0 < len(list(national.each_proposal(overdue=True))) < len(every)
    titled = [s.proposal.title for s in national.each_proposal(title="proposal 2")]
    assert titled and all("Synthetic proposal 2" in title for title in titled)


def test_a_title_search_takes_percent_and_underscore_literally(national: FlowEngine) -> None:
    assert list(national.each_proposal(title="%")) == []
    assert list(national.each_proposal(title="Synthetic_proposal")) == []


def test_waiting_lists_open_proposals_first_and_a_page_after_a_final_one_stays_among_the_final(
        national: FlowEngine) -> None:
    order = list(national.each_proposal(sort="waiting"))
    finals = [s.final for s in order]
    assert finals == sorted(finals) and True in finals and False in finals
    first_final = finals.index(True)
    after = order[first_final].proposal.id
    page = national.proposal_page(sort="waiting", after=after, limit=5)
    assert [s.proposal.id for s in page.standings] == [s.proposal.id for s in order[first_final + 1:first_final + 6]]


def test_the_last_page_says_there_is_no_next(national: FlowEngine) -> None:
    page = national.proposal_page(limit=240)
    assert len(page.standings) == 240 and page.next_after is None
    assert national.proposal_page(limit=239).next_after == page.standings[-2].proposal.id


def test_a_page_after_an_unknown_proposal_is_refused_with_ids_close_to_it(national: FlowEngine) -> None:
    with pytest.raises(NotFound, match="did you mean 'SYN-12'"):
        national.proposal_page(after="SYN-12x")
    with pytest.raises(InvalidInput, match="at least one"):
        national.proposal_page(limit=0)


def test_a_past_moment_pages_the_replayed_list(national: FlowEngine) -> None:
    moment = synthetic.END - timedelta(days=900)
    whole = [s.proposal.id for s in national.proposals(as_of=moment)]
    first = national.proposal_page(as_of=moment, limit=10)
    second = national.proposal_page(as_of=moment, limit=10, after=first.next_after)
    assert [s.proposal.id for s in (*first.standings, *second.standings)] == whole[:20]


def test_streaming_reads_one_batch_before_the_first_proposal_comes_out(
        national: FlowEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    real = pages.page

    def counted(*args: Any, limit: int, **kwargs: Any) -> Any:
        asked.append(limit)
        return real(*args, limit=limit, **kwargs)

    monkeypatch.setattr(pages, "page", counted)
    first: list[Standing] = list(islice(national.each_proposal(), 1))
    assert len(first) == 1 and asked == [64]
    assert len(list(national.each_proposal())) == 240
    assert max(asked) <= 4096 and len(asked) > 2  # batches grow, never the whole table at once


@pytest.mark.sqlite_only
@pytest.mark.parametrize("sort", SORTS)
def test_every_order_pages_off_an_index_without_sorting_the_table(national: FlowEngine, sort: str) -> None:
    with national.database.read() as conn:
        key = listing.key_of(conn, "SYN-100")
        assert key is not None
        for after in (None, key[0]):
            sql, params = pages.statement(listing.reads(conn), listing.Filter(), sort=sort, after=after, limit=50)
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "TEMP B-TREE" not in plan and "USING INDEX" in plan, plan


@pytest.mark.sqlite_only
def test_the_overdue_list_asks_the_progress_index_never_scanning_the_events(national: FlowEngine) -> None:
    from flowengine.service import listings

    with national.database.read() as conn:
        reads = listing.reads(conn)
        wanted = listings._filter(listings._Facts(reads, None), NOW, workflow=None, state=None, title=None,
                                  stage=None, owner=None, overdue=True, final=None)
        assert wanted.groups and any(group.progress_restarts for group in wanted.groups)
        sql, params = pages.statement(reads, wanted, sort="updated", after=None, limit=50)
        plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "SEARCH progress USING INDEX ix_events_progress (kind=? AND proposal_pk=? AND at>?)" in plan, plan
    assert "SCAN events" not in plan, plan
    assert "SCAN progress" not in plan, plan
    # the page's own order, walked until the page is full: never every overdue proposal by its
    # state (migration 0013's index) and then sorted
    assert "SCAN proposals USING INDEX ix_proposals_updated" in plan and "ix_proposals_state_waiting" not in plan, plan


@pytest.mark.postgresql_only
def test_sessions_on_postgresql_plan_without_jit_compilation(national: FlowEngine) -> None:
    """Row-level security inflates the planner's estimates of a page's query (a policy's hashed
    subquery charged to every index probe) past JIT's threshold: compiling took seconds where
    running took milliseconds. flowengine's sessions switch it off, keeping the URL's options."""
    from sqlalchemy import text

    with national.database.read() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert conn.execute(text("SELECT count(*) FROM proposals")).scalar() == 240  # its own search path still


# -- the command line ---------------------------------------------------------------------------

@pytest.fixture
def run(national: FlowEngine, db_target: str) -> Any:
    return make_run(db_target, NOW.isoformat())


def test_the_list_shows_fifty_and_names_the_command_for_the_next_page(run: Any) -> None:
    result = ok(run("proposal", "list", "--stage", "closed"))
    rows = result.stdout.splitlines()[2:]
    assert len(rows) == 50
    last = rows[-1].split()[0]
    assert result.stderr.strip().endswith(f"--stage closed --after {last}")
    following = ok(run("proposal", "list", "--stage", "closed", "--after", last, "--limit", "3"))
    assert len(following.stdout.splitlines()[2:]) == 3


def test_all_streams_tab_separated_rows_or_json_lines(run: Any, national: FlowEngine) -> None:
    text = ok(run("proposal", "list", "--all", "--sort", "waiting")).stdout.splitlines()
    assert text[0].split("\t")[0] == "id" and len(text) == 241
    assert [line.split("\t")[0] for line in text[1:]] == [s.proposal.id for s in national.each_proposal(sort="waiting")]
    lines = ok(run("proposal", "list", "--all", "--json", "--title", "proposal 7")).stdout.splitlines()
    assert lines and all("proposal 7" in json.loads(line)["title"] for line in lines)


def test_all_refuses_a_past_moment(run: Any) -> None:
    assert "--as-of" in one_error_line(run("proposal", "list", "--all", "--as-of", "2020-01-01"), code=2)


def test_a_page_after_an_unknown_proposal_is_one_error_line(run: Any, tmp_path: Path) -> None:
    assert "SYN-99999" in one_error_line(run("proposal", "list", "--after", "SYN-99999"))


# -- one proposal's commands read it by its keys alone ------------------------------------------

@pytest.mark.sqlite_only
def test_show_history_and_advance_read_one_proposal_by_its_keys_never_a_whole_table(
        national: FlowEngine) -> None:
    """Every statement the three run is planned by SQLite as index searches: none scans the
    proposals or the events, so they cost the same at a thousand proposals and at a million."""
    from sqlalchemy import event

    from flowengine.history.records import Actor

    said: list[str] = []
    event.listen(national.database.engine, "connect",
                 lambda dbapi, _: dbapi.set_trace_callback(said.append))
    national.database.engine.dispose()  # new connections, each traced
    pid = next(s.proposal.id for s in national.each_proposal(state="panel_work"))
    said.clear()
    national.standing(pid)
    national.history(pid)
    step = next(s for s in national.standing(pid).next_steps if not s.missing_fields)
    national.advance(pid, step.trigger, actor=Actor("kari", step.roles[0]), comment="Sent on")
    statements = [s for s in said if s.split()[0].upper() in ("SELECT", "UPDATE", "INSERT")]
    assert any(s.startswith("UPDATE proposals") for s in statements)
    with national.database.read() as conn:
        for sql in statements:
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN proposals" not in plan and "SCAN events" not in plan, (sql, plan)


def test_the_store_returns_only_rows_in_the_wanted_states_so_a_rare_stage_reads_no_others(
        national: FlowEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    returned: list[str] = []
    real = pages.page

    def recorded(*args: Any, **kwargs: Any) -> Any:
        rows = real(*args, **kwargs)
        returned.extend(row.proposal.state for row in rows)
        return rows

    monkeypatch.setattr(pages, "page", recorded)
    found = list(national.each_proposal(stage="political", sort="waiting"))
    assert found and {s.stage for s in found} == {"political"}
    assert set(returned) == {"political_review"}
    returned.clear()
    overdue = list(national.each_proposal(overdue=True, sort="updated"))
    # A state's shortest deadline has passed for every row returned, and no progress restarted an
    # implementation's clock since: each row the store returns is overdue.
    assert overdue and len(returned) == len(overdue)


@pytest.mark.sqlite_only
def test_a_stage_in_the_waiting_order_reads_each_of_its_states_apart_by_index(national: FlowEngine) -> None:
    """Each state's proposals longest waiting first (migration 0013), a page from each: never the
    waiting order of every proposal, which passes the finished ones first."""
    from flowengine.service import listings

    with national.database.read() as conn:
        reads = listing.reads(conn)
        wanted = listings._filter(listings._Facts(reads, None), NOW, workflow=None, state=None, title=None,
                                  stage="implementation", owner=None, overdue=False, final=False)
        sql, params = pages.statement(reads, wanted, sort="waiting", after=None, limit=50)
        plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING INDEX ix_proposals_state_waiting (state=?)" in plan, plan
    assert "ix_proposals_waiting" not in plan and "SCAN proposals" not in plan, plan


@pytest.mark.postgresql_only
def test_the_overdue_list_on_postgresql_probes_the_progress_index_per_row_never_hashing_it(
        national: FlowEngine) -> None:
    """Under row-level security the progress subquery is no join PostgreSQL can pull up; it may
    still turn it into a hashed subplan that reads every progress record since the clock's start,
    once per group of states (0.75 s of a 0.76 s page at 10M events). The statement keeps it a
    probe of ix_events_progress per row (here as the planner saw it at 10M, and with table scans
    out of the way, it chose the hash at this size too)."""
    from sqlalchemy import text

    from flowengine.service import listings

    with national.database.read() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        reads = listing.reads(conn)
        wanted = listings._filter(listings._Facts(reads, None), NOW, workflow=None, state=None, title=None,
                                  stage=None, owner=None, overdue=True, final=None)
        assert wanted.groups and any(group.progress_restarts for group in wanted.groups)
        sql, params = pages.statement(reads, wanted, sort="updated", after=None, limit=50)
        plan = "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql), params))
    assert "ix_events_progress" in plan, plan
    assert "hashed SubPlan" not in plan, plan
