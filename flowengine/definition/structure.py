"""Structural check of a workflow document against the bundled JSON Schema.

The same schema file is what editors use (the YAML language server) for completion, so the
command line and the editor accept exactly the same keys. This module turns jsonschema's
errors into :class:`~flowengine.issues.Issue` s that name the key, the place and the fix.
Only this module imports ``jsonschema``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from flowengine.definition.vocabulary import LANGUAGES
from flowengine.definition.yamlsafe import LocatedDocument, PathKey
from flowengine.issues import Issue, error
from flowengine.suggest import did_you_mean

SCHEMA_FILE = "workflow.schema.json"

_TYPE_WORDS = {
    "object": "a mapping (indented 'key: value' lines)",
    "array": "a list ('- item' lines or [a, b])",
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "null": "empty",
}
_KIND_OF_SECTION = {"roles": "role", "fields": "field", "states": "state"}
_EMPTY_HINTS = {"states": "declare at least one state", "from": 'name at least one state, or write from: "*"',
                "options": "list the values to choose from, e.g. options: [low, medium, high]"}
_REFERENCE_KEYS = ("from", "to", "owner", "roles", "requires")
_DURATION_KEYS = ("deadline", "reminder", "after")


def _is_reference(path: PathKey) -> bool:
    """Whether the value at ``path`` names a state, role or field declared elsewhere."""
    if len(path) == 4 and path[0] == "states" and path[2:] == ("escalate", "trigger"):
        return True
    if len(path) >= 2 and path[0] in ("states", "transitions"):
        last = path[-1] if isinstance(path[-1], str) else path[-2] if len(path) >= 3 else None
        return last in _REFERENCE_KEYS
    return False


def schema_text() -> str:
    """The JSON Schema as shipped inside the package."""
    return resources.files("flowengine.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def workflow_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _inlined_schema() -> dict[str, Any]:
    """The schema with each ``$ref`` replaced by what it names (none is recursive): resolving a
    reference costs jsonschema more than checking the value, once per state and transition."""
    schema = workflow_schema()
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            rest = {key: inline(value) for key, value in node.items() if key != "$ref"}
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                named = inline(definitions[reference.removeprefix("#/$defs/")])
                if set(rest) <= {"description", "title"}:  # words only beside it: the two merge
                    return {**named, **rest}
                return {**rest, "allOf": [named]}
            return rest
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {key: inline(value) for key, value in schema.items() if key != "$defs"}


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_inlined_schema())


def check_structure(doc: LocatedDocument) -> list[Issue]:
    """Every structural problem of the document at once, each at its own line."""
    validator = _validator()
    issues: list[Issue] = []
    for problem in validator.iter_errors(doc.data):
        issues.extend(_issues_for(problem, doc))
    return issues


def _issues_for(problem: Any, doc: LocatedDocument) -> Iterator[Issue]:
    path: PathKey = tuple(problem.absolute_path)
    schema_path = list(problem.relative_schema_path)
    kind = problem.validator
    where = _describe(path, doc.data)

    if _is_reference(path) and kind in ("pattern", "oneOf") and isinstance(problem.instance, str):
        if problem.instance.strip():
            return  # a malformed reference names nothing declared: the meaning check says so, with a suggestion
        yield error("FE105", f"'{_name(path)}' {where} is empty", doc.value_at(path), "name a declared id here")
        return
    if (kind == "type" and path and path[-1] in _DURATION_KEYS and isinstance(problem.instance, (int, float))
            and not isinstance(problem.instance, bool)):
        return  # the loader explains a number without a unit better (FE211)
    if "propertyNames" in schema_path:
        key = str(problem.instance)
        section = _KIND_OF_SECTION.get(str(path[-1]) if path else "", "key")
        yield error("FE104", f"{section} id '{key}' is not a valid id", doc.where((*path, key)),
                    f"use lowercase letters, digits and '_', starting with a letter, e.g. '{_slug(key)}'")
    elif kind == "additionalProperties":
        allowed = _allowed_keys(problem.schema)
        for key in sorted(set(problem.instance) - set(allowed)):
            location = doc.where((*path, key))
            suggestion = did_you_mean(key, allowed)
            if path and path[-1] == "labels":
                yield error("FE212", f"label in unknown language '{key}' {where}", location,
                            f"did you mean '{suggestion}'?" if suggestion
                            else "languages are " + ", ".join(LANGUAGES))
            else:
                hint = f"did you mean '{suggestion}'?" if suggestion else "allowed: " + ", ".join(allowed)
                yield error("FE100", f"unknown key '{key}' {where}", location, hint)
    elif kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", problem.message)
        for key in missing:
            yield error("FE102", f"missing required key '{key}' {where}", doc.value_at(path),
                        f"add '{key}:'" + _required_example(key))
    elif kind == "type":
        wanted = problem.validator_value if isinstance(problem.validator_value, list) else [problem.validator_value]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        hint = f"write {words}"
        if "array" in wanted and isinstance(problem.instance, str):
            hint = f"write a list, e.g. {_name(path)}: [{problem.instance}]"
        elif "object" in wanted and isinstance(problem.instance, list):
            hint = "remove the '- ' in front of each entry: entries here are 'name:' lines"
        elif "object" in wanted and len(path) == 2 and path[0] in _KIND_OF_SECTION and problem.instance is not None:
            hint = (f"if '{path[1]}' belongs to the {_KIND_OF_SECTION[str(path[0])]} above, indent it like "
                    "that one's other keys")
        elif "object" in wanted:
            hint = "write its entries on the lines below it, indented by two more spaces"
        elif "boolean" in wanted and isinstance(problem.instance, str):
            hint = "write true or false; yes, no, on and off are read as text"
        elif "string" in wanted and not isinstance(problem.instance, (dict, list)):
            hint = "put the value in quotes to make it text"
        yield error("FE101", f"{_name(path)} must be {words}, not {_kind_of(problem.instance)}",
                    doc.value_at(path), hint)
    elif kind == "enum" and not isinstance(problem.instance, str):
        yield error("FE101", f"{_name(path)} must be one word, not {_kind_of(problem.instance)}", doc.value_at(path),
                    "allowed: " + ", ".join(str(value) for value in problem.validator_value))
    elif kind == "enum":
        allowed = [str(value) for value in problem.validator_value]
        suggestion = did_you_mean(str(problem.instance), allowed)
        hint = f"did you mean '{suggestion}'?" if suggestion else "allowed: " + ", ".join(allowed)
        yield error("FE103", f"'{problem.instance}' is not an allowed {_name(path)}", doc.value_at(path), hint)
    elif kind == "pattern":
        yield _pattern_issue(path, problem.instance, doc)
    elif kind == "oneOf" and path and path[-1] == "from":
        yield from _from_issues(problem, path, doc)
    elif kind in ("minItems", "minProperties"):
        place = f" {where}" if len(path) > 1 else ""
        yield error("FE105", f"'{_name(path)}'{place} is empty", doc.value_at(path), _EMPTY_HINTS.get(
            _name(path), "add at least one entry or remove the key"))
    else:
        yield error("FE105", f"{_name(path)} {where}: {problem.message}", doc.value_at(path),
                    "see docs/workflow-language.md")


def _from_issues(problem: Any, path: PathKey, doc: LocatedDocument) -> Iterator[Issue]:
    """``from`` is a state, a list of states or "*": explain against the form the author chose."""
    value = problem.instance
    if isinstance(value, str):
        yield _pattern_issue(path, value, doc)
    elif isinstance(value, list):
        branch = [sub for sub in problem.context if sub.relative_schema_path and sub.relative_schema_path[0] == 2]
        for sub in branch:
            yield from _issues_for(sub, doc)
    else:
        yield error("FE101", f"'from' must be a state id, a list of state ids or \"*\", not {_kind_of(value)}",
                    doc.value_at(path), "e.g. from: council_review")


def _pattern_issue(path: PathKey, value: Any, doc: LocatedDocument) -> Issue:
    name = _name(path)
    if name == "prefix":
        return error("FE104", f"prefix '{value}' is not 2 to 6 capital letters", doc.value_at(path),
                     f"e.g. prefix: {re.sub('[^A-Z]', '', str(value).upper())[:6] or 'TRD'}")
    if name == "id" and len(path) == 1:
        example = _slug(str(value), "-")
        return error("FE104", f"workflow id '{value}' is not a valid id", doc.value_at(path),
                     f"use lowercase letters, digits, '-' and '_', starting with a letter, e.g. '{example}'")
    return error("FE104", f"'{value}' is not a valid id for {name}", doc.value_at(path),
                 f"use lowercase letters, digits and '_', starting with a letter, e.g. '{_slug(str(value))}'")


def _allowed_keys(schema: dict[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def _required_example(key: str) -> str:
    examples = {"id": " e.g. id: my-municipality", "states": " with at least one state",
                "transitions": " (a list of steps)", "trigger": " e.g. trigger: send_to_council",
                "from": " e.g. from: panel_draft", "to": " e.g. to: council_review", "type": " e.g. type: text",
                "after": " e.g. after: 90d"}
    return examples.get(key, "")


def _name(path: PathKey) -> str:
    """The key a value sits under, for messages (list items name their list)."""
    if len(path) == 2 and path[0] in _KIND_OF_SECTION:
        return f"{_KIND_OF_SECTION[str(path[0])]} '{path[1]}'"
    if len(path) == 2 and path[0] == "transitions" and isinstance(path[1], int):
        return f"transition {path[1] + 1}"
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "the document"


def _describe(path: PathKey, data: Any) -> str:
    """Where in the workflow a path points, in words: "in state 'council'"."""
    if not path:
        return "at the top level"
    section = path[0]
    if section == "states" and len(path) >= 3 and path[2] == "escalate":
        return f"in the escalation of state '{path[1]}'"
    if section in _KIND_OF_SECTION and len(path) >= 2:
        text = f"in {_KIND_OF_SECTION[str(section)]} '{path[1]}'"
        return text + (" labels" if len(path) >= 3 and path[2] == "labels" else "")
    if section == "transitions" and len(path) >= 2 and isinstance(path[1], int):
        trigger = None
        transitions = data.get("transitions") if isinstance(data, dict) else None
        if isinstance(transitions, list) and path[1] < len(transitions) and isinstance(transitions[path[1]], dict):
            trigger = transitions[path[1]].get("trigger")
        name = f"transition '{trigger}'" if isinstance(trigger, str) else f"transition {path[1] + 1}"
        return f"in {name}" + (" labels" if len(path) >= 3 and path[2] == "labels" else "")
    if section == "labels":
        return "in the workflow labels"
    return f"in '{section}'"


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"'{str(value).lower()}' (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _slug(text: str, separator: str = "_") -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", separator, text.strip())  # CouncilReview → Council_Review
    slug = re.sub(r"[^a-z0-9]+", separator, spaced.lower()).strip(separator)
    if not slug or not slug[0].isalpha():
        slug = "s" + separator + slug if slug else "state"
    return slug
