"""Fields marked ``personal: true`` hold personal data: never on a published page (even when
marked public), never in a pseudonymised export (even a choice), and a text field that says
neither way draws governance warning FE305."""

from __future__ import annotations

import io
import json
from pathlib import Path

from flowengine.definition.loader import check_text, load_workflow
from flowengine.definition.model import Publication
from flowengine.eventlog import attributes as a
from flowengine.eventlog.export import ExportOptions, export_log
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store.database import Database, resolve_url
from flowengine.views.site.proposal_page import Shown

CARE = """\
id: care
version: 1
prefix: CARE
roles:
  panel: {}
  council: {}
publication: {proposals: true}
fields:
  diagnosis: {type: choice, options: [anxiety, psychosis], personal: true}
  category: {type: choice, options: [meeting place, information], personal: false, public: true}
  story: {type: text, personal: true}
  reference: {type: text, personal: false, public: true}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 4w}
  council_review: {stage: council, owner: council, deadline: 8w}
  accepted: {final: true, outcome: implemented}
transitions:
  - {trigger: send_to_council, from: draft, to: council_review, roles: [panel]}
  - {trigger: accept, from: council_review, to: accepted, roles: [council], answers_panel: true}
"""
VALUES = {"diagnosis": "psychosis", "category": "information", "story": "since my admission last spring",
          "reference": "2019/114"}


def test_personal_is_read_as_written_and_unsaid_when_absent(tmp_path: Path) -> None:
    path = tmp_path / "care.yaml"
    path.write_text(CARE.replace(", personal: false, public: true}", ", public: true}"), encoding="utf-8")
    fields = load_workflow(path).fields
    assert (fields["diagnosis"].personal, fields["story"].personal, fields["reference"].personal) == (True, True, None)
    assert fields["category"].personal is None


def test_a_text_field_that_says_nothing_of_personal_data_is_a_governance_warning() -> None:
    unsaid = check_text(CARE.replace("{type: text, personal: false, public: true}", "{type: text, public: true}"))
    assert [(issue.code, issue.severity.value) for issue in unsaid.issues] == [("FE305", "warning")]
    assert "'reference'" in unsaid.issues[0].message
    assert check_text(CARE).issues == []
    strict = check_text(CARE.replace("{type: text, personal: false, public: true}", "{type: text}"), strict=True)
    assert [(issue.code, issue.severity.value) for issue in strict.issues] == [("FE305", "error")]


def test_a_personal_field_marked_public_is_still_never_published(tmp_path: Path) -> None:
    marked = CARE.replace("diagnosis: {type: choice, options: [anxiety, psychosis], personal: true}",
                          "diagnosis: {type: choice, options: [anxiety, psychosis], personal: true, public: true}")
    assert [issue.code for issue in check_text(marked).issues] == ["FE306"]
    path = tmp_path / "care.yaml"
    path.write_text(marked, encoding="utf-8")
    workflow = load_workflow(path)
    published = Shown(workflow, internal=False, publication=Publication(proposals=True)).fields(dict(VALUES))
    assert [value for _, value in published] == ["information", "2019/114"]
    internal = Shown(workflow, internal=True, publication=Publication(proposals=True)).fields(dict(VALUES))
    assert len(internal) == len(VALUES)


def test_a_pseudonymised_export_keeps_no_personal_field_whatever_its_type(db_target: str, tmp_path: Path) -> None:
    (tmp_path / "care.yaml").write_text(CARE, encoding="utf-8")
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path]) as engine:
        engine.new_proposal("care", title="A meeting place", actor=Actor("pia", "panel"), fields=VALUES)
    out = io.StringIO(newline="")
    with Database(resolve_url(db_target)) as database:
        export_log(database, out, "csv", ExportOptions(pseudonymise=True))
    assert "psychosis" not in out.getvalue() and "admission" not in out.getvalue()
    import csv

    (row,) = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert json.loads(row[a.CHANGES]) == {"diagnosis": "", "category": "information", "story": "", "reference": ""}
