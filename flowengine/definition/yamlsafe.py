"""Safe YAML reading for files written by people who are not programmers — or by attackers.

The document is built from PyYAML's event stream rather than its constructors, so that:

- no tag can build a Python object (only ``!!str`` is accepted as a tag);
- scalars resolve as in YAML 1.2's core schema, so ``no``, ``on``, ``yes`` and ``off`` stay text
  (only decimal numbers are numbers: ``0x1F``, ``.inf`` and ``.nan`` stay text too);
- duplicate keys are reported (the first value is kept) instead of silently overwritten;
- nesting depth and alias expansion are bounded, so alias bombs fail fast in bounded memory;
- every value and every mapping key keeps its line and column for error messages.

Paths are tuples of keys and list indexes, the same shape as ``jsonschema``'s error paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowengine.definition.files import BOM
from flowengine.definition.files import MAX_FILE_BYTES as MAX_FILE_BYTES
from flowengine.errors import DefinitionError
from flowengine.i18n import marked, t
from flowengine.issues import START_HINT, Issue, Location, error

# Control characters (line breaks and tabs aside) and the bidirectional overrides that reorder what a
# reader sees: a workflow's texts reach terminals, reports and web pages, so none may carry them.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_DEPTH = 64
MAX_NODES = 100_000

_STR_TAG = "tag:yaml.org,2002:str"
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")

# Characters YAML 1.2 forbids in a stream (section 5.1), found here so the error has a place.
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_UNICODE_BREAKS = {0x85: " ", 0x2028: " ", 0x2029: " "}

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """Plain data (dicts, lists, scalars) plus where each part came from."""

    source: str
    data: Any
    text: str = ""
    value_locations: dict[PathKey, Location] = field(default_factory=dict)
    key_locations: dict[PathKey, Location] = field(default_factory=dict)
    raw_scalars: dict[PathKey, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def where(self, path: PathKey) -> Location:
        """Location of the entry at ``path``: its key if it has one, else its value.

        Falls back to the nearest ancestor, so paths inside aliases still point somewhere.
        """
        probe = tuple(path)
        while True:
            if probe in self.key_locations:
                return self.key_locations[probe]
            if probe in self.value_locations:
                return self.value_locations[probe]
            if not probe:
                return Location(self.source, 1, 1)
            probe = probe[:-1]

    def value_at(self, path: PathKey) -> Location:
        """Location of the value at ``path`` (falls back like :meth:`where`)."""
        if tuple(path) in self.value_locations:
            return self.value_locations[tuple(path)]
        return self.where(path)


def _explain_syntax_error(context: str, problem: str, line_text: str) -> tuple[str, str]:
    """PyYAML's parser words, said the way a person editing the file can act on."""
    if "tab" in problem or ("cannot start any token" in problem and "\t" in line_text):
        return t("a tab character in the indentation"), t("YAML indents with spaces only: replace the tab with spaces")
    if "scanning an alias" in context:
        if "from:" in line_text:
            return (t("'*' at the start of a value means a YAML alias"),
                    t('to mean "every open state", write from: "*" with the quotes'))
        return t("'*' at the start of a value means a YAML alias"), t("put the text in quotes")
    if "escape" in problem:
        return (t("a backslash inside double quotes starts an escape, and this one is unknown"),
                t("use single quotes instead, or write each backslash twice"))
    if "mapping values are not allowed" in problem:
        if line_text.count(": ") + line_text.rstrip().endswith(":") >= 2:
            return (t("a text holds ': ', which YAML reads as a new key"),
                    t("put the whole text in quotes, e.g. en: \"Parked: waits for autumn\""))
        return (t("unexpected ':' here: this line is indented deeper than the key above allows"),
                t("line it up with the keys next to it: the same number of spaces"))
    if "did not find expected key" in problem or "expected <block end>" in problem:
        return (t("this line is not lined up with the lines around it"),
                t("indent it with exactly as many spaces as the keys next to it"))
    if "flow sequence" in context or "flow mapping" in context:
        return (t("a '[' or '{opening}' is not closed", opening="{"),
                t("close the list with ']' (or '{opening}' with '{closing}') on the same line", opening="{",
                  closing="}"))
    if "quoted scalar" in context:
        return t("a quotation mark is never closed"), t("close the quote on the same line")
    if "could not find expected ':'" in problem:
        return t("a line without ':'"), t("write it as key: value")
    words = " ".join(part for part in (context, problem) if part)
    return (t("YAML syntax error: {words}", words=words),
            t("check indentation, colons and quotes on this line and the one before"))


