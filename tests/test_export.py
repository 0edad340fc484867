"""The event-log export through the library: each format read back by an independent reader
(the csv module, xml.etree, json) holds every stored event field by field, and rebuilds every
hash of every chain; --steps-only, --workflow and --pseudonymise; an empty database; a file
replaced only once complete."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from flowengine.errors import InvalidInput, NotFound
from flowengine.eventlog import attributes as a
from flowengine.eventlog.export import ExportOptions, export_log, export_to_file, planned_units
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, PROGRESS, REMINDED
from flowengine.store import queries
from flowengine.store.database import Database, resolve_url

from .export_support import FREE_TEXTS, PEOPLE, assert_log_matches, build_history, moment, stored

XES = "{http://www.xes-standard.org/}"
Record = dict[str, str]


@pytest.fixture
def history(db_target: str, tmp_path: Path) -> str:
    build_history(db_target, tmp_path / "workflows")
    return db_target


def exported(target: str, fmt: str, options: ExportOptions | None = None) -> str:
    out = io.StringIO(newline="")
    with Database(resolve_url(target)) as database:
        export_log(database, out, fmt, options or ExportOptions())
    return out.getvalue()


# --- independent readers ---------------------------------------------------------------------------


def read_csv(text: str) -> list[Record]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == a.CSV_COLUMNS
    return list(reader)


def read_xes(text: str) -> list[Record]:
    """Trace attributes come back with the ``case:`` prefix, as PM4Py names them."""
    root = ET.fromstring(text)
    assert root.tag == f"{XES}log"
    records: list[Record] = []
    for trace in root.findall(f"{XES}trace"):
        case = {child.get("key", ""): child.get("value", "") for child in trace if child.tag != f"{XES}event"}
        for event in trace.findall(f"{XES}event"):
            record = {a.CASE: case["concept:name"]}
            record |= {f"case:{key}": value for key, value in case.items() if key != "concept:name"}
            for child in event:
                key = child.get("key", "")
                assert key not in record, f"{key} twice in one event"
                record[key] = child.get("value", "")
            records.append(record)
    return records


def read_ocel(text: str) -> list[Record]:
    """Events with their case's attributes taken from the proposal object they relate to."""
    document = json.loads(text)
    objects = {o["id"]: o for o in document["objects"]}
    records: list[Record] = []
    for event in document["events"]:
        (case,) = [r["objectId"] for r in event["relationships"] if r["qualifier"] == "proposal"]
        record = {a.CASE: case, a.ACTIVITY: event["type"], a.TIMESTAMP: event["time"]}
        record |= {f"case:{attr['name']}": attr["value"] for attr in objects[case]["attributes"]
                   if attr["name"] != "state"}
        record |= {attr["name"]: attr["value"] for attr in event["attributes"]}
        records.append(record)
    return records


READERS: dict[str, Callable[[str], list[Record]]] = {"csv": read_csv, "xes": read_xes, "ocel": read_ocel}


# --- every event, exactly ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_every_stored_event_comes_back_field_by_field_and_rebuilds_every_hash(history: str, fmt: str) -> None:
    records = READERS[fmt](exported(history, fmt))
    histories = stored(history)
    assert {e.kind for _, events in histories for e in events} >= {CREATED, ADVANCED, FIELDS_SET, PROGRESS,
                                                                   REMINDED}
    assert {e.actor for _, events in histories for e in events} >= {*PEOPLE, "system"}
    assert_log_matches(records, histories)


def test_events_go_out_proposal_by_proposal_in_number_order_then_by_seq(history: str) -> None:
    records = read_csv(exported(history, "csv"))
    order = [(r[a.CASE], int(r[a.SEQ])) for r in records]
    assert order == sorted(order, key=lambda pair: (pair[0][:3], int(pair[0][4:]), pair[1]))
    assert list(dict.fromkeys(case for case, _ in order)) == ["SML-1", "SML-2", "TML-1", "TML-2"]


