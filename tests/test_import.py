"""`flowengine import`: event logs (CSV, XES) as histories — what fits becomes proposals whose
chains verify, every row that does not fit is named with its line and why, and a failed,
dry or repeated import writes nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.eventlog import attributes as a
from flowengine.eventlog.importer import MAX_PROBLEMS, LogRejected, import_log, parse_mapping
from flowengine.history.records import ADVANCED, CREATED
from flowengine.service.facade import FlowEngine

from .cli_support import make_run, ok
from .conftest import FixedClock

REVIEW = """\
id: review
version: 1
prefix: REV
roles:
  clerk: {kind: administration}
  council: {}
states:
  received: {initial: true, stage: panel, owner: clerk, labels: {en: Application received}}
  checked: {stage: administration, owner: clerk, labels: {en: Check application, nb: Søknad sjekket}}
  decided: {final: true, outcome: implemented}
  rejected: {final: true, outcome: rejected}
transitions:
  - {trigger: check, from: received, to: checked, roles: [clerk]}
  - {trigger: recheck, from: checked, to: checked}
  - {trigger: approve, from: checked, to: decided, roles: [council]}
  - {trigger: fast_track, from: checked, to: decided, roles: [council]}
  - {trigger: reject, from: [received, checked], to: rejected}
"""
NOW = datetime(2030, 1, 1, tzinfo=UTC)
HEADER = (a.CASE, a.ACTIVITY, a.TIMESTAMP, a.RESOURCE, a.ROLE)
GOOD = [
    ("c-1", "received", "2024-03-01T09:00:00+01:00", "kari", "clerk"),
    ("c-1", "Check application", "2024-03-02T09:00:00+01:00", "kari", "clerk"),
    ("c-1", "rejected", "2024-03-05T10:00:00+01:00", "ola", "council"),
    ("REV-7", "received", "2024-03-03T09:00:00Z", "kari", "clerk"),
    ("REV-7", "checked", "2024-03-04T09:00:00Z", "kari", "clerk"),
    ("REV-7", "checked", "2024-03-06T09:00:00Z", "kari", "clerk"),
]


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "review.yaml").write_text(REVIEW, encoding="utf-8")
    return workflows


@pytest.fixture
def flow(db_target: str, folder: Path) -> Iterator[FlowEngine]:
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=FixedClock(NOW)) as engine:
        yield engine


def write(tmp_path: Path, rows: Sequence[Sequence[str]], name: str = "log.csv",
          header: Sequence[str] = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(csv_text(rows, header), encoding="utf-8")
    return path


def rejected(flow: FlowEngine, path: Path, **options: object) -> LogRejected:
    with pytest.raises(LogRejected) as caught:
        import_log(flow, path, "review", **options)  # type: ignore[arg-type]
    assert flow.proposals() == [], "a refused import wrote something"
    return caught.value


def only_problem(flow: FlowEngine, path: Path, **options: object) -> str:
    found = rejected(flow, path, **options)
    assert found.count == 1, [p.format() for p in found.problems]
    return found.problems[0].format()


# -- what fits -----------------------------------------------------------------------------------

def test_each_case_becomes_a_proposal_whose_chain_verifies(flow: FlowEngine, tmp_path: Path) -> None:
    report = import_log(flow, write(tmp_path, GOOD), "review")
    assert (report.cases, report.events, report.kept_ids) == (2, 6, 1)
    listed = {s.proposal.id: s.proposal for s in flow.proposals()}
    assert set(listed) == {"REV-1", "REV-7"}  # REV-7 kept; c-1, first in the file, gets the next free number
    first, _ = flow.history("REV-1")
    assert first.origin == "event log case c-1" and first.title == "c-1" and first.state == "rejected"
    assert listed["REV-7"].state == "checked" and listed["REV-7"].version == 3
    _, events = flow.history("REV-7")
    assert [(e.kind, e.trigger, e.from_state, e.to_state) for e in events] == [
        (CREATED, None, None, "received"), (ADVANCED, "check", "received", "checked"),
        (ADVANCED, "recheck", "checked", "checked")]
    assert events[2].entered_at == events[1].at  # a step back into a state starts its clock again
    assert flow.verify().ok


def test_an_activity_is_found_by_its_state_id_or_any_label(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "Application received", "2024-03-01T09:00:00Z", "kari", "clerk"),
            ("c-1", "Søknad sjekket", "2024-03-02T09:00:00Z", "kari", "clerk")]
    import_log(flow, write(tmp_path, rows), "review")
    assert flow.proposals()[0].proposal.state == "checked"


def test_events_are_taken_in_time_order_and_ties_keep_the_files_order(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk"),
            ("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk"),
            ("c-1", "checked", "2024-03-02T09:00:00Z", "ola", "clerk")]  # same moment: after the row above
    import_log(flow, write(tmp_path, rows), "review")
    _, events = flow.history("REV-1")
    assert [(e.trigger, e.actor) for e in events] == [(None, "kari"), ("check", "kari"), ("recheck", "ola")]


def test_a_case_starting_past_the_initial_state_is_created_there_and_stepped_at_once(
        flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk")]
    import_log(flow, write(tmp_path, rows), "review")
    _, events = flow.history("REV-1")
    assert [(e.kind, e.to_state, e.at) for e in events] == [
        (CREATED, "received", datetime(2024, 3, 2, 9, tzinfo=UTC)),
        (ADVANCED, "checked", datetime(2024, 3, 2, 9, tzinfo=UTC))]


def test_the_trigger_column_chooses_between_transitions_to_the_same_state(flow: FlowEngine, tmp_path: Path) -> None:
    header = (*HEADER, a.TRIGGER)
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk", ""),
            ("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk", ""),
            ("c-1", "decided", "2024-03-03T09:00:00Z", "ola", "council", "fast_track")]
    import_log(flow, write(tmp_path, rows, header=header), "review")
    _, events = flow.history("REV-1")
    assert events[-1].trigger == "fast_track"


def test_foreign_columns_are_named_with_map_and_defaults_fill_in_actor_and_role(
        flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("A1", "received", "2024-03-01 09:00:00+00:00", "Looked at it; fine, \"really\"\nsecond line"),
            ("A1", "checked", "2024-03-02 09:00:00+00:00", "")]
    path = write(tmp_path, rows, header=("Case ID", "Step", "When", "Note"))
    mapping = parse_mapping(["Case ID=case", "Step=activity", "When=timestamp", "Note=comment"])
    import_log(flow, path, "review", mapping=mapping, actor="archive", role="clerk")
    _, events = flow.history("REV-1")
    assert {(e.actor, e.role) for e in events} == {("archive", "clerk")}
    assert events[0].comment == "Looked at it; fine, \"really\"\nsecond line"


def test_semicolon_separated_files_are_read_too(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(csv_text(GOOD).replace(",", ";"), encoding="utf-8")
    assert import_log(flow, path, "review").events == 6


def test_events_not_complete_are_skipped_and_counted(flow: FlowEngine, tmp_path: Path) -> None:
    header = (*HEADER, a.LIFECYCLE)
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk", "complete"),
            ("c-1", "checked", "2024-03-01T10:00:00Z", "kari", "clerk", "start"),
            ("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk", "complete")]
    report = import_log(flow, write(tmp_path, rows, header=header), "review")
    assert (report.events, report.skipped) == (2, 1)


def test_a_log_whose_cases_are_scattered_is_grouped_before_it_is_read(flow: FlowEngine, tmp_path: Path) -> None:
    rows = sorted(GOOD, key=lambda row: row[2])  # by time: the two cases interleave
    report = import_log(flow, write(tmp_path, rows), "review", batch_events=1)
    assert (report.cases, report.events) == (2, 6)
    assert flow.verify().ok


def test_an_xes_log_is_read_trace_by_trace(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(xes([("c-1", [("received", "2024-03-01T09:00:00.000+01:00"),
                                  ("checked", "2024-03-02T09:00:00.000+01:00")])]), encoding="utf-8")
    report = import_log(flow, path, "review", actor="archive", role="clerk")
    assert (report.cases, report.events) == (1, 2)
    proposal, _ = flow.history("REV-1")
    assert proposal.origin == "event log case c-1"


def xes(traces: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">',
             '  <string key="concept:name" value="a log"/>']
    for case, events in traces:
        lines += ["  <trace>", f'    <string key="concept:name" value="{case}"/>']
        for activity, moment in events:
            lines += ["    <event>", f'      <string key="concept:name" value="{activity}"/>',
                      f'      <date key="time:timestamp" value="{moment}"/>', "    </event>"]
        lines.append("  </trace>")
    return "\n".join([*lines, "</log>"]) + "\n"


# -- every kind of broken row, with its line and why --------------------------------------------

def test_an_unknown_activity_is_named_with_a_did_you_mean(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "cheked", "2024-03-02T09:00:00Z", "kari", "clerk")]
    assert only_problem(flow, write(tmp_path, rows)) == (
        "log.csv:3: case c-1: unknown activity 'cheked': no state of review has it as id or label "
        "(did you mean 'checked'?)")


def test_a_step_no_transition_declares_lists_the_allowed_ones(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "decided", "2024-03-02T09:00:00Z", "ola", "council")]
    assert only_problem(flow, write(tmp_path, rows)) == (
        "log.csv:3: case c-1: no declared transition from received to decided "
        "(allowed from received: check → checked, reject → rejected)")


def test_two_transitions_to_one_state_need_the_trigger_column(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], GOOD[1], ("c-1", "decided", "2024-03-03T09:00:00Z", "ola", "council")]
    problem = only_problem(flow, write(tmp_path, rows))
    assert problem.startswith("log.csv:4: case c-1: 2 transitions lead from checked to decided (approve, fast_track)")


def test_a_role_the_workflow_does_not_have_is_refused(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerc")]
    assert only_problem(flow, write(tmp_path, rows)) == (
        "log.csv:3: case c-1: role 'clerc' is not a role of review (did you mean 'clerk'?)")


def test_a_role_the_transition_does_not_allow_is_refused(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "checked", "2024-03-02T09:00:00Z", "ola", "council")]
    assert only_problem(flow, write(tmp_path, rows)) == (
        "log.csv:3: case c-1: role 'council' may not check from received (roles that may: clerk)")


def test_a_bad_timestamp_is_refused(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "checked", "02/03/2024 09:00", "kari", "clerk")]
    assert only_problem(flow, write(tmp_path, rows)).startswith(
        "log.csv:3: case c-1: bad timestamp '02/03/2024 09:00': write ISO 8601 with a UTC offset")


def test_a_timestamp_without_offset_is_refused_unless_assumed_utc(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("c-1", "checked", "2024-03-02T09:00:00", "kari", "clerk")]
    path = write(tmp_path, rows)
    assert "has no UTC offset" in only_problem(flow, path)
    assert rejected(flow, path).remedies == (Remedy("assume_utc"),)
    import_log(flow, path, "review", assume_utc=True)
    assert flow.history("REV-1")[1][1].at == datetime(2024, 3, 2, 9, tzinfo=UTC)


def test_missing_case_activity_and_timestamp_are_each_named(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [GOOD[0], ("", "checked", "2024-03-02T09:00:00Z", "kari", "clerk"),
            ("c-1", "", "2024-03-02T09:00:00Z", "kari", "clerk"), ("c-1", "checked", "", "kari", "clerk")]
    found = rejected(flow, write(tmp_path, rows))
    assert [p.format() for p in found.problems] == [
        "log.csv:3: no case id (the case:concept:name column is empty)",
        "log.csv:4: case c-1: no activity (the concept:name column is empty)",
        "log.csv:5: case c-1: no timestamp (the time:timestamp column is empty)",
    ]


def test_a_missing_actor_asks_for_the_default(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "", "clerk")]
    assert only_problem(flow, write(tmp_path, rows)) == (
        "log.csv:2: case c-1: no actor (the org:resource column is empty here; give a default actor for rows without "
        "one)")


def test_the_physical_line_counts_line_breaks_inside_quoted_fields(flow: FlowEngine, tmp_path: Path) -> None:
    header = (*HEADER, a.COMMENT)
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk", "one\ntwo\nthree"),
            ("c-1", "nowhere", "2024-03-02T09:00:00Z", "kari", "clerk", "")]
    assert only_problem(flow, write(tmp_path, rows, header=header)).startswith("log.csv:5: case c-1: unknown activity")


def test_xes_problems_name_the_trace_and_event(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(xes([("c-1", [("received", "2024-03-01T09:00:00Z")]),
                         ("c-2", [("received", "2024-03-01T09:00:00Z"), ("decided", "2024-03-02T09:00:00Z")])]),
                    encoding="utf-8")
    assert only_problem(flow, path, actor="archive", role="clerk").startswith(
        "log.xes: trace 2, event 2: case c-2: no declared transition from received to decided")


def test_every_problem_is_reported_and_beyond_the_first_fifty_counted(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [(f"c-{n}", "nowhere", "2024-03-01T09:00:00Z", "kari", "clerk") for n in range(MAX_PROBLEMS + 7)]
    found = rejected(flow, write(tmp_path, rows))
    assert (len(found.problems), found.count) == (MAX_PROBLEMS, MAX_PROBLEMS + 7)
    assert str(found).endswith("… and 7 more")


# -- nothing written unless everything fits ------------------------------------------------------

def test_a_problem_after_batches_were_written_leaves_nothing(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [*GOOD, ("c-9", "received", "2024-03-01T09:00:00Z", "kari", "clerk"),
            ("c-9", "decided", "2024-03-02T09:00:00Z", "kari", "clerk")]
    found = rejected(flow, write(tmp_path, rows), batch_events=1)  # the good cases went to the database first
    assert found.count == 1 and found.problems[0].where == "log.csv:9"
    assert flow.verify().proposals == 0


def test_a_dry_run_checks_everything_and_writes_nothing(flow: FlowEngine, tmp_path: Path) -> None:
    report = import_log(flow, write(tmp_path, GOOD), "review", dry_run=True)
    assert (report.cases, report.events, report.dry_run) == (2, 6, True)
    assert flow.proposals() == []
    rows = [*GOOD, ("c-9", "nowhere", "2024-03-01T09:00:00Z", "kari", "clerk")]
    assert rejected(flow, write(tmp_path, rows), dry_run=True).count == 1


def test_importing_the_same_log_again_is_refused_case_by_case(flow: FlowEngine, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    import_log(flow, path, "review")
    with pytest.raises(LogRejected) as caught:
        import_log(flow, path, "review")
    assert [p.format() for p in caught.value.problems] == [
        "log.csv:2: case c-1: this case is already in the database as REV-1 (imported before); remove it from "
        "the log or import into another database",
        "log.csv:5: case REV-7: this case is already in the database as REV-7 (imported before); remove it from "
        "the log or import into another database",
    ]
    assert len(flow.proposals()) == 2


def test_a_case_id_taken_by_another_proposal_gets_the_next_number(flow: FlowEngine, tmp_path: Path) -> None:
    from flowengine.history.records import Actor

    flow.new_proposal("review", title="Registered by hand", actor=Actor("kari", "clerk"))  # REV-1
    import_log(flow, write(tmp_path, [("REV-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk")]), "review")
    proposal, _ = flow.history("REV-2")
    assert proposal.origin == "event log case REV-1"


def test_options_that_name_nothing_are_refused_before_reading(flow: FlowEngine, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(NotFound, match="unknown meaning 'actvity'; did you mean 'activity'"):
        parse_mapping(["Step=actvity"])
    with pytest.raises(NotFound, match="unknown column 'Step'"):
        import_log(flow, path, "review", mapping={"activity": "Step"})
    with pytest.raises(InvalidInput, match=r"has no column for the case \(case:concept:name\)"):
        import_log(flow, write(tmp_path, GOOD, "other.csv", header=("id", *HEADER[1:])), "review")
    with pytest.raises(NotFound, match="unknown role 'clerc'"):
        import_log(flow, path, "review", role="clerc")


# -- the command line ----------------------------------------------------------------------------

def test_the_command_reports_what_it_imported(db_target: str, folder: Path, tmp_path: Path) -> None:
    run = make_run(db_target, "2030-01-01T00:00")
    path = write(tmp_path, GOOD)
    dry = ok(run("import", str(path), "--workflow", "review", "--workflows", str(folder), "--dry-run"))
    assert "would import 2 cases, 6 events from log.csv under review" in dry.stdout
    assert "nothing was written" in dry.stdout
    done = ok(run("import", str(path), "-w", "review", "--workflows", str(folder)))
    assert done.stdout.startswith("imported 2 cases, 6 events from log.csv under review (REV-1 … REV-7)")
    ok(run("audit", "verify"))


def test_the_command_lists_each_problem_then_one_error_line(db_target: str, folder: Path, tmp_path: Path) -> None:
    run = make_run(db_target, "2030-01-01T00:00")
    rows = [GOOD[0], ("c-1", "cheked", "2024-03-02T09:00:00Z", "kari", "clerk"),
            ("c-2", "received", "yesterday", "kari", "clerk")]
    result = run("import", str(write(tmp_path, rows)), "-w", "review", "--workflows", str(folder))
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("log.csv:3: case c-1: unknown activity 'cheked'")
    assert lines[1].startswith("log.csv:4: case c-2: bad timestamp 'yesterday'")
    assert lines[2] == ("error: cannot import log.csv under review: 2 problems in 2 of 2 cases; nothing was written "
                        "— fitness: 0.0 % of cases (0 of 2), 0.0 % of events (0 of 3)")
    assert "Traceback" not in result.stderr


# -- files that are no event log ------------------------------------------------------------------

def test_timestamps_with_spaces_around_them_are_read(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "received", " 2024-03-01T09:00:00+01:00", "kari", "clerk"),
            ("c-1", "checked", "2024-03-02 09:00:00Z\t", "kari", "clerk")]
    import_log(flow, write(tmp_path, rows), "review")
    _, events = flow.history("REV-1")
    assert [e.at for e in events] == [datetime(2024, 3, 1, 8, tzinfo=UTC), datetime(2024, 3, 2, 9, tzinfo=UTC)]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("log.csv", b"", "log.csv is empty: a CSV log starts with a row of column names"),
    ("log.csv", b"case:concept:name,concept:name,concept:name\n", "the column concept:name appears twice"),
    ("log.csv", "case:concept:name,concept:name\nc-1,Søknad\n".encode("latin-1"), "is not UTF-8 text"),
    ("log.xes", b'<?xml version="1.0"?>\n<log><trace><event></trace></log>\n',
     "log.xes:2:28: not readable as XES (XML): Opening and ending tag mismatch: event line 2 and trace"),
    # the root is judged as the file opens, before anything after it is read (here: broken XML)
    ("log.xes", b'<?xml version="1.0"?>\n<feed><trace></feed>\n', "log.xes is XML but not XES: its root element "
                                                                    "is <feed>, not <log>"),
    ("log.txt", b"case:concept:name\n", "cannot tell the format of log.txt from its name"),
])
def test_a_file_that_is_no_readable_log_is_refused_saying_why(flow: FlowEngine, tmp_path: Path, name: str,
                                                              content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as refused:
        import_log(flow, path, "review", actor="archive", role="clerk")
    assert message in str(refused.value)
    assert not isinstance(refused.value, LogRejected) and flow.proposals() == []


def test_a_missing_file_is_refused(flow: FlowEngine, tmp_path: Path) -> None:
    for name in ("missing.csv", "missing.xes"):
        with pytest.raises(InvalidInput, match=re.escape(f"cannot read {tmp_path / name}: no such file")):
            import_log(flow, tmp_path / name, "review")


def test_the_command_offers_exactly_the_formats_the_library_reads() -> None:
    from flowengine_cli import importing

    from flowengine.eventlog.formats import import_format_names
    from flowengine.eventlog.importer import FORMATS, readers

    offered = next(p for p in importing.import_log.params if p.name == "fmt")
    assert isinstance(offered.type, click.Choice)
    assert tuple(offered.type.choices) == import_format_names() == FORMATS == tuple(readers())


def fail_the_second_batch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The import's second batch fails with a full disk as it is written; the list counts the batches tried."""
    from flowengine.errors import StoreError
    from flowengine.store import bulk

    written: list[int] = []
    original = bulk.BulkWriter.write

    def second_batch_fails(self: bulk.BulkWriter, batch: Sequence[object], **kwargs: object) -> None:
        written.append(len(batch))
        if len(written) == 2:
            raise StoreError("the disk is full")
        original(self, batch, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk.BulkWriter, "write", second_batch_fails)
    return written


