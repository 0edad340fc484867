"""Reading an XES (IEEE 1849) event log trace by trace, in constant memory.

The file is streamed with ``iterparse`` and every trace is cleared once read, so a log of any
size costs one trace's worth of memory. A trace's own attributes are the case's: they are
handed on under the ``case:`` prefix, as PM4Py names them when it turns a log into a table
(the trace's ``concept:name`` is ``case:concept:name``). Only the attributes written directly on
a trace or an event count; nested ones (lists, containers, metadata) are not events' data.
Positions are "trace N, event M", both counted from 1 in the file's order. The file may be
gzip-compressed (``.xes.gz``); a document type declaration, and with it any entity, is refused
before the log is read (:mod:`flowengine.eventlog.xmlguard`); ``nan``/``NaN`` values read as
empty (:mod:`flowengine.eventlog.sources`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

from flowengine.errors import InvalidInput
from flowengine.eventlog.attributes import CASE_PREFIX
from flowengine.eventlog.sources import DAMAGED, MISSING, damaged, open_binary
from flowengine.eventlog.xmlguard import refuse_declarations


def _tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]  # with or without the XES namespace


class XesLog:
    """An XES file of traces; :meth:`rows` streams its events."""

    kind = "xes"
    header: list[str] | None = None  # attributes vary from event to event: nothing to check up front

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name

    def where(self, position: tuple[int, int]) -> str:
        trace, event = position
        return f"{self.name}: trace {trace}, event {event}"

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[tuple[int, int], list[str]]]:
        """((trace, event), values) for every event: the ``wanted`` attributes in that order,
        "" where neither the event nor its trace carries one."""
        traces = 0
        depth = 0
        root: ET.Element | None = None
        try:
            with open_binary(self.path) as guarded:
                refuse_declarations(guarded, self.name)
            source = open_binary(self.path)
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(f"cannot read {self.path}: {error.strerror or error}") from error
        try:
            for action, element in ET.iterparse(source, events=("start", "end")):
                if action == "start":
                    depth += 1
                    if root is None:
                        root = element
                        if _tag(root) != "log":
                            raise InvalidInput(f"{self.name} is XML but not XES: its root element is "
                                               f"<{_tag(root)}>, not <log>")
                    continue
                depth -= 1
                if depth != 1 or _tag(element) != "trace":
                    continue
                traces += 1
                case: dict[str, str] = {}
                events: list[dict[str, str]] = []
                for child in element:
                    name = _tag(child)
                    if name == "event":
                        events.append({attribute.get("key", ""): attribute.get("value", "") for attribute in child})
                    elif (key := child.get("key")) is not None:
                        case[CASE_PREFIX + key] = child.get("value", "")
                for number, attributes in enumerate(events, start=1):
                    values = {**case, **attributes}
                    found = [values.get(name, "") if name else "" for name in wanted]
                    yield (traces, number), ["" if value in MISSING else value for value in found]
                element.clear()
                if root is not None:
                    root.clear()  # the log element keeps no finished trace
        except ET.ParseError as error:
            line, column = error.position
            raise InvalidInput(f"{self.name}:{line}:{column}: not readable as XES (XML): {error.msg}") from error
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(f"cannot read {self.path}: {error.strerror or error}") from error
        finally:
            source.close()
