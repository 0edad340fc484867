"""A checkpoint: the signed tree head of Certificate Transparency, for proposal histories.

It lists every chain's head — each proposal's history (named by the proposal's id) and, where
there is one, the access log — as (name, length, head hash), sorted by name. Each is a leaf of
a Merkle tree (:mod:`flowengine.proof.merkle`) whose leaf bytes are, in UTF-8::

    NAME "\\n" LENGTH "\\n" HEAD

(LENGTH in decimal, HEAD the chain's newest hash in lower-case hex). The signed part is a small
text, the *note*, in the shape of a transparency-log checkpoint (origin, tree size, root)::

    flowengine proposal histories
    <number of leaves>
    <Merkle root, lower-case hex>
    time <UTC moment of the checkpoint>

each line ending in a newline. It is signed with Ed25519; the file (JSON) holds the note, the
signature and the public key in base64, and the leaves. Whoever holds a checkpoint can later show
that every chain it lists still has that head at that length — nothing recorded before it was
changed, removed or reordered — and, with :func:`inclusion`, hand a third party a compact proof
for one proposal that needs nothing but the public key to check (the format is in the README).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine import jsontext
from flowengine.atomicfile import creating
from flowengine.clock import as_utc, iso_utc
from flowengine.errors import InvalidInput, NotFound
from flowengine.i18n import t
from flowengine.proof import merkle

if TYPE_CHECKING:
    from flowengine.proof.keys import Signer

__all__ = ["ACCESS_LOG", "FORMAT", "ORIGIN", "PROOF_FORMAT", "Checkpoint", "Head", "fingerprint", "inclusion",
           "read", "read_all", "sign", "write", "write_in"]

FORMAT = "flowengine checkpoint 1"
PROOF_FORMAT = "flowengine inclusion proof 1"
ORIGIN = "flowengine proposal histories"
ACCESS_LOG = "access log"  # the access log's leaf name: no proposal id has a space
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHAIN_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


@dataclass(frozen=True)
class Head:
    """One chain's head: ``length`` events, the newest hashed ``head``."""

    name: str
    length: int
    head: str

    def leaf(self) -> bytes:
        return f"{self.name}\n{self.length}\n{self.head}".encode()

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.name, "length": self.length, "head": self.head}


def fingerprint(public_raw: bytes) -> str:
    """A key's short name: the first 16 hex digits of SHA-256 over its raw bytes."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _note(size: int, root: str, time: datetime) -> str:
    return f"{ORIGIN}\n{size}\n{root}\ntime {iso_utc(time)}\n"


def _root(heads: Sequence[Head]) -> str:
    return merkle.root([merkle.leaf_hash(head.leaf()) for head in heads]).hex()


def signed_problems(public_key: bytes, signature: bytes, note: str, root_holds: bool) -> list[str]:
    """What makes a signed file of :mod:`flowengine.proof` untrustworthy (a checkpoint, a conversion
    record): a signature that is not the key's over its note, or leaves that do not make its root."""
    from flowengine.proof import keys

    found = []
    if not keys.verify(public_key, signature, note.encode()):
        found.append(t("its signature is not one of key {key} over what it says (the file was altered or "
                       "not signed by that key)", key=fingerprint(public_key)))
    if not root_holds:
        found.append(t("its chains do not make the Merkle root it signs (a chain was added, removed or changed "
                       "in the file)"))
    return found


