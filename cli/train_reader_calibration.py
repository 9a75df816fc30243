"""`heise-rag train reader-calibration`: refit the reader's confidence on the dev answers.

The dev questions run through the configured pipeline (see ``finetune/reader/calibrate.py``); the
configured reader's ``reader.json`` gets the new scalings, and its model card a section with the
figures. With a passage reader configured, its margins are the passage points: it gets the new passage
scaling and the reader only the new headline scaling (its own passage scaling stays for use alone).
Heavy modules are imported inside the command so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from cli.errors import fail
from rag.core.settings import get_settings

CARD_SECTION = "## Calibration on the dev answers"


def train_reader_calibration(
    collection: Annotated[str, typer.Option(help="Sammlung der heise-Dev-Fragen.")] = "heise",
    squad_collection: Annotated[
        str, typer.Option(help="Sammlung der XQuAD-Fragen (Standardkorpus plus Absätze).")
    ] = "heise-xquad",
) -> None:
    """Die Konfidenz des Lesers auf den Dev-Antworten neu kalibrieren (Schlagzeilen eigens)."""
    from eval.questions import QuestionSetError, heldout_only, load_question_set
    from eval.retrieval_run import EvalSetupError
    from finetune.reader.calibrate import collect_points, fit_by_passage_kind, per_reader
    from rag.core.datafiles import HEISE_QA_FILE, XQUAD_FILE
    from rag.pipelines.ask import AskError
    from rag.reader.model import ReaderInfo
    from rag.store.layout import StoreUnavailableError

    settings = get_settings()
    if settings.reader_model is None:
        raise fail("Kein Leser eingestellt (HEISE_RAG_READER_MODEL); nichts zu kalibrieren.")
    data_dir = settings.resolved_data_dir
    try:
        sets = [
            (load_question_set(data_dir / HEISE_QA_FILE, None), collection),
            (heldout_only(load_question_set(None, data_dir / XQUAD_FILE)), squad_collection),
        ]
        main = ReaderInfo.load(settings.reader_model).calibration
        before = main
        if settings.reader_passage_model is not None:
            passage = ReaderInfo.load(settings.reader_passage_model).calibration
            before = replace(main, slope=passage.slope, bias=passage.bias)
        points = collect_points(settings, sets)
    except (QuestionSetError, OSError, ValueError, AskError, EvalSetupError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    fit = fit_by_passage_kind(points, before)
    folders = [settings.reader_model, settings.reader_passage_model]
    calibrations = per_reader(fit.calibration, main, settings.reader_passage_model is not None)
    for folder, calibration in zip(folders, calibrations, strict=False):
        assert folder is not None, "per_reader returns one calibration per configured reader"
        replace(ReaderInfo.load(folder), calibration=calibration).save(folder)
        card = folder / "MODEL_CARD.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8").split(CARD_SECTION)[0].rstrip()
            section = card_section(fit.figures, calibration, len(calibrations) == 2)
            card.write_text(text + "\n\n" + section + "\n", encoding="utf-8")
    for kind, row in fit.figures.items():
        typer.echo(
            f"{kind}: {row['n']:.0f} Antworten, richtig {row['right']:.3f}, mittlere Konfidenz "
            f"{row['mean_confidence_before']:.3f} -> {row['mean_confidence_after']:.3f}, "
            f"ECE {row['ece_before']:.3f} -> {row['ece_after']:.3f}"
        )


def card_section(figures: dict[str, dict[str, float]], calibration: object, two_readers: bool = False) -> str:
    """The model card's record of the refit: what it was fitted on and how well it fits there."""
    readers = (
        "Headlines were read by the reader (`HEISE_RAG_READER_MODEL`), longer passages by the passage\n"
        "reader (`HEISE_RAG_READER_PASSAGE_MODEL`); the reader keeps its own passage scaling.\n\n"
        if two_readers
        else ""
    )
    rows = "\n".join(
        f"| {kind} | {row['n']:.0f} | {row['right']:.3f} | {row['mean_confidence_before']:.3f} → "
        f"{row['mean_confidence_after']:.3f} | {row['ece_before']:.3f} → {row['ece_after']:.3f} |"
        for kind, row in figures.items()
    )
    return (
        f"{CARD_SECTION}\n\n"
        "`heise-rag train reader-calibration` asked the heise dev questions and XQuAD's held-out dev\n"
        "questions through the default pipeline and refitted the Platt scaling on the answering span's\n"
        'margin against "token F1 >= 0.5", separately for headlines (passages of at most '
        "`headline_chars`\ncharacters) and longer passages. Figures on the same answers (in-sample):\n\n"
        f"{readers}| passages | answers | right | mean confidence | ECE |\n|---|---|---|---|---|\n"
        f"{rows}\n\nNow: `{calibration}`."
    )
