"""Built workflow definitions kept on disk between processes, so a one-step command needs no YAML.

A command such as ``flowengine advance`` runs under a definition stored in the database. Building
it from its YAML text means importing PyYAML and parsing the text with line numbers: more time
than the step itself. The built :class:`~flowengine.definition.model.Workflow` depends only on that text
(its SHA-256, which the database files it under and which the caller has already checked), on
where the text came from, and on the code that builds it, so it is kept once per definition in
``$XDG_CACHE_HOME/flowengine/definitions`` (``~/.cache/flowengine/definitions``).

The file's name carries a stamp of the building code (the sizes and times of the modules that
shape a Workflow, flowengine's version and Python's), so a changed loader never reads an old
build. A file is pickled, but read with an unpickler that can make nothing but the model's own
frozen classes: a file cannot name any other code.

A file is also sealed: it starts with an HMAC-SHA256 over the definition's hash, its source and
the pickled bytes, keyed with a secret kept in ``key`` beside the cache folder (created once,
readable by its owner alone). A build edited or planted by anyone who can write the cache folder
but cannot read that key — a shared or carelessly opened cache — fails the seal and is built
again from the stored text, so it cannot change the rules a proposal moves by. A key that is not
the user's own, or that others can read, disables the cache instead. Anything wrong with a file
(missing, truncated, unsealed, from another stamp, for another text or source) only means the
text is built again; a cache that cannot be written is simply not kept. ``audit verify`` never
uses the cache: it holds every step to the definition built from the stored text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import os
import pickle
import stat
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from flowengine.definition.model import Workflow
from flowengine.version import __version__

FORMAT = 3  # bump when the file layout changes (2: sealed with the key's HMAC; 3: equal parts shared)
_KEY_BYTES = 32
# The modules whose code decides what a built Workflow holds.
_BUILDERS = ("definition/model.py", "definition/loader.py", "definition/yamlsafe.py", "definition/durations.py",
             "issues.py")
_CLASSES = {
    ("flowengine.definition.model", name)
    for name in ("Workflow", "State", "Transition", "Role", "Field", "Escalation", "Labels", "Located", "Publication")
} | {("flowengine.definition.durations", "Duration"), ("flowengine.issues", "Location"), ("datetime", "timedelta")}
_stamp: str | None = None


class _ModelUnpickler(pickle.Unpickler):
    """Makes the definition's own classes and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a workflow definition")


def folder(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowengine" / "definitions"


def code_stamp() -> str:
    """Changes whenever the code that builds a Workflow may have changed; computed once per process."""
    global _stamp
    if _stamp is None:
        here = Path(__file__).parent.parent  # the flowengine package
        marks: list[object] = [FORMAT, __version__, sys.version_info[:2]]
        for name in _BUILDERS:
            try:
                status = (here / name).stat()
                marks.append((name, status.st_size, status.st_mtime_ns))
            except OSError:
                marks.append((name, None))
        _stamp = hashlib.sha256(repr(marks).encode("utf-8")).hexdigest()[:16]
    return _stamp


def _path(definition_hash: str) -> Path | None:
    if len(definition_hash) != 64 or not all(c in "0123456789abcdef" for c in definition_hash):
        return None  # never let a name from the database choose a path
    try:
        return folder() / f"{definition_hash}-{code_stamp()}.pickle"
    except RuntimeError:  # no home folder to find the cache in
        return None


def _key(create: bool) -> bytes | None:
    """The secret that seals this user's cache files; None (no cache) when it cannot be trusted:
    not a plain file of this user's, or readable by others."""
    path = folder().parent / "key"
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if not create:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(handle, "wb") as out:
                out.write(os.urandom(_KEY_BYTES))
        except OSError:
            return None
        return _key(create=False)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as source:
        status = os.fstat(source.fileno())
        owner = getattr(os, "getuid", lambda: status.st_uid)()
        if not stat.S_ISREG(status.st_mode) or status.st_uid != owner or status.st_mode & 0o077:
            return None
        key = source.read(_KEY_BYTES + 1)
    return key if len(key) == _KEY_BYTES else None


def _seal(key: bytes, definition_hash: str, source: str, data: bytes) -> bytes:
    message = definition_hash.encode() + b"\0" + source.encode("utf-8", "surrogatepass") + b"\0" + data
    return hmac.new(key, message, hashlib.sha256).digest()


def load(definition_hash: str, source: str) -> Workflow | None:
    """The Workflow built earlier from the text with this hash read from ``source``; None when
    there is none (or it cannot be trusted: its seal fails), and the caller builds it from the text."""
    path = _path(definition_hash)
    if path is None:
        return None
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NOFOLLOW", 0))) \
                as handle:
            sealed = handle.read()
    except OSError:
        return None
    key = _key(create=False)
    if key is None or len(sealed) <= 32:
        return None
    seal, data = sealed[:32], sealed[32:]
    if not hmac.compare_digest(seal, _seal(key, definition_hash, source, data)):
        return None  # edited, planted or sealed with another key: build it again from the text
    try:
        workflow = _ModelUnpickler(io.BytesIO(data)).load()
    except Exception:  # a damaged cache file is built again, whatever is wrong with it
        return None
    if not isinstance(workflow, Workflow) or workflow.content_hash != definition_hash or workflow.source != source:
        return None
    return workflow


def _shared(value: Any, made: dict[tuple[object, ...], Any]) -> Any:
    """``value`` with its equal parts made one object each (``made`` holds those made so far).

    A built definition repeats itself: a state's id in every transition that names it, the
    file's name in each of its hundreds of locations, equal locations, labels and tuples. Pickle
    writes an object once however often it is referred to, so a copy sharing its equal parts is
    a smaller file and fewer objects to make when read back — a third less time unpickling a
    national database's 650 definitions. Only frozen data is shared (the model's frozen
    dataclasses, strings, numbers, tuples; each dict stays its own); a dataclass is copied field
    by field, without what a ``cached_property`` kept in it, and the copy equals the original."""
    key: tuple[object, ...]
    if isinstance(value, str | int | timedelta) or value is None:
        key = (type(value), value)
    elif isinstance(value, tuple):
        items = tuple(_shared(item, made) for item in value)
        key = (tuple, *map(id, items))
        value = items
    elif isinstance(value, dict):
        key, value = (id(value),), {_shared(k, made): _shared(v, made) for k, v in value.items()}
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _shared(getattr(value, f.name), made) for f in dataclasses.fields(value)}
        copy = object.__new__(type(value))
        copy.__dict__.update(fields)
        key = (type(value), *(id(v) for v in fields.values()))
        value = copy
    else:  # a float (0.0 == -0.0) or anything else: its own, never merged
        key = (id(value),)
    # Kept in ``made`` while the walk lasts, each part's id stays its own: keys hold ids.
    return made.setdefault(key, value)


def store(definition_hash: str, workflow: Workflow) -> None:
    """Keep a built Workflow for later processes; atomically, and quietly not when it cannot."""
    path = _path(definition_hash)
    if path is None or workflow.content_hash != definition_hash or path.exists():
        return
    key = _key(create=True)
    if key is None:
        return
    temp_name = None
    try:
        data = pickle.dumps(_shared(workflow, {}), protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        import tempfile  # only to keep a new build: a read of a kept one needs none

        fd, temp_name = tempfile.mkstemp(prefix=f".{definition_hash[:12]}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_seal(key, definition_hash, workflow.source, data) + data)
        os.replace(temp_name, path)
        temp_name = None
        for older in path.parent.glob(f"{definition_hash}-*.pickle"):  # builds by code since changed
            if older != path:
                older.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, RecursionError):
        pass
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