def unused_path(folder: Path, kind: str, time: datetime) -> Path:
    """A new file's name in ``folder`` after ``kind`` and ``time`` (checkpoint-20190630T140000Z.json,
    then …-2.json), so a folder of them lists in time order and none is ever overwritten."""
    stem = f"{kind}-{time.strftime('%Y%m%dT%H%M%SZ')}"
    path, number = folder / f"{stem}.json", 1
    while path.exists() or path.is_symlink():
        number += 1
        path = folder / f"{stem}-{number}.json"
    return path


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint says, as read from its file or just signed."""

    time: datetime
    heads: tuple[Head, ...]
    root: str
    public_key: bytes
    signature: bytes
    source: str = ""  # the file it was read from, to name in messages

    @property
    def note(self) -> str:
        return _note(len(self.heads), self.root, self.time)

    @property
    def key_id(self) -> str:
        return fingerprint(self.public_key)

    @property
    def label(self) -> str:
        return self.source or f"checkpoint {iso_utc(self.time)}"

    def head(self, name: str) -> Head | None:
        return next((head for head in self.heads if head.name == name), None)

    def problems(self) -> list[str]:
        """What makes the checkpoint itself untrustworthy: a signature that is not the key's, or
        leaves that do not make the signed root. Empty when it is sound."""
        return signed_problems(self.public_key, self.signature, self.note, _root(self.heads) == self.root)

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "note": self.note, "signature": base64.b64encode(self.signature).decode(),
                "public_key": base64.b64encode(self.public_key).decode(), "key_id": self.key_id,
                "time": iso_utc(self.time), "size": len(self.heads), "root": self.root,
                "chains": [head.as_dict() for head in self.heads]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n"


def sign(heads: Sequence[Head], time: datetime, signer: Signer) -> Checkpoint:
    """A checkpoint of ``heads`` (sorted by name here) at ``time``, signed by ``signer``."""
    ordered = tuple(sorted(heads, key=lambda head: head.name))
    root, moment = _root(ordered), as_utc(time)
    return Checkpoint(moment, ordered, root, signer.public_raw, signer.sign(_note(len(ordered), root, moment).encode()))


def inclusion(checkpoint: Checkpoint, name: str) -> dict[str, Any]:
    """The compact proof that chain ``name`` is in ``checkpoint`` with its head: the signed note,
    the signature, the public key, the leaf, its index and the audit path (README: "Checking a
    proof without flowengine")."""
    names = [head.name for head in checkpoint.heads]
    if name not in names:
        raise NotFound("proposal", name, names, t("the checkpoint was taken before it was created, or it is not "
                                                  "in this database"))
    index = names.index(name)
    hashes = [merkle.leaf_hash(head.leaf()) for head in checkpoint.heads]
    return {"format": PROOF_FORMAT, "note": checkpoint.note,
            "signature": base64.b64encode(checkpoint.signature).decode(),
            "public_key": base64.b64encode(checkpoint.public_key).decode(), "key_id": checkpoint.key_id,
            "leaf": checkpoint.heads[index].as_dict(), "index": index, "size": len(hashes),
            "path": [sibling.hex() for sibling in merkle.audit_path(hashes, index)]}


def write(checkpoint: Checkpoint, path: Path) -> Path:
    """``checkpoint`` as a new file ``path`` (a checkpoint is a record: never overwritten)."""
    if path.exists() or path.is_symlink():
        raise InvalidInput(t("{file} exists already; a checkpoint is a record and is never overwritten: choose "
                             "another name", file=path))
    with creating(path, t("could not write checkpoint {file}", file=path), InvalidInput) as temp:
        temp.write_text(checkpoint.to_json(), encoding="utf-8")
    return path


def write_in(checkpoint: Checkpoint, folder: Path) -> Path:
    """``checkpoint`` as a new file in ``folder`` named after its time (checkpoint-20190630T140000Z.json),
    so a folder of them lists in time order."""
    if not folder.is_dir():
        raise InvalidInput(t("folder {folder} does not exist; create it first", folder=folder))
    return write(checkpoint, unused_path(folder, "checkpoint", checkpoint.time))


def read_all(paths: Sequence[Path]) -> list[Checkpoint]:
    """The checkpoints of files and of folders (each ``*.json`` in them), oldest first."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise InvalidInput(t("folder {folder} holds no checkpoint (*.json)", folder=path))
            files += found
        else:
            files.append(path)
    return sorted((read(path) for path in files), key=lambda checkpoint: (checkpoint.time, checkpoint.source))


def read(path: Path) -> Checkpoint:
    """A checkpoint file, its shape checked (not yet its signature: see :meth:`Checkpoint.problems`)."""
    try:
        data = jsontext.read_file(path, arrays=frozenset({"chains"}))
    except OSError as exc:
        raise InvalidInput(t("cannot read checkpoint {file}: {reason}", file=path,
                             reason=exc.strerror or exc)) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(t("{file} is not a checkpoint: it is not JSON ({reason})", file=path,
                             reason=exc)) from exc
    try:
        return _parsed(data, str(path))
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise InvalidInput(t("{file} is not a checkpoint flowengine wrote: {reason}", file=path,
                             reason=_reason(exc))) from exc


def _reason(exc: Exception) -> str:
    return t("'{key}' is missing", key=exc.args[0]) if isinstance(exc, KeyError) else str(exc)


def _parsed(data: Any, source: str) -> Checkpoint:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(t("its format is not '{format}'", format=FORMAT))
    lines = str(data["note"]).split("\n")
    if len(lines) != 5 or lines[0] != ORIGIN or lines[4] != "" or not lines[3].startswith("time "):
        raise ValueError(t("its note is not a flowengine checkpoint's"))
    size, root, time = int(lines[1]), lines[2], datetime.fromisoformat(lines[3][5:].replace("Z", "+00:00"))
    if not HEX64.match(root):
        raise ValueError(t("its root is not a SHA-256 hash in hex"))
    heads = tuple(_head(item) for item in data["chains"])
    if len(heads) != size:
        raise ValueError(t("it lists {listed} chains but its note says {size}", listed=len(heads), size=size))
    if [head.name for head in heads] != sorted({head.name for head in heads}):
        raise ValueError(t("its chains are not in order, or one is listed twice"))
    checkpoint = Checkpoint(as_utc(time), heads, root, base64.b64decode(str(data["public_key"]), validate=True),
                            base64.b64decode(str(data["signature"]), validate=True), source)
    if checkpoint.note != data["note"]:
        raise ValueError(t("its note is not written the way flowengine writes it"))
    return checkpoint


def _head(item: Any) -> Head:
    name, length, head = item["chain"], item["length"], item["head"]
    if not isinstance(name, str) or not CHAIN_NAME.match(name):
        raise ValueError(t("a chain's name is not text on one line"))
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ValueError(t("chain {chain}: its length is not a whole number of zero or more", chain=name))
    if not isinstance(head, str) or not HEX64.match(head):
        raise ValueError(t("chain {chain}: its head is not a SHA-256 hash in hex", chain=name))
    return Head(name, length, head)
