"""The formats logs come in: gzip-compressed files, pandas' ``nan`` for a missing value, OCEL 2.0
JSON (flowengine's own, and another tool's with several object types), and hostile XML and
JSON that must be refused in bounded time, with one clear line and nothing written."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.errors import InvalidInput, NotFound
from flowengine.eventlog.importer import LogRejected, import_log
from flowengine.service.facade import FlowEngine

from .conftest import FixedClock
from .test_import import GOOD, NOW, REVIEW, csv_text


@pytest.fixture
def flow(db_target: str, tmp_path: Path) -> Iterator[FlowEngine]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "review.yaml").write_text(REVIEW, encoding="utf-8")
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=FixedClock(NOW)) as engine:
        yield engine

XES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
XES_BODY = ('<log xes.version="1849-2016"><trace><string key="concept:name" value="c-1"/>'
            '<event><string key="concept:name" value="{activity}"/>'
            '<date key="time:timestamp" value="2024-03-01T09:00:00+01:00"/>'
            '<string key="org:resource" value="kari"/><string key="org:role" value="clerk"/></event>'
            '</trace></log>\n')


def refused_whole(flow: FlowEngine, path: Path, message: str, **options: object) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        import_log(flow, path, "review", **options)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert not isinstance(caught.value, LogRejected)
    assert flow.proposals() == [], "a refused file wrote something"
    assert time.monotonic() - started < 10, "refusing took unbounded time"


# -- compressed ----------------------------------------------------------------------------------

def test_a_gzip_compressed_log_is_read_whatever_its_name(flow: FlowEngine, tmp_path: Path) -> None:
    for name in ("log.csv.gz", "other.csv"):  # told by the first bytes: a piped-in file has no .gz
        (tmp_path / name).write_bytes(gzip.compress(csv_text(GOOD).encode()))
    report = import_log(flow, tmp_path / "log.csv.gz", "review")
    assert (report.cases, report.events) == (2, 6)


def test_a_compressed_xes_log_is_read(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.xes.gz"
    path.write_bytes(gzip.compress((XES_HEAD + XES_BODY.format(activity="received")).encode()))
    assert import_log(flow, path, "review").events == 1


@pytest.mark.parametrize("name", ["log.csv.gz", "log.xes.gz", "log.json.gz"])
def test_a_compressed_file_cut_short_is_refused_saying_so(flow: FlowEngine, tmp_path: Path, name: str) -> None:
    whole = gzip.compress(csv_text(GOOD * 200).encode() if "csv" in name else b"{" + b" " * 100_000)
    (tmp_path / name).write_bytes(whole[:len(whole) // 2])
    refused_whole(flow, tmp_path / name, "the compressed data is damaged or cut short")


# -- missing values as pandas writes them ---------------------------------------------------------

def test_nan_cells_are_missing_values(flow: FlowEngine, tmp_path: Path) -> None:
    header = ("case:concept:name", "concept:name", "time:timestamp", "org:resource", "org:role",
              "flowengine:trigger", "flowengine:comment", "case:title")
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk", "nan", "NaN", "nan"),
            ("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk", "NaN", "nan", "nan")]
    (tmp_path / "log.csv").write_text(csv_text(rows, header), encoding="utf-8")
    import_log(flow, tmp_path / "log.csv", "review")
    proposal, events = flow.history("REV-1")
    assert proposal.title == "c-1"  # no title: the case id, not "nan"
    assert [(e.trigger, e.comment) for e in events] == [(None, ""), ("check", "")]


def test_a_nan_actor_is_named_as_missing(flow: FlowEngine, tmp_path: Path) -> None:
    rows = [("c-1", "received", "2024-03-01T09:00:00Z", "nan", "clerk")]
    (tmp_path / "log.csv").write_text(csv_text(rows), encoding="utf-8")
    with pytest.raises(LogRejected, match="no actor"):
        import_log(flow, tmp_path / "log.csv", "review")


# -- OCEL 2.0 JSON from another tool ---------------------------------------------------------------

def ocel(events: list[dict[str, object]], types: tuple[str, ...] = ("application", "clerk")) -> str:
    objects = [{"id": f"{kind}-{n}", "type": kind, "attributes": [
        {"name": "title", "value": f"Application {n}", "time": "2024-01-01T00:00:00Z"}]}
        for kind in types for n in (1, 2)]
    return json.dumps({"objectTypes": [{"name": t, "attributes": []} for t in types],
                       "eventTypes": [], "objects": objects, "events": events})


def event(number: int, activity: str, day: int, *objects: str) -> dict[str, object]:
    return {"id": f"e{number}", "type": activity, "time": f"2024-03-{day:02d}T09:00:00Z",
            "attributes": [{"name": "org:resource", "value": "kari"}, {"name": "org:role", "value": "clerk"}],
            "relationships": [{"objectId": o, "qualifier": ""} for o in objects]}


def test_a_foreign_ocel_log_reads_the_objects_of_the_type_the_map_names_as_cases(
        flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text(ocel([event(1, "received", 1, "application-1", "application-2", "clerk-1"),
                          event(2, "Check application", 2, "application-1", "clerk-1"),
                          event(3, "notes taken", 3, "clerk-2")]), encoding="utf-8")
    refused_whole(flow, path, "objects of 2 types (application, clerk); say which type's objects are the cases")
    report = import_log(flow, path, "review", mapping={"case": "application"})
    assert (report.cases, report.events) == (2, 3)  # the shared event in both cases; the clerk's in none
    assert [s.proposal.title for s in flow.proposals()] == ["Application 1", "Application 2"]
    with pytest.raises(NotFound, match="object type 'order'"):
        import_log(flow, path, "review", mapping={"case": "order"}, dry_run=True)


def test_an_ocel_log_of_one_object_type_needs_no_map(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonocel"
    path.write_text(ocel([event(1, "received", 1, "application-1")], types=("application",)), encoding="utf-8")
    assert import_log(flow, path, "review").cases == 1


def test_ocel_problems_name_the_event(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text(ocel([event(1, "received", 1, "application-1"), event(2, "chekced", 2, "application-1")],
                         types=("application",)), encoding="utf-8")
    with pytest.raises(LogRejected) as caught:
        import_log(flow, path, "review")
    assert caught.value.problems[0].format().startswith("log.json: event 2 (e2): case application-1: unknown "
                                                        "activity 'chekced'")


# -- hostile files ---------------------------------------------------------------------------------

HOSTILE_XES = {
    "an external entity": ('<!DOCTYPE log [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n',
                           "&secret;"),
    "an external entity through a parameter entity": (
        '<!DOCTYPE log [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>\n', "received"),
    "a billion laughs": ("<!DOCTYPE log [" + '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)) + "]>\n", "&lol9;"),
    "a quadratic blow-up": ('<!DOCTYPE log [<!ENTITY big "' + "x" * 50_000 + '">]>\n', "&big;" * 2000),
    "an external document type": ('<!DOCTYPE log SYSTEM "http://127.0.0.1:9/xes.dtd">\n', "received"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_XES))
@pytest.mark.parametrize("compress", [False, True])
def test_an_xes_log_declaring_entities_is_refused_before_it_is_read(flow: FlowEngine, tmp_path: Path, kind: str,
                                                                    compress: bool) -> None:
    declaration, activity = HOSTILE_XES[kind]
    text = (XES_HEAD + declaration + XES_BODY.format(activity=activity)).encode()
    path = tmp_path / "log.xes"
    path.write_bytes(gzip.compress(text) if compress else text)
    refused_whole(flow, path, "declares a document type", actor="kari", role="clerk")


def test_an_undeclared_entity_in_an_xes_log_is_refused(flow: FlowEngine, tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(XES_HEAD + XES_BODY.format(activity="&secret;"), encoding="utf-8")
    refused_whole(flow, path, "Entity 'secret' not defined")


@pytest.mark.parametrize(("content", "message"), [
    ("[" * 100_000 + "]" * 100_000, "does not start with '{'"),
    ('{"objects": ' + "[" * 100_000 + "]" * 100_000 + "}", "near character 14: values nested deeper than 32 levels"),
    ('{"objects": [[]]}', "object 1 has no string 'id' and 'type'"),
    ('{"objects": [], "events": [' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "]}", "nested deeper than 32 levels"),
    ('{"objects": [{"id": "a", "type": "t"}], "events": [{"id": "e1", "type": "x", "time": "2024-03-01T00:00:00Z"',
     "the file ends in the middle of a value (was it cut short?)"),
    ('{"objects": [{"id": "a", "type": "t"}], "events": [{"id": "e1", "type": "x"} {}]}', "expected ',' or ']'"),
    ('{"objects": [{"id": "a" "type": "t"}]}', "OCEL 2.0 JSON near character 25: Expecting ',' delimiter"),
    ('{"objects": [{"id": "a", "type": "t"}], "events": "' + "x" * (17 << 20), "longer than 16,777,216 characters"),
])
def test_a_broken_or_hostile_ocel_file_is_refused_in_bounded_time(flow: FlowEngine, tmp_path: Path, content: str,
                                                                  message: str) -> None:
    path = tmp_path / "log.json"
    path.write_text(content, encoding="utf-8")
    refused_whole(flow, path, message, actor="kari", role="clerk")


@pytest.mark.parametrize("text", [
    "2019-03-01T09:30:00.123456+00:00", "2019-03-01 09:30:00+00:00", "2019-03-01T09:30:00.123456Z",
    "2019-03-01T09:30:00Z", "2019-03-01T09:30:00-00:00", " 2019-03-01T09:30:00Z ", "2019-03-01T09:30:00+01:00",
    "2019-03-01T09:30:00.5+00:00", "20190301T093000Z", "2019-03-01T09:30Z", "1900-03-01T09:30:00+00:00",
    "2019-03-01T23:30:00.000001-02:30", "20190301T093000.123Z", "20190301T093000.123456+00:00",
    "2019-03-01T09:30:00,123456+00:00", "2019-03-01 09:30:00.123456Z", "1899-12-31T23:59:59.999999-01:00"])
def test_a_time_is_read_as_the_same_moment_and_text_whatever_its_layout(text: str) -> None:
    from datetime import UTC, datetime

    from flowengine.clock import iso_utc
    from flowengine.eventlog.fitting import read_moment

    reference = datetime.fromisoformat(text.strip()).astimezone(UTC)
    assert read_moment(text, False) == (reference, iso_utc(reference))
