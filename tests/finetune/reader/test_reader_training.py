"""A tiny real training run: the loop trains, keeps its best epoch, saves an artifact that serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from finetune.reader.card import write_model_card
from finetune.reader.data import ReaderDataConfig, ReaderExample
from finetune.reader.training import ReaderTrainConfig, train_reader
from rag.core.settings import Settings
from rag.reader.model import ReaderInfo
from rag.reader.reader import SpanReader


def _example(question: str, context: str, answer: str | None, split: str) -> ReaderExample:
    start = context.index(answer) if answer else None
    return ReaderExample(question, context, start, answer or "", "heise", context, split)  # type: ignore[arg-type]


EXAMPLES = [
    _example(
        "Welche Bank sperrt Konten?",
        "Cyberangriff: Targobank blockiert Zugriff auf Konten",
        "Targobank",
        "train",
    ),
    _example(
        "Wer baut Ladestationen?",
        "Parkraumbetreiber Apcoa will 100.000 Ladestationen bauen",
        "Apcoa",
        "train",
    ),
    _example(
        "Wer schließt Gfycat?",
        "Keine GIFs mehr über Gfycat: Snap Inc schließt die Plattform",
        "Snap Inc",
        "train",
    ),
    _example("Wer entließ Lemoine?", "Frankreich will Tiktok verbieten", None, "train"),
    _example(
        "Welcher Chipdesigner greift ARM an?",
        "SiFive macht Ernst gegen ARMs Smartphone-Vormacht",
        "SiFive",
        "dev",
    ),
    _example("Welche Bank sperrt Konten?", "Telekom erweitert Glasfasernetz in Bayern", None, "dev"),
]


def test_training_saves_an_artifact_the_served_reader_loads_and_reads_with(
    settings: Settings, provisioned: Callable[[str], Path], tmp_path: Path
) -> None:
    provisioned("multilingual-e5-small")
    config = replace(ReaderTrainConfig(), epochs=2, top_layers=1, max_length=64, stride=16, batch_size=4)
    result = train_reader(EXAMPLES, config, settings.model_cache_dir, tmp_path, show_progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.best_epoch in (1, 2)
    assert (result.dev.answerable, result.dev.unanswerable) == (1, 1)
    assert not (tmp_path / "README.md").exists()  # peft's template, with this machine's paths
    info = ReaderInfo.load(tmp_path)
    assert (info.base_model, info.max_length, info.stride) == ("multilingual-e5-small", 64, 16)
    card = write_model_card(tmp_path, result, ReaderDataConfig(passage_examples=5)).read_text(
        encoding="utf-8"
    )
    # the card's command reproduces the recipe, data options included
    assert "--epochs 2 --top-layers 1 --max-length 64" in card
    assert "--heise-examples 3000" in card and "--passage-examples 5" in card and "`gnad-passage`" in card
    plain = write_model_card(tmp_path, result, ReaderDataConfig()).read_text(encoding="utf-8")
    assert "`gnad-passage`" not in plain

    reader = SpanReader(folder=tmp_path, model_cache_dir=settings.model_cache_dir)
    passages = ["Kurz notiert: SiFive macht Ernst gegen ARMs Smartphone-Vormacht", "Ein zweiter Text. " * 30]
    readings = reader.read("Welcher Chipdesigner greift ARM an?", passages)
    assert readings and {r.passage for r in readings} <= {0, 1}
    for r in readings:
        assert passages[r.passage][r.start : r.end] == r.text
        assert 0.0 <= r.confidence <= 1.0
    assert [r.margin for r in readings] == sorted((r.margin for r in readings), reverse=True)
    assert reader.read("Frage?", []) == []
