"""The proposal commands as a project leader meets them: `init`, `proposal …`, `advance`,
`history`, `audit verify` and `db …` through the real command line (click's CliRunner).

Every test runs on its own database (see tests/databases.py), with "now" fixed by FLOWENGINE_NOW and the local time
zone fixed to Central European time (a POSIX TZ rule, so no tz database is needed): times are
stored in UTC, shown in local time, and `--as-of DAY` means the end of that local day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine.store.schema import SCHEMA_HEAD

from .cli_support import Run, as_json, local_time_zone, ok, one_error_line
from .cli_support import make_run as cli_run
from .conftest import MINIMAL_WORKFLOW, WriteWorkflow
from .databases import DatabaseTargets, login, untouched

ME = login()

CET = "CET-1CEST,M3.5.0,M10.5.0/3"  # Central European time with its summer time, no tzdata needed

# The days of the scenario, in UTC. D2 is 00:30 on 5 March in local time: the day boundary of
# --as-of is the local one.
D1 = "2019-03-01T09:00:00Z"  # 10:00 local: INN-1 and INN-2 registered
D2 = "2019-03-04T23:30:00Z"  # 2019-03-05 00:30 CET local: INN-1 sent to the council
D3 = "2019-03-20T09:00:00Z"  # 10:00 local: the council recommends INN-1; BSB-1 registered
D4 = "2019-04-02T09:00:00Z"  # 11:00 local (summer time): the administration decides INN-1
NOW = "2019-04-10T09:00:00Z"
LATE = "2019-07-01T09:00:00Z"  # past the deadlines of INN-2 (P3M) and BSB-1 (6w), not of INN-1 (P6M)

LEADER = ("--as", "ola", "--role", "project_leader")
COUNCIL = ("--as", "rita", "--role", "council")
ADMINISTRATION = ("--as", "anne", "--role", "administration")

@pytest.fixture(scope="module", autouse=True)
def central_european_time() -> Iterator[None]:
    with local_time_zone(CET):
        yield


def make_run(database: str) -> Run:
    return cli_run(database, NOW)


def table_rows(text: str) -> list[list[str]]:
    """The rows of a text table, cut at the columns its dashed line marks."""
    lines = text.splitlines()
    dashes = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line))
    spans = [m.span() for m in re.finditer(r"-+", lines[dashes])]
    rows = []
    for line in lines[dashes + 1:]:
        if not line.strip():
            break
        rows.append([line[start:end + 1 if i + 1 < len(spans) else None].strip()
                     for i, (start, end) in enumerate(spans)])
    return rows


def labelled(text: str) -> dict[str, str]:
    """`label  value` lines of `proposal show`, as a dict."""
    found = {}
    for line in text.splitlines():
        if line.startswith(("next steps", "no next steps")):
            break
        match = re.fullmatch(r"([a-z ]+?) {2,}(\S.*)", line)
        if match:
            found[match[1]] = match[2]
    return found


def scenario(run: Run) -> None:
    """The project leader's session: two proposals, one moved three steps, a second workflow."""
    ok(run("init", now=D1))
    ok(run("proposal", "new", "innovation-chain", "--title", "Meeting place in the centre",
           "--origin", "User panel, meeting 2019-02-28", "--set", "summary=A place to meet", *LEADER, now=D1))
    ok(run("proposal", "new", "innovation-chain", "--title", "Information leaflet",
           "--set", "summary=Leaflet about the services", *LEADER, now=D1))
    ok(run("advance", "INN-1", "send_to_council", "--set", "expected_benefit=Less isolation",
           "--set", "category=meeting place", "--comment", "From the panel report", *LEADER, now=D2))
    ok(run("advance", "INN-1", "recommend", "--comment", "The council supports it", *COUNCIL, now=D3))
    ok(run("proposal", "new", "user-asks-user", "--title", "Home care audit",
           "--set", "audited_service=Home care", *LEADER, now=D3))
    ok(run("advance", "INN-1", "decide", "--set", "decision_reference=2019/1234",
           "--comment", "Within the mandate", *ADMINISTRATION, now=D4))


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory, central_european_time: None,
                  database_targets: DatabaseTargets) -> Iterator[str]:
    database = database_targets.new(tmp_path_factory.mktemp("scenario"), copyable=True)
    scenario(make_run(database))
    yield database
    database_targets.drop(database)


@pytest.fixture
def run(scenario_file: str, tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Run]:
    """A fresh copy of the scenario's database for each test."""
    database = database_targets.copy(scenario_file, tmp_path, "scenario.db")
    yield make_run(database)
    database_targets.drop(database)


@pytest.fixture
def fresh(db_target: str) -> tuple[Run, str]:
    """A database nothing has been written to yet."""
    return make_run(db_target), db_target


def snapshot(run: Run) -> tuple[Any, Any, Any]:
    """Everything a write could change: the event count, every proposal as listed (its version,
    state, fields and last event), and the history of the one most steps are tried on."""
    return (as_json(run("audit", "verify", "--json")), as_json(run("proposal", "list", "--json")),
            [e["hash"] for e in as_json(run("history", "INN-1", "--json"))["events"]])


# -- the project leader's session ---------------------------------------------------------


