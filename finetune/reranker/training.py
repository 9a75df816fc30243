"""Train the German cross-encoder reranker from the first layers of the provisioned E5 encoder.

Why a truncated encoder: the full twelve-layer E5-small scores 30 candidates in about 6 s on this
machine's two shared cores; its first ``layers`` layers (embeddings included) are a ready German
text encoder that a cross-encoder head can be trained on, at a fraction of the cost. The word
embeddings (96M of the model's parameters) stay frozen, which both speeds up training and lets
the shipped artifact leave them out: ``rag.retrieval.rerank`` takes them back from the provisioned base model.

The loop is sentence-transformers' CrossEncoderTrainer with MultipleNegativesRankingLoss (a
listwise softmax over the positive, the mined hard negatives and in-batch negatives), linear
warm-up and decay, an evaluation of the held-out groups (MRR@10, NDCG@10) before training and after
every epoch, fixed seeds and a progress bar. On a GPU the same code runs unchanged (bf16 there).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from datasets import Dataset
from safetensors.torch import load_file, save_file
from sentence_transformers.base.modules import Dense, Transformer
from sentence_transformers.cross_encoder import (
    CrossEncoder,
    CrossEncoderTrainer,
    CrossEncoderTrainingArguments,
)
from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss
from sentence_transformers.sentence_transformer.modules.pooling import Pooling
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments, set_seed
from transformers import logging as transformers_logging

from finetune.reranker.config import TrainConfig
from finetune.reranker.data import Group
from rag.engagement.predictor import inference_dtype
from rag.models.int8 import quantize_int8
from rag.retrieval.passages import focus_passage
from rag.retrieval.rerank import SLIM_SPEC, WEIGHTS, WORD_EMBEDDINGS

CONFIG_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
)


@dataclass
class TrainResult:
    """What the model card reports about one run."""

    config: TrainConfig
    device: str
    bf16: bool
    held_out: list[dict[str, float]] = field(default_factory=list)  # before training, then per epoch
    seconds: float = 0.0
    steps: int = 0
    planned_steps: int = 0
    max_minutes: float | None = None


def initial_model(base_folder: str, config: TrainConfig, device: str) -> CrossEncoder:
    """The base encoder cut to its first ``config.layers`` layers, mean pooling, a one-logit head.

    Why mean pooling, not the usual [CLS] head: E5 was trained with mean pooling, so its [CLS] state
    barely depends on the input; a [CLS] head gives nearly equal scores to every candidate, the
    listwise gradients cancel and a short run does not learn (measured: loss stuck at ln 8 for 40
    steps). The mean of the token states separates candidates from the first step. The load
    report listing the dropped layers is silenced: dropping them is the point.
    """
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        encoder = Transformer(
            base_folder, config_kwargs={"num_hidden_layers": config.layers}, max_seq_length=config.max_length
        )
    finally:
        transformers_logging.set_verbosity(level)
    dim = encoder.get_embedding_dimension()
    head = Dense(dim, 1, activation_function=None, module_output_name="scores")
    model = CrossEncoder(modules=[encoder, Pooling(dim, "mean"), head], device=device)
    model.model.get_input_embeddings().weight.requires_grad_(False)
    return model


def focused(groups: list[Group], focus_chars: int | None) -> list[Group]:
    """Every passage cut as ``rag.retrieval.rerank`` cuts candidates at query time: its most query-like
    sentences within ``focus_chars`` (the model reads only the first ``max_length`` tokens)."""
    return [
        Group(
            g.kind,
            g.key,
            g.query,
            focus_passage(g.positive, g.query, focus_chars),
            [focus_passage(n, g.query, focus_chars) for n in g.negatives],
        )
        for g in groups
    ]


def as_dataset(groups: list[Group]) -> Dataset:
    """Columns query, positive, negative_1..n: the layout MultipleNegativesRankingLoss reads."""
    n = len(groups[0].negatives)
    columns: dict[str, list[str]] = {
        "query": [g.query for g in groups],
        "positive": [g.positive for g in groups],
    }
    for i in range(n):
        columns[f"negative_{i + 1}"] = [g.negatives[i] for g in groups]
    return Dataset.from_dict(columns)


def held_out_evaluator(groups: list[Group]) -> CrossEncoderRerankingEvaluator:
    samples = [{"query": g.query, "positive": [g.positive], "negative": g.negatives} for g in groups]
    return CrossEncoderRerankingEvaluator(samples, at_k=10, name="held_out", batch_size=64)


class TimeBudget(TrainerCallback):
    """Ends training after ``minutes`` (with a final evaluation), so a run on a busy machine still
    finishes in its time slot with the best model it reached."""

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.started = time.perf_counter()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: object
    ) -> None:
        if time.perf_counter() - self.started > self.seconds:
            control.should_training_stop = True
            control.should_evaluate = True


def train(
    base_folder: str,
    train_groups: list[Group],
    held_out: list[Group],
    config: TrainConfig,
    work_dir: Path,
    device: str | None = None,
    max_minutes: float | None = None,
) -> tuple[CrossEncoder, TrainResult]:
    """Fine-tune and return the model with its held-out history; checkpoints are not kept."""
    set_seed(config.seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = inference_dtype("auto", device) == torch.bfloat16 or (
        device.startswith("cuda") and torch.cuda.is_bf16_supported()
    )
    model = initial_model(base_folder, config, device)
    train_groups, held_out = focused(train_groups, config.focus_chars), focused(held_out, config.focus_chars)
    evaluator = held_out_evaluator(held_out)
    result = TrainResult(config=config, device=device, bf16=bf16, max_minutes=max_minutes)
    result.held_out.append(_metrics(evaluator(model)))
    args = CrossEncoderTrainingArguments(
        output_dir=str(work_dir / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps (Transformers v5)
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        bf16=bf16,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=20,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        use_cpu=device == "cpu",
        dataloader_drop_last=True,
    )
    loss = MultipleNegativesRankingLoss(model, num_negatives=config.in_batch_negatives)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=as_dataset(train_groups),
        loss=loss,
        evaluator=evaluator,
        callbacks=[TimeBudget(max_minutes)] if max_minutes else None,
    )
    started = time.perf_counter()
    output = trainer.train()
    result.seconds = time.perf_counter() - started
    result.steps = int(output.global_step)
    result.planned_steps = int(trainer.state.max_steps)
    for record in trainer.state.log_history:
        # A time-budget stop at an epoch's end logs the same evaluation twice.
        if "eval_held_out_mrr@10" in record and float(record["epoch"]) != result.held_out[-1]["epoch"]:
            result.held_out.append(
                {"epoch": float(record["epoch"])}
                | {
                    k.removeprefix("eval_held_out_"): v
                    for k, v in record.items()
                    if k.startswith("eval_held_out_")
                }
            )
    shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    return model, result


def _metrics(values: dict[str, float]) -> dict[str, float]:
    return {"epoch": 0.0} | {k.removeprefix("held_out_"): float(v) for k, v in values.items()}


def export_slim(
    model: CrossEncoder, folder: Path, *, base_model: str, name: str, max_length: int, focus_chars: int | None
) -> int:
    """Save the model without its frozen word embeddings, matrices in int8 with per-row scales
    (``rag.models.int8.quantize_int8``); returns bytes written.

    ``rag.retrieval.rerank.assemble_slim`` restores the embeddings (and tokenizer) from ``base_model``.
    """
    full = folder.parent / f".{folder.name}-full"
    shutil.rmtree(full, ignore_errors=True)
    model.save(str(full))
    folder.mkdir(parents=True, exist_ok=True)
    for old in (*CONFIG_FILES, WEIGHTS, SLIM_SPEC):
        (folder / old).unlink(missing_ok=True)
    for item in CONFIG_FILES:
        shutil.copy2(full / item, folder / item)
    for module_dir in (p for p in full.iterdir() if p.is_dir()):  # pooling and head modules
        shutil.rmtree(folder / module_dir.name, ignore_errors=True)
        shutil.copytree(module_dir, folder / module_dir.name)
    tensors = load_file(full / WEIGHTS)
    embeddings = tensors.pop(WORD_EMBEDDINGS)
    save_file(quantize_int8(tensors), folder / WEIGHTS, metadata={"format": "pt"})
    spec = {
        "name": name,
        "base_model": base_model,
        "base_tensor": WORD_EMBEDDINGS,
        "word_embeddings_shape": list(embeddings.shape),
        "max_length": max_length,
        "focus_chars": focus_chars,
    }
    (folder / SLIM_SPEC).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(full)
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def summary(result: TrainResult) -> dict[str, object]:
    return asdict(result)
