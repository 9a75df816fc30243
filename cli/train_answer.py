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
        Path, typer.Option(help="Folder for train.jsonl, dev.jsonl, stats.json.")
    ] = DEFAULT_SFT_DIR,
    headline_examples: Annotated[int, typer.Option(help="Headline questions to draw.")] = 400,
    article_examples: Annotated[
        int | None, typer.Option(help="At most this many 10kGNAD template questions (default: all).")
    ] = None,
    xquad: Annotated[bool, typer.Option(help="Add the questions of XQuAD's non-held-out articles.")] = True,
    refusal_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of questions asked over sources without the answer."),
    ] = 0.2,
    xquad_sentences: Annotated[
        bool, typer.Option(help="XQuAD answers: the source sentence holding the span, not the span alone.")
    ] = False,
    xquad_gold_first: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of XQuAD answers whose paragraph is source 1 (rest: random position).",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of sources, distractors and order.")] = 13,
) -> None:
    """Instruction examples in the product's prompt format from 10kGNAD, the heise headlines and
    half of XQuAD; the other half's questions go to ``xquad-heldout.jsonl`` for the evaluation."""
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
    data: Annotated[Path, typer.Option(help="Folder written by `train sft-data`.")] = DEFAULT_SFT_DIR,
    output: Annotated[Path, typer.Option(help="Adapter folder.")] = DEFAULT_ADAPTER_DIR,
    base: Annotated[
        str | None,
        typer.Option(help="Base model: provisioned name, folder or hub id (default: the setting)."),
    ] = None,
    quantize: Annotated[str, typer.Option(help="nf4 (QLoRA) or none (LoRA on the full base).")] = "nf4",
    max_examples: Annotated[int | None, typer.Option(help="Train on the first N examples.")] = None,
    max_length: Annotated[int, typer.Option(help="Skip longer examples (tokens).")] = 512,
    epochs: Annotated[int, typer.Option(help="Passes over the examples.")] = 1,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    top_layers: Annotated[
        int | None, typer.Option(help="LoRA on the last N decoder layers (default: all).")
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Stop after this wall time, keeping what was learned.")
    ] = None,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-4,
    grad_accumulation: Annotated[int, typer.Option(help="Examples per optimizer update.")] = 2,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Recompute activations (less memory).")] = True,
    dev_examples: Annotated[int, typer.Option(help="Held-out examples for the loss before/after.")] = 16,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: the setting).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads on CPU.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the order and LoRA init.")] = 13,
) -> None:
    """QLoRA: NF4 base, LoRA on attention + MLP, loss on the answer tokens; writes adapter and card."""
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
