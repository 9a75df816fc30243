"""XQuAD examples for the answer adapter: held-out articles never trained on, sources shortened as
the product shortens them, the answer cited from the source that shows it, refusals otherwise."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from eval.questions import article_of, load_questions, xquad_part
from finetune.answer_adapter.sft_data import SftExample
from finetune.answer_adapter.sft_xquad import (
    HELDOUT_FILE,
    answer_sentence,
    heldout_questions,
    read_xquad,
    xquad_examples,
)
from rag.core.prompting import REFUSAL
from rag.core.settings import get_settings
from rag.retrieval.passages import focus_passage

SOURCE_CHARS = 120
FILLER = "Dieser Satz füllt den Absatz mit weiteren Angaben ohne Belang für die Frage auf."


def _titles(part: str, n: int) -> list[str]:
    """The first ``n`` synthetic titles that land in ``part`` (the split is a hash of the title)."""
    found = [t for t in (f"Artikel_{i}" for i in range(200)) if xquad_part(t) == part]
    return found[:n]


def _article(title: str) -> dict[str, object]:
    paragraphs = []
    base = 1000 + 10 * int(title.split("_")[1])  # every answer is unique across articles
    for number in range(5):
        fact = f"Die Stadt Nummer {number} von {title} hat {base + number} Einwohner."
        paragraphs.append(
            {
                "context": f"{FILLER} {fact} {FILLER}",
                "qas": [
                    {
                        "id": f"{title}-{number}",
                        "question": f"Wie viele Einwohner hat die Stadt Nummer {number} von {title}?",
                        "answers": [{"text": f"{base + number} Einwohner", "answer_start": 0}],
                    }
                ],
            }
        )
    return {"title": title, "paragraphs": paragraphs}


@pytest.fixture
def squad(tmp_path: Path) -> Path:
    path = tmp_path / "xquad-de" / "xquad.de.dev.json"
    path.parent.mkdir(parents=True)
    titles = _titles("sft", 2) + _titles("heldout", 2)
    path.write_text(json.dumps({"data": [_article(t) for t in titles]}), encoding="utf-8")
    return path


def _examples(squad: Path, refusal_share: float = 0.3, gold_first_share: float = 0.0) -> list[SftExample]:
    return list(
        xquad_examples(
            squad,
            random.Random(3),
            sources=3,
            source_chars=SOURCE_CHARS,
            refusal_share=refusal_share,
            dev_share=0.0,
            gold_first_share=gold_first_share,
        )
    )


def _cited_positions(examples: list[SftExample]) -> list[int]:
    return [int(e.answer.rsplit(" ", 1)[1].strip("[]")) for e in examples if e.kind == "xquad"]


def test_gold_first_share_puts_the_answer_in_source_one(squad: Path) -> None:
    uniform = _cited_positions(_examples(squad, refusal_share=0.0))
    assert len(uniform) >= 10 and set(uniform) == {1, 2, 3}  # uniform positions by default
    assert set(_cited_positions(_examples(squad, refusal_share=0.0, gold_first_share=1.0))) == {1}
    for example in _examples(squad, refusal_share=0.0, gold_first_share=1.0):
        assert example.answer.rsplit(" ", 1)[0] in example.sources[0].text


def test_held_out_articles_are_never_trained_on(squad: Path) -> None:
    _, questions = read_xquad(squad)
    examples = _examples(squad)
    heldout = heldout_questions(squad)
    trained_articles = {e.origin for e in examples}
    heldout_gold = {row["gold_ids"][0].split("#")[0] for row in heldout}  # type: ignore[index]
    assert trained_articles and heldout_gold
    assert not trained_articles & heldout_gold
    assert {e.question for e in examples} | {r["question"] for r in heldout} == {
        q.question for q in questions
    }
    assert all(xquad_part(title) == "heldout" for title in heldout_gold)


def test_held_out_file_is_an_evaluation_question_set(squad: Path, tmp_path: Path) -> None:
    path = tmp_path / HELDOUT_FILE
    path.write_text("".join(json.dumps(r) + "\n" for r in heldout_questions(squad)), encoding="utf-8")
    loaded = load_questions(path)
    assert not loaded.problems
    assert len(loaded.questions) == 10
    first = loaded.questions[0]
    assert first.gold_ids[0].endswith("#0") and first.answer is not None
    assert first.answer.endswith("0 Einwohner")


def test_sources_are_shortened_like_the_product_and_the_answer_cites_its_source(squad: Path) -> None:
    paragraphs, _ = read_xquad(squad)
    examples = _examples(squad)
    assert {e.kind for e in examples} == {"xquad", "refusal"}
    for example in examples:
        assert len(example.sources) == 3
        for passage in example.sources:
            title = article_of(passage.article_id)
            assert passage.text == focus_passage(
                paragraphs[title][passage.article_id].body, example.question, SOURCE_CHARS
            )
        if example.kind == "refusal":
            assert example.answer == REFUSAL
            continue
        text, marker = example.answer.rsplit(" ", 1)
        cited = example.sources[int(marker.strip("[]")) - 1]
        assert text in cited.text and cited.article_id.startswith(f"{example.origin}#")
        assert sum(text in p.text for p in example.sources) == 1
        assert {p.article_id.split("#")[0] for p in example.sources} != {example.origin}  # mixed


def test_a_refusal_never_has_the_answer_in_its_sources(squad: Path) -> None:
    _, questions = read_xquad(squad)
    answers = {q.question: q.answer for q in questions}
    refusals = [e for e in _examples(squad, refusal_share=1.0) if e.kind == "refusal"]
    assert refusals
    for example in refusals:
        assert not any(answers[example.question] in p.text for p in example.sources)


@pytest.fixture
def data_dir(squad: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder with the XQuAD file above and small 10kGNAD and headline files, as the setting."""
    data = squad.parent.parent
    gnad, heads = inputs
    (data / "10kgnad").mkdir()
    shutil.copy(gnad, data / "10kgnad" / "test.csv")
    (data / "heise-headlines").mkdir()
    with gzip.open(data / "heise-headlines" / "newsticker-2022-2023-good-bad.csv.gz", "wb") as out:
        out.write(heads.read_bytes())
    monkeypatch.setenv("HEISE_RAG_DATA_DIR", str(data))
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def test_sft_data_command_writes_the_held_out_questions(data_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "sft"
    result = CliRunner().invoke(
        app, ["train", "sft-data", "--output", str(output), "--headline-examples", "5"]
    )
    assert result.exit_code == 0, result.output
    stats = json.loads((output / "stats.json").read_text())
    assert stats["train"]["kinds"]["xquad"] > 0
    assert stats["command"].startswith("heise-rag train sft-data --output ")
    assert "--headline-examples 5 " in stats["command"] and "--xquad-gold-first 0.0" in stats["command"]
    heldout = load_questions(output / HELDOUT_FILE).questions
    assert len(heldout) == 10
    trained = [json.loads(line) for line in (output / "train.jsonl").read_text().splitlines()]
    assert not {q.question for q in heldout} & {row["question"] for row in trained}


def test_sentence_answers_quote_the_sentence_that_holds_the_span(squad: Path) -> None:
    examples = list(
        xquad_examples(
            squad, random.Random(3), sources=3, source_chars=SOURCE_CHARS, refusal_share=0.0, dev_share=0.0,
            sentence_answers=True,
        )
    )  # fmt: skip
    assert examples
    for example in examples:
        text, marker = example.answer.rsplit(" ", 1)
        assert text.startswith("Die Stadt Nummer") and text.endswith("Einwohner")
        assert text in example.sources[int(marker.strip("[]")) - 1].text
    assert answer_sentence("Erst dies. Dann das Ziel hier! Zuletzt.", "Ziel") == "Dann das Ziel hier"
    assert answer_sentence("Ein Satz. Noch einer.", "Satz. Noch") == "Satz. Noch"  # crosses sentences
