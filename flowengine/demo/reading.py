"""Reading a demo data file: YAML (read like a workflow, safely) → :class:`~flowengine.demo.data.DemoData`.

Every mistake is one :class:`~flowengine.errors.InvalidInput` at its file:line:column with what
to do about it, before anything is written. A library module: it never prints and never exits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from flowengine.definition.yamlsafe import LocatedDocument, PathKey, read_file
from flowengine.demo.data import (
    FIELDS,
    FORMAT_HINT,
    NOTE,
    PROGRESS,
    TRIGGER,
    ContextItem,
    DemoData,
    DemoProposal,
    DemoStep,
    demo_file,
)
from flowengine.errors import InvalidInput
from flowengine.history.provenance import KINDS, STATED, Provenance
from flowengine.history.records import Actor
from flowengine.i18n import t
from flowengine.issues import printable
from flowengine.timewindow import EARLIEST_TEXT, LATEST_TEXT, problem

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_NOON = time(12, 0)  # a step given by its day alone happens at noon, local time
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

_PROVENANCE_KEYS = (*KINDS, "section", "when", "placeholders")
_TOP_KEYS = ("as_of", "utc_offset", "title", "description", "source", "context", "proposals")
_PROPOSAL_KEYS = ("key", "from", "workflow", "title", "description", "origin", "date", "actor", "role", "fields",
                  *_PROVENANCE_KEYS, "steps")
_STEP_KEYS = ("date", "actor", "role", TRIGGER, "comment", FIELDS, NOTE, PROGRESS, *_PROVENANCE_KEYS)
_CONTEXT_KEYS = ("workflow", "text", *_PROVENANCE_KEYS)
_PROVENANCE_HINT = ('say where it comes from: stated: "the passage, in the source\'s own words" with section: …, '
                    "inferred: what it is read from, or illustrative: why it had to be invented")


def read_demo(path: Path | None = None) -> DemoData:
    """Read and check a demo file (the bundled one by default) without writing anything.

    Raises DefinitionError for a file that is not readable YAML, InvalidInput (with file:line:column
    and a fix) for anything else wrong in it.
    """
    source = Path(path) if path is not None else demo_file()
    return _Reader(read_file(source), source).read()


def day_text(moment: datetime, offset: timezone) -> str:
    """A moment as the file would write it: the day alone for noon (or the end of the as-of day)."""
    local = moment.astimezone(offset)
    if local.time() in (_NOON, time(23, 59, 59, 999999)):
        return local.strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%d %H:%M")


class _Reader:
    def __init__(self, document: LocatedDocument, path: Path) -> None:
        self.doc = document
        self.path = path
        self.offset = UTC

    def fail(self, path: PathKey, message: str, hint: str, *, at_key: bool = False) -> InvalidInput:
        where = self.doc.where(path) if at_key else self.doc.value_at(path)
        return InvalidInput(printable(f"{where}: {message} ({hint})"))

    def read(self) -> DemoData:
        top = self.mapping((), self.doc.data, "the demo file", _TOP_KEYS, required=("as_of", "proposals"))
        if "utc_offset" in top:
            self.offset = self.utc_offset(("utc_offset",), top["utc_offset"])
        as_of = self.as_of(("as_of",), top["as_of"])
        items = top["proposals"]
        if not isinstance(items, list) or not items:
            raise self.fail(("proposals",), "'proposals' must be a list of proposals", FORMAT_HINT)
        proposals: list[DemoProposal] = []
        for i, item in enumerate(items):
            proposals.append(self.proposal(("proposals", i), item, as_of, {p.key for p in proposals if p.key}))
        context_raw = top.get("context") or []
        if not isinstance(context_raw, list):
            raise self.fail(("context",), "'context' must be a list of items", FORMAT_HINT)
        context = tuple(self.context(("context", i), item) for i, item in enumerate(context_raw))
        return DemoData(self.doc, self.path, self.text(("title",), top.get("title")),
                        self.text(("description",), top.get("description")),
                        self.text(("source",), top.get("source")), as_of, self.offset, context, tuple(proposals))

    def mapping(self, path: PathKey, value: Any, what: str, keys: Sequence[str],
                required: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping of keys such as {', '.join(required)}", FORMAT_HINT)
        from flowengine.suggest import did_you_mean

        for key in value:
            if key not in keys:
                close = did_you_mean(key, keys)
                hint = f"did you mean '{close}'?" if close else f"allowed keys: {', '.join(keys)}"
                raise self.fail((*path, key), f"unknown key '{key}' in {what}", hint, at_key=True)
        for key in required:
            if value.get(key) in (None, ""):
                raise self.fail(path, f"{what} has no '{key}'", f"add {key}: …; {FORMAT_HINT}")
        return value

    def text(self, path: PathKey, value: Any, *, required: bool = False) -> str:
        if value is None:
            if required:
                raise self.fail(path, f"'{path[-1]}' is empty", "give it a value")
            return ""
        if isinstance(value, (dict, list, bool)):
            raise self.fail(path, f"'{path[-1]}' must be text", "write it as one line, or as a folded block (>)")
        return str(value).strip()

    def utc_offset(self, path: PathKey, value: Any) -> timezone:
        match = _OFFSET.match(str(value).strip()) if isinstance(value, str) else None
        if not match:
            raise self.fail(path, f"utc_offset {value!r} is not an offset from UTC",
                            'write it with quotes as "+01:00" (Central European Time) or "+00:00"')
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta >= timedelta(hours=24):
            raise self.fail(path, f"utc_offset {value!r} is not an offset from UTC", 'e.g. "+01:00"')
        return timezone(-delta if sign == "-" else delta)

    def as_of(self, path: PathKey, value: Any) -> datetime:
        """The end of the as-of day, so that steps on that day are included."""
        day = self.when(path, value, "as_of", with_time=False).astimezone(self.offset).date()
        next_midnight = datetime.combine(day + timedelta(days=1), time(), self.offset)  # within the window
        return (next_midnight - timedelta(microseconds=1)).astimezone(UTC)

    def when(self, path: PathKey, value: Any, what: str, *, with_time: bool = True) -> datetime:
        text = value if isinstance(value, str) else ""
        match = _DATE.match(text.strip())
        example = "YYYY-MM-DD, e.g. 2017-11-23" + (", or with a time: 2017-11-23 14:00" if with_time else "")
        if not match or (match.group(2) and not with_time):
            raise self.fail(path, f"{what} {value!r} is not a date", f"write it as {example}")
        try:
            day = date.fromisoformat(match.group(1))
            clock = time(int(match.group(2)), int(match.group(3))) if match.group(2) else _NOON
        except ValueError:
            raise self.fail(path, f"{what} {value!r} is not a date of the calendar", f"write it as {example}") from None
        try:
            moment = datetime.combine(day, clock, self.offset).astimezone(UTC)
        except OverflowError:
            moment = None
        reason = problem(moment) if moment is not None else t(
            "the time {time} lies outside the range flowengine accepts ({earliest} to {latest}, UTC)",
            time=text.strip(), earliest=EARLIEST_TEXT, latest=LATEST_TEXT)
        if moment is None or reason is not None:
            raise self.fail(path, f"{what} {value!r}: {reason}", f"write a date from {EARLIEST_TEXT} to {LATEST_TEXT}")
        return moment

    def actor(self, path: PathKey, spec: Mapping[str, Any]) -> Actor:
        try:
            return Actor(self.text((*path, "actor"), spec["actor"]), self.text((*path, "role"), spec["role"]))
        except InvalidInput as exc:
            raise self.fail((*path, "actor"), str(exc), "a pseudonym and a role of the workflow") from None

    def fields(self, path: PathKey, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, "'fields' must be a mapping of field: value", "e.g. fields: {summary: …}")
        for name, item in value.items():
            if isinstance(item, (dict, list)):
                raise self.fail((*path, name), f"field '{name}' must be one value, not a list or mapping",
                                "write text, a number, a date YYYY-MM-DD or a link")
        return dict(value)

    def provenance(self, path: PathKey, spec: Mapping[str, Any], what: str,
                   fields: Mapping[str, Any]) -> Provenance:
        """Where a registration or a step comes from: exactly one of stated/inferred/illustrative."""
        given = [kind for kind in KINDS if kind in spec]
        if len(given) != 1:
            message = (f"{what} does not say where it comes from" if not given else
                       f"{what} says it is {' and '.join(given)}: it can be only one")
            raise self.fail(path if not given else (*path, given[1]), message, _PROVENANCE_HINT, at_key=bool(given))
        kind = given[0]
        text = self.text((*path, kind), spec[kind], required=True)
        section = self.text((*path, "section"), spec.get("section"))
        if kind == STATED and not section:
            raise self.fail((*path, kind), "a stated step names where the source says it",
                            "add section: the heading of the source's passage, e.g. Oppsummering Melhus")
        raw = spec.get("placeholders") or []
        if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
            raise self.fail((*path, "placeholders"), "'placeholders' must be a list of field names",
                            "e.g. placeholders: [decision_reference]")
        for index, name in enumerate(raw):
            if name not in fields:
                raise self.fail((*path, "placeholders", index), f"placeholder '{name}' is not a field {what} sets",
                                f"name one of: {', '.join(fields) or 'none (it sets no fields)'}")
        try:
            return Provenance(kind, text, section, self.text((*path, "when"), spec.get("when")), tuple(raw))
        except InvalidInput as exc:
            raise self.fail((*path, kind), str(exc), _PROVENANCE_HINT) from None

    def proposal(self, path: PathKey, item: Any, as_of: datetime, keys: set[str]) -> DemoProposal:
        spec = self.mapping(path, item, "a proposal", _PROPOSAL_KEYS,
                            required=("workflow", "title", "date", "actor", "role"))
        at = self.when((*path, "date"), spec["date"], "date")
        self.not_after(as_of, (*path, "date"), at)
        key = self.text((*path, "key"), spec.get("key")) or None
        if key is not None and not _KEY.match(key):
            raise self.fail((*path, "key"), f"key '{key}' is not a usable name",
                            "lower-case letters, digits and dashes, e.g. timra-audit")
        if key in keys:
            raise self.fail((*path, "key"), f"key '{key}' is given to an earlier proposal too", "give each its own")
        came_from = self.text((*path, "from"), spec.get("from")) or None
        if came_from is not None and came_from not in keys:
            raise self.fail((*path, "from"), f"'from: {came_from}' names no earlier proposal of the file",
                            f"name the key of one above: {', '.join(sorted(keys)) or 'none has a key yet'}")
        steps_raw = spec.get("steps") or []
        if not isinstance(steps_raw, list):
            raise self.fail((*path, "steps"), "'steps' must be a list of steps", FORMAT_HINT)
        steps: list[DemoStep] = []
        previous = at
        for j, raw in enumerate(steps_raw):
            step = self.step((*path, "steps", j), raw, as_of)
            if step.at < previous:
                raise self.fail((*step.path, "date"), f"this step ({day_text(step.at, self.offset)}) comes before "
                                f"the one above it ({day_text(previous, self.offset)})",
                                "steps are recorded in date order: fix the date or the order")
            previous = step.at
            steps.append(step)
        fields = self.fields((*path, "fields"), spec.get("fields"))
        return DemoProposal(
            path=path, key=key, came_from=came_from,
            workflow=self.text((*path, "workflow"), spec["workflow"], required=True),
            title=self.text((*path, "title"), spec["title"], required=True),
            description=self.text((*path, "description"), spec.get("description")),
            origin=self.text((*path, "origin"), spec.get("origin")),
            at=at, actor=self.actor(path, spec), fields=fields,
            provenance=self.provenance(path, spec, "the proposal's registration", fields), steps=tuple(steps))

    def step(self, path: PathKey, item: Any, as_of: datetime) -> DemoStep:
        spec = self.mapping(path, item, "a step", _STEP_KEYS, required=("date", "actor", "role"))
        actions = [key for key in (TRIGGER, NOTE, PROGRESS) if spec.get(key) not in (None, "")]
        if len(actions) > 1:
            raise self.fail((*path, actions[1]), f"a step does one thing: {' and '.join(actions)} given",
                            "split it into two steps")
        fields = self.fields((*path, FIELDS), spec.get(FIELDS))
        action = actions[0] if actions else (FIELDS if fields else None)
        if action is None:
            raise self.fail(path, "a step needs a trigger, a note, progress, or fields to set",
                            "add trigger: … (as the workflow names it), note: …, progress: 40 (or partly), "
                            "or fields: {…}")
        if action in (NOTE, PROGRESS) and fields:
            raise self.fail((*path, FIELDS), f"a {action} sets no fields", "set them in a step of their own")
        if action == NOTE and spec.get("comment"):
            raise self.fail((*path, "comment"), "a note is its own text", "put the text in note: …")
        at = self.when((*path, "date"), spec["date"], "date")
        self.not_after(as_of, (*path, "date"), at)
        percent = spec.get(PROGRESS) if action == PROGRESS else None
        if isinstance(percent, bool) or (percent is not None and not isinstance(percent, int | str)):
            raise self.fail((*path, PROGRESS), "progress is a share from 0 to 100, or partly", "e.g. progress: 40")
        comment = self.text((*path, NOTE), spec[NOTE]) if action == NOTE else self.text(
            (*path, "comment"), spec.get("comment"))
        return DemoStep(path, at, self.actor(path, spec), action,
                        self.text((*path, TRIGGER), spec.get(TRIGGER)) or None, comment, fields, percent,
                        self.provenance(path, spec, "this step", fields))

    def context(self, path: PathKey, item: Any) -> ContextItem:
        spec = self.mapping(path, item, "a context item", _CONTEXT_KEYS, required=("text",))
        return ContextItem(path, self.text((*path, "workflow"), spec.get("workflow")) or None,
                           self.text((*path, "when"), spec.get("when")), self.text((*path, "text"), spec["text"]),
                           self.provenance(path, spec, "this item", {}))

    def not_after(self, as_of: datetime, path: PathKey, at: datetime) -> None:
        if at > as_of:
            raise self.fail(path, f"{day_text(at, self.offset)} is after as_of ({day_text(as_of, self.offset)})",
                            "move as_of later, or the date earlier: the demo stands at as_of")