def test_init_then_new_numbers_proposals_inn_1_and_inn_2(fresh: tuple[Run, str]) -> None:
    run, database = fresh
    created = ok(run("init", now=D1))
    assert created.stdout.splitlines()[0] == f"database created: {database} (schema {SCHEMA_HEAD})"
    first = ok(run("proposal", "new", "innovation-chain", "--title", "Meeting place",
                   "--set", "summary=A place to meet", *LEADER, now=D1))
    assert first.stdout.splitlines() == ["INN-1 registered in panel_work", "next: flowengine proposal show INN-1"]
    second = as_json(run("proposal", "new", "innovation-chain", "--title", "Leaflet", "--set", "summary=Leaflet",
                         *LEADER, "--json", now=D1))
    assert (second["id"], second["state"], second["version"], second["repeated"]) == ("INN-2", "panel_work", 1, False)
    assert second["fields"] == {"summary": "Leaflet"}


def test_show_says_state_stage_owner_deadline_next_steps_and_missing_fields(run: Run) -> None:
    out = ok(run("proposal", "show", "INN-2")).stdout
    assert out.splitlines()[0] == "INN-2  Information leaflet"
    info = labelled(out)
    assert info["state"] == "panel_work — Panel works on the proposal (stage panel)"
    assert info["waiting"] == ("40 d in this state, since 2019-03-01 10:00 CET; deadline P3M, "
                               "due 2019-06-01 11:00 CEST (on time)")
    assert info["owner"] == "panel must act"
    assert info["last step"] == f"created by ola (project_leader) at 2019-03-01 10:00 CET, recorded by the login {ME}"
    assert info["fields"] == "summary: Leaflet about the services"
    assert info["missing"].startswith("expected_benefit (set with: flowengine proposal set INN-2 FIELD=VALUE)")
    assert "next steps (flowengine advance INN-2 TRIGGER):" in out
    assert table_rows(out) == [
        ["send_to_council", "council_review", "panel, project_leader", "expected_benefit"],
        ["withdraw", "withdrawn", "panel, project_leader", "a comment"],
    ]


def test_show_after_three_steps(run: Run) -> None:
    out = ok(run("proposal", "show", "inn-1")).stdout  # ids are not case-sensitive
    info = labelled(out)
    assert info["origin"] == "User panel, meeting 2019-02-28"
    assert info["state"] == "implementation — Being implemented (stage implementation)"
    assert info["waiting"] == ("8 d in this state, since 2019-04-02 11:00 CEST; deadline P6M, "
                               "due 2019-10-02 11:00 CEST (on time)")
    assert info["owner"] == "service must act"
    assert info["last step"] == ("decide by anne (administration) at 2019-04-02 11:00 CEST, recorded by the login "
                                 f"{ME}")
    assert info["fields"] == ("summary: A place to meet; expected_benefit: Less isolation; "
                              "category: meeting place; decision_reference: 2019/1234")
    assert info["missing"].startswith("implemented_on ")
    assert table_rows(out) == [
        ["start_evaluation", "evaluation", "service, project_leader", "implemented_on"],
        ["park", "parked", "service, administration", "a comment"],
        ["withdraw", "withdrawn", "panel, project_leader", "a comment"],
    ]


def test_show_marks_an_overdue_proposal(run: Run) -> None:
    info = labelled(ok(run("proposal", "show", "INN-2", now=LATE)).stdout)
    assert info["waiting"].endswith("due 2019-06-01 11:00 CEST (OVERDUE)")


def test_show_json_has_the_standing(run: Run) -> None:
    shown = as_json(run("proposal", "show", "INN-1", "--json"))
    assert {"id", "state", "stage", "owner", "version", "fields", "deadline", "due_at", "overdue", "waiting_days",
            "missing_fields", "next_steps", "last_event", "as_of", "final", "outcome"} <= shown.keys()
    assert (shown["state"], shown["stage"], shown["owner"], shown["version"]) == (
        "implementation", "implementation", "service", 4)
    assert (shown["deadline"], shown["due_at"], shown["overdue"]) == ("P6M", "2019-10-02T09:00:00.000000Z", False)
    assert shown["missing_fields"] == ["implemented_on"]
    step = shown["next_steps"][0]
    assert step["label"].startswith("Taken into use")
    assert step == {"trigger": "start_evaluation", "to": "evaluation", "roles": ["service", "project_leader"],
                    "missing_fields": ["implemented_on"], "needs_comment": False, "label": step["label"]}
    assert shown["last_event"]["trigger"] == "decide"


def test_advance_prints_the_move_and_json_gives_the_event(run: Run) -> None:
    moved = ok(run("advance", "INN-2", "send_to_council", "--set", "expected_benefit=Easier to find help",
                   "--comment", "Agreed in the panel", *LEADER))
    assert moved.stdout == "INN-2: send_to_council: panel_work → council_review\n"
    assert moved.stderr == ""
    answer = as_json(run("advance", "INN-2", "send_back", "--comment", "Say who the leaflet is for",
                         *COUNCIL, "--json"))
    assert (answer["state"], answer["version"], answer["repeated"]) == ("panel_work", 3, False)
    event = answer["event"]
    assert (event["seq"], event["trigger"], event["from"], event["to"]) == (3, "send_back", "council_review",
                                                                            "panel_work")
    assert (event["actor"], event["role"], event["comment"]) == ("rita", "council", "Say who the leaflet is for")


def test_advance_with_the_current_version_goes_through(run: Run) -> None:
    moved = ok(run("advance", "INN-1", "start_evaluation", "--set", "implemented_on=2019-04-09",
                   "--expect-version", "4", *LEADER))
    assert moved.stdout == "INN-1: start_evaluation: implementation → evaluation\n"


