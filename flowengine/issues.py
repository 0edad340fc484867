"""Lint findings: what is wrong, where, and how to fix it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from flowengine.i18n import N_, marked

START_HINT = N_("start from a bundled workflow, e.g. workflows/default/innovation-chain.yaml")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"

    @property
    def word(self) -> str:
        """The severity as the reader says it ("feil", "fel"); ``value`` stays the same for programs."""
        return marked(_SEVERITY_WORDS[self])


_SEVERITY_WORDS = {Severity.ERROR: N_("error"), Severity.WARNING: N_("warning")}


def printable(text: str) -> str:
    """Control, format and separator characters as visible \\uXXXX escapes: a zero-width space
    in an id must be seen, and a newline in a value must not forge a second issue line."""
    return "".join(
        ch if ch == " " or unicodedata.category(ch)[0] not in "CZ" else f"\\u{ord(ch):04x}" for ch in text
    )


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column count from 1 (0 = unknown)."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Issue:
    """One finding. ``code`` is stable across releases so users can look it up."""

    code: str
    severity: Severity
    message: str
    location: Location
    hint: str = ""

    def format(self) -> str:
        """One line, always: text from the file cannot start a line of its own or hide a character."""
        text = f"{self.location}: {self.severity.word} {self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return printable(text)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.file, self.location.line, self.location.column, self.code)


def error(code: str, message: str, location: Location, hint: str = "") -> Issue:
    return Issue(code, Severity.ERROR, message, location, hint)


def warning(code: str, message: str, location: Location, hint: str = "") -> Issue:
    return Issue(code, Severity.WARNING, message, location, hint)
