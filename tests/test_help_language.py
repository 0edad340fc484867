"""``--help`` speaks the reader's language: every command's and option's help has its Norwegian
and Swedish text, and the help a person sees at a terminal is written in the chosen language."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flowengine_cli.helptext import Command
from flowengine_cli.main import cli

from flowengine.i18n import catalogue_path
from flowengine.i18n.catalogue import read_po

from .terminal import run_in_terminal


def _tree(command: click.Command, path: str, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{path} {name}"
            yield from _tree(sub, f"{path} {name}", click.Context(sub, parent=ctx, info_name=name))


def _help_texts(command: click.Command) -> Iterator[str]:
    for text in (command.help, command.short_help):
        if text:
            yield inspect.cleandoc(text)
    for param in command.params:
        if isinstance(param, click.Option | click.Argument) and param.help:
            yield inspect.cleandoc(param.help)


def test_every_command_is_one_whose_help_is_written_in_the_reader_s_language() -> None:
    commands = list(_tree(cli, "flowengine", click.Context(cli, info_name="flowengine")))
    assert len(commands) > 30
    assert [path for path, command in commands if not isinstance(command, Command)] == []


@pytest.mark.parametrize("language", ["nb", "sv"])
def test_every_help_text_of_every_command_and_option_has_a_translation(language: str) -> None:
    translated = {entry.msgid for entry in read_po(catalogue_path(language))[1:] if entry.translated
                  and entry.msgctxt is None}
    missing = [f"{path}: {text[:60]!r}" for path, command in _tree(cli, "flowengine",
                                                                    click.Context(cli, info_name="flowengine"))
               for text in _help_texts(command) if text not in translated]
    assert missing == []


@pytest.mark.parametrize(("language", "words"), [
    ("nb", ["Bruk: flowengine stalls report", "Valg:", "Hvordan tabellene skrives",
            "Vis denne meldingen og avslutt.", "[standard: table]", "Eksempel:"]),
    ("sv", ["Användning: flowengine stalls report", "Flaggor:", "Hur tabellerna skrivs",
            "Visa det här meddelandet och avsluta.", "[standard: table]", "Exempel:"]),
])
def test_help_at_a_terminal_is_written_in_the_language_of_the_environment(language: str, words: list[str]) -> None:
    screen = run_in_terminal(["stalls", "report", "--help"], {"FLOWENGINE_LANG": language}, columns=100,
                             timeout=60)
    assert screen.exit_code == 0, screen.output
    for word in words:
        assert word in screen.output, screen.output
    assert "Show this message" not in screen.output


def test_lang_after_help_on_the_line_still_chooses_the_language_of_the_help() -> None:
    screen = run_in_terminal(["workflow", "show", "--help", "--lang", "sv"], {}, columns=100, timeout=60)
    assert screen.exit_code == 0, screen.output
    assert "Visa ett arbetsflödes tillstånd" in screen.output
    assert "Användning:" in screen.output


@pytest.mark.parametrize(("language", "args", "words"), [
    ("nb", ["stalls", "report", "--bogus"], ["Bruk: flowengine stalls report", "Prøv 'flowengine stalls report --help'",
                                             "for hjelp.", "Feil: Valget '--bogus' finnes ikke."]),
    ("sv", ["stalls", "report", "--bogus"], ["Användning: flowengine stalls report", "för hjälp.",
                                             "Fel: Flaggan '--bogus' finns inte."]),
    ("nb", ["advance"], ["Feil: Mangler argumentet 'ID'."]),
    ("sv", ["advance"], ["Fel: Saknar argumentet 'ID'."]),
    ("nb", ["stalls", "report", "--format", "xx"], ["Feil: Ugyldig verdi for '--format': 'xx' er ikke en av"]),
    ("sv", ["stalls", "report", "--format", "xx"], ["Fel: Ogiltigt värde för '--format': 'xx' är inte en av"]),
])
def test_a_parser_error_at_a_terminal_is_written_in_the_language_of_the_environment(
        language: str, args: list[str], words: list[str]) -> None:
    screen = run_in_terminal(args, {"FLOWENGINE_LANG": language}, columns=100, timeout=60)
    assert screen.exit_code == 2, screen.output
    for word in words:
        assert word in screen.output, screen.output
    assert "Error:" not in screen.output and "Usage:" not in screen.output and "Try '" not in screen.output


def test_lang_on_the_line_chooses_the_language_of_the_command_s_parser_error() -> None:
    result = CliRunner().invoke(cli, ["stalls", "report", "--lang", "sv", "--format", "xx"],
                                env={"FLOWENGINE_LANG": ""}, prog_name="flowengine")
    assert result.exit_code == 2
    assert "Fel: Ogiltigt värde för '--format'" in result.output, result.output


def test_every_word_click_says_to_a_reader_is_in_the_catalogues() -> None:
    """What click's modules wrap for gettext, less the errors only a program's own declarations
    can cause: a newer click that says something new fails here until it is listed."""
    import ast
    import importlib

    from flowengine_cli.clickwords import CLICK_MODULES, MESSAGES, PLURALS

    declarations = {"Could not determine name for option with declarations {decls!r}", "Name '{name}' defined twice",
                    "Boolean option {decl!r} cannot use the same flag for true/false.",
                    "Arguments take exactly one parameter declaration, got {length}: {decls}.",
                    "Invalid start character for option ({option})", "Choice({choices})", "Unknown color {colour!r}",
                    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}",
                    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}",
                    "No options defined but a name was passed ({name}). Did you mean to declare an argument "
                    "instead? Did you mean to pass '--{name}'?"}
    wrapped = set()
    for name in CLICK_MODULES:
        tree = ast.parse(Path(inspect.getfile(importlib.import_module(name))).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
                texts = tuple(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                if texts:
                    wrapped.add(texts[0] if node.func.id == "_" else texts[:2])
    listed = {*MESSAGES, *PLURALS}
    assert {text for text in wrapped if text not in declarations} - listed == set()
    assert listed - wrapped == set()


@pytest.mark.parametrize(("language", "heading", "line"), [
    ("nb", "Kommandoer:", "Bygg den publiserte rapporten"),
    ("sv", "Kommandon:", "Bygg den publicerade rapporten"),
    ("en", "Commands:", "Build the published report"),
])
def test_the_list_of_commands_is_written_in_the_reader_s_language(language: str, heading: str, line: str) -> None:
    result = CliRunner().invoke(cli, ["--help"], env={"FLOWENGINE_LANG": language}, prog_name="flowengine")
    assert result.exit_code == 0
    assert heading in result.output and line in result.output


def test_a_group_lists_its_subcommands_in_the_reader_s_language() -> None:
    result = CliRunner().invoke(cli, ["db", "--help"], env={"FLOWENGINE_LANG": "nb"}, prog_name="flowengine")
    assert result.exit_code == 0
    assert "Si hvor databasen ligger" in result.output
    assert "Kommandoer:" in result.output


@pytest.mark.parametrize(("language", "words"), [
    ("nb", ["feil FE200: ingen starttilstand", "advarsel FE301: den åpne tilstanden 'draft' har ingen frist",
            "feil FE100: ukjent nøkkel 'ownr' i tilstanden 'done' (mente du «owner»?)",
            "(legg til f.eks. 'deadline: 8w')", "1 fil kontrollert: 1 ugyldig; 2 feil, 1 advarsel"]),
    ("sv", ["fel FE200: inget starttillstånd", "varning FE301: det öppna tillståndet 'draft' har ingen tidsfrist",
            "fel FE100: okänd nyckel 'ownr' i tillståndet 'done' (menade du ”owner”?)",
            "(lägg till t.ex. 'deadline: 8w')", "1 fil kontrollerad: 1 ogiltig; 2 fel, 1 varning"]),
    ("en", ["error FE200: no initial state", "warning FE301: open state 'draft' has no deadline",
            "unknown key 'ownr' in state 'done' (did you mean 'owner'?)",
            "1 file checked: 1 invalid; 2 errors, 1 warning"]),
])
def test_lint_findings_are_worded_in_the_reader_s_language(tmp_path: Path, language: str, words: list[str]) -> None:
    workflow = tmp_path / "lint.yaml"
    workflow.write_text("id: lint\nversion: 1\nroles:\n  panel: {}\nstates:\n  draft:\n    stage: panel\n"
                        "    owner: panel\n  done:\n    final: true\n    outcome: implemented\n    ownr: panel\n"
                        "transitions:\n"
                        "  - {trigger: finish, from: draft, to: done, roles: [panel]}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["workflow", "validate", str(workflow)], env={"FLOWENGINE_LANG": language},
                                prog_name="flowengine")
    assert result.exit_code == 1
    for word in words:
        assert word in result.output, result.output


@pytest.mark.parametrize(("language", "words"), [
    ("nb", ["feil: kan ikke registrere framdrift for INN-1: det er i panel_work (fase panel)",
            "registrer den når INN-1 er i"]),
    ("sv", ["fel: kan inte registrera framsteg för INN-1: det är i panel_work (fas panel)",
            "registrera det när INN-1 är i"]),
])
def test_a_refused_progress_record_reads_in_the_reader_s_language(tmp_path: Path, language: str,
                                                                  words: list[str]) -> None:
    env = {"FLOWENGINE_DB": str(tmp_path / "flowengine.db"), "FLOWENGINE_NOW": "2026-03-01T10:00:00Z"}
    runner = CliRunner()
    made = runner.invoke(cli, ["proposal", "new", "innovation-chain", "--title", "Peer support", "--set",
                               "summary=Peers", "--as", "ola", "--role", "project_leader"], env=env)
    assert made.exit_code == 0, made.output
    refused = runner.invoke(cli, ["progress", "INN-1", "40", "--as", "ola", "--role", "project_leader"],
                            env={**env, "FLOWENGINE_LANG": language})
    assert refused.exit_code == 1
    for word in words:
        assert word in refused.output, refused.output