def test_a_final_proposal_shows_no_next_steps_and_refuses_every_trigger(run: Run) -> None:
    ok(run("advance", "INN-2", "withdraw", "--comment", "Merged into INN-1", *LEADER))
    out = ok(run("proposal", "show", "INN-2")).stdout
    info = labelled(out)
    assert info["state"] == "withdrawn — Withdrawn by the panel (stage closed), outcome withdrawn"
    assert (info["waiting"], info["owner"]) == ("final since 2019-04-10 11:00 CEST", "-")
    assert out.endswith("no next steps: the proposal has reached the end of its chain\n")
    [row] = [r for r in table_rows(ok(run("proposal", "list")).stdout) if r[0] == "INN-2"]
    assert (row[2], row[4], row[6]) == ("withdrawn", "-", "final")
    before = snapshot(run)
    line = one_error_line(run("advance", "INN-2", "send_to_council", *LEADER))
    assert line.endswith("nothing was written — withdrawn is final: nothing more can be done with INN-2")
    assert snapshot(run) == before


def test_history_lists_every_step_with_who_comments_and_field_changes(run: Run) -> None:
    out = ok(run("history", "INN-1")).stdout
    assert out.splitlines()[0] == "INN-1  Meeting place in the centre"
    assert table_rows(out) == [
        ["1", "2019-03-01 10:00 CET", "created", "panel_work", "ola (project_leader)", "summary=A place to meet", "-",
         ME],
        ["2", "2019-03-05 00:30 CET", "send_to_council", "panel_work → council_review", "ola (project_leader)",
         "expected_benefit=Less isolation, category=meeting place", "From the panel report", ME],
        ["3", "2019-03-20 10:00 CET", "recommend", "council_review → administration_review", "rita (council)", "-",
         "The council supports it", ME],
        ["4", "2019-04-02 11:00 CEST", "decide", "administration_review → implementation", "anne (administration)",
         "decision_reference=2019/1234", "Within the mandate", ME],
    ]  # the last column: the login that recorded each step (solo mode: whoever runs the tests)


def test_history_json_has_every_event(run: Run) -> None:
    history = as_json(run("history", "INN-1", "--json"))
    assert history.keys() == {"proposal", "title", "from", "led_to", "events"}
    assert history["proposal"] == "INN-1"
    assert [e["seq"] for e in history["events"]] == [1, 2, 3, 4]
    assert [e["kind"] for e in history["events"]] == ["created", "advanced", "advanced", "advanced"]
    assert {"seq", "kind", "trigger", "from", "to", "actor", "role", "at", "comment", "changes", "hash",
            "prev_hash"} <= history["events"][0].keys()
    assert history["events"][1]["at"] == "2019-03-04T23:30:00.000000Z"
    assert history["events"][3]["changes"] == {"decision_reference": "2019/1234"}
    assert history["events"][1]["prev_hash"] == history["events"][0]["hash"]


def test_list_shows_every_proposal_sorted_by_id(run: Run) -> None:
    out = ok(run("proposal", "list")).stdout
    assert out.splitlines()[0].split() == ["id", "workflow", "state", "stage", "owner", "waiting", "deadline", "title"]
    assert table_rows(out) == [
        ["BSB-1", "user-asks-user", "questions", "panel", "service", "21 d", "on time", "Home care audit"],
        ["INN-1", "innovation-chain", "implementation", "implementation", "service", "8 d", "on time",
         "Meeting place in the centre"],
        ["INN-2", "innovation-chain", "panel_work", "panel", "panel", "40 d", "on time", "Information leaflet"],
    ]


def listed(run: Run, *args: str, now: str = NOW) -> list[str]:
    return [p["id"] for p in as_json(run("proposal", "list", "--json", *args, now=now))]


@pytest.mark.parametrize(("filters", "expected"), [
    (("--workflow", "innovation-chain"), ["INN-1", "INN-2"]),
    (("--workflow", "user-asks-user"), ["BSB-1"]),
    (("--state", "panel_work"), ["INN-2"]),
    (("--stage", "implementation"), ["INN-1"]),
    (("--stage", "panel"), ["BSB-1", "INN-2"]),
    (("--owner", "service"), ["BSB-1", "INN-1"]),
    (("--owner", "service", "--workflow", "innovation-chain"), ["INN-1"]),
    (("--sort", "waiting"), ["INN-2", "BSB-1", "INN-1"]),
    (("--sort", "updated"), ["INN-1", "BSB-1", "INN-2"]),
])
def test_list_filters_and_sorts(run: Run, filters: tuple[str, ...], expected: list[str]) -> None:
    assert listed(run, *filters) == expected


def test_list_overdue_needs_a_clock_past_the_deadline(run: Run) -> None:
    assert listed(run, "--overdue") == []
    assert listed(run, "--overdue", now=LATE) == ["BSB-1", "INN-2"]
    assert listed(run, "--overdue", "--sort", "waiting", now=LATE) == ["INN-2", "BSB-1"]
    out = ok(run("proposal", "list", "--overdue", now=LATE)).stdout
    assert [row[0] for row in table_rows(out) if row[6] == "OVERDUE"] == ["BSB-1", "INN-2"]


def test_list_json_has_the_standing_of_each(run: Run) -> None:
    [leaflet] = as_json(run("proposal", "list", "--json", "--state", "panel_work"))
    assert {"id", "workflow", "state", "stage", "owner", "waiting_days", "overdue", "due_at", "title",
            "version"} <= leaflet.keys()
    assert (leaflet["id"], leaflet["waiting_days"], leaflet["overdue"]) == ("INN-2", 40.0, False)


