"""Replacing a file in one move, so readers (a browser, a process-mining tool, git) never see
half of it: diagrams, reports and exported logs are all written this way; and a folder a failed
command was filling, removed if that command made it."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from flowengine.errors import FlowEngineError
from flowengine.i18n import t


@contextlib.contextmanager
def replacing(output: Path, failure: str, error: type[FlowEngineError] = FlowEngineError,
              mode: int | None = None) -> Iterator[Path]:
    """A temporary file beside ``output`` to write; when the block ends it takes ``output``'s
    place in one move, so readers never see half a file. The temporary file is created fresh
    (never opened if it exists) and the move replaces whatever ``output`` is — a symbolic link
    planted there is replaced, never written through; a folder there is refused. On any failure it is removed and
    ``output`` stays as it was; an OSError becomes ``error(f"{failure}: {reason}")``.
    The file gets an existing ``output``'s mode, else the usual 0644 (mkstemp makes it 0600),
    so a diagram committed or served from ``diagrams/`` stays readable; ``mode`` chooses another
    (a backup is its owner's alone).

    A stream is written as it is, never replaced: a character device (``/dev/null``, a terminal),
    a named pipe, or a path through ``/proc`` (``/dev/stdout``) — replacing one would, for root,
    put a plain file where the device was. A block device is refused."""
    try:
        if _written_through(output):
            yield output
            return
    except OSError as exc:
        raise error(f"{failure}: {exc.strerror or exc}") from exc
    try:
        if mode is None:
            mode = _mode_of(output)
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


def _written_through(output: Path) -> bool:
    """Whether ``output`` is a stream to write into rather than a file to replace (see :func:`replacing`)."""
    try:
        found = os.stat(output)  # what a link leads to
    except (FileNotFoundError, NotADirectoryError):
        return False  # nothing there yet, or a dangling link: a new file
    if stat.S_ISBLK(found.st_mode):
        raise OSError(errno.EINVAL, t("it is a block device; name a file"), str(output))
    if stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode) or stat.S_ISSOCK(found.st_mode):
        return True
    hop, hops = str(output), 0
    while os.path.islink(hop) and hops < 40:  # /dev/stdout → /proc/self/fd/1 → wherever standard output goes
        target = os.readlink(hop)
        hop = target if os.path.isabs(target) else os.path.join(os.path.dirname(hop), target)
        if os.path.normpath(hop).startswith("/proc/"):
            return True
        hops += 1
    return False


def _mode_of(output: Path) -> int:
    """The mode of the file being replaced; a symbolic link's target is not looked at (its mode is
    not this file's business), and a folder in the way is refused before anything is written."""
    try:
        found = os.lstat(output)
    except FileNotFoundError:
        return 0o644
    if stat.S_ISDIR(found.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(output))
    return stat.S_IMODE(found.st_mode) if stat.S_ISREG(found.st_mode) else 0o644


def write_text(output: Path, text: str, failure: str, error: type[FlowEngineError] = FlowEngineError) -> Path:
    """Write ``text`` (UTF-8) to ``output`` by :func:`replacing`: a fresh file moved over the target."""
    return write_chunks(output, (text,), failure, error)


def write_chunks(output: Path, chunks: Iterable[str], failure: str,
                 error: type[FlowEngineError] = FlowEngineError) -> Path:
    """:func:`write_text` of text made as it is written, a piece at a time (never held whole)."""
    with replacing(output, failure, error) as temp, temp.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
    return output


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


@contextlib.contextmanager
def leaving_nothing_new(folder: Path) -> Iterator[None]:
    """Work that fills ``folder``: if it fails, or is refused, the folders it would have made
    (the outermost of ``folder``'s path that did not exist yet, and all below it) are removed,
    so a refused command leaves no new folder behind."""
    created = None
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            break
        created = candidate
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
