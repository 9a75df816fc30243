"""The classifier report: every baseline on both splits, the committed classifier and its blend,
the targets table, metrics.json and plots, from one call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from finetune.classifier.data import load_headlines
from finetune.classifier.report import BLENDED, FINE_TUNED, build_report
from rag.core.datafiles import HEADLINES_FILE
from rag.core.settings import Settings

ROWS = 900  # enough for every month of the time split to hold headlines


def test_report_scores_baselines_and_the_blended_classifier(
    settings: Settings, provisioned: Callable[[str], Path], data_file: Callable[[str], Path], tmp_path: Path
) -> None:
    provisioned("multilingual-e5-small")
    frame = load_headlines(data_file(HEADLINES_FILE)).sample(n=ROWS, random_state=7).sort_index()
    out = tmp_path / "report"
    build_report(
        frame,
        {"reference": settings.classifier_model},
        out_dir=out,
        model_cache_dir=settings.model_cache_dir,
        encoder_cache_dir=tmp_path / "cache",
    )
    rows = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    models = {(r["split"], r["model"]) for r in rows}
    for split in ("reference", "time"):
        assert {(split, m) for m in ("majority class", "TF-IDF word+char + LR", "frozen E5 + LR")} <= models
    assert ("reference", FINE_TUNED) in models and ("reference", BLENDED) in models
    assert ("time", FINE_TUNED) not in models  # no time-split classifier was given
    for row in rows:
        assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["ece_calibrated"] <= 1.0
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "| accuracy >= 0.83 on the reference split | " in text
    assert f"({BLENDED})" in text  # the targets judge the served model
    for name in ("confusion-reference.png", "reliability-reference.png", "confusion-time.png"):
        assert (out / name).stat().st_size > 5_000