def test_list_with_nothing_matching_says_so_on_stderr(run: Run, fresh: tuple[Run, str]) -> None:
    none = ok(run("proposal", "list", "--state", "evaluation"))
    assert (none.stdout, none.stderr) == ("", "no proposals match\n")
    assert as_json(run("proposal", "list", "--state", "evaluation", "--json")) == []
    ok(fresh[0]("init"))
    empty = ok(fresh[0]("proposal", "list"))
    assert empty.stdout == ""
    assert empty.stderr.startswith("no proposals yet: register one with `flowengine proposal new")


def test_audit_verify_holds_after_the_session(run: Run) -> None:
    verified = ok(run("audit", "verify"))
    assert verified.stdout == ""
    assert verified.stderr == "3 proposals, 6 events checked: every chain holds\n"
    assert as_json(run("audit", "verify", "--json")) == {"ok": True, "proposals": 3, "events": 6, "breaks": [],
                                                         "altered_definitions": [],
                                                         "access_log": {"entries": 2, "problems": []}}


# -- the past: --as-of ----------------------------------------------------------------------


def test_show_as_of_a_past_day_shows_that_days_state(run: Run) -> None:
    # D2 is 23:30 UTC on 4 March, which is already 5 March here: the day is the local one.
    before = as_json(run("proposal", "show", "INN-1", "--as-of", "2019-03-04", "--json"))
    assert (before["state"], before["version"], before["missing_fields"]) == ("panel_work", 1, ["expected_benefit"])
    assert before["as_of"] == "2019-03-04T22:59:59.999999Z"
    after = labelled(ok(run("proposal", "show", "INN-1", "--as-of", "2019-03-05")).stdout)
    assert after["state"] == "council_review — With the user council (stage council)"
    assert after["fields"] == "summary: A place to meet; expected_benefit: Less isolation; category: meeting place"
    # six weeks of UTC, across the change to summer time
    assert after["waiting"] == ("23 h in this state, since 2019-03-05 00:30 CET; deadline 6w, "
                                "due 2019-04-16 01:30 CEST (on time)")
    assert after["last step"] == ("send_to_council by ola (project_leader) at 2019-03-05 00:30 CET, recorded by the "
                                  f"login {ME}")


def test_list_as_of_a_past_day_shows_the_proposals_as_they_were(run: Run) -> None:
    out = ok(run("proposal", "list", "--as-of", "2019-03-19")).stdout
    assert [row[:3] for row in table_rows(out)] == [["INN-1", "innovation-chain", "council_review"],
                                                    ["INN-2", "innovation-chain", "panel_work"]]
    assert listed(run, "--as-of", "2019-03-04", "--state", "panel_work") == ["INN-1", "INN-2"]
    assert listed(run, "--as-of", "2019-03-20", "--state", "administration_review") == ["INN-1"]
    assert listed(run, "--as-of", "2019-02-28") == []


def test_history_as_of_a_past_day_stops_at_that_day(run: Run) -> None:
    out = ok(run("history", "INN-1", "--as-of", "2019-03-05")).stdout
    assert [row[2] for row in table_rows(out)] == ["created", "send_to_council"]
    assert len(as_json(run("history", "INN-1", "--as-of", "2019-03-04", "--json"))["events"]) == 1
    line = one_error_line(run("history", "INN-1", "--as-of", "2019-02-28"))
    assert line.startswith("error: INN-1 did not exist yet at 2019-02-28 23:59 CET")


def test_show_as_of_before_the_proposal_existed_is_an_error(run: Run) -> None:
    line = one_error_line(run("proposal", "show", "BSB-1", "--as-of", "2019-03-19"))
    assert line == ("error: BSB-1 did not exist yet at 2019-03-19 23:59 CET (created 2019-03-20 10:00 CET) "
                    "(fix: a later --as-of)")


# -- bad input: one line, the right exit code, nothing written ------------------------------

