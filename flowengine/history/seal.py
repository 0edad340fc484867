"""The one sealing function: an event's chain hash.

An event's hash is SHA-256 over the previous event's hash, a newline and the canonical encoding
of everything the event says: a JSON object with sorted keys, no spaces, UTF-8 (not ASCII
escapes), no NaN, times in ``clock.iso_utc`` form. Editing, deleting, reordering or inserting a
row therefore breaks the chain at that row.

The encoding is written here key by key, in sorted order, and each value is encoded by the very
functions ``json.dumps`` uses for it (the C string encoder of the ``json`` module; an encoder
with the same options for nested objects), so the bytes are those of
``json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)`` — a property test holds the two equal over every kind of value an event can
carry — at a fraction of the cost, which is what a million-event import needs. Every write path
seals through :func:`seal`, by way of :mod:`flowengine.history.steps`, and ``audit verify``
recomputes with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring  # the C encoder json.dumps itself uses
from typing import Any

GENESIS = "0" * 64  # what the first event of every chain links to

_string: Callable[[str], str] = encode_basestring
_nested: Callable[[Any], str] = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                                 allow_nan=False).encode
_sha256 = hashlib.sha256


def seal(prev_hash: str, proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None,
         to_state: str, actor: str, role: str, at: str, entered_at: str, comment: str, changes: dict[str, Any],
         details: dict[str, Any], idempotency_key: str | None, login: str | None = None,
         recorded_at: str | None = None, personal: Mapping[str, str] | None = None, /) -> str:
    """The hash of one event. ``at``, ``entered_at`` and ``recorded_at`` are in ``clock.iso_utc``
    form (digits and ``-:.TZ`` only, so they need no escaping). Positional, because an import
    calls it once per event.

    Event format 2 adds the authenticated ``login`` that recorded the step and the time it was
    ``recorded_at`` (both keys, in their sorted places); an event of format 1 (``login`` None)
    is encoded exactly as before, so histories written before keep verifying.

    Event format 3 (``personal`` given: item → commitment, see :mod:`flowengine.history.erasure`)
    seals each personal value as ``{"erasable":"<commitment>"}`` in its place — the ``actor``,
    the ``comment``, ``changes[NAME]`` for the item ``field:NAME`` — and adds ``"format":3``."""
    stamped = "" if login is None else f'"login":{_string(login)},'
    recorded = "" if login is None else f'"recorded_at":"{recorded_at}",'
    marked = ""
    if personal is not None:
        marked = '"format":3,'
        sealed_actor, sealed_comment = personal.get("actor"), personal.get("comment")
        actor_text = _string(actor) if sealed_actor is None else f'{{"erasable":"{sealed_actor}"}}'
        comment_text = _string(comment) if sealed_comment is None else f'{{"erasable":"{sealed_comment}"}}'
        if len(personal) > (sealed_actor is not None) + (sealed_comment is not None):  # fields among them
            fields = {item[6:]: {"erasable": digest} for item, digest in personal.items()
                      if item.startswith("field:")}
            if fields:
                changes = {**changes, **fields}
    else:
        actor_text, comment_text = _string(actor), _string(comment)
    return _sha256((
        f'{prev_hash}\n{{"actor":{actor_text},"at":"{at}",'
        f'"changes":{_nested(changes) if changes else "{}"},"comment":{comment_text},'
        f'"details":{_nested(details) if details else "{}"},"entered_at":"{entered_at}",{marked}'
        f'"from":{"null" if from_state is None else _string(from_state)},'
        f'"idempotency_key":{"null" if idempotency_key is None else _string(idempotency_key)},'
        f'"kind":{_string(kind)},{stamped}"proposal":{_string(proposal)},{recorded}"role":{_string(role)},'
        f'"seq":{int.__repr__(seq)},'
        f'"to":{_string(to_state)},"trigger":{"null" if trigger is None else _string(trigger)}}}'
    ).encode()).hexdigest()


def seal_entry(prev_hash: str, payload: dict[str, Any]) -> str:
    """The hash of one entry of a chained log other than a history (the access log): SHA-256 over
    the previous hash, a newline and the same canonical JSON encoding as an event's."""
    return _sha256(f"{prev_hash}\n{_nested(payload)}".encode()).hexdigest()
