"""Reading an OCEL 2.0 JSON event log: the objects of one type are the cases.

Object-centric logs relate each event to several objects; reading one as cases means choosing
the object type whose objects are the cases (PM4Py calls it flattening): ``proposal`` when the
log has it (flowengine's own export), else the only object type there is, else the one the
column map names as the case (``order=case``). An event related to several objects of that type
belongs to each of their cases; one related to none belongs to no case and is left out.

A row's values are read as the CSV columns name them: ``case:concept:name`` is the case
object's id, ``concept:name`` the event's type, ``time:timestamp`` its time, ``case:title`` (any
``case:X``) the case object's attribute ``X`` as first recorded, and every other name the event
attribute of that name — so flowengine's export, whose events carry every ``flowengine:*``
attribute, is rebuilt exactly, as from CSV and XES. Values that are not strings (numbers, as
some tools write them) are read as their JSON text.

The file is read twice and never whole (:mod:`flowengine.jsontext`): first the
objects (their types, and the case objects' attributes), then the events, one at a time.
Positions are "event N (its id)", N counted from 1 in the file's order.

Limits, so that a hostile file is refused early, in bounded memory, with where it went wrong:
at most :data:`MAX_OBJECTS` objects, :data:`MAX_EVENTS` events and
:data:`MAX_EVENTS_PER_CASE` events related to one case object, :data:`MAX_VALUE_CHARS`
characters in any string (an id, a type, an attribute's name or value), values nested at most
:data:`jsontext.MAX_DEPTH` levels and :data:`jsontext.ELEMENT_LIMIT` characters in one
object or event (see :mod:`flowengine.jsontext`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.eventlog.attributes import ACTIVITY, CASE, CASE_PREFIX, TIMESTAMP
from flowengine.eventlog.meanings import CASE as CASE_INDEX
from flowengine.eventlog.sources import DAMAGED, MISSING, damaged, open_text
from flowengine.i18n import t
from flowengine.jsontext import JsonStream, oversized

PROPOSAL_TYPE = "proposal"  # flowengine's own object type for proposals (see ocel_writer)
MAX_OBJECTS = 1_000_000  # objects in one log
MAX_EVENTS = 1_000_000  # events in one log
MAX_EVENTS_PER_CASE = 100_000  # events related to one case object, as XES bounds a trace: what one case holds
MAX_VALUE_CHARS = 1_000_000  # characters in one string, as in XES
_ELEMENT_DEPTH = 2  # the top-level object and its array hold each object and event


def _text(value: Any) -> str:
    if isinstance(value, str):
        return "" if value in MISSING else value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


class OcelLog:
    """An OCEL 2.0 JSON file; :meth:`rows` streams one row per event and case object."""

    kind = "ocel"
    header: list[str] | None = None  # attributes vary from event type to event type

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name

    def where(self, position: tuple[int, str]) -> str:
        number, identifier = position
        where = t("event {number} ({id})", number=number, id=identifier) if identifier else t("event {number}",
                                                                                             number=number)
        return f"{self.name}: {where}"

    def _elements(self, wanted_key: str, limit: int) -> Iterator[tuple[int, Any]]:
        """(number, element) of the top-level array ``wanted_key``, each checked against the limits."""
        for number, item in enumerate(self._walk(wanted_key), start=1):
            place = f"{self.name}: {'object' if wanted_key == 'objects' else 'event'} {number}"
            if number > limit:
                raise InvalidInput(t("{place}: the log has more than {n} objects", place=place, n=f"{limit:,}")
                                   if wanted_key == "objects" else
                                   t("{place}: the log has more than {n} events", place=place, n=f"{limit:,}"))
            problem = oversized(item, _ELEMENT_DEPTH, MAX_VALUE_CHARS)
            if problem is not None:
                identifier = item.get("id") if isinstance(item, dict) else None
                if isinstance(identifier, str) and len(identifier) <= 100:
                    place = f"{place} ({identifier})"
                raise InvalidInput(f"{place}: {problem}")
            yield number, item

    def _walk(self, wanted_key: str) -> Iterator[Any]:
        """The elements of the top-level array ``wanted_key`` (none if the log has no such key)."""
        try:
            with open_text(self.path) as handle:
                stream = JsonStream(handle, self.name)
                if stream.peek() != "{":
                    raise InvalidInput(t("{path} is not OCEL 2.0 JSON: it does not start with '{{'", path=self.name))
                for key in stream.members():
                    if key == wanted_key and stream.peek() == "[":
                        yield from stream.items()
                    else:
                        stream.skip()
        except UnicodeDecodeError as error:
            raise InvalidInput(t("{path} is not UTF-8 text; save it as UTF-8", path=self.name)) from error
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(t("cannot read {path}: {reason}", path=self.path,
                                 reason=error.strerror or error)) from error

    def _objects(self, case_type: str | None) -> tuple[str, dict[str, dict[str, str]]]:
        """The case type, and each case object's attributes (the first value of each, by time)."""
        types: dict[str, int] = {}
        cases: dict[str, dict[str, str]] = {}
        timed: dict[str, dict[str, tuple[str, str]]] = {}
        for number, item in self._elements("objects", MAX_OBJECTS):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                    or not isinstance(item.get("type"), str):
                raise InvalidInput(t("{path}: object {number} has no string 'id' and 'type', as OCEL 2.0 requires",
                                     path=self.name, number=number))
            kind = item["type"]
            types[kind] = types.get(kind, 0) + 1
            if case_type is not None and kind != case_type:
                continue
            earliest = timed.setdefault(item["id"], {})
            attributes = item.get("attributes") or []
            for attribute in attributes if isinstance(attributes, list) else []:
                if isinstance(attribute, dict) and isinstance(attribute.get("name"), str):
                    when = str(attribute.get("time", ""))
                    held = earliest.get(attribute["name"])
                    if held is None or when < held[0]:
                        earliest[attribute["name"]] = (when, _text(attribute.get("value")))
        chosen = case_type or (PROPOSAL_TYPE if PROPOSAL_TYPE in types else
                               next(iter(types)) if len(types) == 1 else None)
        if chosen is None:
            raise InvalidInput(t("{path} has objects of {n} types ({types}); say which type's objects are the cases",
                                 path=self.name, n=len(types), types=", ".join(sorted(types)))
                               ).fixed_by(Remedy("column", "TYPE", "case"))
        if chosen not in types:
            raise NotFound("object type", chosen, sorted(types), hint=t("in {path}", path=self.name))
        if case_type is None and len(types) > 1:
            return self._objects(chosen)  # read again, keeping the attributes of the chosen type only
        for identifier, attributes in timed.items():
            cases[identifier] = {CASE_PREFIX + name: value for name, (_, value) in attributes.items()}
        return chosen, cases

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[tuple[int, str], list[str]]]:
        """((event number, event id), values) for every event and each case object it relates to."""
        named = wanted[CASE_INDEX]
        _, cases = self._objects(named if named and named != CASE else None)
        held: dict[str, int] = {}  # events per case object so far
        for number, item in self._elements("events", MAX_EVENTS):
            if not isinstance(item, dict):
                raise InvalidInput(t("{path}: event {number} is not a JSON object", path=self.name, number=number))
            identifier = _text(item.get("id"))
            related = item.get("relationships") or []
            own: dict[str, str] = {}
            attributes = item.get("attributes") or []
            for attribute in attributes if isinstance(attributes, list) else []:
                if isinstance(attribute, dict) and isinstance(attribute.get("name"), str):
                    own[attribute["name"]] = _text(attribute.get("value"))
            own[ACTIVITY] = _text(item.get("type"))
            own[TIMESTAMP] = _text(item.get("time"))
            seen: set[str] = set()
            for relation in related if isinstance(related, list) else []:
                target = relation.get("objectId") if isinstance(relation, dict) else None
                if not isinstance(target, str) or target not in cases or target in seen:
                    continue
                seen.add(target)
                held[target] = count = held.get(target, 0) + 1
                if count > MAX_EVENTS_PER_CASE:
                    raise InvalidInput(t("{place}: object {case} has more than {n} events", place=self.where(
                        (number, identifier if len(identifier) <= 100 else "")), case=target,
                        n=f"{MAX_EVENTS_PER_CASE:,}"))
                values = {**cases[target], **own}
                yield (number, identifier), [target if index == CASE_INDEX else values.get(name, "") if name else ""
                                             for index, name in enumerate(wanted)]
