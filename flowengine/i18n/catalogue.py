"""Reading a ``.po`` catalogue and compiling it into gettext's binary (``.mo``) form in memory.

The format's subset flowengine's catalogues use: comments, ``msgctxt``, ``msgid``,
``msgid_plural``, ``msgstr`` and ``msgstr[N]``, strings continued over several lines, and the
``fuzzy`` flag (a fuzzy entry is not used, as ``msgfmt`` does). The same reader serves the test
that checks every message is translated and ``scripts/catalogues`` that updates the files.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Entry", "compiled", "mo_bytes", "read_po", "write_po"]


@dataclass
class Entry:
    """One message: ``msgstr`` holds one text, or one per plural form."""

    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    comments: list[str] = field(default_factory=list)  # "#." and "#:" lines, kept as written
    fuzzy: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return self.msgctxt, self.msgid

    @property
    def translated(self) -> bool:
        return not self.fuzzy and all(text for text in self.msgstr)


# A string as :func:`_quoted` writes it: no bare quote, and a backslash only before one of the
# characters it escapes. Most of a catalogue is such strings, and reading them here is some twenty
# times cheaper than Python's parser; anything else is read as Python reads it.
_PLAIN = re.compile(r'(?:[^"\\]|\\[\\"ntb])*')
_ESCAPED = re.compile(r"\\(.)")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        raise ValueError(f"{where}: expected a quoted string, got {text[:40]!r}")
    inner = text[1:-1]
    if "\\" not in inner:
        if '"' not in inner:
            return inner
    elif _PLAIN.fullmatch(inner):
        return _ESCAPED.sub(lambda escape: _ESCAPES[escape.group(1)], inner)
    value = ast.literal_eval(text)
    assert isinstance(value, str)
    return value


def read_po(path: Path) -> list[Entry]:
    """Every entry of a catalogue, its header (the entry with an empty msgid) first as written."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None  # which string a continuation line extends
    comments: list[str] = []
    fuzzy = False

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    name = path.name
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        where = f"{name}:{number}"
        if not line:
            continue
        if line.startswith("#"):
            if current is not None and target is not None and target[0] == "msgstr":
                finish()
            if line.startswith("#,"):
                fuzzy = "fuzzy" in line
            elif line.startswith(("#.", "#:")):
                comments.append(line)
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if current is None or target is None:
                raise ValueError(f"{where}: a continued string outside an entry")
            name, index = target
            if name == "msgstr":
                current.msgstr[index] += _unquote(line, where)
            elif name == "msgid":
                current.msgid += _unquote(line, where)
            elif name == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + _unquote(line, where)
            else:
                current.msgctxt = (current.msgctxt or "") + _unquote(line, where)
            continue
        if keyword in ("msgctxt", "msgid") and (current is None or target is None or target[0] == "msgstr"):
            finish()
            current = Entry("", comments=comments, fuzzy=fuzzy)
            comments, fuzzy = [], False
        if current is None:
            raise ValueError(f"{where}: {keyword} outside an entry")
        if keyword == "msgctxt":
            current.msgctxt, target = _unquote(rest, where), ("msgctxt", 0)
        elif keyword == "msgid":
            current.msgid, target = _unquote(rest, where), ("msgid", 0)
        elif keyword == "msgid_plural":
            current.msgid_plural, target = _unquote(rest, where), ("msgid_plural", 0)
        elif keyword == "msgstr":
            current.msgstr, target = [_unquote(rest, where)], ("msgstr", 0)
        elif keyword.startswith("msgstr["):
            index = int(keyword[7:-1])
            while len(current.msgstr) <= index:
                current.msgstr.append("")
            current.msgstr[index] = _unquote(rest, where)
            target = ("msgstr", index)
        else:
            raise ValueError(f"{where}: unknown keyword {keyword!r}")
    finish()
    return entries


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    escaped = escaped.replace("\b", "\\b")  # click's mark for a paragraph kept as written
    return f'"{escaped}"'


def write_po(path: Path, entries: list[Entry]) -> None:
    """Write ``entries`` as a catalogue, one blank line between entries."""
    blocks = []
    for entry in entries:
        lines = list(entry.comments)
        if entry.fuzzy:
            lines.append("#, fuzzy")
        if entry.msgctxt is not None:
            lines.append(f"msgctxt {_quoted(entry.msgctxt)}")
        lines.append(f"msgid {_quoted(entry.msgid)}")
        if entry.msgid_plural is not None:
            lines.append(f"msgid_plural {_quoted(entry.msgid_plural)}")
            lines += [f"msgstr[{i}] {_quoted(text)}" for i, text in enumerate(entry.msgstr)]
        elif entry.msgid == "" and "\n" in entry.msgstr[0]:
            lines.append('msgstr ""')
            lines += [_quoted(part) for part in entry.msgstr[0].splitlines(keepends=True)]
        else:
            lines.append(f"msgstr {_quoted(entry.msgstr[0])}")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def mo_bytes(entries: list[Entry]) -> bytes:
    """The binary catalogue of the translated entries (and the header), as ``msgfmt`` writes it."""
    table: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.msgid and not entry.translated:
            continue
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is not None:
            key += "\x00" + entry.msgid_plural
        table[key.encode("utf-8")] = "\x00".join(entry.msgstr).encode("utf-8")
    keys = sorted(table)
    ids = b"".join(k + b"\x00" for k in keys)
    strs = b"".join(table[k] + b"\x00" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    offsets, id_at, str_at = [], 0, 0
    for k in keys:
        offsets.append((len(k), start + id_at, len(table[k]), start + len(ids) + str_at))
        id_at += len(k) + 1
        str_at += len(table[k]) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    id_table = b"".join(struct.pack("ii", length, at) for length, at, _, _ in offsets)
    str_table = b"".join(struct.pack("ii", length, at) for _, _, length, at in offsets)
    return header + id_table + str_table + ids + strs


def compiled(path: Path) -> gettext.GNUTranslations:
    """The catalogue at ``path``, compiled in memory and loaded by the standard library."""
    return gettext.GNUTranslations(io.BytesIO(mo_bytes(read_po(path))))
