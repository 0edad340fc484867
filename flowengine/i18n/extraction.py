"""The messages the code wraps for translation, read from its source (as ``xgettext`` would).

A wrapped message is the first argument (``t``, ``N_``), the second (``pt``: after the
context) or the first two (``tn``: singular and plural) of a call to one of the functions of
:mod:`flowengine.i18n`, written as a plain string literal; anything else in that place (an
f-string, a variable) is listed as a mistake, since no catalogue could hold it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Message", "messages_in"]

_WRAPPERS = {"t": 1, "N_": 1, "pt": 2, "tn": 2}


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str | None
    context: str | None
    where: str  # file:line of its first use

    @property
    def key(self) -> tuple[str | None, str]:
        return self.context, self.msgid


def _name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "i18n":
        return func.attr
    return None


def _calls(tree: ast.Module) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node)
            if name in _WRAPPERS:
                yield name, node


def messages_in(files: Iterable[Path], root: Path) -> tuple[list[Message], list[str]]:
    """(the wrapped messages in order of first use, each once; the calls that wrap no literal)."""
    found: dict[tuple[str | None, str], Message] = {}
    mistakes: list[str] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, call in sorted(_calls(tree), key=lambda item: (item[1].lineno, item[1].col_offset)):
            where = f"{path.relative_to(root)}:{call.lineno}"
            wanted = _WRAPPERS[name]
            args = call.args[:wanted]
            if len(args) < wanted or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                mistakes.append(f"{where}: {name}() needs plain string literals, not an expression")
                continue
            texts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if name == "pt":
                message = Message(texts[1], None, texts[0], where)
            elif name == "tn":
                message = Message(texts[0], texts[1], None, where)
            else:
                message = Message(texts[0], None, None, where)
            found.setdefault(message.key, message)
    return list(found.values()), mistakes
