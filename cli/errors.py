"""The one way a command reports a user error: a German line on stderr and an exit code."""

from __future__ import annotations

import typer

ERROR_PREFIX = "Fehler: "


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` in red behind the German prefix; the caller raises the returned exit."""
    typer.secho(f"{ERROR_PREFIX}{message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)
