"""Merkle tree hashing as Certificate Transparency does it (RFC 6962, section 2.1; RFC 9162, 2.1).

A leaf's hash is SHA-256 over a 0x00 byte and the leaf's bytes, an inner node's over a 0x01
byte and its two children, so no leaf can pass for an inner node. A tree of n leaves splits at
the largest power of two below n; the empty tree's hash is SHA-256 of nothing. An audit path
lists the sibling hashes from the leaf up to the root; :func:`root_from_path` is RFC 9162's
verification algorithm (2.1.3.2), written from the RFC, which the tests check against an
independent copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["audit_path", "leaf_hash", "node_hash", "root", "root_from_path"]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _subtree(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    middle = start + _split(end - start)
    return node_hash(_subtree(hashes, start, middle), _subtree(hashes, middle, end))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head over leaves already hashed with :func:`leaf_hash`, in their order."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    return _subtree(leaf_hashes, 0, len(leaf_hashes))


def audit_path(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling hashes that lead from leaf ``index`` to the root, the leaf's own sibling first."""
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf {index} is outside a tree of {len(leaf_hashes)}")
    path: list[bytes] = []
    start, end = 0, len(leaf_hashes)
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            path.append(_subtree(leaf_hashes, middle, end))
            end = middle
        else:
            path.append(_subtree(leaf_hashes, start, middle))
            start = middle
    path.reverse()
    return path


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that leaf hash ``leaf`` at ``index`` of a tree of ``size`` leads to along ``path``;
    None when the path cannot belong to such a tree (too long, too short, index out of range)."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None
