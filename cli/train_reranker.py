"""`heise-rag train reranker`: mine training groups from the index, train, export the slim artifact.

Heavy modules are imported inside the command so that the CLI starts fast. The index is opened
once, for mining; the embedded store allows one process per folder, so point
``HEISE_RAG_QDRANT_PATH`` at a copy of ``var/qdrant`` while the app runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import fail
from finetune.reranker.config import TrainConfig
from rag.core.settings import Settings, get_settings
from rag.models.resolve import TRAINED_MODELS

if TYPE_CHECKING:
    from finetune.reranker.data import DataConfig

RERANKER_NAME = "heise-reranker-de"
DEFAULT_GROUPS = 1400
DEFAULTS = TrainConfig()
ARTIFACT = TRAINED_MODELS[RERANKER_NAME]


def train_reranker(
    output: Annotated[Path, typer.Option(help="Artifact folder (slim model + MODEL_CARD.md).")] = ARTIFACT,
    collection: Annotated[str | None, typer.Option(help="Collection to mine (default: the setting).")] = None,
    groups: Annotated[
        Path | None,
        typer.Option(help="Training groups JSONL; built from the index (and cached there) when missing."),
    ] = None,
    max_groups: Annotated[
        int | None, typer.Option(min=4, help="Use at most this many query groups.")
    ] = DEFAULT_GROUPS,
    layers: Annotated[
        int, typer.Option(min=1, max=12, help="E5 layers the reranker keeps.")
    ] = DEFAULTS.layers,
    max_length: Annotated[int, typer.Option(min=16, help="Tokens of query + passage.")] = DEFAULTS.max_length,
    focus_chars: Annotated[
        int | None,
        typer.Option(min=0, help="Characters of each passage, its most query-like sentences (0: its start)."),
    ] = DEFAULTS.focus_chars,
    epochs: Annotated[int, typer.Option(min=1)] = DEFAULTS.epochs,
    batch_size: Annotated[int, typer.Option(min=2)] = DEFAULTS.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = DEFAULTS.learning_rate,
    max_minutes: Annotated[
        float | None, typer.Option(help="Stop training (and evaluate) after this many minutes.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="Torch device; default cuda when present.")] = None,
) -> None:
    """Train the German cross-encoder reranker (truncated E5, listwise loss, mined hard negatives)."""
    from dataclasses import asdict

    from finetune.reranker.card import write_model_card
    from finetune.reranker.data import DataConfig, RerankData
    from finetune.reranker.training import export_slim, train
    from rag.models.resolve import ModelNotProvisionedError, resolve_model

    settings = get_settings()
    work_dir = settings.var_dir / "reranker"
    data_config = DataConfig(max_groups=max_groups)
    groups_file = groups or work_dir / f"groups-{max_groups or 'all'}.jsonl"
    try:
        base = resolve_model(settings.embedding_model, settings.model_cache_dir)
        if not groups_file.is_file():
            _build_groups(settings, collection or settings.collection, data_config, groups_file)
    except ModelNotProvisionedError as exc:
        raise fail(str(exc)) from exc
    data = RerankData.load(groups_file)
    if not data.train or not data.held_out:
        raise fail(f"{groups_file} hat keine Trainings- oder Prüfgruppen (train/held_out).")
    config = TrainConfig(
        layers=layers,
        max_length=max_length,
        focus_chars=focus_chars or None,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
    )
    typer.echo(
        f"{len(data.train)} Trainings- / {len(data.held_out)} zurückgehaltene Gruppen aus {groups_file}"
    )
    model, result = train(base, data.train, data.held_out, config, work_dir, device, max_minutes)
    size = export_slim(
        model,
        output,
        base_model=settings.embedding_model,
        name=RERANKER_NAME,
        max_length=max_length,
        focus_chars=config.focus_chars,
    )
    meta_file = groups_file.with_suffix(".json")
    data_meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    write_model_card(output, result, data.sizes(), data_meta | {"config": asdict(data_config)}, size)
    for record in result.held_out:
        mrr, ndcg = record["mrr@10"], record["ndcg@10"]
        typer.echo(f"Epoche {record['epoch']:.2f}: zurückgehalten MRR@10 {mrr:.3f} NDCG@10 {ndcg:.3f}")
    typer.echo(f"{result.seconds / 60:.1f} min, {size / 1e6:.1f} MB -> {output}")


def _build_groups(settings: Settings, collection: str, config: DataConfig, path: Path) -> None:
    """Mine the training groups from the index and save them with their sizes and timing."""
    import time
    from dataclasses import asdict

    from finetune.reranker.data import load_corpus, load_teasers, make_drafts, mine_groups
    from rag.core.datafiles import TEASERS_FILE
    from rag.models.embeddings import Embedder
    from rag.retrieval.search import make_retriever
    from rag.store.layout import StoreUnavailableError
    from rag.store.vector_store import VectorStore, open_client

    try:
        client = open_client(settings)
    except StoreUnavailableError as exc:
        raise fail(str(exc)) from exc
    try:
        store = VectorStore(client, collection)
        if not store.exists():
            raise fail(f"Sammlung {collection!r} gibt es nicht; zuerst `heise-rag index build-default`.")
        corpus = load_corpus(store)
        drafts = make_drafts(corpus, load_teasers(settings.resolved_data_dir / TEASERS_FILE), config)
        retriever = make_retriever(
            store,
            Embedder.from_settings(settings),
            k=settings.retrieval_candidates,
            dense_limit=settings.prefetch_limit,
            sparse_limit=settings.prefetch_limit,
            dense_weight=settings.dense_weight,
            sparse_weight=settings.sparse_weight,
            fusion=settings.fusion,
            rrf_k=settings.rrf_k,
            auto_sparse_threshold=settings.auto_sparse_threshold,
        )
        started = time.perf_counter()
        data = mine_groups(drafts, corpus, retriever, config)
        seconds = time.perf_counter() - started
    finally:
        client.close()
    data.save(path)
    meta = {"config": asdict(config), "sizes": data.sizes(), "seconds": seconds, "collection": collection}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
