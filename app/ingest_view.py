"""Ingest from the index page: uploads read from a temporary file, progress shown, skips kept for the table.

Why not `ingest.service.ingest_source`: it opens its own Qdrant client, and the embedded store
allows one per process folder, which the app already holds; the same indexer runs over the app's
client and its already loaded encoder instead.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from app import resources
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

SUFFIX_SOURCES = {".jsonl": "jsonl", ".json": "jsonl", ".html": "html", ".htm": "html", ".xml": "feed"}
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class IngestResult:
    """What one ingest from the page did, or the German reason it could not run."""

    location: str
    report: IngestReport | None = None
    error: str | None = None


def source_for(filename: str, csv_kind: str) -> str:
    """The ingest source for an uploaded file, by its extension (``.gz`` looked through)."""
    suffixes = [s.lower() for s in Path(filename).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".csv":
        return csv_kind
    if suffix in SUFFIX_SOURCES:
        return SUFFIX_SOURCES[suffix]
    raise resources.AppError(
        f"Unbekanntes Dateiformat {suffix or '(ohne Endung)'!r}: erwartet CSV, JSONL, HTML oder XML."
    )


@contextmanager
def upload_file(filename: str, data: bytes) -> Iterator[Path]:
    """The upload as a temporary file (the sources read paths), removed again when the block ends.

    Why temporary: an upload is read once; kept under ``var/`` it would pile up forever, a copy of
    whatever any user sent.
    """
    with tempfile.TemporaryDirectory(prefix="heise-rag-upload-") as folder:
        path = Path(folder) / (_UNSAFE.sub("_", Path(filename).name).lstrip(".") or "upload")
        path.write_bytes(data)
        yield path


def ingest_items(name: str, location: str) -> IngestResult:
    """Read ``location`` as source ``name`` and ingest it with a progress bar."""
    settings = get_settings()
    try:
        with st.spinner("Quelle wird gelesen …"):
            from ingest.service import make_indexer, read_source
            from rag.core.domain import Article

            items = list(read_source(name, location, settings))
        total = sum(isinstance(item, Article) for item in items)
        bar = st.progress(0.0, text=f"0 von {total} Artikeln")
        with st.spinner("Einbettungsmodell wird geladen …"):
            indexer = make_indexer(settings, resources.vector_store(), resources.embedder())

        def progress(seen: int, chunks: int) -> None:
            done = min(seen / total, 1.0) if total else 1.0
            bar.progress(done, text=f"{seen} von {total} Artikeln, {chunks} Chunks")

        report = indexer.ingest(items, progress)
    except Exception as exc:  # shown as a German message on the page
        return IngestResult(location, error=resources.user_message(exc))
    finally:
        resources.clear_index_caches()
    return IngestResult(location, report)


def ingest_upload(filename: str, data: bytes, csv_kind: str) -> IngestResult:
    """Ingest an uploaded file from a temporary copy; too large or unknown formats are reported.

    The size is checked here as well as by Streamlit (``server.maxUploadSize``), which a different
    config file or command line can change. Reports name the file as uploaded, not its temporary path.
    """
    limit_mb = get_settings().upload_max_mb
    if len(data) > limit_mb * 1024 * 1024:  # Streamlit's megabytes are MiB
        return IngestResult(
            filename, error=f"Die Datei ist größer als {limit_mb} MB und wird nicht aufgenommen."
        )
    try:
        name = source_for(filename, csv_kind)
    except resources.AppError as exc:
        return IngestResult(filename, error=str(exc))
    with upload_file(filename, data) as path:
        result = ingest_items(name, str(path))
    temporary = str(path)
    if result.error:
        return IngestResult(filename, error=result.error.replace(temporary, filename))
    assert result.report is not None  # ingest_items returns a report or an error
    result.report.skipped = [
        item.model_copy(update={"location": item.location.replace(temporary, filename)})
        for item in result.report.skipped
    ]
    return IngestResult(filename, result.report)
