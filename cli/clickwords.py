"""click's own words — its parser's errors, prompts and notes — from flowengine's catalogues.

click wraps what it says in the standard library's gettext (``from gettext import gettext as
_`` and ``ngettext`` in each of its modules), which finds a translation only in a compiled
catalogue on disk under a text domain, and click ships none. flowengine's catalogues are
``.po`` files compiled in memory on first use (:mod:`flowengine.i18n`), so :func:`install`
points those two names of each click module at them instead: a lookup in the language active
when the message is made, nothing read or compiled before a message in another language than
English is (the start-up budget holds). The messages are marked below for ``scripts/catalogues``;
a test holds the list to what click's modules wrap.
"""

from __future__ import annotations

import sys

from flowengine.i18n import N_, Nn_, marked, marked_plural

__all__ = ["CLICK_MODULES", "MESSAGES", "PLURALS", "install"]

# click's modules that wrap what a person may read (the others wrap nothing, or only errors in
# how a program declares its commands, which no user of flowengine meets).
CLICK_MODULES = ("click.core", "click.exceptions", "click.parser", "click.types", "click.formatting",
                 "click.decorators", "click.termui", "click.utils")

MESSAGES = (
    N_("Aborted!"), N_("Missing command."), N_("Value must be an iterable."), N_("(dynamic)"), N_("deprecated"),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."), N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"), N_("Missing argument"), N_("Missing option"),
    N_("Missing parameter"), N_("Missing {param_type}"), N_("Missing parameter: {param_name}"),
    N_("No such option {name!r}."), N_("No such command {name!r}."), N_("Could not open file {filename!r}: {message}"),
    N_("unknown error"), N_("Option {name!r} does not take a value."), N_("Argument {name!r} takes {nargs} values."),
    N_("Choose from:\n\t{choices}"), N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"), N_("{value!r} is not a valid {number_type}."),
    N_("{value!r} is not a valid UUID."), N_("file"), N_("directory"), N_("path"),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."), N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."), N_("{name} {filename!r} is not executable."),
    N_("Usage:"), N_("Do you want to continue?"), N_("Confirm the action without prompting."),
    N_("%(prog)s, version %(version)s"), N_("Show the version and exit."), N_("Show this message and exit."),
    N_("Press any key to continue..."), N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."), N_("Error: invalid input"),
    N_("Unknown standard stream '{name}'"), N_("Options"), N_("Positional arguments"), N_("Commands"),
    N_("env var: {var}"), N_("default: {default}"),
)
PLURALS = (
    Nn_("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    Nn_("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."),
    Nn_("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    Nn_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    Nn_("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
    Nn_("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}."),
    Nn_("{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given."),
)


def _gettext(message: str) -> str:
    return marked(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return marked_plural(singular, plural, n)


def install() -> None:
    """Point click's gettext look-ups at flowengine's catalogues (idempotent, a few assignments)."""
    for name in CLICK_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        if hasattr(module, "_"):
            module._ = _gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _ngettext  # type: ignore[attr-defined]
