"""The messages the code wraps for translation, read from its source (as ``xgettext`` would).

A wrapped message is the first argument (``t``, ``N_``), the second (``pt``: after the
context) or the first two (``tn``, ``Nn_``: singular and plural) of a call to one of the functions of
:mod:`flowengine.i18n`, written as a plain string literal; anything else in that place (an
f-string, a variable) is listed as a mistake, since no catalogue could hold it.

The command line's help is collected too, though nothing wraps it: the docstring of a function
decorated as a click command or group (as click cleans it), and every ``help=`` and
``short_help=`` given as a string literal; the command line translates them when it writes
its help.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Message", "messages_in"]

_WRAPPERS = {"t": 1, "N_": 1, "pt": 2, "tn": 2, "Nn_": 2}
_HELP_KEYWORDS = ("help", "short_help")
_COMMAND_DECORATORS = ("command", "group")


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


def _decorator_name(decorator: ast.expr) -> str | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else None


def _help_texts(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of each help text of the command line in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_decorator_name(d) in _COMMAND_DECORATORS
                                                     for d in node.decorator_list):
            docstring = ast.get_docstring(node, clean=True)
            if docstring:
                yield node.lineno, docstring
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg in _HELP_KEYWORDS and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield value.lineno, inspect.cleandoc(value.value)


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
            elif name in ("tn", "Nn_"):
                message = Message(texts[0], texts[1], None, where)
            else:
                message = Message(texts[0], None, None, where)
            found.setdefault(message.key, message)
        for line, text in sorted(_help_texts(tree)):
            help_text = Message(text, None, None, f"{path.relative_to(root)}:{line}")
            found.setdefault(help_text.key, help_text)
    return list(found.values()), mistakes
