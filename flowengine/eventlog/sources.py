"""Where a log's bytes come from, and what a cell that says nothing looks like.

A log may be gzip-compressed (``receipt.csv.gz``, ``log.xes.gz``, as 4TU and PM4Py publish
them): that is told by its first two bytes, not by its name, so a compressed log piped in on
standard input reads too. A file's format is told by its name with any ``.gz`` left off.

Tables that went through pandas (PM4Py's ``write_csv``, a notebook's ``to_csv``) write a
missing value as ``nan`` or ``NaN`` (``NaT`` for a missing time); those read as an empty cell.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from flowengine.errors import InvalidInput
from flowengine.i18n import t

GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIX = ".gz"
MISSING = frozenset({"nan", "NaN", "NAN", "NaT"})  # what pandas writes for a value that is not there
# What reading a damaged compressed file raises, besides OSError (gzip.BadGzipFile is one).
DAMAGED = (EOFError, zlib.error)


def compressed(path: Path) -> bool:
    """Whether the file starts as gzip does."""
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as error:
        raise InvalidInput(t("cannot read {path}: {reason}", path=path, reason=error.strerror or error)) from error


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip."""
    if compressed(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads as a binary file
    return path.open("rb")


def open_text(path: Path) -> TextIO:
    """The file as UTF-8 text (a byte-order mark skipped), lines left as written (for ``csv``)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")


def strip_compression(name: str) -> str:
    """``log.xes.gz`` → ``log.xes``."""
    return name[:-len(GZIP_SUFFIX)] if name.lower().endswith(GZIP_SUFFIX) else name


def format_by_name(name: str, suffixes: Iterable[tuple[str, str]]) -> str | None:
    """The format whose suffix the name ends in (``.gz`` left off), from (format, suffix) pairs."""
    plain = strip_compression(name).lower()
    return next((fmt for fmt, suffix in suffixes if plain.endswith(suffix)), None)


def damaged(path: Path | str, error: BaseException) -> InvalidInput:
    """The error for a compressed file that ends early or is corrupt."""
    return InvalidInput(t("cannot read {path}: the compressed data is damaged or cut short ({reason})", path=path,
                          reason=error))
