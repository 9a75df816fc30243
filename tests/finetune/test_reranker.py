"""The cross-encoder reranker: training groups, training end to end on a tiny set, the shipped model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.documents import Document
from typer.testing import CliRunner

from finetune.reranker_data import (
    Candidate,
    DataConfig,
    Group,
    RerankData,
    is_held_out,
    make_drafts,
    sentences,
)
from rag.cli import app
from rag.models.resolve import TRAINED_MODELS
from rag.rerank import SLIM_SPEC, CrossEncoderReranker, load_cross_encoder, passage_text
from rag.settings import Settings

BODY = (
    "Die Stadt Wien baut bis 2030 die U-Bahn-Linie U5 aus. Die neue Strecke soll täglich viele tausend "
    "Fahrgäste befördern und den Verkehr in der Innenstadt entlasten. Die Kosten werden auf zwei "
    "Milliarden Euro geschätzt, Bund und Land teilen sie sich. Kritiker bemängeln die lange Bauzeit "
    "und die vielen Baustellen in den Bezirken."
)


def test_passage_text_shows_the_title_once() -> None:
    assert passage_text("Titel", "Text dazu.") == "Titel\nText dazu."
    assert passage_text("Schlagzeile", "Schlagzeile") == "Schlagzeile"
    assert passage_text("Der Lead.", "Der Lead. Und mehr.") == "Der Lead. Und mehr."


def test_sentences_split_german_text_and_keep_abbreviations() -> None:
    assert sentences("Am 21. August kam z.B. Dr. Meier. Dann ging er.") == [
        "Am 21. August kam z.B. Dr. Meier.",
        "Dann ging er.",
    ]


def test_drafts_come_only_from_articles_with_a_body_and_split_by_article() -> None:
    corpus = {
        "derstandard:1": [Candidate("derstandard:1", "U5 wird gebaut.", "U5 wird gebaut. " + BODY)],
        "heise:2": [Candidate("heise:2", "Nur eine Schlagzeile", "Nur eine Schlagzeile")],
    }
    drafts = make_drafts(
        corpus, [("Headline", "Eine Synopse mit genug Wörtern darin.")], DataConfig(keep_sentence=0.0, seed=1)
    )
    assert {d.key for d in drafts} == {"derstandard:1", "teaser:Headline"}
    ict = [d for d in drafts if d.kind == "ict"]
    assert ict and all(d.query in BODY and d.query not in d.positive for d in ict)
    assert is_held_out("derstandard:1", 0.5) == is_held_out("derstandard:1", 0.5)


def _tiny_groups(path: Path) -> None:
    docs = [
        (
            "Wer baut die U5 in Wien?",
            BODY,
            ["Der FC Barcelona gewinnt das Pokalfinale.", "Apple stellt ein iPhone vor."],
        ),
        (
            "Was kostet die neue U-Bahn?",
            BODY,
            ["Das Wetter wird morgen sonnig.", "Ein neuer Roman erscheint."],
        ),
        (
            "Welche Partei gewann die Wahl?",
            "Die Partei gewann die Wahl deutlich.",
            [BODY, "Kaffee ist teuer."],
        ),
        ("Wann startet die Raumsonde?", "Die Raumsonde startet im März.", [BODY, "Die Börse schließt."]),
    ]
    groups = [Group("ict", f"a:{i}", q, p, n) for i, (q, p, n) in enumerate(docs)]
    RerankData(train=groups, held_out=groups[:2]).save(path)


@pytest.mark.slow
def test_training_runs_end_to_end_and_the_slim_artifact_loads(
    provisioned: Callable[[str], Path], tmp_path: Path
) -> None:
    base = provisioned("multilingual-e5-small")
    _tiny_groups(tmp_path / "groups.jsonl")
    out = tmp_path / "reranker"
    result = CliRunner().invoke(
        app,
        [
            "train", "reranker", "--groups", str(tmp_path / "groups.jsonl"), "--output", str(out),
            "--layers", "1", "--max-length", "32", "--epochs", "1", "--batch-size", "4",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out MRR@10" in result.output
    assert {"model.safetensors", "config.json", SLIM_SPEC, "MODEL_CARD.md"} <= {p.name for p in out.iterdir()}
    assert (out / "model.safetensors").stat().st_size < 5_000_000  # the word embeddings stay out
    spec = json.loads((out / SLIM_SPEC).read_text())
    spec["base_model"] = str(base)  # assemble from the provisioned folder into a private cache
    (out / SLIM_SPEC).write_text(json.dumps(spec))
    model = load_cross_encoder(str(out), tmp_path / "cache")
    assert model.max_seq_length == 32
    scores = model.predict([("Wer baut die U5?", BODY), ("Wer baut die U5?", "Kaffee ist teuer.")])
    assert scores.shape == (2,)
    assert list((tmp_path / "cache" / "assembled").iterdir())  # assembled once, then reused


@pytest.mark.slow
def test_shipped_reranker_ranks_the_relevant_passage_first(
    settings: Settings, provisioned: Callable[[str], Path]
) -> None:
    provisioned("multilingual-e5-small")
    if not (TRAINED_MODELS["heise-reranker-de"] / SLIM_SPEC).is_file():
        pytest.skip("finetune/artifacts/reranker holds no trained model: run `heise-rag train reranker`")
    reranker = CrossEncoderReranker(
        model_name="heise-reranker-de", cache_dir=settings.model_cache_dir, top_n=3
    )
    documents = [
        Document(
            page_content="Der FC Barcelona gewinnt das Pokalfinale gegen Bilbao.",
            metadata={"title": "Fußball"},
        ),
        Document(page_content=BODY, metadata={"title": "Wien baut die U5"}),
        Document(
            page_content="Apple stellt ein neues iPhone mit besserer Kamera vor.",
            metadata={"title": "iPhone"},
        ),
    ]
    ranked = reranker.compress_documents(documents, "Wie viel kostet der Ausbau der U-Bahn in Wien?")
    assert ranked[0].metadata["title"] == "Wien baut die U5"
    assert ranked[0].metadata["rerank_score"] > ranked[1].metadata["rerank_score"]
