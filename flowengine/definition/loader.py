"""Workflow files → :class:`~flowengine.definition.model.Workflow`.

Two ways in:

- :func:`check_file` / :func:`check_text` — the linter: safe YAML, structure (JSON Schema),
  meaning and governance checks, every issue at once;
- :func:`load_workflow` — the same, raising :class:`DefinitionError` when anything is an error.

The model is built leniently: a value of the wrong type is left at its default (the
structural check reports it), so the meaning checks still run on the rest of the file and
the author sees every problem in one go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.definition.durations import DURATION_HELP, Duration, parse_duration
from flowengine.definition.model import (
    ANY_STATE,
    ROLE_KINDS,
    Escalation,
    Field,
    Labels,
    Located,
    Publication,
    Role,
    State,
    Transition,
    Workflow,
    content_hash,
)
from flowengine.definition.vocabulary import LANGUAGES
from flowengine.definition.yamlsafe import LocatedDocument, read_bytes, read_file, read_text
from flowengine.errors import DefinitionError
from flowengine.i18n import marked, t
from flowengine.issues import START_HINT, Issue, Location, Severity, error


@dataclass
class CheckResult:
    """What the linter found. ``workflow`` is None when the file could not be read at all."""

    source: str
    workflow: Workflow | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(path: str | Path, *, strict: bool = False, document: LocatedDocument | None = None) -> CheckResult:
    """Lint one workflow file; never raises for problems in the file itself.

    ``document``: the file as already read (by the registry), so it is not read twice.
    """
    if document is None:
        try:
            document = read_file(path)
        except DefinitionError as exc:
            return CheckResult(str(path), None, list(exc.issues))
    return check_document(document, strict=strict, file_stem=Path(path).stem)


def check_bytes(raw: bytes, source: str, *, strict: bool = False) -> CheckResult:
    """Lint a workflow read from somewhere that is not a file (standard input), as a file is read."""
    try:
        doc = read_bytes(raw, source)
    except DefinitionError as exc:
        return CheckResult(source, None, list(exc.issues))
    return check_document(doc, strict=strict)


def check_text(text: str, source: str = "<text>", *, strict: bool = False) -> CheckResult:
    """Lint workflow text that is not in a file (the tests' and the docs' examples)."""
    try:
        doc = read_text(text, source)
    except DefinitionError as exc:
        return CheckResult(source, None, list(exc.issues))
    return check_document(doc, strict=strict)


def check_document(doc: LocatedDocument, *, strict: bool = False, file_stem: str | None = None) -> CheckResult:
    from flowengine.definition.structure import check_structure
    from flowengine.definition.validation import check_workflow

    issues = list(doc.issues)
    if not isinstance(doc.data, dict):
        issues.append(error("FE006", t("the top level must be a mapping of keys (id:, states:, transitions: …)"),
                            doc.value_at(()), marked(START_HINT)))
        return CheckResult(doc.source, None, _sorted(issues))
    too_big = size_issue(doc)
    if too_big is not None:
        return CheckResult(doc.source, None, _sorted([*issues, too_big]))
    issues.extend(check_structure(doc))
    workflow, build_issues = build_workflow(doc)
    issues.extend(build_issues)
    issues.extend(check_workflow(workflow, strict=strict, file_stem=file_stem))
    return CheckResult(doc.source, workflow, _sorted(issues))


def load_workflow(path: str | Path, *, strict: bool = False, document: LocatedDocument | None = None) -> Workflow:
    """A valid workflow, or DefinitionError listing every error (warnings do not stop it)."""
    result = check_file(path, strict=strict, document=document)
    if result.workflow is None or result.errors:
        raise DefinitionError(result.errors)
    return result.workflow


def _sorted(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=Issue.sort_key)


MAX_VERSION_CHARS = 50  # as the schema's maxLength for a version written as text, and its column
MAX_STATES = 2_000  # a municipality's chain has tens; the limit keeps every check and view quick
MAX_TRANSITIONS = 5_000  # as written: a transition from "*" counts once


def size_issue(doc: LocatedDocument) -> Issue | None:
    """FE013 when the document declares more states or transitions than flowengine handles."""
    data = doc.data if isinstance(doc.data, dict) else {}
    for key, limit in (("states", MAX_STATES), ("transitions", MAX_TRANSITIONS)):
        section = data.get(key)
        if isinstance(section, (dict, list)) and len(section) > limit:
            return error("FE013", t("the workflow declares {count} {key}; flowengine reads at most {limit}",
                                    count=f"{len(section):,}", key=key, limit=f"{limit:,}"),
                         doc.value_at((key,)), t("split the chain into several workflows"))
    return None


def build_workflow(doc: LocatedDocument) -> tuple[Workflow, list[Issue]]:
    """Build the model from a parsed document; returns the issues only building can see.
    A document beyond the limits (:func:`size_issue`) is refused before anything is built."""
    too_big = size_issue(doc)
    if too_big is not None:
        raise DefinitionError([too_big])
    builder = _ModelBuilder(doc)
    return builder.build(), builder.issues


class _ModelBuilder:
    def __init__(self, doc: LocatedDocument) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        self.issues: list[Issue] = []

    def build(self) -> Workflow:
        data = self.data
        roles = {rid: self.role(rid, spec) for rid, spec in self.section("roles").items()}
        fields = {fid: self.field(fid, spec) for fid, spec in self.section("fields").items()
                  if isinstance(spec, dict)}
        states = {sid: self.state(sid, spec) for sid, spec in self.section("states").items()}
        open_states = tuple(sid for sid, state in states.items() if not state.final)
        raw_transitions = data.get("transitions")
        raw_list = raw_transitions if isinstance(raw_transitions, list) else []
        transitions = tuple(
            self.transition(index, spec, open_states) for index, spec in enumerate(raw_list) if isinstance(spec, dict)
        )
        complete = (
            isinstance(raw_transitions, list)
            and not any(i.code == "FE007" for i in self.doc.issues)  # entries merged by a missing '- '?
            and len(transitions) == len(raw_list)
            and all(state.readable for state in states.values())
            and all(transition.readable for transition in transitions)
        )
        version = self.doc.raw_scalars.get(("version",), data.get("version", ""))
        if version is not None and len(str(version)) > MAX_VERSION_CHARS:  # a number as long as any text
            self.issues.append(error("FE105", t("the version is longer than {n} characters", n=MAX_VERSION_CHARS),
                                     self.doc.value_at(("version",)), t("write a short version, e.g. 2 or 2024-1")))
        return Workflow(
            id=_text(data.get("id")),
            version=str(version) if version is not None else "",
            prefix=_text(data.get("prefix")),
            title=_text(data.get("title")),
            description=_text(data.get("description")),
            labels=_labels(data.get("labels")),
            roles=roles,
            fields=fields,
            states=states,
            transitions=transitions,
            source=self.doc.source,
            at=self.located((), data),
            content_hash=content_hash(self.doc.text),
            complete=complete,
            language=data["language"] if data.get("language") in LANGUAGES else "en",
            publication=self.publication(),
        )

    def publication(self) -> Publication:
        spec = self.section("publication")
        return Publication(proposals=spec.get("proposals") is True, comments=spec.get("comments") is True,
                           descriptions=spec.get("descriptions") is True)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def role(self, role_id: str, spec: Any) -> Role:
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("kind")
        if not isinstance(kind, str) or kind not in ROLE_KINDS:
            kind = role_id if role_id in ROLE_KINDS else "other"
        return Role(role_id, kind, _labels(spec.get("labels")), _text(spec.get("description")),
                    self.located(("roles", role_id), spec))

    def field(self, field_id: str, spec: dict[str, Any]) -> Field:
        options = spec.get("options")
        return Field(
            id=field_id,
            type=_text(spec.get("type")) or "text",
            options=tuple(str(o) for o in options) if isinstance(options, list) else (),
            required=spec.get("required") is True,
            labels=_labels(spec.get("labels")),
            description=_text(spec.get("description")),
            at=self.located(("fields", field_id), spec),
            public=spec.get("public") is True,
            personal=spec["personal"] if isinstance(spec.get("personal"), bool) else None,
        )

    def state(self, state_id: str, raw: Any) -> State:
        spec = raw if isinstance(raw, dict) else {}
        final = _flag(spec.get("final"))
        stage = spec.get("stage") if isinstance(spec.get("stage"), str) else None
        return State(
            id=state_id,
            initial=_flag(spec.get("initial")),
            final=final,
            outcome=spec.get("outcome") if isinstance(spec.get("outcome"), str) else None,
            stage=stage or ("closed" if final else None),
            owner=spec.get("owner") if isinstance(spec.get("owner"), str) else None,
            deadline=self.duration(("states", state_id, "deadline"), spec.get("deadline"), t("deadline")),
            deadline_text=_as_written(spec.get("deadline")),
            answers_panel=spec.get("answers_panel") is True,
            labels=_labels(spec.get("labels")),
            description=_text(spec.get("description")),
            at=self.located(("states", state_id), spec),
            readable=isinstance(raw, dict),
            reminder=self.duration(("states", state_id, "reminder"), spec.get("reminder"), t("reminder")),
            reminder_text=_as_written(spec.get("reminder")),
            escalation=self.escalation(state_id, spec.get("escalate")),
        )

    def escalation(self, state_id: str, raw: Any) -> Escalation | None:
        if not isinstance(raw, dict):
            return None  # the structural check says what is wrong
        path = ("states", state_id, "escalate")
        return Escalation(
            after=self.duration((*path, "after"), raw.get("after"), t("escalation after")),
            after_text=_as_written(raw.get("after")),
            trigger=_text(raw.get("trigger")),
            at=self.located(path, raw),
        )

    def duration(self, path: tuple[str, ...], value: Any, what: str) -> Duration | None:
        """A deadline, reminder or escalation time; FE211 (with the spelling to use) when it is none."""
        if value is None:
            return None
        if not isinstance(value, str):
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
                self.issues.append(error("FE211", t("{what} {value} has no unit", what=what, value=value),
                                         self.doc.value_at(path),
                                         t("write {value}d for days, {value}w for weeks, or P{value}M for months",
                                           value=value)))
            elif isinstance(value, float) and not isinstance(value, bool):
                self.issues.append(error("FE211", t("{what} {value} is not a duration", what=what,
                                                    value=self.doc.raw_scalars.get(path, value)),
                                         self.doc.value_at(path), marked(DURATION_HELP)))
            return None  # other types: the structural check already says what is wrong
        try:
            return parse_duration(value)
        except ValueError as exc:
            message, _, hint = str(exc).partition("; ")
            self.issues.append(error("FE211", f"{what} {message}", self.doc.value_at(path),
                                     hint or marked(DURATION_HELP)))
            return None

    def transition(self, index: int, spec: dict[str, Any], open_states: tuple[str, ...]) -> Transition:
        raw_from = spec.get("from")
        from_any = raw_from == ANY_STATE
        if from_any:
            sources = open_states
        elif isinstance(raw_from, str):
            sources = (raw_from,)
        elif isinstance(raw_from, list):
            sources = tuple(dict.fromkeys(s for s in raw_from if isinstance(s, str)))
        else:
            sources = ()
        whole_from = from_any or isinstance(raw_from, str) or (
            isinstance(raw_from, list) and bool(raw_from) and all(isinstance(s, str) for s in raw_from))
        return Transition(
            trigger=_text(spec.get("trigger")),
            sources=sources,
            from_any=from_any,
            target=_text(spec.get("to")),
            roles=_id_list(spec.get("roles")),
            requires=_id_list(spec.get("requires")),
            requires_comment=spec.get("requires_comment") is True,
            answers_panel=spec.get("answers_panel") is True,
            labels=_labels(spec.get("labels")),
            description=_text(spec.get("description")),
            at=self.located(("transitions", index), spec),
            readable=whole_from and bool(_text(spec.get("to"))),
        )

    def located(self, path: tuple[str | int, ...], spec: dict[str, Any]) -> Located:
        """Locations of a node's keys, and of each item of its list values."""
        parts: list[tuple[str, Location]] = []
        for key, value in spec.items():
            # a scalar is pointed at where it is written; a list or mapping at its key
            here = self.doc.where((*path, key)) if isinstance(value, (dict, list)) else self.doc.value_at((*path, key))
            parts.append((key, here))
            if isinstance(value, list):
                parts += [(f"{key}={item}", self.doc.value_at((*path, key, k)))
                          for k, item in enumerate(value) if isinstance(item, str)]
        return Located(self.doc.where(path), tuple(parts))


def _flag(value: Any) -> bool:
    """A yes/no the author clearly meant as true counts as true here, so one slip (which the
    structural check reports) does not cascade into a screenful of follow-on errors."""
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "y", "on", "true")
    return value is True


def _as_written(value: Any) -> str | None:
    return None if value is None else str(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(item for item in value if isinstance(item, str)))


def _labels(value: Any) -> Labels:
    if not isinstance(value, dict):
        return Labels()
    return Labels(tuple((lang, text) for lang, text in value.items() if lang in LANGUAGES and isinstance(text, str)))
