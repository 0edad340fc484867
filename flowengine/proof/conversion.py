"""A conversion record: the signed account of old histories re-sealed into the erasable form.

Converting a history's personal data into event format 3 seals every event again, so every hash
from the first converted event on changes, and a checkpoint taken before would name the chain as
rewritten. The record says exactly what changed: for each converted chain, each event's old hash
and new hash, oldest first (so the old head maps to the new head at the same length), and the
root of the checkpoint taken just before. Each chain is a leaf of a Merkle tree
(:mod:`flowengine.proof.merkle`) whose bytes are, in UTF-8::

    NAME "\\n" LENGTH "\\n" OLD_1 " " NEW_1 "\\n" … OLD_n " " NEW_n

and the signed note is::

    flowengine personal data conversion
    <number of chains>
    <Merkle root, lower-case hex>
    before <the root of the checkpoint taken before>
    time <UTC moment of the conversion>

signed with Ed25519 by the checkpoints' key. A checkpoint taken before the conversion is held to
the database through the record: a head it lists at length L that the record maps (the L-th old
hash) stands for the L-th new hash, and nothing else is forgiven.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowengine import jsontext
from flowengine.atomicfile import creating
from flowengine.clock import as_utc, iso_utc
from flowengine.errors import InvalidInput
from flowengine.i18n import t
from flowengine.proof import merkle
from flowengine.proof.checkpoint import CHAIN_NAME, HEX64, Checkpoint, Head, fingerprint, signed_problems, unused_path

if TYPE_CHECKING:
    from flowengine.proof.keys import Signer

__all__ = ["FORMAT", "ORIGIN", "Converted", "Record", "read", "read_all", "read_series", "sign", "write", "write_in"]

FORMAT = "flowengine conversion record 1"
ORIGIN = "flowengine personal data conversion"


@dataclass(frozen=True)
class Converted:
    """One chain as converted: each event's (old hash, new hash), oldest first."""

    name: str
    pairs: tuple[tuple[str, str], ...]

    @property
    def length(self) -> int:
        return len(self.pairs)

    @property
    def old_head(self) -> str:
        return self.pairs[-1][0]

    @property
    def new_head(self) -> str:
        return self.pairs[-1][1]

    def leaf(self) -> bytes:
        return (f"{self.name}\n{self.length}\n" + "\n".join(f"{old} {new}" for old, new in self.pairs)).encode()

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.name, "length": self.length, "old_head": self.old_head, "new_head": self.new_head,
                "events": [[old, new] for old, new in self.pairs]}


def _note(size: int, root: str, before: str, time: datetime) -> str:
    return f"{ORIGIN}\n{size}\n{root}\nbefore {before}\ntime {iso_utc(time)}\n"


def _root(chains: Sequence[Converted]) -> str:
    return merkle.root([merkle.leaf_hash(chain.leaf()) for chain in chains]).hex()


@dataclass(frozen=True)
class Record:
    """What a conversion record says, as read from its file or just signed."""

    time: datetime
    chains: tuple[Converted, ...]
    root: str
    before: str  # the root of the checkpoint taken just before the conversion
    public_key: bytes
    signature: bytes
    source: str = ""

    @property
    def note(self) -> str:
        return _note(len(self.chains), self.root, self.before, self.time)

    @property
    def key_id(self) -> str:
        return fingerprint(self.public_key)

    @property
    def label(self) -> str:
        return self.source or f"conversion {iso_utc(self.time)}"

    def chain(self, name: str) -> Converted | None:
        return next((chain for chain in self.chains if chain.name == name), None)

    def problems(self) -> list[str]:
        """What makes the record itself untrustworthy (its signature, its root); empty when sound."""
        return signed_problems(self.public_key, self.signature, self.note, _root(self.chains) == self.root)

    def translated(self, head: Head) -> Head:
        """``head``, as a checkpoint taken before the conversion recorded it, in the chain's new
        encoding: the L-th new hash where the record's L-th old hash is ``head``'s; any other
        head unchanged (it must then hold as it is)."""
        converted = self.chain(head.name)
        if converted is None or not 1 <= head.length <= converted.length:
            return head
        old, new = converted.pairs[head.length - 1]
        return Head(head.name, head.length, new) if old == head.head else head

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "note": self.note, "signature": base64.b64encode(self.signature).decode(),
                "public_key": base64.b64encode(self.public_key).decode(), "key_id": self.key_id,
                "time": iso_utc(self.time), "before": self.before, "size": len(self.chains), "root": self.root,
                "chains": [chain.as_dict() for chain in self.chains]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n"


