"""Proof that holds against the database's owner: signed checkpoints of every chain's head.

``merkle`` (RFC 6962/9162 tree hashing and audit paths), ``checkpoint`` (what a checkpoint
says, its signed note and its file), ``heads`` (whether a history still holds a recorded head),
``keys`` (Ed25519 through ``cryptography``: the only module importing it, and only when a key is
used) and ``keyfiles`` (key files on disk, never in the database).
"""
