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
from flowengine.i18n import N_, marked, t
from flowengine.issues import Issue, error
from flowengine.suggest import did_you_mean

SCHEMA_FILE = "workflow.schema.json"

_TYPE_WORDS = {
    "object": N_("a mapping (indented 'key: value' lines)"),
    "array": N_("a list ('- item' lines or [a, b])"),
    "string": N_("text"),
    "boolean": N_("true or false"),
    "integer": N_("a whole number"),
    "number": N_("a number"),
    "null": N_("empty"),
}
_KIND_OF_SECTION = {"roles": "role", "fields": "field", "states": "state"}
_NAMED = {"role": N_("role '{name}'"), "field": N_("field '{name}'"), "state": N_("state '{name}'")}
_IN_NAMED = {"role": N_("in role '{name}'"), "field": N_("in field '{name}'"), "state": N_("in state '{name}'")}
_EMPTY_HINTS = {"states": N_("declare at least one state"), "from": N_('name at least one state, or write from: "*"'),
                "options": N_("list the values to choose from, e.g. options: [low, medium, high]")}
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
        yield error("FE105", t("'{name}' {where} is empty", name=_name(path), where=where), doc.value_at(path),
                    t("name a declared id here"))
        return
    if (kind == "type" and path and path[-1] in _DURATION_KEYS and isinstance(problem.instance, (int, float))
            and not isinstance(problem.instance, bool)):
        return  # the loader explains a number without a unit better (FE211)
    if "propertyNames" in schema_path:
        key = str(problem.instance)
        section = _KIND_OF_SECTION.get(str(path[-1]) if path else "", "key")
        yield error("FE104", t("{section} id '{key}' is not a valid id", section=marked(_SECTION_WORDS[section]),
                               key=key), doc.where((*path, key)),
                    t("use lowercase letters, digits and '_', starting with a letter, e.g. '{example}'",
                      example=_slug(key)))
    elif kind == "additionalProperties":
        allowed = _allowed_keys(problem.schema)
        for key in sorted(set(problem.instance) - set(allowed)):
            location = doc.where((*path, key))
            suggestion = did_you_mean(key, allowed)
            if path and path[-1] == "labels":
                yield error("FE212", t("label in unknown language '{key}' {where}", key=key, where=where), location,
                            t("did you mean '{suggestion}'?", suggestion=suggestion) if suggestion
                            else t("languages are {languages}", languages=", ".join(LANGUAGES)))
            else:
                yield error("FE100", t("unknown key '{key}' {where}", key=key, where=where), location,
                            _hint(suggestion, allowed))
    elif kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", problem.message)
        for key in missing:
            yield error("FE102", t("missing required key '{key}' {where}", key=key, where=where), doc.value_at(path),
                        t("add '{key}:'", key=key) + _required_example(key))
    elif kind == "type":
        wanted = problem.validator_value if isinstance(problem.validator_value, list) else [problem.validator_value]
        words = t("{choices} or {last}", choices=" or ".join(_type_word(w) for w in wanted[:-1]),
                  last=_type_word(wanted[-1])) if len(wanted) > 1 else _type_word(wanted[0])
        hint = t("write {words}", words=words)
        if "array" in wanted and isinstance(problem.instance, str):
            hint = t("write a list, e.g. {key}: [{value}]", key=_name(path), value=problem.instance)
        elif "object" in wanted and isinstance(problem.instance, list):
            hint = t("remove the '- ' in front of each entry: entries here are 'name:' lines")
        elif "object" in wanted and len(path) == 2 and path[0] in _KIND_OF_SECTION and problem.instance is not None:
            hint = t("if '{key}' belongs to the {section} above, indent it like that one's other keys", key=path[1],
                     section=marked(_SECTION_WORDS[_KIND_OF_SECTION[str(path[0])]]))
        elif "object" in wanted:
            hint = t("write its entries on the lines below it, indented by two more spaces")
        elif "boolean" in wanted and isinstance(problem.instance, str):
            hint = t("write true or false; yes, no, on and off are read as text")
        elif "string" in wanted and not isinstance(problem.instance, (dict, list)):
            hint = t("put the value in quotes to make it text")
        yield error("FE101", t("{name} must be {words}, not {found}", name=_name(path), words=words,
                               found=_kind_of(problem.instance)), doc.value_at(path), hint)
    elif kind == "enum" and not isinstance(problem.instance, str):
        yield error("FE101", t("{name} must be one word, not {found}", name=_name(path),
                               found=_kind_of(problem.instance)), doc.value_at(path),
                    t("allowed: {values}", values=", ".join(str(value) for value in problem.validator_value)))
    elif kind == "enum":
        allowed = [str(value) for value in problem.validator_value]
        suggestion = did_you_mean(str(problem.instance), allowed)
        yield error("FE103", t("'{value}' is not an allowed {name}", value=problem.instance, name=_name(path)),
                    doc.value_at(path), _hint(suggestion, allowed))
    elif kind == "pattern":
        yield _pattern_issue(path, problem.instance, doc)
    elif kind == "oneOf" and path and path[-1] == "from":
        yield from _from_issues(problem, path, doc)
    elif kind in ("minItems", "minProperties"):
        empty = t("'{name}' {where} is empty", name=_name(path), where=where) if len(path) > 1 \
            else t("'{name}' is empty", name=_name(path))
        empty_hint = _EMPTY_HINTS.get(_name(path))
        yield error("FE105", empty, doc.value_at(path),
                    marked(empty_hint) if empty_hint else t("add at least one entry or remove the key"))
    else:
        yield error("FE105", f"{_name(path)} {where}: {problem.message}", doc.value_at(path),
                    t("see docs/workflow-language.md"))


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
        yield error("FE101", t("'from' must be a state id, a list of state ids or \"*\", not {found}",
                               found=_kind_of(value)), doc.value_at(path), t("e.g. from: council_review"))