class _Fatal(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue


@dataclass
class _Frame:
    """A mapping or sequence being built."""

    path: PathKey
    container: dict[str, Any] | list[Any]
    size: int = 1
    pending_key: str | None = None
    pending_key_location: Location | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    anchor: str | None = None
    skip_value: bool = False


def read_file(path: str | Path) -> LocatedDocument:
    """Read a workflow file safely; raises DefinitionError for anything unreadable."""
    name = str(path)
    try:
        if Path(path).exists() and not Path(path).is_file() and not Path(path).is_dir():
            raise DefinitionError([error("FE001", t("not a regular file"), Location(name), t("name a .yaml file"))])
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError as exc:
        raise DefinitionError([error("FE001", t("is a directory, not a YAML file"), Location(name),
                                     t("name a .yaml file"))]) from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DefinitionError([error("FE001", t("cannot read the file: {reason}", reason=reason),
                                     Location(name), t("check the path and its permissions"))]) from exc
    return read_bytes(raw, name)


def read_bytes(raw: bytes, source: str) -> LocatedDocument:
    """Decode and parse bytes; see :func:`read_text`."""
    if len(raw) > MAX_FILE_BYTES:
        raise DefinitionError([error(
            "FE011", t("file is larger than {size} KiB", size=MAX_FILE_BYTES // 1024), Location(source),
            t("a workflow is a few kilobytes; is this the right file?"))])
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise DefinitionError([error(
            "FE003", t("binary data (a NUL byte), not a YAML text file"), Location(source, line, 1),
            t("save the workflow as plain UTF-8 text"))])
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1  # characters, as editors count
        raise DefinitionError([error(
            "FE002", t("not valid UTF-8 (byte {byte})", byte=f"0x{raw[exc.start]:02x}"), Location(source, line, column),
            t("save the file as UTF-8 (in most editors: 'Save with encoding' → UTF-8)"))]) from exc
    return read_text(text, source)


def read_text(text: str, source: str) -> LocatedDocument:
    """Parse YAML text into a :class:`LocatedDocument`; raises DefinitionError on fatal problems."""
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise DefinitionError([error("FE004", t("the file is empty"), Location(source),
                                     marked(START_HINT))])
    if len(text) > MAX_FILE_BYTES:
        raise DefinitionError([error("FE011", t("text is larger than {size} KiB", size=MAX_FILE_BYTES // 1024),
                                     Location(source),
                                     t("a workflow is a few kilobytes; is this the right file?"))])
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        character = f"U+{ord(bad.group()):04X}"
        raise DefinitionError([error("FE005", t("character {character} is not allowed in YAML", character=character),
                                     Location(source, line, column),
                                     t("delete it; it is usually invisible in editors"))])
    builder = _Builder(source)
    builder.doc.text = text
    # YAML counts U+0085/U+2028/U+2029 as line breaks, editors do not: parse them as spaces so
    # that line numbers match what the author sees.
    parsed = text.translate(_UNICODE_BREAKS)
    try:
        try:
            for event in yaml.parse(parsed, Loader=_Loader):
                builder.feed(event)
        except yaml.MarkedYAMLError as exc:
            if _Loader is yaml.SafeLoader or "nesting depth" not in (exc.problem or ""):
                raise
            # A libyaml with a nesting limit of its own (0.2.6 stops at 1000 flow levels) refuses
            # while scanning ahead, before this builder sees a level too deep; the pure-Python
            # parser reads level by level, so our own limit, and its place, apply.
            builder = _Builder(source)
            builder.doc.text = text
            for event in yaml.parse(parsed, Loader=yaml.SafeLoader):
                builder.feed(event)
    except _Fatal as fatal:
        raise DefinitionError([fatal.issue]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        line_text = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        message, hint = _explain_syntax_error(exc.context or "", exc.problem or "", line_text)
        raise DefinitionError([error("FE005", message, location, hint)]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        location = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise DefinitionError([error("FE005", t("YAML error: {error}", error=first), location,
                                     t("check the file is plain YAML text"))]) from exc
    except RecursionError:
        raise DefinitionError([error("FE010", t("the document is nested too deeply"), Location(source),
                                     t("a workflow needs no more than {depth} levels", depth=MAX_DEPTH))]) from None
    return builder.finish()


class _Builder:
    """Turns YAML events into plain data with locations, enforcing the safety bounds."""

    def __init__(self, source: str) -> None:
        self.doc = LocatedDocument(source=source, data=None)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.documents = 0

    def location(self, mark: Any) -> Location:
        return Location(self.doc.source, mark.line + 1, mark.column + 1)

    def fatal(self, code: str, message: str, mark: Any, hint: str) -> _Fatal:
        return _Fatal(error(code, message, self.location(mark), hint))

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fatal("FE005", t("the file holds more than one YAML document"), event.start_mark,
                                 t("keep one workflow per file and remove the extra '---'"))
        elif isinstance(event, yaml.AliasEvent):
            if self.awaiting_key():
                raise self.fatal("FE005", t("an alias ('*{anchor}') cannot be a key", anchor=event.anchor),
                                 event.start_mark,
                                 t("write the key out as plain text"))
            if event.anchor not in self.anchors:
                raise self.fatal("FE005", t("alias '*{anchor}' names no anchor", anchor=event.anchor), event.start_mark,
                                 t("define '&{anchor}' before using it", anchor=event.anchor))
            value, size = self.anchors[event.anchor]
            self.attach(value, size, event.start_mark, raw=None)
        elif isinstance(event, yaml.ScalarEvent):
            self.check_tag(event)
            if self.awaiting_key():
                self.take_key(event)
                return
            control = _CONTROL.search(event.value)
            if control is not None:
                self.doc.issues.append(error(
                    "FE012", f"the text contains the control character U+{ord(control.group()):04X}",
                    self.location(event.start_mark),
                    "remove it: terminals and reports would act on it (write a line break as a new line)"))
            value = self.resolve(event)
            self.remember_anchor(event.anchor, value, 1)
            self.attach(value, 1, event.start_mark, raw=event.value if event.implicit[0] else None)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.check_tag(event, collection=True)
            if self.awaiting_key():
                raise self.fatal("FE005", t("a mapping key must be a plain word, not a list or mapping"),
                                 event.start_mark, t("write the key as text followed by ':'"))
            if len(self.stack) >= MAX_DEPTH:
                raise self.fatal("FE010", t("nesting deeper than {depth} levels", depth=MAX_DEPTH), event.start_mark,
                                 t("a workflow needs only a few levels; check the indentation"))
            container: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
            path = self.child_path()
            self.doc.value_locations[path] = self.location(event.start_mark)
            self.stack.append(_Frame(path=path, container=container, anchor=event.anchor))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            self.remember_anchor(frame.anchor, frame.container, frame.size)
            self.attach(frame.container, frame.size, event.start_mark, raw=None, already_located=True)

    def awaiting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].container, dict) and self.stack[-1].pending_key is None

    def check_tag(self, event: Any, collection: bool = False) -> None:
        tag = event.tag
        if tag is None or tag == "!" or (tag == _STR_TAG and not collection):
            return
        raise self.fatal("FE008", t("YAML tag '{tag}' is not allowed", tag=tag), event.start_mark,
                         t("remove the tag: workflow files hold plain text, numbers, lists and mappings"))

    def resolve(self, event: yaml.ScalarEvent) -> Any:
        text = event.value
        if event.tag is not None or not event.implicit[0]:  # quoted, block or !!str: text
            return text
        if text in _NULL:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if _INT.fullmatch(text) and len(text) < 100:
            return int(text)
        if _FLOAT.fullmatch(text) and len(text) < 100:
            return float(text)
        return text

    def remember_anchor(self, anchor: str | None, value: Any, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)

    def child_path(self) -> PathKey:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, dict):
            if frame.skip_value:  # a duplicate's value: keep its locations apart from the first's
                return (*frame.path, "\x00duplicate", frame.size)
            return (*frame.path, frame.pending_key or "")
        return (*frame.path, len(frame.container))

    def take_key(self, event: yaml.ScalarEvent) -> None:
        frame = self.stack[-1]
        key = event.value
        location = self.location(event.start_mark)
        if key == "<<" and event.implicit[0]:  # plain "<<" only; libyaml reports plain style as ''

            raise self.fatal("FE005", t("merge keys ('<<') are not supported"), event.start_mark,
                             t("write the entries out instead of merging them"))
        if key in frame.key_lines:
            in_list_item = bool(frame.path) and isinstance(frame.path[-1], int)
            hint = (t("did you forget '- ' to start a new list item?") if in_list_item
                    else t("remove or rename one of them; only the first is used"))
            self.doc.issues.append(error(
                "FE007", t("duplicate key '{key}' (first at line {line})", key=key, line=frame.key_lines[key]),
                location, hint))
            frame.skip_value = True
        else:
            frame.key_lines[key] = location.line
            frame.skip_value = False
        frame.pending_key = key
        frame.pending_key_location = location

    def attach(self, value: Any, size: int, mark: Any, raw: str | None, already_located: bool = False) -> None:
        path = self.child_path() if not already_located else None
        if not self.stack:
            self.doc.data = value
            if path is not None:
                self.doc.value_locations[()] = self.location(mark)
            return
        frame = self.stack[-1]
        frame.size += size
        if frame.size > MAX_NODES:
            raise self.fatal("FE009", t("the document expands to more than {count} values", count=MAX_NODES), mark,
                             t("a workflow has a few hundred values; if it uses '&' and '*' aliases, write it without"))
        if isinstance(frame.container, dict):
            key = frame.pending_key or ""
            entry_path = (*frame.path, key)
            if not frame.skip_value:
                frame.container[key] = value
                if frame.pending_key_location is not None:
                    self.doc.key_locations[entry_path] = frame.pending_key_location
                if path is not None:
                    self.doc.value_locations[entry_path] = self.location(mark)
                if raw is not None:
                    self.doc.raw_scalars[entry_path] = raw
            frame.pending_key = None
            frame.pending_key_location = None
            frame.skip_value = False
        else:
            entry_path = (*frame.path, len(frame.container))
            frame.container.append(value)
            if path is not None:
                self.doc.value_locations[entry_path] = self.location(mark)
            if raw is not None:
                self.doc.raw_scalars[entry_path] = raw

    def finish(self) -> LocatedDocument:
        if self.doc.data is None:
            raise _fatal_empty(self.doc.source)
        return self.doc


def _fatal_empty(source: str) -> DefinitionError:
    return DefinitionError([error("FE004", t("the file holds no workflow (the document is empty)"),
                                  Location(source), marked(START_HINT))])