def sign(chains: Sequence[Converted], before: str, time: datetime, signer: Signer) -> Record:
    """A record of ``chains`` (sorted by name here), converted after the checkpoint of root ``before``."""
    ordered = tuple(sorted(chains, key=lambda chain: chain.name))
    root, moment = _root(ordered), as_utc(time)
    return Record(moment, ordered, root, before, signer.public_raw,
                  signer.sign(_note(len(ordered), root, before, moment).encode()))


def write_in(record: Record, folder: Path) -> Path:
    """``record`` as a new file in ``folder`` named after its time (conversion-20190630T140000Z.json)."""
    return write(record, unused_path(folder, "conversion", record.time))


def write(record: Record, path: Path) -> Path:
    """``record`` as the new file ``path``."""
    with creating(path, t("could not write conversion record {file}", file=path), InvalidInput) as temp:
        temp.write_text(record.to_json(), encoding="utf-8")
    return path


def read_all(paths: Sequence[Path]) -> list[Record]:
    """The records of these files, oldest first."""
    return sorted((read(path) for path in paths), key=lambda record: (record.time, record.source))


def read_series(paths: Sequence[Path]) -> tuple[list[Checkpoint], list[Record]]:
    """The checkpoints and conversion records of files and folders (each ``*.json`` in them): a
    folder a conversion wrote into holds both, and is read as the one series it is."""
    from flowengine.proof.checkpoint import read_all as read_checkpoints

    checkpoints: list[Path] = []
    records: list[Path] = []
    for path in paths:
        if not path.is_dir():
            checkpoints.append(path)
            continue
        for found in sorted(path.glob("*.json")):
            (records if _is_record(found) else checkpoints).append(found)
        if not any(found.parent == path for found in checkpoints):
            raise InvalidInput(t("folder {folder} holds no checkpoint (*.json)", folder=path))
    return read_checkpoints(checkpoints), read_all(records)


def _is_record(path: Path) -> bool:
    """Whether a file in a checkpoint folder is a conversion record (by its ``format``); anything
    else is read as a checkpoint, and refused as one when it is not."""
    try:
        return bool(jsontext.file_member(path, "format") == FORMAT)
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def read(path: Path) -> Record:
    """A conversion record file, its shape checked (not yet its signature: :meth:`Record.problems`)."""
    try:
        data = jsontext.read_file(path, arrays=frozenset({"chains"}))
    except OSError as exc:
        raise InvalidInput(t("cannot read conversion record {file}: {reason}", file=path,
                             reason=exc.strerror or exc)) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(t("{file} is not a conversion record: it is not JSON ({reason})", file=path,
                             reason=exc)) from exc
    try:
        return _parsed(data, str(path))
    except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as exc:
        reason = t("'{key}' is missing", key=exc.args[0]) if isinstance(exc, KeyError) else str(exc)
        raise InvalidInput(t("{file} is not a conversion record flowengine wrote: {reason}", file=path,
                             reason=reason)) from exc


def _parsed(data: Any, source: str) -> Record:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(t("its format is not '{format}'", format=FORMAT))
    lines = str(data["note"]).split("\n")
    if (len(lines) != 6 or lines[0] != ORIGIN or lines[5] != "" or not lines[3].startswith("before ")
            or not lines[4].startswith("time ")):
        raise ValueError(t("its note is not a flowengine conversion record's"))
    size, root, before = int(lines[1]), lines[2], lines[3][7:]
    time = datetime.fromisoformat(lines[4][5:].replace("Z", "+00:00"))
    if not HEX64.match(root) or not HEX64.match(before):
        raise ValueError(t("its root is not a SHA-256 hash in hex"))
    chains = tuple(_chain(item) for item in data["chains"])
    if len(chains) != size:
        raise ValueError(t("it lists {listed} chains but its note says {size}", listed=len(chains), size=size))
    if [chain.name for chain in chains] != sorted({chain.name for chain in chains}):
        raise ValueError(t("its chains are not in order, or one is listed twice"))
    record = Record(as_utc(time), chains, root, before, base64.b64decode(str(data["public_key"]), validate=True),
                    base64.b64decode(str(data["signature"]), validate=True), source)
    if record.note != data["note"]:
        raise ValueError(t("its note is not written the way flowengine writes it"))
    return record


def _chain(item: Any) -> Converted:
    name, events = item["chain"], item["events"]
    if not isinstance(name, str) or not CHAIN_NAME.match(name):
        raise ValueError(t("a chain's name is not text on one line"))
    if not isinstance(events, list) or not events:
        raise ValueError(t("chain {chain}: it lists no events", chain=name))
    pairs = []
    for pair in events:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(h, str) and HEX64.match(h) for h in pair)):
            raise ValueError(t("chain {chain}: an event is not a pair of SHA-256 hashes in hex", chain=name))
        pairs.append((pair[0], pair[1]))
    return Converted(name, tuple(pairs))