def _pattern_issue(path: PathKey, value: Any, doc: LocatedDocument) -> Issue:
    name = _name(path)
    if name == "prefix":
        return error("FE104", t("prefix '{value}' is not 2 to 6 capital letters", value=value), doc.value_at(path),
                     t("e.g. prefix: {example}", example=re.sub("[^A-Z]", "", str(value).upper())[:6] or "TRD"))
    if name == "id" and len(path) == 1:
        example = _slug(str(value), "-")
        return error("FE104", t("workflow id '{value}' is not a valid id", value=value), doc.value_at(path),
                     t("use lowercase letters, digits, '-' and '_', starting with a letter, e.g. '{example}'",
                       example=example))
    return error("FE104", t("'{value}' is not a valid id for {name}", value=value, name=name), doc.value_at(path),
                 t("use lowercase letters, digits and '_', starting with a letter, e.g. '{example}'",
                   example=_slug(str(value))))


def _allowed_keys(schema: dict[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def _hint(suggestion: str | None, allowed: list[str]) -> str:
    if suggestion:
        return t("did you mean '{suggestion}'?", suggestion=suggestion)
    return t("allowed: {values}", values=", ".join(allowed))


def _type_word(kind: object) -> str:
    word = _TYPE_WORDS.get(str(kind))
    return marked(word) if word else str(kind)


_SECTION_WORDS = {"role": N_("role"), "field": N_("field"), "state": N_("state"), "key": N_("key")}
_EXAMPLES = {"id": N_(" e.g. id: my-municipality"), "states": N_(" with at least one state"),
             "transitions": N_(" (a list of steps)"), "trigger": N_(" e.g. trigger: send_to_council"),
             "from": N_(" e.g. from: panel_draft"), "to": N_(" e.g. to: council_review"),
             "type": N_(" e.g. type: text"), "after": N_(" e.g. after: 90d")}


def _required_example(key: str) -> str:
    example = _EXAMPLES.get(key)
    return marked(example) if example else ""


def _name(path: PathKey) -> str:
    """The key a value sits under, for messages (list items name their list)."""
    if len(path) == 2 and path[0] in _KIND_OF_SECTION:
        return marked(_NAMED[_KIND_OF_SECTION[str(path[0])]], name=path[1])
    if len(path) == 2 and path[0] == "transitions" and isinstance(path[1], int):
        return t("transition {number}", number=path[1] + 1)
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return t("the document")


def _describe(path: PathKey, data: Any) -> str:
    """Where in the workflow a path points, in words: "in state 'council'"."""
    if not path:
        return t("at the top level")
    section = path[0]
    labels = len(path) >= 3 and path[2] == "labels"
    if section == "states" and len(path) >= 3 and path[2] == "escalate":
        return t("in the escalation of state '{state}'", state=path[1])
    if section in _KIND_OF_SECTION and len(path) >= 2:
        text = marked(_IN_NAMED[_KIND_OF_SECTION[str(section)]], name=path[1])
        return t("{where} labels", where=text) if labels else text
    if section == "transitions" and len(path) >= 2 and isinstance(path[1], int):
        trigger = None
        transitions = data.get("transitions") if isinstance(data, dict) else None
        if isinstance(transitions, list) and path[1] < len(transitions) and isinstance(transitions[path[1]], dict):
            trigger = transitions[path[1]].get("trigger")
        text = t("in transition '{trigger}'", trigger=trigger) if isinstance(trigger, str) \
            else t("in transition {number}", number=path[1] + 1)
        return t("{where} labels", where=text) if labels else text
    if section == "labels":
        return t("in the workflow labels")
    return t("in '{section}'", section=section)


def _kind_of(value: Any) -> str:
    if value is None:
        return t("empty")
    if isinstance(value, bool):
        return f"'{str(value).lower()}' (true/false)"
    if isinstance(value, (int, float)):
        return t("the number {value}", value=value)
    if isinstance(value, str):
        return t("the text '{value}'", value=value)
    if isinstance(value, list):
        return t("a list")
    return t("a mapping")


def _slug(text: str, separator: str = "_") -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", separator, text.strip())  # CouncilReview → Council_Review
    slug = re.sub(r"[^a-z0-9]+", separator, spaced.lower()).strip(separator)
    if not slug or not slug[0].isalpha():
        slug = "s" + separator + slug if slug else "state"
    return slug
