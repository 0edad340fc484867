"""The reference encoding of an event's hash, written the obvious way with ``json.dumps``: the
tests hold :func:`flowengine.history.seal.seal` (the one sealing function, written for speed) to
it byte for byte. Not used by flowengine itself."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from flowengine.clock import iso_utc


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(*, proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None,
               to_state: str, actor: str, role: str, at: datetime, entered_at: datetime, comment: str,
               changes: dict[str, Any], details: dict[str, Any], idempotency_key: str | None,
               prev_hash: str, login: str | None = None, recorded_at: datetime | None = None,
               personal: dict[str, str] | None = None) -> str:
    payload: dict[str, Any] = {
        "proposal": proposal, "seq": seq, "kind": kind, "trigger": trigger, "from": from_state,
        "to": to_state, "actor": actor, "role": role, "at": iso_utc(at), "entered_at": iso_utc(entered_at),
        "comment": comment, "changes": changes, "details": details, "idempotency_key": idempotency_key,
    }
    if login is not None:  # event format 2: the login that recorded it, and when
        assert recorded_at is not None
        payload.update(login=login, recorded_at=iso_utc(recorded_at))
    if personal is not None:  # event format 3: each personal value replaced by its commitment
        payload["format"] = 3
        for item, digest in personal.items():
            sealed = {"erasable": digest}
            if item in ("actor", "comment"):
                payload[item] = sealed
            else:
                assert item.startswith("field:"), item
                payload["changes"] = {**payload["changes"], item.removeprefix("field:"): sealed}
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(payload))
    return digest.hexdigest()


def commitment(item: str, salt_hex: str, value: Any) -> str:
    """A personal value's commitment, as the README documents it: SHA-256 over the domain
    ``flowengine erasable value 1``, a zero byte, the item's name, a zero byte, the 32 salt bytes
    and the value's canonical JSON."""
    digest = hashlib.sha256(b"flowengine erasable value 1")
    digest.update(b"\x00" + item.encode("utf-8") + b"\x00")
    digest.update(bytes.fromhex(salt_hex))
    digest.update(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                             allow_nan=False).encode("utf-8"))
    return digest.hexdigest()
