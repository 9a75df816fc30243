"""CLI commands of the engagement classifier: `predict-headline`, `train classifier`, `eval classifier`.

Why a module of its own: `cli.main` only registers these; training and the report import torch,
peft and scikit-learn, which are loaded inside the commands so `heise-rag --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from finetune.classifier.config import TrainConfig
from rag.core.settings import PROJECT_ROOT, get_settings

REPORT_DIR = PROJECT_ROOT / "reports" / "classifier"
DEFAULTS = TrainConfig()


def predict_headline(
    headlines: Annotated[
        list[str] | None,
        typer.Argument(help="Eine Schlagzeile; mehrere: Alternativen, nach Wahrscheinlichkeit sortiert."),
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", "-i", help="CSV mit einer Spalte 'headline'.")
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Ziel-CSV (alle Spalten + p_good, label); ohne: Standardausgabe."
        ),
    ] = None,
) -> None:
    """Predict whether headlines draw many comments (> 50): p_good and label good/bad."""
    from rag.engagement.headline_csv import CsvInputError, predict_csv, predict_csv_file
    from rag.engagement.predictor import EngagementPredictor, HeadlineError
    from rag.models.resolve import ModelNotProvisionedError

    if bool(headlines) == bool(input_file):
        raise fail("entweder Schlagzeile(n) oder --input DATEI angeben", code=2)
    predictor = EngagementPredictor.from_settings(get_settings())
    try:
        if input_file is not None:
            if output_file is None:
                report = predict_csv(predictor, input_file, sys.stdout)
            else:
                report = predict_csv_file(predictor, input_file, output_file)
            typer.echo(report.summary(), err=True)
            for line, reason in report.skipped:
                typer.echo(f"  Zeile {line}: {reason}", err=True)
            if report.skipped and not report.predicted:
                raise typer.Exit(1)
            return
        assert headlines is not None
        ranked = predictor.rank(headlines)
    except (HeadlineError, CsvInputError, FileNotFoundError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    if len(ranked) == 1:
        _, (p, label) = ranked[0]
        verdict = "viele Kommentare erwartet" if label == "good" else "wenige Kommentare erwartet"
        typer.echo(f"p_good = {p:.3f}  label = {label}  ({verdict})")
        return
    typer.echo("Rang  p_good  label  Schlagzeile")
    for rank, (text, (p, label)) in enumerate(ranked, start=1):
        typer.echo(f"{rank:>4}  {p:6.3f}  {label:<5}  {text}")


def train_classifier(
    split: Annotated[str, typer.Option(help="reference (random 75/25, seed 42) or time (latest months).")],
    output: Annotated[
        Path | None,
        typer.Option(
            help="Artifact folder; default: HEISE_RAG_CLASSIFIER_MODEL (reference) or var/classifier/time."
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs (early stopping may end sooner).")
    ] = DEFAULTS.epochs,
    top_layers: Annotated[
        int, typer.Option(min=1, max=12, help="Encoder layers that get LoRA.")
    ] = DEFAULTS.top_layers,
    lora_rank: Annotated[int, typer.Option(min=1)] = DEFAULTS.lora_rank,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = DEFAULTS.learning_rate,
    soup: Annotated[
        int,
        typer.Option(
            min=1,
            help="Train this many runs from the same initial weights (other data orders) and save the "
            "mean of their weights: one model's cost at prediction.",
        ),
    ] = DEFAULTS.soup,
    limit: Annotated[int | None, typer.Option(min=20, help="Use a random sample of this many rows.")] = None,
    device: Annotated[str | None, typer.Option(help="Torch device; default cuda when present.")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where the training curve PNG goes.")] = REPORT_DIR,
    blend: Annotated[
        bool,
        typer.Option(
            help="Blend with a TF-IDF model and a vote of the nearest training headlines, both from the "
            "same split (lexical.json, neighbours.safetensors)."
        ),
    ] = True,
    blend_only: Annotated[
        bool, typer.Option(help="Only fit the blend onto the classifier already in the output folder.")
    ] = False,
) -> None:
    """Fine-tune the E5 encoder with LoRA on one split; save adapter, head, classifier.json, card."""
    import torch

    from finetune.classifier.pipeline import ClassifierTrainRequest, train_classifier

    settings = get_settings()
    target = output or (
        settings.classifier_model if split == "reference" else settings.var_dir / "classifier" / "time"
    )
    config = TrainConfig(
        epochs=epochs,
        top_layers=top_layers,
        lora_rank=lora_rank,
        lora_alpha=2 * lora_rank,
        learning_rate=learning_rate,
        soup=soup,
        device=device or ("cuda" if torch.cuda.is_available() else settings.device),
    )
    request = ClassifierTrainRequest(split, target, config, report_dir, limit, blend, blend_only)
    try:
        outcome = train_classifier(request, settings)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    t = outcome.test
    if outcome.curve is None:
        typer.echo(f"{split}: Test-Genauigkeit der Mischung {t.accuracy:.3f}; gespeichert in {target}")
        return
    typer.echo(
        f"{split}: Test-Genauigkeit {t.accuracy:.3f}, Makro-F1 {t.macro_f1:.3f}, ROC-AUC {t.roc_auc:.3f}, "
        f"ECE {t.ece:.3f} -> {t.ece_calibrated:.3f} (T={outcome.temperature:.2f}); "
        f"{outcome.minutes:.1f} min; gespeichert in {target}, Kurve {outcome.curve}"
    )


def eval_classifier(
    out_dir: Annotated[Path, typer.Option(help="Report folder.")] = REPORT_DIR,
    time_model: Annotated[
        Path | None, typer.Option(help="Classifier trained on the time split; default var/classifier/time.")
    ] = None,
) -> None:
    """Score all models (baselines and fine-tuned) on both splits; write Markdown, JSON and plots."""
    from finetune.classifier.data import SplitName, load_headlines
    from finetune.classifier.report import build_report
    from rag.core.datafiles import HEADLINES_FILE
    from rag.engagement.predictor import INFO_FILE

    settings = get_settings()
    candidates: dict[SplitName, Path] = {
        "reference": settings.classifier_model,
        "time": time_model or settings.var_dir / "classifier" / "time",
    }
    artifacts = {split: folder for split, folder in candidates.items() if (folder / INFO_FILE).exists()}
    for split in candidates.keys() - artifacts.keys():
        typer.echo(
            f"kein feinabgestimmter Klassifikator für den Split {split} in {candidates[split]}: "
            "nur die Vergleichsmodelle",
            err=True,
        )
    path = build_report(
        load_headlines(settings.resolved_data_dir / HEADLINES_FILE),
        artifacts,
        out_dir=out_dir,
        model_cache_dir=settings.model_cache_dir,
        encoder_cache_dir=settings.var_dir / "cache" / "classifier",
        device=settings.device,
    )
    typer.echo(f"Bericht: {path}")
