"""`flowengine progress` and `flowengine tick` through the real command line (click's CliRunner):
what a project leader and a cron job see, the exit codes, and that bad input writes nothing.

"Now" is fixed by FLOWENGINE_NOW and the local time zone is UTC, so the printed times are the
stored ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from .cli_support import Run, as_json, local_time_zone, make_run, ok, one_error_line
from .test_deadlines import TIMELY

D0 = "2024-03-01T09:00:00Z"
D1 = "2024-03-02T09:00:00Z"  # to the council; 4 weeks later a reminder is due (2024-03-30)
LEADER = ("--as", "kari", "--role", "panel")
COUNCIL = ("--as", "ola", "--role", "council")
ADMINISTRATION = ("--as", "eva", "--role", "administration")
SERVICE = ("--as", "sam", "--role", "service")


@pytest.fixture(scope="module", autouse=True)
def utc_local_time() -> Iterator[None]:
    with local_time_zone("UTC0"):
        yield


@pytest.fixture
def run(tmp_path: Path, db_target: str) -> Run:
    """TML-1 in council_review since D1, TML-2 in implementation since D1."""
    workflow = tmp_path / "timely.yaml"
    workflow.write_text(TIMELY, encoding="utf-8")
    run = make_run(db_target, D1)

    for number, title in enumerate(("Meeting place", "Peer support"), start=1):
        ok(run("proposal", "new", str(workflow), "--title", title, *LEADER, now=D0))
        ok(run("advance", f"TML-{number}", "send_to_council", *LEADER))
    ok(run("advance", "TML-2", "recommend", *COUNCIL))
    ok(run("advance", "TML-2", "decide", "--comment", "Within the mandate", *ADMINISTRATION))
    return run


def snapshot(run: Run) -> Any:
    return as_json(run("audit", "verify", "--json")), as_json(run("proposal", "list", "--json"))


# -- progress -------------------------------------------------------------------------------------


def test_progress_prints_the_record_and_when_the_deadline_now_falls(run: Run) -> None:
    result = ok(run("progress", "TML-2", "40%", "--note", "Premises found", "--milestone", "Lease signed",
                    "--milestone-date", "2024-03-20", *SERVICE, now="2024-04-01T10:00:00Z"))
    assert result.stdout.splitlines() == [
        "TML-2: progress 40 % in implementation, milestone 'Lease signed'",
        "deadline 10w counts from this record: due 2024-06-10 10:00 UTC"]


def test_progress_json_gives_the_proposal_and_its_event(run: Run) -> None:
    shown = as_json(run("progress", "tml-2", "55", "--note", "Half way", *SERVICE, "--json"))
    assert (shown["id"], shown["state"], shown["version"], shown["repeated"]) == ("TML-2", "implementation", 5, False)
    assert shown["event"]["kind"] == "progress"
    assert shown["event"]["details"] == {"percent": 55, "note": "Half way", "milestone": None, "milestone_date": None}


def test_show_has_the_progress_line_and_history_a_readable_step(run: Run) -> None:
    ok(run("progress", "TML-2", "40", "--note", "Premises found", "--milestone", "Lease signed", *SERVICE,
           now="2024-04-01T10:00:00Z"))
    shown = ok(run("proposal", "show", "TML-2", now="2024-05-01T10:00:00Z")).stdout
    assert ("progress   40 % at 2024-04-01 10:00 UTC by sam (service): Premises found; milestone 'Lease signed'"
            in shown.splitlines())
    assert "deadline 10w from the last progress, due 2024-06-10 10:00 UTC (on time)" in shown
    standing = as_json(run("proposal", "show", "TML-2", "--json", now="2024-05-01T10:00:00Z"))
    assert standing["progress"]["percent"] == 40
    assert standing["clock_started_at"] == "2024-04-01T10:00:00.000000Z"
    history = ok(run("history", "TML-2", now="2024-05-01T10:00:00Z")).stdout.splitlines()
    assert "progress 40 %" in history[-1] and "Premises found; milestone 'Lease signed'" in history[-1]


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(("TML-2", "140", *SERVICE), "error: progress 140 is out of range; give a whole number from 0 to 100",
                 id="over-100"),
    pytest.param(("TML-2", "lots", *SERVICE), "error: progress 'lots' is not a percentage", id="not-a-number"),
    pytest.param(("TML-2", "40", "--milestone-date", "2024-02-03", *SERVICE),
                 "error: a milestone date needs the milestone's name", id="date-without-milestone"),
    pytest.param(("TML-1", "40", *COUNCIL),
                 "error: cannot record progress of TML-1: it is in council_review (stage council); progress is "
                 "recorded only in a state of stage implementation; nothing was written", id="not-implementing"),
    pytest.param(("TML-2", "40", "--as", "sam", "--role", "servise"),
                 "error: unknown role 'servise'; did you mean 'service'?", id="unknown-role"),
    pytest.param(("TML-9", "40", *SERVICE), "error: unknown proposal 'TML-9'", id="unknown-proposal"),
    pytest.param(("TML-2", "40", "--expect-version", "2", *SERVICE), "error: TML-2 was changed by eva",
                 id="stale-version"),
])
def test_bad_progress_gives_one_error_line_exit_1_and_writes_nothing(run: Run, args: tuple[str, ...],
                                                                     expected: str) -> None:
    before = snapshot(run)
    line = one_error_line(run("progress", *args))
    assert line.startswith(expected), line
    assert snapshot(run) == before


def test_progress_without_saying_who_you_are_is_a_usage_error(run: Run) -> None:
    before = snapshot(run)
    line = one_error_line(run("progress", "TML-2", "40"), code=2)
    assert "say who you are: --as NAME and --role ROLE" in line
    assert snapshot(run) == before


# -- tick -----------------------------------------------------------------------------------------


def test_tick_hands_out_a_due_reminder_then_says_nothing_is_due(run: Run) -> None:
    first = ok(run("tick", now="2024-04-02T06:00:00Z")).stdout.splitlines()
    assert first == [
        "as of 2024-04-02 06:00 UTC: 2 open proposals checked",
        "",
        "1 reminder handed out:",
        "proposal  state           owner    waiting  after  due                   title",
        "--------  --------------  -------  -------  -----  --------------------  -------------",
        "TML-1     council_review  council  30 days  4w     2024-03-30 09:00 UTC  Meeting place",
    ]
    before = snapshot(run)
    second = ok(run("tick", now="2024-04-02T06:00:00Z")).stdout.splitlines()
    assert second == ["as of 2024-04-02 06:00 UTC: 2 open proposals checked",
                      "nothing due: no escalation or reminder was written"]
    assert snapshot(run) == before


def test_a_long_title_is_whole_in_the_reminders_and_the_list_when_no_width_limits_them(run: Run,
                                                                                       tmp_path: Path) -> None:
    title = "A meeting place in the town centre, run with peers and open every evening"
    ok(run("proposal", "new", str(tmp_path / "timely.yaml"), "--title", title, *LEADER, now=D0))
    ok(run("advance", "TML-3", "send_to_council", *LEADER))
    reminded = ok(run("tick", now="2024-04-02T06:00:00Z")).stdout.splitlines()
    assert reminded[-1].startswith("TML-3") and reminded[-1].endswith(f"  {title}")
    listed = ok(run("proposal", "list")).stdout.splitlines()
    assert listed[-1].startswith("TML-3") and listed[-1].endswith(f"  {title}")


def test_tick_applies_an_escalation_and_history_shows_who_and_why(run: Run) -> None:
    ok(run("advance", "TML-1", "recommend", *COUNCIL, now="2024-03-05T09:00:00Z"))
    out = ok(run("tick", "--workflow", "timely", now="2024-06-10T00:00:00Z")).stdout
    assert "1 escalation applied:" in out
    assert "TML-1     administration_review  political_review  escalate  90d    2024-06-03 09:00 UTC" in out
    last = ok(run("history", "TML-1", now="2024-06-10T00:00:00Z")).stdout.splitlines()[-1]
    assert "2024-06-03 09:00 UTC  escalate" in last
    assert "system (system)" in last
    assert "Escalated automatically: 90 days in 'administration_review' without a decision" in last


def test_tick_json_is_a_stable_format_for_mail_scripts(run: Run) -> None:
    report = as_json(run("tick", "--json", now="2024-04-02T06:00:00Z"))
    assert list(report) == ["as_of", "dry_run", "checked", "escalations", "reminders", "blocked", "left_alone",
                            "unfinished", "workflow"]
    assert report["reminders"] == [{
        "proposal": "TML-1", "title": "Meeting place", "workflow": "timely", "state": "council_review",
        "state_label": "council_review", "owner": "council", "after": "4w", "due": "2024-03-30T09:00:00.000000Z",
        "since": "2024-03-02T09:00:00.000000Z", "waiting_days": 30.88}]
    again = as_json(run("tick", "--json", now="2024-04-02T06:00:00Z"))
    assert (again["escalations"], again["reminders"]) == ([], [])


def test_tick_dry_run_lists_what_is_due_and_writes_nothing(run: Run) -> None:
    before = snapshot(run)
    out = ok(run("tick", "--dry-run", now="2024-04-02T06:00:00Z")).stdout
    assert "(dry run: nothing written)" in out and "1 reminder due:" in out
    assert snapshot(run) == before
    assert "1 reminder handed out:" in ok(run("tick", now="2024-04-02T06:00:00Z")).stdout


def test_tick_as_of_a_past_day_applies_what_was_due_by_its_end(run: Run) -> None:
    report = as_json(run("tick", "--as-of", "2024-03-29", "--json", now="2024-04-02T06:00:00Z"))
    assert report["as_of"] == "2024-03-29T23:59:59.999999Z"
    assert report["reminders"] == []
    report = as_json(run("tick", "--as-of", "2024-03-30", "--json", now="2024-04-02T06:00:00Z"))
    assert [r["proposal"] for r in report["reminders"]] == ["TML-1"]


def test_a_malformed_milestone_date_is_a_usage_error_and_writes_nothing(run: Run) -> None:
    before = snapshot(run)
    line = one_error_line(run("progress", "TML-2", "40", "--milestone", "Lease", "--milestone-date", "2024-02-30",
                              *SERVICE), code=2)
    assert line == ("Error: Invalid value for '--milestone-date': '2024-02-30' is not a day; write it as YYYY-MM-DD, "
                    "e.g. 2019-06-30")
    assert snapshot(run) == before


@pytest.mark.parametrize(("args", "code", "expected"), [
    (("--as-of", "yesterday"), 2,
     "Error: Invalid value for '--as-of': the value 'yesterday' is not a date; write it as YYYY-MM-DD"),
    (("--as-of", "2024-02-30"), 2, "Error: Invalid value for '--as-of': the value '2024-02-30' is not a date"),
    (("--dryrun",), 2, "Did you mean '--dry-run'?"),
])
def test_bad_tick_options_give_one_error_line_and_write_nothing(run: Run, args: tuple[str, ...], code: int,
                                                                expected: str) -> None:
    before = snapshot(run)
    line = one_error_line(run("tick", *args, now="2024-04-02T06:00:00Z"), code=code)
    assert expected in line, line
    assert snapshot(run) == before


@pytest.mark.parametrize("command", [["progress"], ["tick"]])
def test_help_of_progress_and_tick_exits_0_and_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert f"flowengine {command[0]}" in result.stdout.split("Example", 1)[1]


def test_tick_for_a_misspelt_workflow_suggests_the_one_meant(run: Run) -> None:
    before = snapshot(run)
    line = one_error_line(run("tick", "--workflow", "timly"))
    assert "unknown workflow 'timly'; did you mean 'timely'?" in line
    assert snapshot(run) == before
