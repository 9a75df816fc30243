"""`heise-rag train sft-data` and `heise-rag train answer-adapter`: data and QLoRA training of the adapter.

Heavy modules (torch, transformers, peft) are imported inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import json
import shlex
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from rag.core.settings import PROJECT_ROOT, get_settings

DEFAULT_SFT_DIR = Path("var/finetune/answer-sft")
DEFAULT_ADAPTER_DIR = PROJECT_ROOT / "finetune" / "artifacts" / "answer-adapter"


def sft_data(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option(help="Ordner für train.jsonl, dev.jsonl, stats.json.")
    ] = DEFAULT_SFT_DIR,
    headline_examples: Annotated[int, typer.Option(help="Anzahl Schlagzeilen-Fragen.")] = 400,
    article_examples: Annotated[
        int | None, typer.Option(help="Höchstens so viele 10kGNAD-Vorlagenfragen (Standard: alle).")
    ] = None,
    xquad: Annotated[
        bool, typer.Option(help="Die Fragen der nicht zurückgehaltenen XQuAD-Artikel hinzufügen.")
    ] = True,
    refusal_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Anteil der Fragen über Quellen ohne die Antwort."),
    ] = 0.2,
    xquad_sentences: Annotated[
        bool, typer.Option(help="XQuAD-Antworten: der Quellsatz mit der Antwortstelle, nicht nur die Stelle.")
    ] = False,
    xquad_gold_first: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Anteil der XQuAD-Antworten, deren Absatz Quelle 1 ist (Rest: zufällige Position).",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed für Quellen, Ablenker und Reihenfolge.")] = 13,
) -> None:
    """Instruktionsbeispiele im Prompt-Format aus 10kGNAD, heise-Schlagzeilen, halb XQuAD.

    Die Fragen der anderen Hälfte von XQuAD gehen für die Evaluation nach xquad-heldout.jsonl.
    """
    from finetune.answer_adapter.sft_data import SftConfig, build_examples, write_examples
    from finetune.answer_adapter.sft_xquad import HELDOUT_FILE, heldout_questions, xquad_examples
    from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE, XQUAD_FILE

    data_dir = get_settings().resolved_data_dir
    config = SftConfig(
        seed=seed,
        headline_examples=headline_examples,
        article_examples=article_examples,
        refusal_share=refusal_share,
    )
    squad = data_dir / XQUAD_FILE
    if xquad and not squad.exists():
        raise fail(f"{squad} fehlt (`heise-rag data provision` stellt ihn bereit) oder --no-xquad.")
    extra = (
        partial(
            xquad_examples,
            squad,
            sources=config.xquad_sources,
            source_chars=config.xquad_source_chars,
            refusal_share=config.refusal_share,
            dev_share=config.dev_share,
            sentence_answers=xquad_sentences,
            gold_first_share=xquad_gold_first,
        )
        if xquad
        else None
    )

    examples = build_examples(data_dir / GNAD_FILE, data_dir / HEADLINES_FILE, config, extra)
    stats = write_examples(examples, output, command_line("sft-data", ctx.params))
    for split in ("train", "dev"):
        typer.echo(f"{split}: {stats[split]}")
    if xquad:
        heldout = heldout_questions(squad)
        (output / HELDOUT_FILE).write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in heldout), encoding="utf-8"
        )
        typer.echo(f"{len(heldout)} XQuAD-Fragen zurückgehalten: {output / HELDOUT_FILE}")
    typer.echo(f"SFT-Daten: {output}")


def command_line(name: str, params: dict[str, object]) -> str:
    """The command with every option spelled out, for the model card (defaults included)."""
    parts = ["heise-rag", "train", name]
    for key, value in params.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else flag.replace("--", "--no-", 1))
        elif value is not None:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


def answer_adapter(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Von `train sft-data` geschriebener Ordner.")] = DEFAULT_SFT_DIR,
    output: Annotated[Path, typer.Option(help="Adapterordner.")] = DEFAULT_ADAPTER_DIR,
    base: Annotated[
        str | None,
        typer.Option(help="Basismodell: bereitgestellter Name, Ordner oder Hub-ID (Standard: Einstellung)."),
    ] = None,
    quantize: Annotated[
        str, typer.Option(help="nf4 (QLoRA) oder none (LoRA auf dem vollen Basismodell).")
    ] = "nf4",
    max_examples: Annotated[int | None, typer.Option(help="Auf den ersten N Beispielen trainieren.")] = None,
    max_length: Annotated[int, typer.Option(help="Längere Beispiele überspringen (Tokens).")] = 512,
    epochs: Annotated[int, typer.Option(help="Durchläufe über die Beispiele.")] = 1,
    rank: Annotated[int, typer.Option(help="LoRA-Rang.")] = 8,
    top_layers: Annotated[
        int | None, typer.Option(help="LoRA auf den letzten N Decoder-Schichten (Standard: alle).")
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Nach dieser Zeit (Minuten) aufhören und das Gelernte behalten.")
    ] = None,
    learning_rate: Annotated[float, typer.Option(help="Höchste Lernrate.")] = 3e-4,
    grad_accumulation: Annotated[int, typer.Option(help="Beispiele je Optimierungsschritt.")] = 2,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Aktivierungen neu berechnen (weniger Speicher).")
    ] = True,
    dev_examples: Annotated[
        int, typer.Option(help="Zurückgehaltene Beispiele für den Loss vorher/nachher.")
    ] = 16,
    device: Annotated[str | None, typer.Option(help="cpu oder cuda (Standard: Einstellung).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch-Threads auf der CPU.")] = None,
    seed: Annotated[int, typer.Option(help="Seed für Reihenfolge und LoRA-Initialisierung.")] = 13,
) -> None:
    """QLoRA: NF4-Basis, LoRA auf Attention + MLP, Loss auf den Antwort-Tokens; schreibt Adapter und Karte."""
    from finetune.answer_adapter.card import write_adapter_card
    from finetune.answer_adapter.sft_data import read_examples
    from finetune.answer_adapter.training import AdapterConfig, train_adapter
    from rag.models.registry import MODELS
    from rag.models.resolve import resolve_model

    settings = get_settings()
    base = base or settings.generator_model
    if not (data / "train.jsonl").exists():
        raise fail(f"{data / 'train.jsonl'} fehlt; zuerst `heise-rag train sft-data`.")
    config = AdapterConfig(
        quantize=quantize,
        rank=rank,
        alpha=2 * rank,
        top_layers=top_layers,
        max_minutes=max_minutes,
        learning_rate=learning_rate,
        epochs=epochs,
        max_examples=max_examples,
        max_length=max_length,
        grad_accumulation=grad_accumulation,
        gradient_checkpointing=gradient_checkpointing,
        dev_examples=dev_examples,
        seed=seed,
        device=device or settings.device,
        threads=threads or settings.generator_threads,
    )
    spec = MODELS.get(base)
    result = train_adapter(
        resolve_model(base, settings.model_cache_dir),
        read_examples(data / "train.jsonl"),
        read_examples(data / "dev.jsonl") if (data / "dev.jsonl").exists() else [],
        output,
        config,
        base_name=spec.upstream if spec and "/" in spec.upstream else base,
        log=typer.echo,
    )
    card = write_adapter_card(output, result, data, command_line("answer-adapter", ctx.params))
    typer.echo(
        f"{result.train_examples} Beispiele in {result.seconds / 60:.1f} min; Dev-Loss "
        f"{result.dev_loss_before} -> {result.dev_loss_after}; Adapter: {output} ({card.name})"
    )
