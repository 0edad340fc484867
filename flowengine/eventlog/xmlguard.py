"""XML logs (XES) are read without a document type declaration: no entities, no DTD.

An XES log needs none (IEEE 1849 declares its attributes in the log itself), and a declaration
is how a hostile file reaches further than itself: an external entity reads another file or a
URL (``<!ENTITY x SYSTEM "file:///etc/passwd">``), nested internal entities expand a few
bytes into gigabytes ("billion laughs"). So the prolog — everything before the root element —
is read first with expat, and any ``<!DOCTYPE`` is refused before the log is parsed; without
one, the parser knows no entities but XML's five, and refuses every other reference.
"""

from __future__ import annotations

import xml.parsers.expat
from typing import BinaryIO

from flowengine.errors import InvalidInput
from flowengine.i18n import t

_CHUNK = 1 << 16
_PROLOG_LIMIT = 1 << 20  # bytes before the root element: comments and processing instructions, no more


class _RootReached(Exception):
    """The first element started: the prolog is over and held no declaration."""


class _Declared(Exception):
    """A document type declaration: refused."""


def refuse_declarations(handle: BinaryIO, name: str) -> None:
    """Read ``handle`` up to its root element; :class:`InvalidInput` if its prolog declares a
    document type (and with it, entities). Leaves ``handle`` somewhere past the prolog."""
    parser = xml.parsers.expat.ParserCreate()

    def started(*_: object) -> None:
        raise _RootReached

    def declared(*_: object) -> None:
        raise _Declared

    parser.StartElementHandler = started
    parser.StartDoctypeDeclHandler = declared
    parser.EntityDeclHandler = declared
    read = 0
    try:
        while read <= _PROLOG_LIMIT:
            chunk = handle.read(_CHUNK)
            read += len(chunk)
            parser.Parse(chunk, not chunk)
            if not chunk:
                return  # empty, or no element at all: the log's own parse says what is wrong
    except _RootReached:
        return
    except _Declared:
        raise InvalidInput(t("{path} declares a document type (<!DOCTYPE …>), which can define entities that read "
                             "other files or expand without end; an XES log needs none, so it is not read: remove "
                             "the declaration", path=name)) from None
    except xml.parsers.expat.ExpatError:
        return  # not well-formed: the log's own parse reports it with its line and column
    raise InvalidInput(t("{path} has more than {n} kB before its root element; it is not read as XML", path=name,
                         n=_PROLOG_LIMIT // 1024))
