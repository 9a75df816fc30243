"""`heise-rag train reader`: build the reader's examples, train adapter and span head, write the card.

Heavy modules (torch, transformers, peft) are imported inside the command so the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from rag.core.settings import PROJECT_ROOT, get_settings

DEFAULT_READER_DIR = PROJECT_ROOT / "finetune" / "artifacts" / "reader"


def train_reader(
    output: Annotated[
        Path, typer.Option(help="Artefaktordner (Adapter, Span-Kopf, reader.json, MODEL_CARD.md).")
    ] = DEFAULT_READER_DIR,
    epochs: Annotated[int, typer.Option(min=1, help="Epochen.")] = 2,
    top_layers: Annotated[int, typer.Option(min=1, max=12, help="Obere E5-Schichten mit LoRA.")] = 6,
    max_length: Annotated[int, typer.Option(min=64, help="Tokens je Fenster (Frage + Passage).")] = 256,
    heise_examples: Annotated[int, typer.Option(min=0, help="Lückenfragen aus Schlagzeilen.")] = 3000,
    passage_examples: Annotated[
        int, typer.Option(min=0, help="Lückenfragen über Absätze aus 10kGNAD (5 Sätze je Passage).")
    ] = 0,
    xquad_repeat: Annotated[
        int, typer.Option(min=1, help="XQuAD-Fragen (von Menschen) je Epoche so oft.")
    ] = 2,
    single_names: Annotated[
        bool,
        typer.Option(help="Einwortnamen („Microsoft“, „Frankreich“) als Antworten der Lückenfragen."),
    ] = False,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch-Threads (auf einer geteilten CPU: 1).")
    ] = None,
) -> None:
    """Den deutschen Leser trainieren: Span-Kopf + LoRA auf E5 (XQuAD-Trainingshälfte, Lückenfragen)."""
    from dataclasses import replace

    import torch

    from finetune.reader.card import write_model_card
    from finetune.reader.data import ReaderDataConfig, build_reader_examples
    from finetune.reader.training import ReaderTrainConfig
    from finetune.reader.training import train_reader as train
    from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE, HEISE_QA_FILE, XQUAD_FILE
    from rag.models.resolve import ModelNotProvisionedError

    settings = get_settings()
    data_dir = settings.resolved_data_dir
    files = {name: data_dir / name for name in (XQUAD_FILE, GNAD_FILE, HEADLINES_FILE)}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise fail(
            f"Trainingsdaten fehlen: {', '.join(missing)}; bitte `heise-rag data provision` ausführen."
        )
    if threads:
        torch.set_num_threads(threads)
    data_config = ReaderDataConfig(
        heise_examples=heise_examples, passage_examples=passage_examples, single_names=single_names
    )
    examples = build_reader_examples(
        xquad=files[XQUAD_FILE],
        gnad=files[GNAD_FILE],
        headlines=files[HEADLINES_FILE],
        heise_dev=data_dir / HEISE_QA_FILE,
        config=data_config,
    )
    config = replace(
        ReaderTrainConfig(),
        epochs=epochs,
        top_layers=top_layers,
        max_length=max_length,
        xquad_repeat=xquad_repeat,
    )
    typer.echo(f"{len(examples)} Beispiele; Training in {output} …")
    try:
        result = train(examples, config, settings.model_cache_dir, output)
    except ModelNotProvisionedError as exc:
        raise fail(str(exc)) from exc
    card = write_model_card(output, result, data_config)
    typer.echo(
        f"Dev: EM {result.dev.exact_match:.3f}, F1 {result.dev.token_f1:.3f}, "
        f"Keine-Antwort-AUC {result.dev.no_answer_auc:.3f}; Modellkarte: {card}"
    )