def test_xes_types_dates_as_date_and_seq_as_int_and_keeps_line_breaks_and_markup(history: str) -> None:
    root = ET.fromstring(exported(history, "xes"))
    first_event = root.find(f"{XES}trace/{XES}event")
    assert first_event is not None
    tags = {child.get("key"): child.tag.removeprefix(XES) for child in first_event}
    assert tags[a.TIMESTAMP] == tags[a.ENTERED_AT] == "date"
    assert tags[a.SEQ] == "int"
    assert {tags[key] for key in (a.ACTIVITY, a.RESOURCE, a.ROLE, a.COMMENT, a.CHANGES)} == {"string"}
    comments = [e.get("value") for e in root.iter(f"{XES}string") if e.get("key") == a.COMMENT]
    assert "Looks good;\n\tsee the letter & the map <attached>" in comments


def test_ocel_proposals_are_objects_whose_state_changes_with_each_step(history: str) -> None:
    document = json.loads(exported(history, "ocel"))
    objects = {o["id"]: o for o in document["objects"]}
    for proposal, events in stored(history):
        states = [(attr["value"], attr["time"]) for attr in objects[proposal.id]["attributes"]
                  if attr["name"] == "state"]
        entered = [(e.to_state, e.at) for e in events if e.kind in (CREATED, ADVANCED)]
        assert [(state, moment(time)) for state, time in states] == entered
        assert objects[proposal.id]["type"] == "proposal"
    actors = [o["id"] for o in document["objects"] if o["type"] == "actor"]
    assert actors == ["actor:Kari Nordmann", "actor:Ola Hansen", "actor:system", "actor:Eva Berg",
                      "actor:Sam Tjeneste"]
    for event in document["events"]:
        qualifiers = {r["qualifier"]: r["objectId"] for r in event["relationships"]}
        attributes = {attr["name"]: attr["value"] for attr in event["attributes"]}
        assert qualifiers[attributes[a.ROLE]] == f"actor:{attributes[a.RESOURCE]}"
        assert event["id"] == f"{qualifiers['proposal']}:{attributes[a.SEQ]}"
    assert [t["name"] for t in document["eventTypes"]] == sorted({e["type"] for e in document["events"]})


# --- selections ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_steps_only_keeps_creations_and_steps_and_nothing_else(history: str, fmt: str) -> None:
    records = READERS[fmt](exported(history, fmt, ExportOptions(steps_only=True)))
    assert {r[a.KIND] for r in records} == {CREATED, ADVANCED}
    assert_log_matches(records, stored(history), kinds=(CREATED, ADVANCED))
    # No self-loop is left where nothing happened but fields, progress or a reminder.
    for previous, current in pairwise(records):
        if previous[a.CASE] == current[a.CASE]:
            assert current[a.FROM_STATE] == previous[a.ACTIVITY]


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_a_workflow_filter_exports_only_that_workflows_proposals(history: str, fmt: str) -> None:
    records = READERS[fmt](exported(history, fmt, ExportOptions(workflows=("small",))))
    assert {r[a.CASE_WORKFLOW] for r in records} == {"small"}
    assert_log_matches(records, stored(history, ["small"]))


def test_an_unknown_workflow_is_refused_with_a_did_you_mean(history: str) -> None:
    with pytest.raises(NotFound) as refused:
        exported(history, "csv", ExportOptions(workflows=("smal",)))
    assert "unknown workflow 'smal'; did you mean 'small'?" in str(refused.value)
    with Database(resolve_url(history)) as database, pytest.raises(NotFound):
        planned_units(database, "xes", ExportOptions(workflows=("timley",)))


def test_planned_units_count_events_once_per_pass(history: str) -> None:
    count = sum(len(events) for _, events in stored(history))
    with Database(resolve_url(history)) as database:
        assert planned_units(database, "csv") == planned_units(database, "xes") == count
        assert planned_units(database, "ocel") == 2 * count
        done: list[int] = []
        assert export_log(database, io.StringIO(), "ocel", meter=done.append) == count
    assert sum(done) == 2 * count


