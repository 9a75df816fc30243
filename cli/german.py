"""The command-line parser's own errors in German: usage line, help hint and the error itself.

Why a group class: typer (0.29+, with its own copy of click) words its parser errors in English
f-strings ("Invalid value for '--k'", "Missing option", "No such option", "Usage:", "Try ... for
help") and validates option values with pydantic, whose messages are English too; there is no
catalog to translate them through. Every such error of any subcommand passes through the root
group's ``make_context`` (the root's own options) or ``invoke`` (everything below it), so
``GermanGroup`` catches it there and reports it the way every command reports its errors
(``cli.errors.fail``), worded from the exception's fields: its class, parameter and pydantic
cause. Messages raised as plain text (a missing option value, an extra argument, an unknown
command) are matched against ``_USAGE_MESSAGES``; a message not listed there is shown as typer
wrote it, and ``tests/cli/test_german_messages.py`` walks every command's error paths to notice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import ValidationError
from typer._click.exceptions import (
    BadParameter,
    ClickException,
    FileError,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)
from typer.core import TyperGroup

from cli.errors import fail
from rag.core.german import validation_reason

# typer's plain-text usage messages (regex on the whole message) -> German template.
_USAGE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), template)
    for pattern, template in (
        (r"(?P<rest>.+\.?) Did you mean (?P<names>.+)\?", "{rest} Meinten Sie {names}?"),
        (r"No such command (?P<name>.+)\.", "Den Befehl {name} gibt es nicht."),
        (r"Missing command\.", "Es fehlt ein Befehl."),
        (r"Option (?P<name>.+) requires an argument\.", "Die Option {name} braucht einen Wert."),
        (r"Option (?P<name>.+) requires (?P<n>\d+) arguments\.", "Die Option {name} braucht {n} Werte."),
        (r"Option (?P<name>.+) does not take a value\.", "Die Option {name} nimmt keinen Wert."),
        (r"Argument (?P<name>.+) takes (?P<n>\d+) values\.", "Das Argument {name} braucht {n} Werte."),
        (r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", "Überzähliges Argument ({args})."),
        (r"Choose from:(?P<choices>.*)", "Zur Wahl:{choices}"),
        (r"Value must be an iterable\.", "Der Wert muss eine Folge sein."),
        (r"(?P<value>.+) is not in the range (?P<range>.+)\.", "{value} liegt nicht im Bereich {range}."),
        (r"(?P<value>.+) does not match the formats? (?P<formats>.+)\.", "{value} passt nicht zu {formats}."),
        (r"(?P<value>.+) is not (?:one of )?(?P<choices>.+)\.", "{value} ist keiner der Werte {choices}."),
    )
)
# The placeholders of the usage line.
_USAGE_PIECES = {"[OPTIONS]": "[OPTIONEN]", "COMMAND [ARGS]...": "BEFEHL [ARGUMENTE]..."}


def german_usage_text(message: str) -> str:
    """A plain-text message of the parser in German; one it does not know is returned as it is."""
    for pattern, template in _USAGE_MESSAGES:
        if match := pattern.fullmatch(message):
            groups = match.groupdict()
            if "rest" in groups:  # a message typer extended with a suggestion
                groups["rest"] = german_usage_text(groups["rest"].rstrip(".") + ".")
            return template.format(**groups)
    return message


def _hint(exc: BadParameter) -> str:
    """The parameter as typer names it in errors ('--k', 'question'), without its English extras."""
    if exc.param_hint is not None:
        hint = exc.param_hint
        return hint if isinstance(hint, str) else " / ".join(repr(part) for part in hint)
    if exc.param is None:
        return ""
    opts: Sequence[str] = getattr(exc.param, "opts", None) or [exc.param.name or ""]
    return " / ".join(f"'{opt}'" for opt in opts)


def _bad_value(exc: BadParameter) -> str:
    """Why a value was refused: from the pydantic error that caused it, else typer's own words."""
    cause = exc.__cause__
    text = validation_reason(cause) if isinstance(cause, ValidationError) else exc.message
    return german_usage_text(text)


def german_message(exc: ClickException) -> str:
    """The German text of a parser error, chosen by its class and filled from its fields."""
    if isinstance(exc, MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        what = {"argument": "das Argument", "option": "die Option"}.get(kind, "der Parameter")
        extra = exc.param.get_missing_message(exc.ctx) if exc.param is not None else ""
        text = f"Es fehlt {what} {_hint(exc)}.".replace(" .", ".")
        return f"{text} {german_usage_text(extra)}" if extra else text
    if isinstance(exc, BadParameter):
        hint = _hint(exc)
        return (
            f"Ungültiger Wert für {hint}: {_bad_value(exc)}"
            if hint
            else f"Ungültiger Wert: {_bad_value(exc)}"
        )
    if isinstance(exc, NoSuchOption):
        text = f"Die Option {exc.option_name} gibt es nicht."
        if exc.possibilities:
            text += f" Mögliche Optionen: {', '.join(sorted(exc.possibilities))}."
        return text
    if isinstance(exc, FileError):
        return f"Die Datei {exc.ui_filename!r} lässt sich nicht öffnen: {german_usage_text(exc.message)}"
    return german_usage_text(exc.message)


def _report(exc: ClickException) -> typer.Exit:
    """Usage line and help hint of the failing command (for usage errors), then the German error."""
    ctx = exc.ctx if isinstance(exc, UsageError) else None
    if ctx is not None:
        pieces = [_USAGE_PIECES.get(piece, piece) for piece in ctx.command.collect_usage_pieces(ctx)]
        typer.echo(f"Aufruf: {ctx.command_path} {' '.join(pieces)}".rstrip(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            typer.echo(f"Hilfe: {ctx.command_path} {ctx.help_option_names[0]}", err=True)
    return fail(german_message(exc), exc.exit_code)


class GermanGroup(TyperGroup):
    """The root command group: reports the parser errors of every command in German."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NoArgsIsHelpError:  # the help text itself; typer prints it
            raise
        except ClickException as exc:
            raise _report(exc) from exc

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except ClickException as exc:
            raise _report(exc) from exc
        except typer.Abort as exc:
            raise fail("abgebrochen.") from exc
