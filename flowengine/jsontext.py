"""JSON from outside — an OCEL 2.0 log, a checkpoint or conversion record an auditor hands over,
a log's JSON column — read so that no size or shape of it becomes an internal error or holds
more than one bounded element in memory.

:func:`loads` decodes a short text (a log's field): the standard library's decoder recurses once
per level of nesting and raises ``RecursionError``, not ``ValueError``, a few thousand levels
down (``[[[[…``); here that is one more malformed text.

:class:`JsonStream` walks a large document: OCEL 2.0 JSON is one object whose ``objects`` and
``events`` arrays hold the whole log, and read with ``json.load`` a log of a million events would
take gigabytes. The top-level object is walked key by key: the wanted array's elements are
decoded one at a time (by the standard library's own decoder, ``raw_decode``, on a sliding
buffer) and every other value is stepped over the same way, so nothing but the current element
is ever held. A file that is not JSON at all (``/dev/zero``, a log given by mistake) fails at its
first character.

Limits, so that no file costs more than one bounded element at a time: an element (and any
value outside the wanted arrays) is at most :data:`ELEMENT_LIMIT` characters, and values are
nested at most :data:`MAX_DEPTH` levels in the document (OCEL 2.0 needs five; checked by
:func:`oversized`); the decoder's own recursion is never reached. Strings and counts are bounded
by each reader (``ocel_reader``, ``proof.checkpoint``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from flowengine.errors import InvalidInput
from flowengine.i18n import t

ELEMENT_LIMIT = 16 << 20  # characters in one element (one event, one object): no real one comes near
MAX_DEPTH = 32  # levels of arrays and objects in the document, the top-level object counting as one
_CHUNK = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def ocel_failure(name: str, what: str, where: int) -> Exception:
    return InvalidInput(t("{path}: not readable as OCEL 2.0 JSON near character {where}: {what}", path=name,
                          where=where, what=what))


class JsonStream:
    """A cursor over a JSON text read in chunks; ``name`` places its errors, which ``failure``
    makes (from the name, what is wrong and the character's number, counted from 1)."""

    def __init__(self, handle: TextIO, name: str,
                 failure: Callable[[str, str, int], Exception] = ocel_failure) -> None:
        self.handle = handle
        self.name = name
        self.failure = failure
        self.buffer = ""
        self.pos = 0
        self.ended = False
        self.consumed = 0  # characters dropped from the front of the buffer

    def _more(self) -> bool:
        if self.ended:
            return False
        chunk = self.handle.read(_CHUNK)
        if not chunk:
            self.ended = True
            return False
        self.consumed += self.pos
        self.buffer = self.buffer[self.pos:] + chunk
        self.pos = 0
        return True

    def _fail(self, what: str, at: int | None = None) -> Exception:
        return self.failure(self.name, what, self.consumed + (self.pos if at is None else at) + 1)

    def peek(self) -> str:
        """The next character after white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buffer, self.pos).end()  # type: ignore[union-attr]  # always matches
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise self._fail(t("expected '{char}', found {found}", char=char, found=_shown(found)))
        self.pos += 1

    def value(self) -> Any:
        """The next JSON value, decoded whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                if len(self.buffer) - self.pos > ELEMENT_LIMIT:
                    raise self._fail(t("one value is longer than {n} characters", n=f"{ELEMENT_LIMIT:,}")) from None
                if self._more():
                    continue
                if error.pos >= len(self.buffer):
                    raise self._fail(t("the file ends in the middle of a value (was it cut short?)"),
                                     error.pos) from None
                raise self._fail(error.msg, error.pos) from None
            except RecursionError:
                raise self._fail(t("values nested deeper than {n} levels", n=MAX_DEPTH)) from None
            if end == len(self.buffer) and self._more():
                continue  # a number or word cut by the chunk's end: read it whole
            self.pos = end
            return value

    def items(self) -> Iterator[Any]:
        """The elements of the array that starts here, one at a time."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            following = self.peek()
            self.pos += 1
            if following == "]":
                return
            if following != ",":
                self.pos -= 1
                raise self._fail(t("expected ',' or ']' in an array, found {found}", found=_shown(following)))

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; after each, the caller reads or skips its value."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self._fail(t("an object's key is not a string"))
            self.expect(":")
            yield key
            following = self.peek()
            self.pos += 1
            if following == "}":
                return
            if following != ",":
                self.pos -= 1
                raise self._fail(t("expected ',' or '}}' in an object, found {found}", found=_shown(following)))

    def skip(self) -> None:
        """Step over the next value; an array element by element, so a large one costs no memory."""
        if self.peek() == "[":
            for _ in self.items():
                pass
        else:
            self.value()


def read_object(stream: JsonStream, arrays: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The document's top-level object, each member decoded whole (at most :data:`ELEMENT_LIMIT`
    characters) but the members named in ``arrays``, listed element by element (each at most that)."""
    found: dict[str, Any] = {}
    for key in stream.members():  # anything but an object is refused at its first character
        found[key] = list(stream.items()) if key in arrays and stream.peek() == "[" else stream.value()
    if stream.peek() != "":
        raise stream._fail(t("more follows the document's end"))
    return found


def member(stream: JsonStream, key: str) -> Any:
    """The value of one member of the top-level object (None when there is none), the others
    stepped over: what kind of document a file is, read without reading it whole."""
    if stream.peek() != "{":
        return None
    for found in stream.members():
        if found == key:
            return stream.value()
        stream.skip()
    return None


def malformed(name: str, what: str, where: int) -> Exception:
    """The failure of a document whose reader words its own message around the reason."""
    return ValueError(t("{what} near character {where}", what=what, where=where))


def read_file(path: Path, arrays: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A JSON file's top-level object as :func:`read_object` reads it. ``ValueError`` when it is not
    JSON or not an object; ``OSError`` and ``UnicodeDecodeError`` as reading raises them."""
    with path.open(encoding="utf-8") as handle:
        return read_object(JsonStream(handle, str(path), malformed), arrays)


def file_member(path: Path, key: str) -> Any:
    """One member of a JSON file's top-level object (:func:`member`), the file read no further."""
    with path.open(encoding="utf-8") as handle:
        return member(JsonStream(handle, str(path), malformed), key)


def loads(text: str | bytes) -> Any:
    """``json.loads``, with nesting too deep to decode refused as ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(t("the document is nested too deeply")) from None


def oversized(value: Any, depth: int, max_chars: int) -> str | None:
    """What makes ``value`` (standing ``depth`` levels deep) too large, or None: arrays and
    objects nested beyond :data:`MAX_DEPTH`, or a string (a key too) longer than ``max_chars``.
    One pass over it, without recursion."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if len(item) > max_chars:
                return t("a value is longer than {n} characters", n=f"{max_chars:,}")
            continue
        if isinstance(item, dict):
            if any(len(key) > max_chars for key in item):
                return t("a value is longer than {n} characters", n=f"{max_chars:,}")
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level + 1 > MAX_DEPTH:
            return t("values nested deeper than {n} levels", n=MAX_DEPTH)
        stack.extend((child, level + 1) for child in children if isinstance(child, str | dict | list))
    return None


def _shown(char: str) -> str:
    return repr(char) if char else t("the end")