def test_an_empty_database_gives_a_header_an_empty_log_and_empty_arrays(db_target: str) -> None:
    from flowengine.service.facade import FlowEngine

    FlowEngine.open(db_target).close()
    assert read_csv(exported(db_target, "csv")) == []
    root = ET.fromstring(exported(db_target, "xes"))
    assert root.findall(f"{XES}trace") == [] and root.get("xes.version") == "1849-2016"
    document = json.loads(exported(db_target, "ocel"))
    assert (document["eventTypes"], document["objects"], document["events"]) == ([], [], [])
    assert [t["name"] for t in document["objectTypes"]] == ["proposal", "actor"]


# --- pseudonymised --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xes", "ocel"])
def test_a_pseudonymised_log_holds_no_name_and_no_free_text(history: str, fmt: str) -> None:
    text = exported(history, fmt, ExportOptions(pseudonymise=True))
    records = READERS[fmt](text)
    values = [value for record in records for value in record.values()]
    values += [str(v) for record in records for key in (a.CHANGES, a.DETAILS)
               for v in json.loads(record[key]).values()]
    for secret in (*PEOPLE, *FREE_TEXTS):
        assert not any(secret in value for value in values), secret
    for word in ("Kari", "Nordmann", "Hansen", "Eva Berg", "Tjeneste", "Olsen", "midsummer", "Contractor",
                 "mandate", "Looks good", "Quiet", "retry-", "Benches", "trees", "example.org", "Case file"):
        assert word not in text, word
    assert all(not record.get(a.HASH) and not record.get(a.IDEMPOTENCY_KEY) for record in records)
    assert all(record[a.COMMENT] == "" and not record.get(a.CASE_TITLE) for record in records)


def test_pseudonyms_are_stable_and_numbered_in_order_of_first_appearance(history: str) -> None:
    plain = read_csv(exported(history, "csv"))
    hidden = read_csv(exported(history, "csv", ExportOptions(pseudonymise=True)))
    first_seen = list(dict.fromkeys(r[a.RESOURCE] for r in plain if r[a.RESOURCE] != "system"))
    expected = {name: f"person-{n}" for n, name in enumerate(first_seen, start=1)} | {"system": "system"}
    assert [expected[r[a.RESOURCE]] for r in plain] == [r[a.RESOURCE] for r in hidden]
    assert len(set(expected.values())) == len(expected)


def test_a_pseudonymised_log_keeps_the_process_numbers_dates_and_choices(history: str) -> None:
    plain = read_csv(exported(history, "csv"))
    hidden = read_csv(exported(history, "csv", ExportOptions(pseudonymise=True)))
    kept = (a.CASE, a.ACTIVITY, a.TIMESTAMP, a.ROLE, a.SEQ, a.KIND, a.TRIGGER, a.FROM_STATE, a.ENTERED_AT,
            a.CASE_WORKFLOW, a.CASE_WORKFLOW_VERSION)
    assert [[r[k] for k in kept] for r in plain] == [[r[k] for k in kept] for r in hidden]
    changes = [json.loads(r[a.CHANGES]) for r in hidden]
    assert {"cost": 25000, "summary": ""} in changes  # the number stays, the text goes
    assert {"reference": ""} in changes
    progress = [json.loads(r[a.DETAILS]) for r in hidden if r[a.KIND] == PROGRESS]
    assert progress == [{"percent": 40, "note": "", "milestone": "", "milestone_date": "2024-06-01"}]
    created = next(json.loads(r[a.DETAILS]) for r in hidden if r[a.KIND] == CREATED)
    assert (created["title"], created["description"], created["origin"]) == ("", "", "")
    assert (created["workflow"], len(created["definition"])) == ("small", 64)


def test_a_pseudonymised_ocel_log_declares_no_title_key_or_hash(history: str) -> None:
    document = json.loads(exported(history, "ocel", ExportOptions(pseudonymise=True)))
    (proposal_type,) = [t for t in document["objectTypes"] if t["name"] == "proposal"]
    assert [attr["name"] for attr in proposal_type["attributes"]] == ["workflow", "workflow_version", "from", "state"]
    declared = {attr["name"] for t in document["eventTypes"] for attr in t["attributes"]}
    assert not declared & {a.HASH, a.IDEMPOTENCY_KEY}
    assert [o["id"] for o in document["objects"] if o["type"] == "actor"] == [
        "actor:person-1", "actor:person-2", "actor:system", "actor:person-3", "actor:person-4"]


