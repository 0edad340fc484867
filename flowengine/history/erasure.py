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
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTOR", "COMMENT", "DOMAIN", "ERASED", "FIELD", "Committed", "commit", "digests", "field_item", "new_salt",
           "repeatable_salt", "shown"]

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
    return secrets.token_hex(SALT_BYTES)


def repeatable_salt(proposal: str, seq: int, item: str, recorded: str) -> str:
    """The salt of a database made for tests or demos (its clock simulated, nothing in it real):
    derived from where the value sits, so its histories hash the same on every run. Such a
    commitment can be guessed by trying values; a database made for real use draws every salt
    from :func:`new_salt`."""
    return hashlib.sha256(f"flowengine repeatable salt\n{proposal}\n{seq}\n{item}\n{recorded}".encode()).hexdigest()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def commit(item: str, salt: str, value: Any) -> str:
    """The commitment to ``value`` as ``item`` of an event, with ``salt`` (hex)."""
    return hashlib.sha256(DOMAIN + b"\x00" + item.encode() + b"\x00" + bytes.fromhex(salt)
                          + canonical(value)).hexdigest()


@dataclass(frozen=True, slots=True)
class Committed:
    """One personal value of an event as stored: the commitment its seal holds, and the salt
    (None once erased: the value is gone with it)."""

    digest: str
    salt: str | None

    @property
    def erased(self) -> bool:
        return self.salt is None


def digests(personal: Mapping[str, Committed]) -> dict[str, str]:
    """item → commitment: what the seal of a format 3 event holds."""
    return {item: committed.digest for item, committed in personal.items()}
