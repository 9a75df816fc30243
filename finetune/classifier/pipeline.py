"""`train classifier` as one library call: load the headlines, train (or only blend), write the card.

Why here and not in the command: the CLI, benchmarks and tests train the same way from typed
inputs; the command only parses options and prints the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from eval.classifier_metrics import ClassifierMetrics
from eval.classifier_plots import plot_training_curve
from finetune.classifier.card import write_model_card
from finetune.classifier.config import TrainConfig
from finetune.classifier.data import SPLITS, load_headlines, make_split
from finetune.classifier.training import blend_saved, fine_tune
from rag.core.datafiles import HEADLINES_FILE
from rag.core.settings import Settings
from rag.engagement.predictor import ClassifierInfo


@dataclass(frozen=True)
class ClassifierTrainRequest:
    """One training run: the split, where the artifact goes, the recipe and what to build."""

    split: str
    output: Path
    config: TrainConfig
    report_dir: Path
    limit: int | None = None
    blend: bool = True
    blend_only: bool = False


@dataclass(frozen=True)
class ClassifierTrainOutcome:
    """The served model's test figures; training details only when the encoder was trained."""

    target: Path
    test: ClassifierMetrics
    temperature: float | None = None
    minutes: float | None = None
    curve: Path | None = None


def reproduce_command(request: ClassifierTrainRequest) -> str:
    """The training command that reproduces an artifact, for its model card."""
    config = request.config
    return (
        f"heise-rag train classifier --split {request.split} --epochs {config.epochs} --top-layers "
        f"{config.top_layers} --lora-rank {config.lora_rank} --learning-rate {config.learning_rate:g} "
        f"--soup {config.soup}"
        + (f" --limit {request.limit}" if request.limit is not None else "")
        + ("" if request.blend else " --no-blend")
    )


def train_classifier(request: ClassifierTrainRequest, settings: Settings) -> ClassifierTrainOutcome:
    """Fine-tune (or, with ``blend_only``, re-blend) and write the artifact's model card.

    Raises ValueError for an unknown split and FileNotFoundError when ``blend_only`` finds no model.
    """
    if request.split not in SPLITS:
        raise ValueError(f"unbekannter Split {request.split!r} ({', '.join(SPLITS)})")
    frame = load_headlines(settings.resolved_data_dir / HEADLINES_FILE)
    if request.limit is not None:
        frame = frame.sample(n=min(request.limit, len(frame)), random_state=request.config.seed).sort_index()
    split_frame = make_split(frame.reset_index(drop=True), request.split)
    caches = {
        "model_cache_dir": settings.model_cache_dir,
        "encoder_cache_dir": settings.var_dir / "cache" / "classifier",
    }
    if request.blend_only:
        metrics, frozen_seconds = blend_saved(
            request.output, frame, request.split, device=request.config.device, **caches
        )
        info = ClassifierInfo.load(request.output)
        recorded = replace(request, config=TrainConfig(**info.training["config"]))
        write_model_card(request.output, info, split_frame, reproduce_command(recorded), frozen_seconds)
        return ClassifierTrainOutcome(request.output, metrics)
    result = fine_tune(
        frame, request.split, request.config, output=request.output, blend=request.blend, **caches
    )
    write_model_card(
        request.output,
        ClassifierInfo.load(request.output),
        split_frame,
        reproduce_command(request),
        result.seconds["frozen_pass"],
    )
    curve = request.report_dir / f"training-curve-{request.split}.png"
    plot_training_curve([vars(r) for r in result.history], curve, f"E5 + LoRA, {request.split} split")
    return ClassifierTrainOutcome(
        request.output, result.test, result.temperature, result.seconds["total"] / 60, curve
    )