REFUSALS: list[tuple[str, tuple[str, ...], list[str]]] = [
    ("unknown id", ("advance", "INM-1", "recommend", *COUNCIL),
     ["error: unknown proposal 'INM-1'; did you mean 'INN-1'? (fix: flowengine proposal list)"]),
    ("unknown id on a read", ("history", "INN-12"),
     ["error: unknown proposal 'INN-12'; did you mean 'INN-2'? (fix: flowengine proposal list)"]),
    ("unknown id on a field change", ("proposal", "set", "INN-7", "cost_estimate=1", *LEADER),
     ["error: unknown proposal 'INN-7'"]),
    ("unknown trigger", ("advance", "INN-2", "sned_to_council", *LEADER),
     ["innovation-chain has no trigger 'sned_to_council' (did you mean 'send_to_council'?)",
      "nothing was written",
      "allowed now in panel_work: send_to_council (panel, project_leader), withdraw (panel, project_leader)"]),
    ("trigger not out of this state", ("advance", "INN-2", "recommend", *COUNCIL),
     ["error: cannot recommend INN-2 (in panel_work",
      "'recommend' does not lead out of panel_work (it leads out of council_review)",
      "allowed now in panel_work: send_to_council (panel, project_leader), withdraw (panel, project_leader)"]),
    ("wrong role", ("advance", "INN-1", "start_evaluation", "--set", "implemented_on=2019-04-09", *COUNCIL),
     ["role 'council' may not start_evaluation (roles that may: service, project_leader)",
      "allowed now in implementation: start_evaluation (service, project_leader), park (service, administration), "
      "withdraw (panel, project_leader)"]),
    ("role the workflow does not know", ("advance", "INN-2", "withdraw", "--comment", "x", "--as", "ola",
                                         "--role", "councl"),
     ["error: unknown role 'councl'; did you mean 'council'?; roles of innovation-chain: panel, council"]),
    ("missing field", ("advance", "INN-1", "start_evaluation", *LEADER),
     ["error: cannot start_evaluation INN-1 (in implementation",
      "field still missing: implemented_on; nothing was written", "(fix: --set implemented_on=…)"]),
    ("missing comment", ("advance", "INN-2", "withdraw", *LEADER),
     ["error: cannot withdraw INN-2 (in panel_work): 'withdraw' needs a comment explaining the decision; "
      "nothing was written", "(fix: --comment \"…\")"]),
    ("several reasons", ("advance", "INN-2", "send_to_council", *COUNCIL),
     ["role 'council' may not send_to_council (roles that may: panel, project_leader); "
      "field still missing: expected_benefit; nothing was written", "(fix: --set expected_benefit=…)"]),
    ("stale version", ("advance", "INN-1", "start_evaluation", "--set", "implemented_on=2019-04-09",
                       "--expect-version", "3", *LEADER),
     ["error: INN-1 was changed by anne (administration) at 2019-04-02 11:00 CEST and is now in implementation; "
      "nothing was written"]),
    ("stale version of a field change", ("proposal", "set", "INN-1", "cost_estimate=25000", "--expect-version", "1",
                                         *LEADER),
     ["error: INN-1 was changed by anne (administration) at 2019-04-02 11:00 CEST and is now in implementation",
      "nothing was written"]),
    ("not a number", ("proposal", "set", "INN-1", "cost_estimate=lots", *LEADER),
     ["error: field 'cost_estimate' takes a number such as 25000 or 12.5; got 'lots'"]),
    ("ambiguous number", ("proposal", "set", "INN-1", "cost_estimate=1,500", *LEADER),
     ["error: field 'cost_estimate': '1,500' is ambiguous (thousands or decimals?)"]),
    ("not a date", ("advance", "INN-1", "start_evaluation", "--set", "implemented_on=2019-13-01", *LEADER),
     ["error: field 'implemented_on' takes a date written YYYY-MM-DD, e.g. 2019-03-01; got '2019-13-01'"]),
    ("not a choice", ("proposal", "set", "INN-2", "category=meetng place", *LEADER),
     ["error: field 'category' must be one of: meeting place, information,",
      "got 'meetng place' (did you mean 'meeting place'?"]),
    ("not a web address", ("proposal", "set", "INN-2", "link=www.example.org", *LEADER),
     ["error: field 'link' takes a web address starting with https:// or http://; got 'www.example.org'"]),
    ("unknown field", ("proposal", "set", "INN-2", "colour=red", *LEADER),
     ["error: unknown field 'colour'; known: category, cost_estimate,"]),
    ("unknown field misspelt", ("advance", "INN-2", "send_to_council", "--set", "expected_benefits=More", *LEADER),
     ["error: unknown field 'expected_benefits'; did you mean 'expected_benefit'?"]),
    ("required field cleared", ("proposal", "set", "INN-2", "summary=", *LEADER),
     ["error: cannot clear summary of INN-2: 'summary' is a required field; nothing was written"]),
    ("unknown workflow", ("proposal", "new", "inovation-chain", "--title", "x", *LEADER),
     ["error: unknown workflow 'inovation-chain'; did you mean 'innovation-chain'?"]),
    ("required field missing on new", ("proposal", "new", "innovation-chain", "--title", "x", *LEADER),
     ["error: cannot create a proposal under innovation-chain: required field 'summary' is missing; "
      "nothing was written — give a value for each (fix: --set summary=…)"]),
    ("empty title", ("proposal", "new", "innovation-chain", "--title", " ", "--set", "summary=s", *LEADER),
     ["error: a proposal needs a title"]),
    ("idempotency key reused for another step", ("advance", "INN-2", "withdraw", "--comment", "Merged into INN-1",
                                                 "--idempotency-key", "key-1", *LEADER),
     ["error: idempotency key 'key-1' was already used to set fields of BSB-1 at 2019-04-10 11:00 CEST; "
      "nothing was written — use a new key for a new request"]),
    ("idempotency key reused for another proposal", ("proposal", "new", "innovation-chain", "--title", "Other idea",
                                                     "--set", "summary=s", "--idempotency-key", "key-1", *LEADER),
     ["error: idempotency key 'key-1' was already used", "use a new key for a new request"]),
]


@pytest.mark.parametrize(("args", "expected"), [pytest.param(args, expected, id=name)
                                                 for name, args, expected in REFUSALS])
def test_bad_input_gives_one_error_line_exit_1_and_writes_nothing(
    run: Run, args: tuple[str, ...], expected: list[str]
) -> None:
    ok(run("proposal", "set", "BSB-1", "interviews_held=12", "--idempotency-key", "key-1", *LEADER))
    before = snapshot(run)
    line = one_error_line(run(*args))
    for part in expected:
        assert part in line, line
    assert snapshot(run) == before