def test_a_batch_that_fails_on_the_writing_thread_fails_the_import_and_leaves_nothing(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine.errors import StoreError

    written = fail_the_second_batch(monkeypatch)
    with pytest.raises(StoreError, match="the disk is full"):
        import_log(flow, write(tmp_path, GOOD), "review", batch_events=1)
    assert len(written) == 2  # the first batch was written, then the transaction rolled back
    assert flow.proposals() == []


def test_batches_are_written_on_another_thread_on_postgresql_and_in_turn_on_sqlite(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL works in its own process while the next batch is built; SQLite's driver needs
    the interpreter lock between every two rows, so a second thread would only wait for it."""
    import threading

    from flowengine.store import bulk

    threads: set[str] = set()
    original = bulk.BulkWriter.write

    def recorded(self: bulk.BulkWriter, batch: Sequence[object], **kwargs: object) -> None:
        threads.add(threading.current_thread().name)
        original(self, batch, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk.BulkWriter, "write", recorded)
    report = import_log(flow, write(tmp_path, GOOD), "review", batch_events=1)
    assert report.events == 6 and flow.verify().ok
    assert threads
    assert (threading.current_thread().name not in threads) == (flow.database.dialect == "postgresql")


def test_the_collector_is_paused_while_a_log_is_read_and_on_again_after_an_import_or_a_discovery(
        flow: FlowEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from flowengine.eventlog import discovery

    seen: list[bool] = []
    assert gc.isenabled()
    log = write(tmp_path, GOOD)
    discovery.profile(log)
    assert gc.isenabled()
    with pytest.raises(LogRejected):
        import_log(flow, write(tmp_path, [*GOOD, ("c-9", "nowhere", "2024-03-01T09:00:00Z", "kari", "clerk")],
                               name="bad.csv"), "review")
    assert gc.isenabled()
    import_log(flow, log, "review")
    assert gc.isenabled()
    monkeypatch.setattr(discovery, "_read", lambda *args, **kwargs: seen.append(gc.isenabled()))
    discovery.profile(log)
    assert seen == [False] and gc.isenabled()
