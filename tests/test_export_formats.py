"""Exported logs against the standards' own schemas (vendored, with provenance, in
``tests/fixtures/schemas/``): XES against the IEEE 1849-2016 XSD, OCEL against the OCEL 2.0
JSON schema, in every variant the export writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.eventlog.export import ExportOptions

from .conftest import REPO_ROOT
from .export_support import build_history
from .test_export import exported

SCHEMAS = REPO_ROOT / "tests" / "fixtures" / "schemas"
XES_NAMESPACE = "http://www.xes-standard.org/"
VARIANTS = {
    "everything": ExportOptions(),
    "pseudonymised": ExportOptions(pseudonymise=True),
    "steps only": ExportOptions(steps_only=True),
    "one workflow": ExportOptions(workflows=("small",)),
}


@pytest.fixture(scope="module")
def xes_schema() -> Any:
    """The published XSD with the two edits the standard's own text requires (see the README):
    its namespace as target namespace, and ``xes.version`` a string ("1849-2016")."""
    etree = pytest.importorskip("lxml.etree")
    text = (SCHEMAS / "xes-ieee-1849-2016.xsd").read_text(encoding="utf-8")
    published = 'elementFormDefault="qualified">'
    assert text.count(published) == 1 and text.count('name="xes.version" type="xs:decimal"') == 1
    text = text.replace(published, f'elementFormDefault="qualified" targetNamespace="{XES_NAMESPACE}" '
                                   f'xmlns="{XES_NAMESPACE}">')
    text = text.replace('name="xes.version" type="xs:decimal"', 'name="xes.version" type="xs:string"')
    return etree.XMLSchema(etree.fromstring(text.encode("utf-8")))


@pytest.fixture(scope="module")
def ocel_validator() -> Any:
    from jsonschema import Draft7Validator, FormatChecker

    schema = json.loads((SCHEMAS / "ocel20-schema-json.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    checker = FormatChecker()
    assert not checker.conforms("2024-03-01 09:00", "date-time")  # the date-time check really runs
    return Draft7Validator(schema, format_checker=checker)


@pytest.fixture
def history(db_target: str, tmp_path: Path) -> str:
    build_history(db_target, tmp_path / "workflows")
    return db_target


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_xes_log_is_valid_against_the_ieee_1849_schema(history: str, xes_schema: Any, variant: str) -> None:
    from lxml import etree

    document = etree.fromstring(exported(history, "xes", VARIANTS[variant]).encode("utf-8"))
    assert xes_schema.validate(document), xes_schema.error_log
    assert document.tag == f"{{{XES_NAMESPACE}}}log" and document.get("xes.version") == "1849-2016"


def test_the_schema_check_catches_a_log_out_of_order(history: str, xes_schema: Any) -> None:
    from lxml import etree

    document = etree.fromstring(exported(history, "xes").encode("utf-8"))
    first_trace = document.find(f"{{{XES_NAMESPACE}}}trace")
    assert first_trace is not None
    document.insert(0, first_trace)  # a trace before the extensions
    assert not xes_schema.validate(document)


def test_every_classifier_rests_on_global_event_attributes(history: str) -> None:
    from xml.etree import ElementTree as ET

    root = ET.fromstring(exported(history, "xes"))
    ns = f"{{{XES_NAMESPACE}}}"
    (event_globals,) = [g for g in root.findall(f"{ns}global") if g.get("scope") == "event"]
    declared = {child.get("key") for child in event_globals}
    for classifier in root.findall(f"{ns}classifier"):
        assert set((classifier.get("keys") or "").split()) <= declared
    prefixes = {e.get("prefix") for e in root.findall(f"{ns}extension")}
    assert prefixes == {"concept", "time", "org", "lifecycle"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_ocel_log_is_valid_against_the_ocel_2_schema(history: str, ocel_validator: Any, variant: str) -> None:
    document = json.loads(exported(history, "ocel", VARIANTS[variant]))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in ocel_validator.iter_errors(document)]
    assert errors == []


def test_the_ocel_log_refers_only_to_what_it_declares(history: str) -> None:
    """What the schema cannot say: types, objects and attribute names referred to are declared,
    ids are unique, and declared types are those of the specification."""
    document = json.loads(exported(history, "ocel"))
    object_types = {t["name"]: {a["name"] for a in t["attributes"]} for t in document["objectTypes"]}
    event_types = {t["name"]: {a["name"] for a in t["attributes"]} for t in document["eventTypes"]}
    kinds = {a["type"] for t in document["objectTypes"] + document["eventTypes"] for a in t["attributes"]}
    assert kinds <= {"string", "time", "integer", "float", "boolean"}
    ids = [o["id"] for o in document["objects"]]
    assert len(ids) == len(set(ids))
    for obj in document["objects"]:
        assert {a["name"] for a in obj.get("attributes", [])} <= object_types[obj["type"]]
    event_ids = [e["id"] for e in document["events"]]
    assert len(event_ids) == len(set(event_ids))
    for event in document["events"]:
        assert {a["name"] for a in event["attributes"]} <= event_types[event["type"]]
        assert {r["objectId"] for r in event["relationships"]} <= set(ids)


def test_the_vendored_schemas_are_the_ones_the_readme_names() -> None:
    import hashlib

    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for path in sorted(Path(SCHEMAS).glob("*.xsd")) + sorted(Path(SCHEMAS).glob("*.json")):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in readme, path.name
