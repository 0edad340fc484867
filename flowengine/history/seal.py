"""An event's chain hash, computed fast enough for bulk imports, byte for byte as
:func:`flowengine.history.chain.event_hash` computes it.

``chain.canonical`` builds a dict and lets ``json.dumps`` sort and encode it: about 15 µs an
event, more than inserting the row costs. Here the keys are written in their sorted order once,
by hand, and each value is encoded by the very function ``json.dumps`` itself uses for it (the
C string encoder of the ``json`` module; an encoder with the same options for nested objects),
so the bytes cannot differ. A property test holds the two to each other over every kind of
value an event can carry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json.encoder import encode_basestring  # the C encoder json.dumps itself uses
from typing import Any

_string: Callable[[str], str] = encode_basestring
_nested: Callable[[Any], str] = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                                 allow_nan=False).encode


def _object(value: dict[str, Any]) -> str:
    return _nested(value) if value else "{}"


def seal(*, prev_hash: str, proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None,
         to_state: str, actor: str, role: str, at: str, entered_at: str, comment: str, changes: dict[str, Any],
         details: dict[str, Any], idempotency_key: str | None) -> str:
    """The hash of one event; ``at`` and ``entered_at`` are already in ``clock.iso_utc`` form
    (digits and ``-:.TZ`` only, so they need no escaping)."""
    return seal_encoded(prev_hash, proposal, seq, kind, trigger, from_state, to_state, actor, role, at, entered_at,
                        comment, _object(changes), _object(details), idempotency_key)


def seal_encoded(prev_hash: str, proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None,
                 to_state: str, actor: str, role: str, at: str, entered_at: str, comment: str, changes: str,
                 details: str, idempotency_key: str | None) -> str:
    """:func:`seal` with ``changes`` and ``details`` already encoded (``{}`` when empty, or
    :func:`creation_details` for the details every creation carries): the inner loop of an import."""
    payload = (
        f'{{"actor":{_string(actor)},"at":"{at}","changes":{changes},"comment":{_string(comment)},'
        f'"details":{details},"entered_at":"{entered_at}",'
        f'"from":{"null" if from_state is None else _string(from_state)},'
        f'"idempotency_key":{"null" if idempotency_key is None else _string(idempotency_key)},'
        f'"kind":{_string(kind)},"proposal":{_string(proposal)},"role":{_string(role)},"seq":{int.__repr__(seq)},'
        f'"to":{_string(to_state)},"trigger":{"null" if trigger is None else _string(trigger)}}}'
    )
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def creation_details(*, title: str, description: str, origin: str, workflow: str, workflow_version: str,
                     definition: str) -> str:
    """The details of a creation event (the keys ``FlowEngine.new_proposal`` records), encoded."""
    return (f'{{"definition":{_string(definition)},"description":{_string(description)},"origin":{_string(origin)},'
            f'"title":{_string(title)},"workflow":{_string(workflow)},"workflow_version":{_string(workflow_version)}}}')


def encode_text(value: str | None) -> str:
    """One string (or None) as the canonical encoding writes it: encode once, reuse per event."""
    return "null" if value is None else _string(value)


def seal_step(prev_hash: str, actor: str, at: str, comment: str, entered_at: str, from_state: str, proposal: str,
              role: str, seq: int, to_state: str, trigger: str) -> str:
    """:func:`seal` of a plain step (kind ``advanced``; no field changes, details or idempotency
    key), with ``actor``, ``from_state``, ``proposal``, ``role``, ``to_state`` and ``trigger``
    already encoded by :func:`encode_text`: they repeat from event to event, so an import
    encodes each once."""
    payload = (f'{{"actor":{actor},"at":"{at}","changes":{{}},"comment":{_string(comment)},"details":{{}},'
               f'"entered_at":"{entered_at}","from":{from_state},"idempotency_key":null,"kind":"advanced",'
               f'"proposal":{proposal},"role":{role},"seq":{int.__repr__(seq)},"to":{to_state},"trigger":{trigger}}}')
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()