# --- files and failures -------------------------------------------------------------------------


def test_a_file_is_replaced_only_once_the_log_is_complete(history: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / "events.xes"
    target.parent.mkdir()
    target.write_text("the older log", encoding="utf-8")

    def failing(_done: int) -> None:
        raise RuntimeError("disk full")

    with Database(resolve_url(history)) as database:
        with pytest.raises(RuntimeError):
            export_to_file(database, target, "xes", meter=failing)
        assert target.read_text(encoding="utf-8") == "the older log"
        assert sorted(p.name for p in target.parent.iterdir()) == ["events.xes"]
        written = export_to_file(database, target, "xes")
    assert written == sum(len(events) for _, events in stored(history))
    assert read_xes(target.read_text(encoding="utf-8"))


def test_a_missing_folder_is_refused_naming_it(history: str, tmp_path: Path) -> None:
    with Database(resolve_url(history)) as database, pytest.raises(InvalidInput) as refused:
        export_to_file(database, tmp_path / "nowhere" / "events.csv", "csv")
    assert str(refused.value) == (f"cannot write the event log {tmp_path / 'nowhere' / 'events.csv'}: the folder "
                                  f"{tmp_path / 'nowhere'} does not exist; create it first")
    assert "\n" not in str(refused.value)


def test_text_xml_cannot_carry_is_refused_in_xes_naming_the_event_and_kept_in_csv(history: str) -> None:
    """The service refuses control characters, but a history may come from elsewhere (an import)."""
    with Database(resolve_url(history)) as database, database.write() as conn:
        found = queries.load_proposal(conn, "TML-2")
        assert found is not None
        pk = found[0]
        (created,) = queries.events_of(conn, pk)
        queries.insert_event(conn, pk, replace(created, seq=2, kind=FIELDS_SET, from_state=created.to_state,
                                               comment="bell \x07 rang", prev_hash=created.hash, hash="0" * 64))
    with pytest.raises(InvalidInput, match=r"^TML-2 event 2: flowengine:comment contains U\+0007"):
        exported(history, "xes")
    assert any(r[a.COMMENT] == "bell \x07 rang" for r in read_csv(exported(history, "csv")))


def test_kinds_added_later_go_out_too_and_pseudonymised_keep_only_what_names_no_one(history: str) -> None:
    """A migration (another command's kind) and a kind this export has never heard of."""
    with Database(resolve_url(history)) as database, database.write() as conn:
        found = queries.load_proposal(conn, "TML-2")
        assert found is not None
        pk = found[0]
        (created,) = queries.events_of(conn, pk)
        migrated = {"from_definition": "a" * 64, "to_definition": "b" * 64, "from_version": "1", "to_version": "2",
                    "map": {"draft": "draft"}}
        queries.insert_event(conn, pk, replace(created, seq=2, kind="migrated", from_state="draft", changes={},
                                               details=migrated, prev_hash=created.hash, hash="1" * 64))
        queries.insert_event(conn, pk, replace(created, seq=3, kind="audited", from_state="draft", changes={},
                                               details={"note": "Checked by Per Olsen", "score": 3},
                                               prev_hash="1" * 64, hash="2" * 64))
    plain = {r[a.KIND]: json.loads(r[a.DETAILS]) for r in read_csv(exported(history, "csv"))}
    assert plain["migrated"] == migrated and plain["audited"] == {"note": "Checked by Per Olsen", "score": 3}
    hidden = {r[a.KIND]: json.loads(r[a.DETAILS])
              for r in read_csv(exported(history, "csv", ExportOptions(pseudonymise=True)))}
    assert hidden["migrated"] == migrated and hidden["audited"] == {"note": "", "score": 3}
    steps = read_csv(exported(history, "csv", ExportOptions(steps_only=True)))
    assert not {"migrated", "audited"} & {r[a.KIND] for r in steps}