MALFORMED = [  # a malformed option value is a usage error: exit 2, click's usage lines, then the reason
    ("--set without =", ("advance", "INN-1", "start_evaluation", "--set", "implemented_on", *LEADER),
     "Error: Invalid value for '--set': 'implemented_on' is not field=value, e.g. cost_estimate=25000 "
     "(fix: --set cost_estimate=…)"),
    ("set argument without =", ("proposal", "set", "INN-1", "=25000", *LEADER),
     "Error: Invalid value for 'FIELD=VALUE...': '=25000' is not field=value"),
    ("--as-of not a date on show", ("proposal", "show", "INN-1", "--as-of", "yesterday"),
     "Error: Invalid value for '--as-of': the value 'yesterday' is not a date; write it as YYYY-MM-DD,"),
    ("--as-of not a day on list", ("proposal", "list", "--as-of", "2019-02-30"),
     "Error: Invalid value for '--as-of': the value '2019-02-30' is not a date"),
    ("--as-of in another format on history", ("history", "INN-1", "--as-of", "03/10/2019"),
     "Error: Invalid value for '--as-of': the value '03/10/2019' is not a date"),
]


@pytest.mark.parametrize(("args", "expected"), [pytest.param(args, expected, id=name)
                                                 for name, args, expected in MALFORMED])
def test_a_malformed_option_value_is_a_usage_error_exit_2_and_writes_nothing(
    run: Run, args: tuple[str, ...], expected: str
) -> None:
    before = snapshot(run)
    line = one_error_line(run(*args), code=2)
    assert line.startswith(expected), line
    assert snapshot(run) == before


def test_refusal_names_every_reason_and_the_allowed_triggers_with_their_roles(run: Run) -> None:
    ok(run("advance", "INN-2", "send_to_council", "--set", "expected_benefit=Easier", *LEADER))
    ok(run("advance", "INN-2", "recommend", *COUNCIL))
    before = snapshot(run)
    line = one_error_line(run("advance", "INN-2", "decide", *LEADER))
    assert line == (
        "error: cannot decide INN-2 (in administration_review, last changed by rita (council) at "
        "2019-04-10 11:00 CEST): "
        "role 'project_leader' may not decide (roles that may: administration); "
        "field still missing: decision_reference; "
        "'decide' needs a comment explaining the decision; nothing was written "
        "— allowed now in administration_review: send_to_politicians (administration), decide (administration), "
        "send_back (administration), escalate (council, project_leader), reject (administration), "
        "park (administration), transfer (administration), withdraw (panel, project_leader) "
        "(fix: --set decision_reference=…; --comment \"…\")")
    assert snapshot(run) == before


def test_refusal_with_a_bad_field_value_changes_no_field(run: Run) -> None:
    before = snapshot(run)
    one_error_line(run("advance", "INN-2", "send_to_council", "--set", "expected_benefit=More",
                       "--set", "cost_estimate=lots", *LEADER))
    assert snapshot(run) == before
    assert "expected_benefit" not in as_json(run("proposal", "show", "INN-2", "--json"))["fields"]


@pytest.mark.parametrize("args", [
    ("advance", "INN-1", "start_evaluation"),
    ("advance", "INN-1", "start_evaluation", "--as", "ola"),
    ("proposal", "set", "INN-1", "cost_estimate=1", "--role", "project_leader"),
    ("proposal", "new", "innovation-chain", "--title", "x", "--set", "summary=s"),
])
def test_missing_identity_is_a_usage_error_exit_2(run: Run, args: tuple[str, ...]) -> None:
    before = snapshot(run)
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error: say who you are: " in result.stderr
    assert "(or set FLOWENGINE_USER and FLOWENGINE_ROLE); a pseudonym is enough" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(run) == before


def test_identity_from_the_environment(run: Run) -> None:
    moved = ok(run("advance", "INN-2", "withdraw", "--comment", "Merged into INN-1",
                   env={"FLOWENGINE_USER": "ola", "FLOWENGINE_ROLE": "project_leader"}))
    assert moved.stdout == "INN-2: withdraw: panel_work → withdrawn\n"
    last = as_json(run("history", "INN-2", "--json"))["events"][-1]
    assert (last["actor"], last["role"]) == ("ola", "project_leader")


@pytest.mark.parametrize("args", [
    ("proposal", "set", "INN-1", *LEADER),  # no FIELD=VALUE
    ("proposal", "list", "--stage", "councl"),
    ("proposal", "list", "--sort", "age"),
    ("advance", "INN-1", "start_evaluation", "--expect-version", "0", *LEADER),
    ("advance", "INN-1", *LEADER),
])
def test_usage_errors_exit_2_without_writing(run: Run, args: tuple[str, ...]) -> None:
    before = snapshot(run)
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: flowengine ")
    assert "Error: " in result.stderr
    assert snapshot(run) == before


def test_invalid_workflow_file_gives_its_file_line_errors_and_writes_nothing(
    run: Run, write_workflow: WriteWorkflow
) -> None:
    broken = MINIMAL_WORKFLOW.replace("stage: council\n", "stage: counsil\n").replace("to: accepted", "to: acepted")
    path = write_workflow(broken)
    before = snapshot(run)
    result = run("proposal", "new", str(path), "--title", "x", *LEADER)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"{path}:13:12: error FE103: 'counsil' is not an allowed stage (did you mean 'council'?)",
        f"{path}:29:9: error FE204: transition 'accept' goes to unknown state 'acepted' (did you mean 'accepted'?)",
    ]
    assert snapshot(run) == before


