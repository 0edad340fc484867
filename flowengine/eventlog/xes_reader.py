"""Reading an XES (IEEE 1849) event log trace by trace, in bounded memory and time.

The file is streamed with lxml's ``iterparse`` (libxml2, with ``huge_tree`` off: no text or
attribute value over 10 MB, no entity expansion, no network) rather than the standard library's
expat, whose cost on one very large token depends on its version and can grow with the square
of the token. Every trace is cleared once read, so a log of any size costs one trace's worth of
memory, and the limits below bound that trace: :data:`MAX_VALUE_CHARS` per attribute value,
:data:`MAX_DEPTH` levels of nesting, :data:`MAX_EVENTS_PER_TRACE` events. A log beyond one is
refused naming the trace and event (exit 1, nothing written).

A trace's own attributes are the case's: they are handed on under the ``case:`` prefix, as PM4Py
names them when it turns a log into a table (the trace's ``concept:name`` is ``case:concept:name``).
Only the attributes written directly on a trace or an event count; nested ones (lists,
containers, metadata) are not events' data. Positions are "trace N, event M", both counted from
1 in the file's order. The file may be gzip-compressed (``.xes.gz``); a document type
declaration, and with it any entity, is refused before the log is read
(:mod:`flowengine.eventlog.xmlguard`); ``nan``/``NaN`` values read as empty
(:mod:`flowengine.eventlog.sources`). Only this module imports lxml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flowengine.errors import InvalidInput
from flowengine.eventlog.attributes import CASE_PREFIX
from flowengine.eventlog.sources import DAMAGED, MISSING, damaged, open_binary
from flowengine.eventlog.xmlguard import refuse_declarations
from flowengine.i18n import t

MAX_VALUE_CHARS = 1_000_000  # one attribute's value: a comment is at most 20,000; a JSON column more
MAX_DEPTH = 32  # log > trace > event > attribute, and lists or containers inside that
MAX_EVENTS_PER_TRACE = 100_000  # one case's history; the longest real public logs have a few thousand
MAX_SILENT_BYTES = 16 * 1024 * 1024  # read without an element starting or ending: a token that long is refused
_CHUNK = 1 << 16


def _tag(tag: Any) -> str:
    return str(tag).rpartition("}")[2]  # with or without the XES namespace


class _Silent(Exception):
    """More than :data:`MAX_SILENT_BYTES` read without an element starting or ending."""

    def __init__(self, line: int) -> None:
        self.line = line


def _events(source: Any) -> Iterator[tuple[str, Any]]:
    """(action, element) as libxml2 reads them, fed a chunk at a time; a syntax error is raised
    only after the events read before it (so a document that is not XES says so first). The
    parser's own buffer never grows past :data:`MAX_SILENT_BYTES`: that much read without an
    element starting or ending (one huge value, comment or section) stops the reading."""
    from lxml import etree

    parser = etree.XMLPullParser(events=("start", "end"), huge_tree=False, resolve_entities="internal",
                                 no_network=True, load_dtd=False, remove_comments=True, remove_pis=True)
    silent = 0
    line = 1
    while True:
        chunk = source.read(_CHUNK)
        failed: Exception | None = None
        try:
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
        except etree.XMLSyntaxError as error:
            failed = error
        got = False
        for found in parser.read_events():
            got = True
            yield found
        if failed is not None:
            raise failed
        if not chunk:
            return
        silent = 0 if got else silent + len(chunk)
        if silent > MAX_SILENT_BYTES:
            raise _Silent(line)
        line += chunk.count(b"\n")


class XesLog:
    """An XES file of traces; :meth:`rows` streams its events."""

    kind = "xes"
    header: list[str] | None = None  # attributes vary from event to event: nothing to check up front

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name

    def where(self, position: tuple[int, int]) -> str:
        trace, event = position
        return f"{self.name}: " + t("trace {trace}, event {event}", trace=trace, event=event)

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[tuple[int, int], list[str]]]:
        """((trace, event), values) for every event: the ``wanted`` attributes in that order,
        "" where neither the event nor its trace carries one."""
        from lxml import etree

        try:
            with open_binary(self.path) as guarded:
                refuse_declarations(guarded, self.name)
            source = open_binary(self.path)
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(t("cannot read {path}: {reason}", path=self.path,
                                 reason=error.strerror or error)) from error
        keys = {name for name in wanted if name}
        case_keys = {name.removeprefix(CASE_PREFIX) for name in keys if name.startswith(CASE_PREFIX)}
        traces = 0
        depth = 0
        events: list[dict[str, str]] = []
        case: dict[str, str] = {}
        try:
            for action, element in _events(source):
                if action == "start":
                    depth += 1
                    if depth == 1 and _tag(element.tag) != "log":
                        raise InvalidInput(t("{path} is XML but not XES: its root element is <{tag}>, not <log>",
                                             path=self.name, tag=_tag(element.tag)))
                    if depth > MAX_DEPTH:
                        raise self._refused(traces, len(events) + 1, t("elements nested deeper than {n}", n=MAX_DEPTH))
                    if depth == 2 and _tag(element.tag) == "trace":
                        traces += 1
                        events, case = [], {}
                    continue
                level = depth
                depth -= 1
                if level == 3 and _tag(element.tag) == "event":
                    if len(events) >= MAX_EVENTS_PER_TRACE:
                        raise self._refused(traces, len(events) + 1,
                                            t("the trace has more than {n} events", n=f"{MAX_EVENTS_PER_TRACE:,}"))
                    events.append(self._attributes(element, keys, traces, len(events) + 1))
                    element.clear()
                elif level == 3 and (key := element.get("key")) is not None:
                    if key in case_keys:
                        case[CASE_PREFIX + key] = self._value(element, traces, len(events))
                    element.clear()
                elif level == 2 and _tag(element.tag) == "trace":
                    for number, attributes in enumerate(events, start=1):
                        values = {**case, **attributes}
                        found = [values.get(name, "") if name else "" for name in wanted]
                        yield (traces, number), ["" if value in MISSING else value for value in found]
                    events, case = [], {}
                    element.clear()
                    parent = element.getparent()
                    while element.getprevious() is not None and parent is not None:
                        del parent[0]  # the log element keeps no finished trace
                elif level == 2:
                    element.clear()  # the log's own attributes, extensions, globals, classifiers
        except _Silent as silent:
            raise InvalidInput(t("{where}: more than {n} MB without an element starting or ending (one value, "
                                 "comment or section that long); the log is not read (nothing was written)",
                                 where=f"{self.name}:{silent.line}", n=MAX_SILENT_BYTES // (1024 * 1024))) from None
        except etree.XMLSyntaxError as error:
            line, column = error.position
            reason = re.sub(r",? line \d+, column \d+\s*$", "", str(error.msg).strip())
            raise InvalidInput(t("{where}: not readable as XES (XML): {reason}", where=f"{self.name}:{line}:{column}",
                                 reason=reason)) from error
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(t("cannot read {path}: {reason}", path=self.path,
                                 reason=error.strerror or error)) from error
        finally:
            source.close()

    def _attributes(self, event: Any, keys: set[str], trace: int, number: int) -> dict[str, str]:
        found: dict[str, str] = {}
        for attribute in event:
            key = attribute.get("key")
            if key is not None and key in keys:
                found[key] = self._value(attribute, trace, number)
        return found

    def _value(self, attribute: Any, trace: int, number: int) -> str:
        value = attribute.get("value", "")
        if len(value) > MAX_VALUE_CHARS:
            raise self._refused(trace, number, t("the value of '{key}' is longer than {n} characters",
                                                 key=attribute.get("key"), n=f"{MAX_VALUE_CHARS:,}"))
        return str(value)

    def _refused(self, trace: int, event: int, reason: str) -> InvalidInput:
        where = ((t("trace {trace}, event {event}", trace=trace, event=event) if event else
                  t("trace {trace}", trace=trace)) if trace else t("before the first trace"))
        return InvalidInput(t("{path}: {where}: {reason}; the log is not read (nothing was written)", path=self.name,
                              where=where, reason=reason))
