"""The cross-encoder reranker: training groups, training end to end on a tiny set, the shipped model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from langchain_core.documents import Document
from qdrant_client import QdrantClient
from typer.testing import CliRunner

from cli.main import app
from finetune.reranker.data import (
    Candidate,
    DataConfig,
    Group,
    RerankData,
    is_held_out,
    lengthened,
    load_corpus,
    make_drafts,
    mine_groups,
    sentences,
)
from finetune.reranker.training import focused
from ingest.chunking import Chunker
from ingest.pipeline import Indexer
from rag.core.domain import Article
from rag.core.settings import Settings
from rag.models.embeddings import Embedder
from rag.models.int8 import dequantize, quantize_int8
from rag.models.resolve import TRAINED_MODELS
from rag.retrieval.passages import focus_passage
from rag.retrieval.rerank import (
    SLIM_SPEC,
    CrossEncoderReranker,
    fused_order,
    load_cross_encoder,
    passage_text,
)
from rag.retrieval.search import make_retriever
from rag.store.vector_store import VectorStore

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


def test_question_drafts_ask_about_a_sentence_of_the_positive_chunk() -> None:
    chunk = Candidate("derstandard:1", "U5 wird gebaut.", "U5 wird gebaut. " + BODY)
    drafts = make_drafts({"derstandard:1": [chunk]}, [], DataConfig(question_share=1.0, lead_share=0, seed=1))
    questions = [d for d in drafts if d.kind == "question_to_chunk"]
    assert [d.query for d in questions] == [
        "Die Stadt Wien baut bis zu welchem Jahr die U-Bahn-Linie U5 aus?"
    ]
    assert questions[0].positive == passage_text(chunk.title, chunk.text)  # the answer (2030) is in it


def test_short_negatives_are_lengthened_with_their_articles_next_chunks() -> None:
    chunks = [Candidate("a:1", "Titel", text) for text in ("Kurz.", "Der zweite Teil.", "Der dritte Teil.")]
    assert lengthened(chunks[0], chunks, "passage", 0) == "Titel\nKurz."
    assert lengthened(chunks[0], chunks, "passage", 20) == "Titel\nKurz. Der zweite Teil."
    assert lengthened(chunks[1], chunks, "text", 1000) == "Der zweite Teil. Der dritte Teil."  # article ends
    stranger = Candidate("b:1", "Anderes", "Nicht im Korpus.")
    assert lengthened(stranger, chunks, "passage", 1000) == "Anderes\nNicht im Korpus."


TOPICS = ("Die U-Bahn in Wien", "Der Glasfaserausbau in Bayern", "Die Raumsonde der ESA", "Das neue Tablet")


def _article(i: int, topic: str) -> Article:
    body = " ".join(
        f"{topic} wird im Jahr {2020 + j} in Teil {j} ausführlich beschrieben und oft kommentiert."
        for j in range(10)
    )
    return Article(id=str(i), title=f"{topic}: Bericht", body=body, source="derstandard")


def test_mined_groups_hold_lengthened_negatives_from_other_articles(
    settings: Settings, provisioned: Callable[[str], Path]
) -> None:
    provisioned("all-minilm-l6-v2")
    embedder = Embedder("all-minilm-l6-v2", cache_dir=settings.model_cache_dir)
    client = QdrantClient(":memory:")
    store = VectorStore(client, "heise")
    Indexer(store, embedder, Chunker(embedder.count_tokens, 80, 8)).ingest(
        _article(i, topic) for i, topic in enumerate(TOPICS)
    )
    corpus = load_corpus(store)
    config = DataConfig(hard_negatives=2, random_negatives=1, hard_pool=5, held_out_share=0.0, seed=3)
    drafts = make_drafts(corpus, [], config)
    data = mine_groups(drafts, corpus, make_retriever(store, embedder, k=10), config)
    client.close()
    assert len(data.train) == len(drafts) and not data.held_out
    assert {g.kind for g in data.train} >= {"ict", "question_to_chunk"}
    last_chunks = {chunks[-1].text for chunks in corpus.values()}
    for group in data.train:
        assert len(group.negatives) == 3 and group.positive not in group.negatives
        topic = group.key.partition(":")[2]
        assert not any(TOPICS[int(topic)] in n for n in group.negatives)  # other articles only
        for negative in group.negatives:  # long enough, or its article ran out of chunks
            assert len(negative) >= 0.75 * len(group.positive) or any(
                negative.endswith(t) for t in last_chunks
            )


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
            "--focus-chars", "120",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "zurückgehalten MRR@10" in result.output
    assert {"model.safetensors", "config.json", SLIM_SPEC, "MODEL_CARD.md"} <= {p.name for p in out.iterdir()}
    assert (out / "model.safetensors").stat().st_size < 5_000_000  # the word embeddings stay out
    spec = json.loads((out / SLIM_SPEC).read_text())
    spec["base_model"] = str(base)  # assemble from the provisioned folder into a private cache
    (out / SLIM_SPEC).write_text(json.dumps(spec))
    model = load_cross_encoder(str(out), tmp_path / "cache")
    assert model.max_seq_length == 32
    reranker = CrossEncoderReranker(model_name=str(out), cache_dir=tmp_path / "cache")
    assert spec["focus_chars"] == reranker.focus_chars == 120  # query time cuts as training did
    assert "--focus-chars 120" in (out / "MODEL_CARD.md").read_text()
    scores = model.predict([("Wer baut die U5?", BODY), ("Wer baut die U5?", "Kaffee ist teuer.")])
    assert scores.shape == (2,)
    assert list((tmp_path / "cache" / "assembled").iterdir())  # assembled once, then reused


def test_training_passages_are_cut_to_their_most_query_like_sentences() -> None:
    long_negative = "Das Wetter wird sonnig. " * 10 + "Die U5 kostet zwei Milliarden Euro."
    group = Group("ict", "a:1", "Was kostet die U5?", BODY, [long_negative])
    (cut,) = focused([group], 80)
    assert cut.negatives == [focus_passage(long_negative, group.query, 80)]
    assert "… Die U5 kostet" in cut.negatives[0]  # the asked-about sentence, not only the start
    assert len(cut.positive) <= 80 and focused([group], None) == [group]


def test_int8_storage_round_trips_within_half_a_step_per_row() -> None:
    weights = {"w": torch.randn(8, 16), "bias": torch.randn(16)}
    stored = quantize_int8(weights)
    assert stored["w"].dtype == torch.int8 and stored["bias"].dtype == torch.float16
    restored = dequantize(stored)
    assert set(restored) == {"w", "bias"}
    row_max = weights["w"].abs().amax(dim=1, keepdim=True)
    assert bool(((restored["w"] - weights["w"]).abs() <= row_max / 254 + 1e-3).all())
    assert not torch.equal(restored["w"], weights["w"])  # it is lossy, within the bound


def test_fused_order_weighs_the_first_stage_against_the_scores() -> None:
    scores = [0.1, 0.5, 2.0, -1.0]  # candidates in first-stage order
    assert fused_order(scores, 0.0) == [2, 1, 0, 3]  # the cross-encoder alone
    assert fused_order(scores, 100.0) == [0, 1, 2, 3]  # the first stage dominates
    # Equal weights: first-stage 1st and reranker 3rd ties with first-stage 3rd and reranker 1st
    # (the earlier candidate wins the tie); both beat the candidate that is 2nd in both orders only
    # by a hair, and the candidate last in both stays last.
    assert fused_order(scores, 1.0) == [0, 2, 1, 3]
    assert fused_order([], 1.0) == []


@pytest.mark.slow
def test_shipped_reranker_ranks_the_relevant_passage_first(
    settings: Settings, provisioned: Callable[[str], Path]
) -> None:
    provisioned("multilingual-e5-small")
    if not (TRAINED_MODELS["heise-reranker-de"] / SLIM_SPEC).is_file():
        pytest.skip("finetune/artifacts/reranker holds no trained model: run `heise-rag train reranker`")
    reranker = CrossEncoderReranker(
        model_name="heise-reranker-de", cache_dir=settings.model_cache_dir, top_n=3, first_stage_weight=0.0
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
