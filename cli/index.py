"""`heise-rag ingest` and `heise-rag index ...`: build and inspect the vector index.

Heavy modules (encoders, Qdrant) are imported inside the commands, so the CLI starts fast for the
set-up commands that `make` runs every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from cli.errors import fail
from cli.output import human_size, table
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

SOURCE_NAMES = ("headlines", "10kgnad", "feed", "html", "jsonl", "squad")


def _print_report(report: IngestReport, shown: int = 20) -> None:
    typer.echo(report.summary())
    for item in report.skipped[:shown]:
        typer.echo(f"  übersprungen {item.location}: {item.reason}")
    if len(report.skipped) > shown:
        typer.echo(f"  ... und {len(report.skipped) - shown} weitere")
    for warning in report.date_warnings[:shown]:
        typer.echo(f"  aufgenommen, aber Datum unplausibel {warning.location}: {warning.reason}")
    if len(report.date_warnings) > shown:
        typer.echo(f"  ... und {len(report.date_warnings) - shown} weitere mit unplausiblem Datum")


def _progress_bar(label: str) -> tuple[tqdm, Callable[[int, int], None]]:
    bar = tqdm(desc=label, unit=" Artikel", dynamic_ncols=True)
    started = time.perf_counter()

    def update(articles: int, chunks: int) -> None:
        bar.update(articles - bar.n)
        rate = chunks / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix(chunks=chunks, chunks_per_s=f"{rate:.1f}")

    return bar, update


def ingest(
    source: Annotated[str, typer.Argument(help=f"Eine von: {', '.join(SOURCE_NAMES)}.")],
    location: Annotated[
        str | None, typer.Argument(help="Pfad oder URL; für manche Quellen gibt es Standardwerte.")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Zielsammlung (Standard: Einstellung).")] = None,
) -> None:
    """Eine Quelle in den Vektorindex aufnehmen; nur neue oder geänderte Artikel werden neu eingebettet."""
    from ingest.service import ingest_source
    from rag.models.resolve import ModelNotProvisionedError
    from rag.store.layout import StoreUnavailableError

    bar, update = _progress_bar(source)
    try:
        report = ingest_source(source, location, get_settings(), collection, update)
    except (ValueError, StoreUnavailableError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    finally:
        bar.close()
    _print_report(report)
    if report.skipped and not report.new + report.updated + report.unchanged:
        raise typer.Exit(1)


def _take_over_other_engine() -> None:
    """A store the other embedded engine wrote is copied into the configured one before anything
    is built, so switching engines (or the default) does not mean re-embedding the index."""
    from rag.store.migrate import migrate_store, pending_migration

    settings = get_settings()
    migration = pending_migration(settings)
    if migration is None:
        return
    typer.echo(migration.announcement())
    with tqdm(desc="Übernahme", unit=" Punkte") as bar:
        copied = migrate_store(settings, migration, bar.update)
    typer.echo(
        f"{sum(copied.values())} Punkte in {len(copied)} Sammlung(en) übernommen; der alte Speicher in "
        f"{migration.old_store} kann gelöscht werden, wenn alles passt."
    )


def index_build_default(
    unless_app_builds: Annotated[
        bool,
        typer.Option(
            "--unless-app-builds",
            help="Nur einen Speicher der anderen Engine übernehmen, wenn die App den Index selbst im "
            "Hintergrund aufbaut (HEISE_RAG_APP_BUILDS_INDEX, `make run`).",
        ),
    ] = False,
) -> None:
    """Den Standardindex (heise-Schlagzeilen + 10kGNAD) aufbauen, falls er noch nicht vollständig ist.

    Einen Speicher der anderen eingebetteten Engine übernimmt er zuvor samt Vektoren."""
    from ingest.service import ensure_default_index
    from rag.models.resolve import ModelNotProvisionedError
    from rag.store.layout import StoreUnavailableError

    bars: dict[str, tuple[tqdm, Callable[[int, int], None]]] = {}

    def update(name: str, articles: int, chunks: int) -> None:
        if name not in bars:
            bars[name] = _progress_bar(name)
        bars[name][1](articles, chunks)

    try:
        _take_over_other_engine()
        if unless_app_builds and get_settings().app_builds_index:
            typer.echo("Den Standardindex baut die App im Hintergrund auf; Fragen gehen schon vorher.")
            return
        reports = ensure_default_index(get_settings(), update)
    except (StoreUnavailableError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    finally:
        for bar, _ in bars.values():
            bar.close()
    for report in reports:
        _print_report(report, shown=5)
    if not reports:
        typer.echo(f"Standardindex vollständig in der Sammlung {get_settings().collection!r}")


def index_copy(
    source: Annotated[str, typer.Argument(help="Zu kopierende Sammlung.")],
    target: Annotated[str, typer.Argument(help="Neue Sammlung (eine fertige Kopie bleibt, wie sie ist).")],
) -> None:
    """Eine Sammlung samt Vektoren kopieren, etwa um dem Standardkorpus Evaluationsabsätze hinzuzufügen."""
    from ingest.copy import copy_collection
    from rag.store.layout import StoreUnavailableError
    from rag.store.vector_store import VectorStore, open_client

    settings = get_settings()
    try:
        client = open_client(settings)
        try:
            with tqdm(desc=f"{source} -> {target}", unit=" Punkte") as bar:
                copied = copy_collection(
                    VectorStore(client, source), VectorStore(client, target), on_progress=bar.update
                )
        finally:
            client.close()
    except (ValueError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(
        f"{copied} Punkte kopiert"
        if copied
        else f"{target!r} ist bereits eine vollständige Kopie von {source!r}"
    )


def index_reweight_sparse(
    collection: Annotated[str | None, typer.Option(help="Sammlung (Standard: Einstellung).")] = None,
    force: Annotated[
        bool, typer.Option(help="Auch neu kodieren, wenn sich die mittlere Länge nicht verschoben hat.")
    ] = False,
) -> None:
    """BM25-Statistik neu zählen, bei verschobener mittlerer Länge die Sparse-Vektoren neu kodieren.

    Ohne neues Einbetten; repariert Sammlungen aus der Zeit vor der Statistik.
    """
    from ingest.service import reweight_sparse
    from rag.store.layout import StoreUnavailableError

    try:
        with tqdm(desc="BM25", unit=" Punkte") as bar:
            result = reweight_sparse(get_settings(), collection, force, bar.update)
    except (ValueError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(
        f"{result.stats.docs} Chunks, {result.stats.terms} Terme, avgdl {result.avgdl_before:.2f} -> "
        f"{result.avgdl_after:.2f}; {result.reencoded} Sparse-Vektoren neu kodiert"
    )


def index_reembed(
    collection: Annotated[str | None, typer.Option(help="Sammlung (Standard: Einstellung).")] = None,
) -> None:
    """Dichte Vektoren aus dem gespeicherten Text neu einbetten, mit dem eingestellten Dokument-Präfix.

    Nach einem Wechsel von HEISE_RAG_EMBEDDING_DOCUMENT_PROMPT; Sparse-Vektoren bleiben. Ein
    abgebrochener Lauf wird durch erneutes Aufrufen fertig.
    """
    from ingest.service import reembed
    from rag.models.resolve import ModelNotProvisionedError
    from rag.store.layout import StoreUnavailableError

    try:
        with tqdm(desc="Einbetten", unit=" Punkte") as bar:
            done = reembed(get_settings(), collection, bar.update)
    except (ValueError, StoreUnavailableError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    if done is None:
        typer.echo("Die Sammlung ist schon mit dem eingestellten Dokument-Präfix eingebettet; nichts zu tun.")
    else:
        typer.echo(f"{done} dichte Vektoren neu eingebettet.")


def index_stats(
    collection: Annotated[str | None, typer.Option(help="Sammlung (Standard: Einstellung).")] = None,
) -> None:
    """Punkte, Artikel, Quellen, Zeitraum und Plattenplatz einer Sammlung."""
    from rag.store.layout import StoreUnavailableError
    from rag.store.status import collection_stats
    from rag.store.vector_store import VectorStore, open_client

    settings = get_settings()
    name = collection or settings.collection
    try:
        client = open_client(settings)
    except StoreUnavailableError as exc:
        raise fail(str(exc)) from exc
    try:
        store = VectorStore(client, name)
        if not store.exists():
            raise fail(f"Sammlung {name!r} gibt es nicht; zuerst `heise-rag ingest ...`.")
        stats = collection_stats(store, settings)
    finally:
        client.close()
    disk = human_size(stats.disk_bytes) if stats.disk_bytes is not None else "unbekannt (Server)"
    span = (
        f"{stats.date_min:%Y-%m-%d} .. {stats.date_max:%Y-%m-%d}"
        if stats.date_min and stats.date_max
        else "-"
    )
    rows = [
        ("Sammlung", name),
        ("Punkte", str(stats.points)),
        ("Artikel", str(stats.articles)),
        ("Quellen", ", ".join(f"{k} ({v})" for k, v in stats.sources.items()) or "-"),
        ("Zeitraum", span),
        (
            "unplausible Daten",
            f"{stats.implausible_dates} (vor 1995 oder in der Zukunft; nicht im Zeitraum)",
        ),
        ("Plattenplatz", disk),
    ]
    typer.echo(table(rows))
