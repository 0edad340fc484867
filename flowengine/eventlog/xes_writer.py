"""An event log as XES (IEEE 1849-2016): one ``<trace>`` per proposal, one ``<event>`` per event.

Written as text, trace by trace, so a log of any size needs the memory of one event. The
four standard extensions whose attributes the log uses are declared (concept, time, org,
lifecycle); flowengine's own attributes keep their ``flowengine:`` key without an extension,
which XES tools carry along as plain attributes. Trace attributes drop the ``case:`` prefix
of the CSV columns (``case:title`` is the trace's ``title``), as PM4Py reads and writes them.

Attribute values are escaped for XML, line breaks and tabs included (as character
references), so a comment of several lines comes back exactly as it was written.
"""

from __future__ import annotations

import re
from itertools import chain, groupby
from typing import TextIO

from flowengine.errors import InvalidInput
from flowengine.eventlog.attributes import (
    ACTIVITY,
    CASE,
    CASE_PREFIX,
    KIND,
    LIFECYCLE,
    RESOURCE,
    ROLE,
    SEQ,
    TIMESTAMP,
)
from flowengine.eventlog.logevent import DATE, INT, STRING, LogEvent, LogSource, case_attributes, event_attributes
from flowengine.i18n import t

XES_VERSION = "1849-2016"
XES_NAMESPACE = "http://www.xes-standard.org/"
EXTENSIONS = (  # (name, prefix, uri) of the standard extensions the log's attributes come from
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)
LOG_NAME = "flowengine"
_UNKNOWN = "__INVALID__"  # the default of a global attribute every event overrides
_EPOCH = "1970-01-01T00:00:00.000000+00:00"
# Global attributes every trace and every event carries, and the classifiers resting on them.
_TRACE_GLOBALS = ((STRING, "concept:name", _UNKNOWN),)
_EVENT_GLOBALS = ((STRING, ACTIVITY, _UNKNOWN), (DATE, TIMESTAMP, _EPOCH), (STRING, RESOURCE, _UNKNOWN),
                  (STRING, ROLE, _UNKNOWN), (STRING, LIFECYCLE, "complete"), (INT, SEQ, "0"),
                  (STRING, KIND, _UNKNOWN))
_CLASSIFIERS = (("Activity", ACTIVITY), ("Activity_and_transition", f"{ACTIVITY} {LIFECYCLE}"),
                ("Resource", RESOURCE), ("Role", ROLE))
# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                          "\t": "&#9;"})


def write_xes(out: TextIO, source: LogSource) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<log xes.version="{XES_VERSION}" xmlns="{XES_NAMESPACE}">\n')
    for name, prefix, uri in EXTENSIONS:
        out.write(f'  <extension name="{name}" prefix="{prefix}" uri="{uri}"/>\n')
    for scope, attributes in (("trace", _TRACE_GLOBALS), ("event", _EVENT_GLOBALS)):
        out.write(f'  <global scope="{scope}">\n')
        for kind, key, value in attributes:
            out.write(f'    <{kind} key="{key}" value="{value}"/>\n')
        out.write("  </global>\n")
    for name, keys in _CLASSIFIERS:
        out.write(f'  <classifier name="{name}" keys="{keys}"/>\n')
    out.write(f'  <string key="concept:name" value="{LOG_NAME}"/>\n')
    out.write('  <string key="lifecycle:model" value="standard"/>\n')
    for case, events in groupby(source.events(), key=_case):
        first = next(events)
        out.write("  <trace>\n")
        out.write(f'    <string key="concept:name" value="{_escaped(case, first, CASE)}"/>\n')
        for key, kind, text in case_attributes(first):
            trace_key = key.removeprefix(CASE_PREFIX)
            out.write(f'    <{kind} key="{trace_key}" value="{_escaped(text, first, key)}"/>\n')
        for event in chain((first,), events):
            _write_event(out, event)
        out.write("  </trace>\n")
    out.write("</log>\n")


def _case(event: LogEvent) -> str:
    return event.case


def _write_event(out: TextIO, event: LogEvent) -> None:
    lines = ["    <event>\n"]
    for key, kind, text in event_attributes(event):
        lines.append(f'      <{kind} key="{key}" value="{_escaped(text, event, key)}"/>\n')
    lines.append("    </event>\n")
    out.write("".join(lines))


def _escaped(text: str, event: LogEvent, key: str) -> str:
    bad = _NOT_XML.search(text)
    if bad:
        raise InvalidInput(t("{case} event {seq}: {key} contains U+{code}, which XML cannot carry; export this "
                             "history as CSV or OCEL instead", case=event.case, seq=event.seq, key=key,
                             code=f"{ord(bad.group()):04X}"))
    return text.translate(_ESCAPES)
