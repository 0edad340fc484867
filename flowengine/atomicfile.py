"""Replacing a file in one move, so readers (a browser, a process-mining tool, git) never see
half of it: diagrams, reports and exported logs are all written this way."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flowengine.errors import FlowEngineError


@contextlib.contextmanager
def replacing(output: Path, failure: str, error: type[FlowEngineError] = FlowEngineError,
              mode: int | None = None) -> Iterator[Path]:
    """A temporary file beside ``output`` to write; when the block ends it takes ``output``'s
    place in one move, so readers never see half a file. On any failure it is removed and
    ``output`` stays as it was; an OSError becomes ``error(f"{failure}: {reason}")``.
    The file gets an existing ``output``'s mode, else the usual 0644 (mkstemp makes it 0600),
    so a diagram committed or served from ``diagrams/`` stays readable; ``mode`` chooses another
    (a backup is its owner's alone)."""
    try:
        if mode is None:
            mode = stat.S_IMODE(output.stat().st_mode) if output.exists() else 0o644
        fd, temp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        os.close(fd)
    except OSError as exc:
        raise error(f"{failure}: {exc.strerror or exc}") from exc
    try:
        yield Path(temp_name)
        os.chmod(temp_name, mode)
        os.replace(temp_name, output)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise error(f"{failure}: {exc.strerror or exc}") from exc
        raise


@contextlib.contextmanager
def creating(output: Path, failure: str, error: type[FlowEngineError] = FlowEngineError,
             mode: int = 0o644) -> Iterator[Path]:
    """Like :func:`replacing`, for a file that must not exist yet (a key, a record kept for
    years): the finished file is linked into place, which fails if anything, a symlink too,
    took the name meanwhile; it is never replaced. It has ``mode`` from the start."""
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        os.close(fd)
        os.chmod(temp_name, mode)
    except OSError as exc:
        raise error(f"{failure}: {exc.strerror or exc}") from exc
    try:
        yield Path(temp_name)
        os.link(temp_name, output, follow_symlinks=False)
    except BaseException as exc:
        if isinstance(exc, OSError):
            raise error(f"{failure}: {exc.strerror or exc}") from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
