"""Signing keys on disk: made once, never overwritten, the private one readable by its owner alone.

The private key lives in a file the auditor keeps (mode 0600, as ssh keeps its own); flowengine
reads it to sign and never writes it, or anything derived from it but the public key, into the
database. ``KEYFILE.pub`` beside it is the public key to hand to whoever checks the checkpoints.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

from flowengine.atomicfile import creating
from flowengine.errors import InvalidInput, Refused
from flowengine.i18n import t

if TYPE_CHECKING:
    from flowengine.proof.keys import Signer

__all__ = ["public_path", "read_public", "read_signer", "write_key_pair"]

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


MAX_KEY_BYTES = 64 * 1024  # a PEM Ed25519 key is about 120 bytes

def public_path(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def write_key_pair(private: Path) -> tuple[Path, bytes]:
    """A new Ed25519 key pair in ``private`` (0600) and ``private.pub``; neither may exist yet.
    Returns the public key's path and its raw bytes."""
    from flowengine.proof import keys

    public = public_path(private)
    taken = [str(path) for path in (private, public) if path.exists() or path.is_symlink()]
    if taken:
        raise Refused(t("key file {file}", file=taken[0]),
                      [t("it exists already, and a key is never overwritten (checkpoints signed with it would "
                         "no longer verify)")], t("choose another file name"))
    if not private.parent.is_dir():
        raise InvalidInput(t("folder {folder} does not exist; create it first", folder=private.parent))
    private_pem, public_pem = keys.generate()
    with creating(private, t("could not write key file {file}", file=private), InvalidInput,
                  mode=PRIVATE_MODE) as temp:
        temp.write_bytes(private_pem)
    with creating(public, t("could not write key file {file}", file=public), InvalidInput,
                  mode=PUBLIC_MODE) as temp:
        temp.write_bytes(public_pem)
    return public, keys.public_from_pem(public_pem)


def _read(path: Path) -> bytes:
    """The key file's bytes; at most :data:`MAX_KEY_BYTES`, so a wrong path (a log, ``/dev/zero``)
    is refused at once instead of read whole."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(t("cannot read key file {file}: {reason}", file=path,
                             reason=exc.strerror or exc)) from exc
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidInput(t("{file} is not a key file: it is larger than {size} KiB, and a key is a few hundred "
                             "bytes", file=path, size=MAX_KEY_BYTES // 1024))
    return raw


def read_signer(private: Path) -> Signer:
    """The private key in ``private``, refused when others than its owner may read it."""
    from flowengine.proof import keys

    try:
        mode = stat.S_IMODE(private.stat().st_mode)
    except OSError as exc:
        raise InvalidInput(t("cannot read key file {file}: {reason}", file=private,
                             reason=exc.strerror or exc)) from exc
    if mode & 0o077:
        raise Refused(t("key file {file}", file=private),
                      [t("others than its owner may read it (mode {mode}); a signing key must be its "
                         "owner's alone", mode=f"{mode:o}")], t("restrict it: chmod 600 {file}", file=private))
    try:
        return keys.Signer(_read(private))
    except keys.KeyMaterialError as exc:
        raise InvalidInput(t("{file} is not an Ed25519 private key ({reason})", file=private, reason=exc)) from exc


def read_public(path: Path) -> bytes:
    """The raw public key in ``path``: a public key file, or the public half of a private one."""
    from flowengine.proof import keys

    try:
        return keys.public_from_pem(_read(path))
    except keys.KeyMaterialError as exc:
        raise InvalidInput(t("{file} is not an Ed25519 key ({reason})", file=path, reason=exc)) from exc
