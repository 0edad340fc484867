"""Hostile OCEL 2.0 JSON: a value, an element or a nesting too large, too many objects, events
or events of one case are refused with where (the object or event, or the character), exit 1,
nothing written. The files are made here, a few MB at most; peak memory is measured by
bench/hostile.py, never here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine import jsontext
from flowengine.errors import InvalidInput
from flowengine.eventlog import ocel_reader
from flowengine.eventlog.ocel_reader import OcelLog

from .test_hostile_limits import import_refused

WANTED = ["case:concept:name", "concept:name", "time:timestamp", "org:resource", "org:role"]


def _event(number: int, case: str = "C1", **extra: Any) -> dict[str, Any]:
    return {"id": f"e{number}", "type": "panel_work", "time": "2017-10-18T11:00:00+00:00",
            "attributes": [{"name": "org:resource", "value": "lead"}, {"name": "org:role", "value": "prosjektleder"}],
            "relationships": [{"objectId": case, "qualifier": "case"}], **extra}


def _log(path: Path, events: list[dict[str, Any]], objects: list[dict[str, Any]] | None = None) -> Path:
    path.write_text(json.dumps({"objectTypes": [{"name": "proposal", "attributes": []}], "eventTypes": [],
                                "objects": objects if objects is not None else [{"id": "C1", "type": "proposal"}],
                                "events": events}), encoding="utf-8")
    return path


def _rows(path: Path) -> list[Any]:
    return list(OcelLog(path).rows(WANTED))


def test_a_log_within_the_limits_reads(tmp_path: Path) -> None:
    log = _log(tmp_path / "fine.jsonocel", [_event(1), _event(2, "C2")],
               [{"id": "C1", "type": "proposal"}, {"id": "C2", "type": "proposal"}])
    assert [values[0] for _, values in _rows(log)] == ["C1", "C2"]


def test_a_string_longer_than_the_limit_is_refused_with_its_event_and_nothing_written(tmp_path: Path) -> None:
    big = _event(1)
    big["attributes"][0]["value"] = "x" * (ocel_reader.MAX_VALUE_CHARS + 1)
    log = _log(tmp_path / "value.jsonocel", [big])
    import_refused(tmp_path, log, "value.jsonocel: event 1 (e1): a value is longer than 1,000,000 characters")


def test_an_attribute_name_longer_than_the_limit_is_refused_too(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocel_reader, "MAX_VALUE_CHARS", 50)
    log = _log(tmp_path / "key.jsonocel", [_event(1, **{"k" * 51: 1})])
    with pytest.raises(InvalidInput, match=r"key\.jsonocel: event 1 \(e1\): a value is longer than 50 characters"):
        _rows(log)


def test_an_element_longer_than_the_stream_may_hold_is_refused_at_its_character(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsontext, "ELEMENT_LIMIT", 1000)
    monkeypatch.setattr(jsontext, "_CHUNK", 256)
    log = tmp_path / "element.jsonocel"
    log.write_text('{"objects": [{"id": "C1", "type": "proposal", "note": "' + "y" * 5000 + '"}], "events": []}',
                   encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"element\.jsonocel: not readable as OCEL 2\.0 JSON near character 14: "
                                           r"one value is longer than 1,000 characters"):
        _rows(log)


def test_nesting_deeper_than_the_limit_is_refused_with_its_event(tmp_path: Path) -> None:
    deep: Any = "x"
    for _ in range(jsontext.MAX_DEPTH):
        deep = [deep]
    log = _log(tmp_path / "deep.jsonocel", [_event(1), _event(2, extra=deep)])
    import_refused(tmp_path, log, "deep.jsonocel: event 2 (e2): values nested deeper than 32 levels")


def test_nesting_as_deep_as_the_limit_reads(tmp_path: Path) -> None:
    deep: Any = "x"
    for _ in range(jsontext.MAX_DEPTH - 4):  # the document, the array, the event, its member: 32 in all
        deep = [deep]
    log = _log(tmp_path / "deep.jsonocel", [_event(1, extra=deep)])
    assert len(_rows(log)) == 1


def test_nesting_a_million_levels_deep_is_refused_without_reaching_the_decoder_s_recursion(tmp_path: Path) -> None:
    log = tmp_path / "abyss.jsonocel"
    log.write_text('{"objects": [], "events": [{"id": "e1", "attributes": ' + "[" * 1_000_000 + "]" * 1_000_000
                   + "}]}", encoding="utf-8")
    import_refused(tmp_path, log, "abyss.jsonocel: not readable as OCEL 2.0 JSON near character")
    with pytest.raises(InvalidInput, match="values nested deeper than 32 levels"):
        _rows(log)


def test_more_objects_than_the_limit_are_refused_at_the_first_too_many(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocel_reader, "MAX_OBJECTS", 10)
    log = _log(tmp_path / "objects.jsonocel", [_event(1)],
               [{"id": f"C{n}", "type": "proposal"} for n in range(1, 12)])
    with pytest.raises(InvalidInput, match=r"objects\.jsonocel: object 11: the log has more than 10 objects"):
        _rows(log)


def test_more_events_than_the_limit_are_refused_at_the_first_too_many(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocel_reader, "MAX_EVENTS", 10)
    objects = [{"id": f"C{n}", "type": "proposal"} for n in range(11)]
    log = _log(tmp_path / "events.jsonocel", [_event(n, f"C{n}") for n in range(11)], objects)
    with pytest.raises(InvalidInput, match=r"events\.jsonocel: event 11: the log has more than 10 events"):
        _rows(log)


def test_more_events_of_one_case_than_the_limit_are_refused_with_the_case(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocel_reader, "MAX_EVENTS_PER_CASE", 10)
    objects = [{"id": "C1", "type": "proposal"}, {"id": "C2", "type": "proposal"}]
    log = _log(tmp_path / "case.jsonocel", [_event(n, "C1" if n % 2 else "C2") for n in range(1, 30)], objects)
    with pytest.raises(InvalidInput, match=r"case\.jsonocel: event 21 \(e21\): object C1 has more than 10 events"):
        _rows(log)