def test_a_workflow_file_that_is_not_there_is_one_error_line(run: Run, tmp_path: Path) -> None:
    line = one_error_line(run("proposal", "new", str(tmp_path / "nowhere.yaml"), "--title", "x", *LEADER))
    assert line.startswith("error: unknown workflow file ")


def test_a_valid_workflow_file_can_be_given_by_path(run: Run, write_workflow: WriteWorkflow) -> None:
    created = as_json(run("proposal", "new", str(write_workflow(MINIMAL_WORKFLOW)), "--title", "Small",
                          "--as", "kari", "--role", "panel", "--json"))
    assert (created["id"], created["workflow"], created["state"]) == ("MINIMA-1", "minimal", "draft")


@pytest.mark.sqlite_only
def test_db_in_a_missing_folder_is_one_error_line_and_creates_nothing(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "flowengine.db"
    for args in (("init",), ("advance", "INN-1", "recommend", *COUNCIL)):
        line = one_error_line(run(*args, "--db", str(target)))
        assert line == (f"error: cannot create the database {target}: the folder {target.parent} does not exist "
                        "(create it, or choose another place)")
    line = one_error_line(run("proposal", "list", "--db", str(target)))  # a reader would create nothing anyway
    assert line == (f"error: there is no database at {target}; a command that only reads creates none "
                    f"(fix: flowengine init --db {target}; --db PATH)")
    assert not (tmp_path / "no").exists()


@pytest.mark.sqlite_only
def test_db_that_is_a_folder_is_one_error_line(run: Run, tmp_path: Path) -> None:
    line = one_error_line(run("proposal", "list", "--db", str(tmp_path)))
    assert line.startswith(f"error: {tmp_path} is a folder; give a file name for the database")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", [("init",), ("db", "status"), ("db", "upgrade"), ("proposal", "list"),
                                  ("proposal", "show", "INN-1"), ("audit", "verify"),
                                  ("advance", "INN-1", "recommend", *COUNCIL)])
def test_db_file_that_is_not_a_database_is_one_error_line_and_stays_untouched(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"Meeting notes, not a database\n" * 10)
    line = one_error_line(make_run(str(notes))(*args))
    assert line == f"error: database error in {notes}: file is not a database"
    assert notes.read_bytes() == b"Meeting notes, not a database\n" * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_db_url_of_an_unsupported_kind_is_one_error_line(run: Run) -> None:
    line = one_error_line(run("proposal", "list", "--db", "mysql://db.example.org/flow"))
    assert line.startswith("error: flowengine stores in SQLite or PostgreSQL, not 'mysql'")


# -- idempotency --------------------------------------------------------------------------


def test_repeating_an_advance_with_its_idempotency_key_writes_it_once(run: Run) -> None:
    args = ("advance", "INN-1", "start_evaluation", "--set", "implemented_on=2019-04-09",
            "--idempotency-key", "9f1c-start", *LEADER)
    assert ok(run(*args)).stdout == "INN-1: start_evaluation: implementation → evaluation\n"
    after_first = snapshot(run)
    again = ok(run(*args, now=LATE))
    assert again.stdout == ("INN-1: start_evaluation: implementation → evaluation "
                            "(already done by an earlier run with this key)\n")
    answer = as_json(run(*args, "--json", now=LATE))
    assert (answer["repeated"], answer["version"], answer["event"]["seq"]) == (True, 5, 5)
    assert answer["event"]["at"] == "2019-04-10T09:00:00.000000Z"  # the first run's moment, not LATE
    assert snapshot(run) == after_first


def test_repeating_a_new_proposal_with_its_idempotency_key_registers_it_once(run: Run) -> None:
    args = ("proposal", "new", "innovation-chain", "--title", "Peer support group", "--set", "summary=Peers",
            "--idempotency-key", "panel-2019-04-10-1", *LEADER)
    assert ok(run(*args)).stdout.startswith("INN-3 registered in panel_work\n")
    after_first = snapshot(run)
    again = ok(run(*args))
    assert again.stdout.startswith("INN-3 registered in panel_work (already registered by an earlier run "
                                   "with this key)\n")
    assert as_json(run(*args, "--json"))["repeated"] is True
    assert snapshot(run) == after_first


def test_an_idempotency_key_used_to_register_cannot_register_another_proposal(run: Run) -> None:
    ok(run("proposal", "new", "innovation-chain", "--title", "Peer support group", "--set", "summary=Peers",
           "--idempotency-key", "k-new", *LEADER))
    before = snapshot(run)
    line = one_error_line(run("proposal", "new", "innovation-chain", "--title", "Walking group",
                              "--set", "summary=Walks", "--idempotency-key", "k-new", *LEADER))
    assert line.startswith("error: idempotency key 'k-new' was already used to register INN-3")
    assert snapshot(run) == before


# -- proposal set ---------------------------------------------------------------------------


