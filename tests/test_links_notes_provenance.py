"""An audit's findings linked to the proposals they became (`proposal new … --from`), notes that
move nothing, progress known only "in part", and provenance recorded with each step of a history
rebuilt from a source — through the command line and the API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from flowengine.errors import InvalidInput, NotFound
from flowengine.history.provenance import ILLUSTRATIVE, STATED, Provenance
from flowengine.history.records import FROM_KEY, NOTED, Actor
from flowengine.service.facade import FlowEngine

from .cli_support import Run, as_json, make_run, ok, one_error_line
from .databases import stored_bytes, tampering

NOW = "2019-06-03T09:00:00Z"
T0 = datetime(2019, 1, 7, 9, 0, tzinfo=UTC)
AUDITOR = ("--as", "aud", "--role", "auditors")
LEADER = ("--as", "pia", "--role", "projektledare")


@pytest.fixture
def run(db_target: str) -> Run:
    return make_run(db_target, NOW)


@pytest.fixture
def audit(run: Run) -> str:
    created = as_json(run("proposal", "new", "user-asks-user", "--title", "Audit of the day-activity services",
                          "--set", "audited_service=Day-activity services", *AUDITOR, "--json"))
    assert created["id"] == "BSB-1"
    return str(created["id"])


def new_timra(run: Run, title: str, *extra: str) -> dict[str, object]:
    result: dict[str, object] = as_json(run("proposal", "new", "timra", "--title", title, "--set",
                                            f"summary={title}", *extra, *LEADER, "--json"))
    return result


# -- from an audit to proposals ------------------------------------------------------------------


def test_a_proposal_from_an_audit_names_it_and_the_audit_lists_what_it_led_to(run: Run, audit: str) -> None:
    first = new_timra(run, "Clearer web information", "--from", audit.lower())  # ids are read in capitals
    second = new_timra(run, "Information brochures", "--from", audit)
    new_timra(run, "Open activity")  # from the panel's own inventory: no link

    line = ok(run("proposal", "new", "timra", "--title", "Signs at the door", "--set", "summary=Signs",
                  "--from", audit, *LEADER)).stdout
    assert line.startswith("TIM-4 registered in panel_work, from BSB-1")

    audit_history = as_json(run("history", audit, "--json"))
    assert audit_history["from"] is None
    assert audit_history["led_to"] == [first["id"], second["id"], "TIM-4"]
    shown = ok(run("history", audit)).stdout
    assert "led to     TIM-1 (timra, panel_work), TIM-2 (timra, panel_work), TIM-4 (timra, panel_work)" in shown

    linked = as_json(run("history", str(first["id"]), "--json"))
    assert linked["from"] == "BSB-1" and linked["led_to"] == []
    assert linked["events"][0]["details"][FROM_KEY] == "BSB-1"  # in the creation event: inside the chain
    assert "came from  BSB-1 (flowengine history BSB-1)" in ok(run("history", str(first["id"]))).stdout
    assert "came from" not in ok(run("history", "TIM-3")).stdout


def test_a_link_to_a_proposal_that_does_not_exist_is_refused_and_nothing_is_written(
        run: Run, audit: str, db_target: str) -> None:
    before = stored_bytes(db_target)
    line = one_error_line(run("proposal", "new", "timra", "--title", "Web", "--set", "summary=Web",
                              "--from", "BSB-2", *LEADER))
    assert "unknown proposal it came from 'BSB-2'" in line and "did you mean 'BSB-1'" in line
    assert stored_bytes(db_target) == before


def test_a_proposal_cannot_come_from_one_registered_after_it(db_target: str) -> None:
    with FlowEngine.open(db_target) as engine:
        engine.new_proposal("user-asks-user", title="Audit", actor=Actor("aud", "auditors"),
                            fields={"audited_service": "Day centres"}, at=T0)
        with pytest.raises(InvalidInput, match=r"BSB-1 was registered at .* after"):
            engine.new_proposal("timra", title="Web", actor=Actor("pia", "projektledare"),
                                fields={"summary": "Web"}, at=T0 - timedelta(days=1), from_proposal="BSB-1")
        with pytest.raises(NotFound, match="proposal it came from 'TIM-9'"):
            engine.new_proposal("timra", title="Web", actor=Actor("pia", "projektledare"),
                                fields={"summary": "Web"}, from_proposal="TIM-9")
        assert engine.led_to("BSB-1") == []


def test_a_link_rewritten_behind_flowengines_back_breaks_the_chain(run: Run, audit: str, db_target: str) -> None:
    new_timra(run, "Clearer web information", "--from", audit)
    new_timra(run, "Open activity")
    with tampering(db_target) as conn:
        rows = conn.execute(text("SELECT e.pk, e.details FROM events AS e JOIN proposals AS p ON p.pk = e.proposal_pk "
                                 "WHERE p.id = 'TIM-1' AND e.seq = 1")).all()
        (pk, details), = rows
        changed = json.loads(details) if isinstance(details, str) else dict(details)
        changed[FROM_KEY] = "TIM-2"
        conn.execute(text("UPDATE events SET details = :details WHERE pk = :pk"),
                     {"details": json.dumps(changed), "pk": pk})
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    breaks = json.loads(result.stdout)["breaks"]
    assert [(b["proposal"], b["seq"]) for b in breaks] == [("TIM-1", 1)]


def test_links_are_listed_per_audit_for_the_report(db_target: str) -> None:
    leader, auditors = Actor("pia", "projektledare"), Actor("aud", "auditors")
    with FlowEngine.open(db_target) as engine:
        for n in (1, 2):
            engine.new_proposal("user-asks-user", title=f"Audit {n}", actor=auditors,
                                fields={"audited_service": "Day centres"}, at=T0)
        for source in ("BSB-2", "BSB-1", "BSB-2"):
            engine.new_proposal("timra", title=f"From {source}", actor=leader, fields={"summary": "x"},
                                at=T0 + timedelta(days=1), from_proposal=source)
        links = engine.links()
        assert {source: [p.id for p in found] for source, found in links.items()} == {
            "BSB-1": ["TIM-2"], "BSB-2": ["TIM-1", "TIM-3"]}
        assert list(engine.links(["timra"])) == ["BSB-1", "BSB-2"]
        assert engine.links(["melhus"]) == {}
        assert engine.links(as_of=T0) == {}


# -- notes ---------------------------------------------------------------------------------------


def test_a_note_is_recorded_and_changes_nothing_else(run: Run) -> None:
    new_timra(run, "Open activity")
    before = as_json(run("proposal", "show", "TIM-1", "--json"))
    line = ok(run("note", "TIM-1", "Asked the chair: still waiting for the June meeting", *LEADER)).stdout
    assert line == "TIM-1: noted in panel_work (version 2)\n"
    after = as_json(run("proposal", "show", "TIM-1", "--json"))
    assert after["version"] == before["version"] + 1
    for unchanged in ("state", "fields", "state_entered_at", "due_at", "clock_started_at"):
        assert after[unchanged] == before[unchanged], unchanged
    last = as_json(run("history", "TIM-1", "--json"))["events"][-1]
    assert (last["kind"], last["comment"], last["from"], last["to"]) == (
        NOTED, "Asked the chair: still waiting for the June meeting", "panel_work", "panel_work")
    assert "note" in ok(run("history", "TIM-1")).stdout


def test_an_empty_note_is_refused(run: Run, db_target: str) -> None:
    new_timra(run, "Open activity")
    before = stored_bytes(db_target)
    assert "a note needs its text" in one_error_line(run("note", "TIM-1", "  ", *LEADER))
    assert stored_bytes(db_target) == before


# -- progress in part ----------------------------------------------------------------------------


@pytest.fixture
def implementing(db_target: str) -> Iterator[FlowEngine]:
    leader = Actor("mia", "prosjektleder")
    with FlowEngine.open(db_target) as engine:
        pid = engine.new_proposal("melhus", title="Service hub", actor=leader, fields={"summary": "A hub"},
                                  at=T0).proposal.id
        engine.advance(pid, "send_to_council", actor=leader, fields={"panel_report": "https://example.org/r"}, at=T0)
        engine.advance(pid, "recommend", actor=Actor("rolf", "brukerrad"), at=T0)
        engine.advance(pid, "decide", actor=Actor("kari", "kommunaledelsen"), comment="Relevant to implement",
                       fields={"decision_reference": "2017/1"}, at=T0)
        yield engine


def test_progress_known_only_in_part_is_recorded_without_a_share(implementing: FlowEngine, db_target: str) -> None:
    step = implementing.record_progress("MEL-1", "partly", actor=Actor("tor", "tjenesten"),
                                        note="Partly carried out", at=T0 + timedelta(days=30))
    assert step.event is not None and step.event.details["percent"] is None
    standing = implementing.standing("MEL-1")
    assert standing.progress is not None and standing.progress.share == "in part"
    assert standing.clock_started_at == T0 + timedelta(days=30)  # progress restarts the clock, as any
    run = make_run(db_target, NOW)
    assert "progress in part" in ok(run("history", "MEL-1")).stdout
    assert "in part at" in ok(run("proposal", "show", "MEL-1")).stdout
    shown = ok(run("progress", "MEL-1", "partly", "--note", "More of it", "--as", "tor", "--role", "tjenesten"))
    assert shown.stdout.startswith("MEL-1: progress in part in implementation")
    assert "or 'partly'" in one_error_line(run("progress", "MEL-1", "half", "--as", "tor", "--role", "tjenesten"))


# -- provenance ----------------------------------------------------------------------------------


def test_a_history_rebuilt_from_a_source_shows_each_steps_provenance_with_a_legend(db_target: str) -> None:
    leader = Actor("pia", "projektledare")
    with FlowEngine.open(db_target) as engine:
        engine.new_proposal("timra", title="Open activity", actor=leader, fields={"summary": "Open activity"},
                            at=T0, provenance=Provenance(STATED, "ett färdigt förslag på öppen verksamhet",
                                                         "Sammanfattning Timrå", when="vid projektets avslutning"))
        engine.advance("TIM-1", "send_to_council", actor=leader, fields={"expected_benefit": "x"}, at=T0,
                       provenance=Provenance(ILLUSTRATIVE, "No brukarråd is named in Timrå.",
                                             placeholders=("expected_benefit",)))
        engine.note("TIM-1", "Plain note", actor=leader, at=T0)
    shown = ok(make_run(db_target, NOW)("history", "TIM-1")).stdout
    header = next(line for line in shown.splitlines() if line.startswith("#"))
    assert header.rstrip().endswith("source")
    assert "#1 stated (Sammanfattning Timrå): “ett färdigt förslag på öppen verksamhet” " \
           "[time: vid projektets avslutning]" in shown
    assert "#2 illustrative: No brukarråd is named in Timrå. [placeholder values: expected_benefit]" in shown
    assert "#3 - (no source recorded)" in shown
    for kind in ("stated:", "inferred:", "illustrative:"):
        assert any(line.startswith(kind) for line in shown.splitlines()), kind


def test_a_history_without_provenance_has_no_source_column(run: Run) -> None:
    new_timra(run, "Open activity")
    shown = ok(run("history", "TIM-1")).stdout
    assert "source" not in shown and "sources:" not in shown


def test_provenance_must_name_a_known_kind_and_its_text() -> None:
    with pytest.raises(InvalidInput, match="not one of stated, inferred, illustrative"):
        Provenance("guessed", "x")
    with pytest.raises(InvalidInput, match="needs its text: the passage quoted"):
        Provenance(STATED, "  ")
    assert Provenance.of({"provenance": {"kind": "nonsense"}}) is None
    assert Provenance.of({}) is None


def test_the_link_is_exported_as_a_case_attribute_in_every_format(run: Run, audit: str) -> None:
    new_timra(run, "Clearer web information", "--from", audit)
    ok(run("note", "TIM-1", "Still with the panel", *LEADER))
    rows = list(csv.DictReader(io.StringIO(ok(run("export", "--format", "csv")).stdout)))
    assert {(row["case:concept:name"], row["case:from"]) for row in rows} == {("BSB-1", ""), ("TIM-1", "BSB-1")}
    pseudonymised = list(csv.DictReader(io.StringIO(ok(run("export", "--format", "csv", "--pseudonymise")).stdout)))
    assert {row["case:from"] for row in pseudonymised if row["case:concept:name"] == "TIM-1"} == {"BSB-1"}
    xes = ok(run("export", "--format", "xes", "--workflow", "timra")).stdout
    assert '<string key="from" value="BSB-1"/>' in xes
    ocel = json.loads(ok(run("export", "--format", "ocel")).stdout)
    (linked,) = [o for o in ocel["objects"] if o["id"] == "TIM-1"]
    assert {"name": "from", "value": "BSB-1"} in [{k: a[k] for k in ("name", "value")} for a in linked["attributes"]]


def test_the_stall_report_counts_proposals_per_audit_and_where_they_went(run: Run, audit: str) -> None:
    new_timra(run, "Clearer web information", "--from", audit)
    new_timra(run, "Information brochures", "--from", audit)
    ok(run("advance", "TIM-2", "send_to_council", "--set", "expected_benefit=Fewer wasted trips", *LEADER))
    report = as_json(run("stalls", "report", "--format", "json", "--quiet"))
    [lineage] = [s for s in report["sections"] if s["key"] == "lineage"]
    [row] = lineage["rows"]
    assert row[:4] == ["BSB-1", "Audit of the day-activity services", "user-asks-user", 2]
    assert row[4] == ("TIM-1 Clearer web information: Panel works on the proposal; "
                      "TIM-2 Information brochures: With the user council")
    before = as_json(run("stalls", "report", "--format", "json", "--quiet", "--as-of", "2019-01-01"))
    assert not [s for s in before["sections"] if s["key"] == "lineage"]  # nothing was registered yet


@pytest.mark.parametrize(("column", "value", "named"), [("came_from", "BSB-2", "came from"),
                                                         ("provenance", "stated", "provenance")])
def test_a_row_that_no_longer_mirrors_its_creation_event_is_reported(run: Run, audit: str, db_target: str,
                                                                     column: str, value: str, named: str) -> None:
    """The row's link and provenance are an index of the creation event; audit verify holds them equal."""
    new_timra(run, "Clearer web information", "--from", audit)
    assert as_json(run("proposal", "show", "TIM-1", "--json"))["from"] == "BSB-1"
    with tampering(db_target) as conn:
        conn.execute(text(f"UPDATE proposals SET {column} = :value WHERE id = 'TIM-1'"), {"value": value})
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    [broken] = json.loads(result.stdout)["breaks"]
    assert (broken["proposal"], broken["seq"]) == ("TIM-1", 1) and named in broken["problem"]
