"""A third party's checker of flowengine's inclusion proofs, written from the README's section
"The file formats (for checking without flowengine)" alone: it imports nothing of flowengine,
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


def checks(proof_text: str, trusted_public_key: bytes) -> bool:
    """Whether the proof shows its leaf in a tree head signed by ``trusted_public_key`` (32 raw bytes)."""
    proof: dict[str, Any] = json.loads(proof_text)
    if proof.get("format") != "flowengine inclusion proof 1":
        return False
    note: str = proof["note"]
    try:
        Ed25519PublicKey.from_public_bytes(trusted_public_key).verify(base64.b64decode(proof["signature"]),
                                                                      note.encode("utf-8"))
    except InvalidSignature:
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