def test_set_records_a_fields_set_event(run: Run) -> None:
    done = ok(run("proposal", "set", "INN-1", "cost_estimate=25 000", "link=https://example.org/report",
                  "--comment", "From the budget", *LEADER))
    assert done.stdout == "INN-1: set cost_estimate, link (version 5)\n"
    event = as_json(run("history", "INN-1", "--json"))["events"][-1]
    assert (event["kind"], event["trigger"], event["from"], event["to"]) == ("fields_set", None, "implementation",
                                                                             "implementation")
    assert event["changes"] == {"cost_estimate": 25000, "link": "https://example.org/report"}
    assert (event["actor"], event["comment"]) == ("ola", "From the budget")
    row = table_rows(ok(run("history", "INN-1")).stdout)[-1]
    assert row[2:] == ["fields set", "implementation", "ola (project_leader)",
                       "cost_estimate=25000, link=https://example.org/report", "From the budget", ME]
    shown = as_json(run("proposal", "show", "INN-1", "--json"))
    assert (shown["fields"]["cost_estimate"], shown["version"]) == (25000, 5)
    assert shown["state_entered_at"] == "2019-04-02T09:00:00.000000Z"  # setting a field is not a move


def test_set_the_same_value_again_writes_nothing_and_says_so(run: Run) -> None:
    ok(run("proposal", "set", "INN-1", "cost_estimate=25000", *LEADER))
    before = snapshot(run)
    again = ok(run("proposal", "set", "INN-1", "cost_estimate=25000.0", *LEADER))
    assert again.stdout == "nothing to change: INN-1 already has these values\n"
    answer = as_json(run("proposal", "set", "INN-1", "cost_estimate=25000", *LEADER, "--json"))
    assert (answer["changed"], answer["repeated"], answer["version"]) == (False, False, 5)
    assert snapshot(run) == before


def test_set_an_empty_value_clears_an_optional_field(run: Run) -> None:
    done = ok(run("proposal", "set", "INN-1", "category=", *LEADER))
    assert done.stdout == "INN-1: set category (version 5)\n"
    assert "category" not in as_json(run("proposal", "show", "INN-1", "--json"))["fields"]
    assert table_rows(ok(run("history", "INN-1")).stdout)[-1][5] == "category=(cleared)"


# -- init and db ----------------------------------------------------------------------------


def test_db_status_on_a_new_database_says_it_is_empty(fresh: tuple[Run, str]) -> None:
    run, database = fresh
    if "://" not in database:
        Path(database).touch()  # an empty file (one that is not there is refused: a reader creates nothing)
    assert ok(run("db", "status")).stdout == f"{database}: schema - (empty (created on first use))\n"
    assert as_json(run("db", "status", "--json")) == {"database": str(database), "revision": None,
                                                      "head": SCHEMA_HEAD, "current": False}


def test_db_upgrade_on_a_new_database_creates_the_schema_then_has_nothing_to_do(fresh: tuple[Run, str]) -> None:
    run, database = fresh
    assert ok(run("db", "upgrade")).stdout == f"{database}: upgraded from empty to {SCHEMA_HEAD}\n"
    assert ok(run("db", "upgrade")).stdout == f"{database}: already at {SCHEMA_HEAD}; nothing to do\n"
    assert ok(run("db", "status")).stdout == f"{database}: schema {SCHEMA_HEAD} (current)\n"


def test_init_on_a_new_then_an_existing_database(fresh: tuple[Run, str]) -> None:
    run, database = fresh
    first = ok(run("init"))
    assert first.stdout.splitlines() == [
        f"database created: {database} (schema {SCHEMA_HEAD})",
        f"{ME} holds admin and every role of every workflow (see: flowengine whoami)",
        'next: flowengine proposal new innovation-chain --title "…" --as NAME --role ROLE']
    assert ok(run("init")).stdout.splitlines()[0] == f"database ready: {database} (schema {SCHEMA_HEAD})"


def test_init_and_db_on_an_existing_database_keep_its_proposals(run: Run) -> None:
    before = snapshot(run)
    assert ok(run("init")).stdout.startswith("database ready: ")
    assert ok(run("db", "upgrade")).stdout.endswith(f": already at {SCHEMA_HEAD}; nothing to do\n")
    status = as_json(run("db", "status", "--json"))
    assert (status["revision"], status["current"]) == (SCHEMA_HEAD, True)
    assert snapshot(run) == before


def test_the_first_command_that_writes_creates_a_new_database(fresh: tuple[Run, str]) -> None:
    run, database = fresh
    assert untouched(database)
    if "://" not in database:  # a SQLite file that is not there: a reader creates nothing
        assert run("proposal", "list", "--json").exit_code == 1
        assert untouched(database)
    ok(run("init"))
    assert as_json(run("proposal", "list", "--json")) == []
    assert as_json(run("db", "status", "--json"))["current"] is True
    assert as_json(run("audit", "verify", "--json")) == {"ok": True, "proposals": 0, "events": 0, "breaks": [],
                                                         "altered_definitions": [],
                                                         "access_log": {"entries": 2, "problems": []}}


# -- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["proposal"], ["proposal", "new"], ["proposal", "list"], ["proposal", "show"], ["proposal", "set"],
    ["advance"], ["history"], ["audit"], ["audit", "verify"], ["init"], ["db"], ["db", "status"], ["db", "upgrade"],
])
def test_help_of_every_command_exits_0_and_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"flowengine {' '.join(command)}" in result.stdout.split("Example", 1)[1]


def test_list_offers_every_stage_and_sort_the_library_knows() -> None:
    """The command spells them out so that its help imports neither the model nor the database."""
    from flowengine_cli.proposal import list_proposals

    from flowengine.definition.model import STAGES
    from flowengine.service.reading import SORTS

    choices = {p.name: tuple(p.type.choices) for p in list_proposals.params if isinstance(p.type, click.Choice)}
    assert (choices["stage"], choices["sort"]) == (STAGES, SORTS)
