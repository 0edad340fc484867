"""Personal data kept outside the seal, so it can be erased while the history still verifies.

An event of format 3 seals, in place of each personal value — the actor's display name, the
comment, a field the workflow marks ``personal: true`` — a salted commitment to it:

    SHA-256( "flowengine erasable value 1" 0x00 ITEM 0x00 SALT VALUE )

where ITEM names the value within its event (``actor``, ``comment`` or ``field:NAME``, UTF-8),
SALT is 32 random bytes, and VALUE is the value's canonical JSON (the encoding of the seal:
sorted keys, no spaces, UTF-8), the commitment written as 64 lower-case hex digits. The value
and its salt are stored apart from the event; erasing deletes both. Without the salt the
commitment reveals nothing of the value (it cannot be guessed by trying names); with them, anyone
can check that the value shown is the one sealed. An erased value reads as :data:`ERASED`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from itertools import chain
from json.encoder import encode_basestring  # the C encoder json.dumps itself uses for text
from typing import Any, NamedTuple

__all__ = [
    "ACTOR",
    "COMMENT",
    "DOMAIN",
    "ERASED",
    "FIELD",
    "SALTS_DRAWN",
    "Committed",
    "canonical_text",
    "carried",
    "commit",
    "digests",
    "field_item",
    "from_carried",
    "new_salt",
    "repeatable_salt",
    "salt_pool",
    "shown",
]

DOMAIN = b"flowengine erasable value 1"
ERASED = "[erased]"  # what an erased value reads as (views translate it)
ACTOR = "actor"
COMMENT = "comment"
FIELD = "field:"
SALT_BYTES = 32


def shown(value: str, language: str | None = None) -> str:
    """A value as people see it: an erased one in the reader's language."""
    from flowengine.i18n import t

    return t("[erased]", language=language) if value == ERASED else value


def field_item(name: str) -> str:
    return f"{FIELD}{name}"


def new_salt() -> str:
    """32 random bytes from the operating system's generator, in hex."""
    import secrets  # (and random with it) for a write only: a read of histories makes no salt

    return secrets.token_hex(SALT_BYTES)


SALTS_DRAWN = 1024  # salts a pool reads from the generator at once


def salt_pool(source: Callable[[int], bytes] = os.urandom) -> Callable[[], str]:
    """Salts for many values, drawn from the operating system's generator many at a time: one
    call for :data:`SALTS_DRAWN` salts instead of one per value, each salt still
    :data:`SALT_BYTES` fresh random bytes used once, in hex like :func:`new_salt`'s. An import of
    a million events needs a salt per personal value: handing one out is a call into C, no
    Python frame. One pool serves one writer (an import): it is not shared between threads or
    kept across a fork. ``source``: where the random bytes come from (``os.urandom``; a test
    injects its own)."""
    return partial(next, chain.from_iterable(_salt_blocks(source)))


def _salt_blocks(source: Callable[[int], bytes]) -> Iterator[list[str]]:
    size, width = SALT_BYTES * SALTS_DRAWN, 2 * SALT_BYTES
    while True:
        block = source(size)
        if len(block) != size:
            raise ValueError(f"the salt source gave {len(block)} bytes where {size} were asked")
        drawn = block.hex()
        yield [drawn[at:at + width] for at in range(0, 2 * size, width)]


def repeatable_salt(proposal: str, seq: int, item: str, recorded: str) -> str:
    """The salt of a database made for tests or demos (its clock simulated, nothing in it real):
    derived from where the value sits, so its histories hash the same on every run. Such a
    commitment can be guessed by trying values; a database made for real use draws every salt
    from :func:`new_salt`."""
    return hashlib.sha256(f"flowengine repeatable salt\n{proposal}\n{seq}\n{item}\n{recorded}".encode()).hexdigest()


# The encoder json.dumps builds on every call with these options, built once: an import commits
# to a value per event.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical_text(value: Any) -> str:
    """A value's canonical JSON, which its commitment hashes and its erasable row stores; text (a
    name, a comment: nearly every personal value) straight from the C encoder that ``json.dumps``
    uses for it, the same text without the dispatch."""
    return encode_basestring(value) if type(value) is str else _CANONICAL(value)


# DOMAIN, a zero byte, the item's name and a zero byte: what every commitment to an item starts with
_PREFIXES = {item: DOMAIN + b"\x00" + item.encode() + b"\x00" for item in (ACTOR, COMMENT)}
_sha256 = hashlib.sha256
_fromhex = bytes.fromhex


def commit(item: str, salt: str, value: Any) -> str:
    """The commitment to ``value`` as ``item`` of an event, with ``salt`` (hex): one hash over
    the bytes, no intermediate objects (an import commits to a value or two per event)."""
    prefix = _PREFIXES.get(item)
    if prefix is None:
        prefix = DOMAIN + b"\x00" + item.encode() + b"\x00"
    return _sha256(prefix + _fromhex(salt) + canonical_text(value).encode()).hexdigest()


class Committed(NamedTuple):
    """One personal value of an event as stored: the commitment its seal holds, and the salt
    (None once erased: the value is gone with it). A plain tuple, so an import's million cost
    little to build."""

    digest: str
    salt: str | None

    @property
    def erased(self) -> bool:
        return self.salt is None


def digests(personal: Mapping[str, Committed]) -> dict[str, str]:
    """item → commitment: what the seal of a format 3 event holds."""
    return {item: committed.digest for item, committed in personal.items()}


def carried(personal: Mapping[str, Committed]) -> dict[str, dict[str, str | None]]:
    """What an event log carries of an event's personal values so that an import rebuilds the
    same seal and keeps the same values erasable: item → commitment and salt (None once erased)."""
    return {item: {"commitment": committed.digest, "salt": committed.salt}
            for item, committed in sorted(personal.items())}


def _hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def from_carried(value: Any) -> dict[str, Committed] | None:
    """The commitments :func:`carried` wrote, read back; None when ``value`` is not such an object
    (an item not ``actor``, ``comment`` or ``field:NAME``, a commitment or salt not 64 hex digits)."""
    if not isinstance(value, dict):
        return None
    found: dict[str, Committed] = {}
    for item, entry in value.items():
        if not (item in (ACTOR, COMMENT) or (item.startswith(FIELD) and len(item) > len(FIELD))):
            return None
        if not isinstance(entry, dict) or set(entry) != {"commitment", "salt"} or not _hex64(entry["commitment"]):
            return None
        salt = entry["salt"]
        if salt is not None and not _hex64(salt):
            return None
        found[item] = Committed(entry["commitment"], salt)
    return found
