"""A third party's checker of flowengine's inclusion proofs and conversion records, written from
the README's sections "The file formats (for checking without flowengine)" and "The conversion
record" alone: it imports nothing of flowengine,
only the standard library and an Ed25519 implementation, as anyone holding a proof and the
auditor's public key would."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

NOTE_ORIGIN = "flowengine proposal histories"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _signed_note(document: dict[str, Any], form: str, trusted_public_key: bytes) -> str | None:
    """The document's note when it is of format ``form`` and signed by ``trusted_public_key``."""
    if document.get("format") != form:
        return None
    note: str = document["note"]
    try:
        Ed25519PublicKey.from_public_bytes(trusted_public_key).verify(base64.b64decode(document["signature"]),
                                                                      note.encode("utf-8"))
    except InvalidSignature:
        return None
    return note


def checks(proof_text: str, trusted_public_key: bytes) -> bool:
    """Whether the proof shows its leaf in a tree head signed by ``trusted_public_key`` (32 raw bytes)."""
    proof: dict[str, Any] = json.loads(proof_text)
    note = _signed_note(proof, "flowengine inclusion proof 1", trusted_public_key)
    if note is None:
        return False
    lines = note.split("\n")
    if len(lines) < 4 or lines[0] != NOTE_ORIGIN or int(lines[1]) != proof["size"]:
        return False
    root = bytes.fromhex(lines[2])
    leaf = proof["leaf"]
    r = _sha256(b"\x00" + f"{leaf['chain']}\n{leaf['length']}\n{leaf['head']}".encode())
    fn, sn = proof["index"], proof["size"] - 1
    if not 0 <= fn <= sn:
        return False
    for hex_sibling in proof["path"]:
        p = bytes.fromhex(hex_sibling)
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _sha256(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def history_ends_at(steps: list[dict[str, Any]], length: int, head: str) -> bool:
    """Whether the first ``length`` steps of a history (``history ID --json``'s events) link to one
    another and end at ``head``."""
    if len(steps) < length:
        return False
    previous = "0" * 64
    for step in steps[:length]:
        if step["prev_hash"] != previous:
            return False
        previous = step["hash"]
    return previous == head


RECORD_ORIGIN = "flowengine personal data conversion"


def _root(leaves: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash over leaf hashes."""
    if not leaves:
        return _sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return _sha256(b"\x01" + _root(leaves[:split]) + _root(leaves[split:]))


def record_checks(record_text: str, trusted_public_key: bytes) -> bool:
    """Whether a conversion record is signed by ``trusted_public_key`` and its chains make the
    signed root (README: "The conversion record")."""
    record: dict[str, Any] = json.loads(record_text)
    note = _signed_note(record, "flowengine conversion record 1", trusted_public_key)
    if note is None:
        return False
    lines = note.split("\n")
    if len(lines) != 6 or lines[0] != RECORD_ORIGIN or int(lines[1]) != len(record["chains"]):
        return False
    leaves = []
    for chain in record["chains"]:
        pairs = "\n".join(f"{old} {new}" for old, new in chain["events"])
        leaves.append(_sha256(b"\x00" + f"{chain['chain']}\n{len(chain['events'])}\n{pairs}".encode()))
    return _root(leaves).hex() == lines[2]


def _former_hash(step: dict[str, Any], prev_hash: str) -> str:
    """The hash a step of ``history --json`` had sealed with its personal values in (event format
    1 or 2): SHA-256 over the previous hash, a newline and the canonical JSON of what it says."""
    payload = {key: step[key] for key in ("proposal", "seq", "kind", "trigger", "from", "to", "actor", "role", "at",
                                          "entered_at", "comment", "changes", "details", "idempotency_key")}
    if step["login"] is not None:
        payload |= {"login": step["login"], "recorded_at": step["recorded_at"]}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(f"{prev_hash}\n{encoded}".encode()).hexdigest()


def converted_only_encoding(steps: list[dict[str, Any]], chain: dict[str, Any]) -> bool:
    """Whether a chain of a conversion record maps a history to ``steps`` (``history --json``'s
    events, values kept) by its encoding alone: each step's hash is the record's new hash, each
    kept value matches its commitment, and sealed the old way it hashes as the record's old hash."""
    pairs = chain["events"]
    if len(steps) < len(pairs):
        return False
    previous = "0" * 64
    for step, (old, new) in zip(steps, pairs, strict=False):
        if step["hash"] != new:
            return False
        erased = False
        for item, kept in step.get("erasable", {}).items():
            if kept["salt"] is None:  # erased since: this step's old hash rests on the signed record
                erased = True
                continue
            value = (step["actor"] if item == "actor" else step["comment"] if item == "comment"
                     else step["changes"][item.removeprefix("field:")])
            encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            commitment = _sha256(b"flowengine erasable value 1\x00" + item.encode() + b"\x00"
                                 + bytes.fromhex(kept["salt"]) + encoded).hex()
            if commitment != kept["commitment"]:
                return False
        if not erased and _former_hash(step, previous) != old:
            return False
        previous = old
    return True
