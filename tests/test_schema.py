"""The JSON Schema and the model agree on the language's words.

The schema is what editors and the structural check accept; the model's tuples are what the
code acts on (stage order in diagrams and reports, a role's kind, label languages). A word added
to one and not the other would pass the check and then be ignored, or be refused by the check
while the code expects it.
"""

from __future__ import annotations

from flowengine.definition.model import ROLE_KINDS, STAGES
from flowengine.definition.structure import workflow_schema
from flowengine.definition.vocabulary import LANGUAGES


def test_stages_are_the_schema_s_stages_in_order() -> None:
    assert tuple(workflow_schema()["$defs"]["state"]["properties"]["stage"]["enum"]) == STAGES


def test_role_kinds_are_the_schema_s_role_kinds() -> None:
    assert tuple(workflow_schema()["$defs"]["role"]["properties"]["kind"]["enum"]) == ROLE_KINDS


def test_label_languages_are_the_schema_s_label_languages() -> None:
    labels = workflow_schema()["$defs"]["labels"]
    assert labels["additionalProperties"] is False
    assert tuple(labels["properties"]) == LANGUAGES
