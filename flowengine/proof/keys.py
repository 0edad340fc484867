"""Ed25519 signing keys, through the ``cryptography`` package: the only module that imports it.

Imported only when a key is made, used or checked, so commands that sign nothing never pay for
it. A private key is kept as PKCS#8 PEM, a public key as SubjectPublicKeyInfo PEM, the forms
OpenSSL reads (``openssl pkey -in KEYFILE -pubout`` derives the public one); inside a checkpoint
the public key is its 32 raw bytes in base64.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["KeyMaterialError", "Signer", "generate", "public_from_pem", "verify"]


class KeyMaterialError(ValueError):
    """Bytes that are not an Ed25519 key of the expected kind."""


class Signer:
    """A private key that signs checkpoints."""

    def __init__(self, private_pem: bytes) -> None:
        try:
            key = serialization.load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyMaterialError(str(exc)) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMaterialError("not an Ed25519 private key")
        self._key = key

    @property
    def public_raw(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def generate() -> tuple[bytes, bytes]:
    """A new key pair: (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def public_from_pem(pem: bytes) -> bytes:
    """The raw 32 bytes of a public key given as PEM, or of the public half of a private key."""
    try:
        if b"PRIVATE KEY" in pem:
            return Signer(pem).public_raw
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyMaterialError(str(exc)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyMaterialError("not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the key's Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
