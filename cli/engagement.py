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
    """Vorhersagen, ob Schlagzeilen viele Kommentare (> 50) bekommen: p_good und label good/bad."""
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
    split: Annotated[
        str, typer.Option(help="reference (zufällig 75/25, Seed 42) oder time (die letzten Monate).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            help="Artefaktordner; Standard: HEISE_RAG_CLASSIFIER_MODEL (reference) oder var/classifier/time."
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Höchstzahl der Epochen (Early Stopping kann früher enden).")
    ] = DEFAULTS.epochs,
    top_layers: Annotated[
        int, typer.Option(min=1, max=12, help="Encoder-Schichten, die LoRA bekommen.")
    ] = DEFAULTS.top_layers,
    lora_rank: Annotated[int, typer.Option(min=1, help="LoRA-Rang.")] = DEFAULTS.lora_rank,
    learning_rate: Annotated[float, typer.Option(min=0.0, help="Lernrate.")] = DEFAULTS.learning_rate,
    soup: Annotated[
        int,
        typer.Option(
            min=1,
            help="So viele Läufe von denselben Startgewichten trainieren (andere Datenreihenfolgen) und "
            "das Mittel ihrer Gewichte speichern: bei der Vorhersage die Kosten eines Modells.",
        ),
    ] = DEFAULTS.soup,
    limit: Annotated[
        int | None, typer.Option(min=20, help="Eine Zufallsstichprobe mit so vielen Zeilen nutzen.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="Torch-Gerät; Standard: cuda, wenn vorhanden.")] = None,
    report_dir: Annotated[Path, typer.Option(help="Ordner für die Trainingskurve (PNG).")] = REPORT_DIR,
    blend: Annotated[
        bool,
        typer.Option(
            help="Mit einem TF-IDF-Modell und einer Abstimmung der nächsten Trainingsschlagzeilen mischen, "
            "beide aus demselben Split (lexical.json, neighbours.safetensors)."
        ),
    ] = True,
    blend_only: Annotated[
        bool,
        typer.Option(help="Nur die Mischung zum Klassifikator anpassen, der schon im Ausgabeordner liegt."),
    ] = False,
) -> None:
    """E5-Encoder mit LoRA auf einem Split feinabstimmen; speichert Adapter, Kopf, classifier.json, Karte."""
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
    out_dir: Annotated[Path, typer.Option(help="Berichtsordner.")] = REPORT_DIR,
    time_model: Annotated[
        Path | None,
        typer.Option(help="Auf dem time-Split trainierter Klassifikator; Standard: var/classifier/time."),
    ] = None,
) -> None:
    """Alle Modelle (Vergleich, feinabgestimmt) auf beiden Splits bewerten: Markdown, JSON, Grafiken."""
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
