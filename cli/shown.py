"""Text a terminal only shows, never obeys: a label, title or comment stored before control
characters were refused at the door (or read from a hostile log) cannot set the window title,
move the cursor or hide what follows. Kept apart from :mod:`terminal` so that every command
installs it without paying for the table code."""

from __future__ import annotations

import re
import sys
from typing import Any, cast

# What a terminal would act on rather than show: C0 controls but line break, tab and carriage
# return (ESC starts colour, cursor and title sequences; BEL ends a title), DEL, the C1 controls
# (0x9b is a one-byte CSI) and the bidirectional overrides that reorder what is read.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


MAX_FINDINGS = 100  # lint findings listed before "… and N more" (validate --all's help says 100 too)


def visible(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape (``\\x1b``)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                       text)


class _Shown:
    """A text stream that writes through :func:`visible`: what a terminal reads is only shown.
    It says its encoding, so click writes to it rather than to the bytes underneath."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = getattr(stream, "errors", None) or "strict"

    def write(self, text: str) -> int:
        self._stream.write(visible(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_terminal() -> None:
    """Escape control characters in every message (standard error) and in standard output when it
    is a terminal: a label or title stored before they were refused must not drive the terminal.
    Output to a file or a pipe stays byte for byte what the data holds."""
    if not isinstance(sys.stderr, _Shown):
        sys.stderr = cast(Any, _Shown(sys.stderr))
    if not isinstance(sys.stdout, _Shown) and sys.stdout.isatty():
        sys.stdout = cast(Any, _Shown(sys.stdout))
