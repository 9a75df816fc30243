"""Reader examples: cloze questions, the span at its offset, no-answer twins, dev headlines left out."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from finetune.answer_adapter.sft_data import articles, sentences
from finetune.reader.data import (
    ReaderDataConfig,
    ReaderExample,
    cloze_candidates,
    cloze_question,
    gnad_questions,
    headline_questions,
    lexical_negatives,
    passage_questions,
    single_names,
)
from ingest.sources.gnad import read_gnad
from ingest.sources.headlines import read_headlines


def test_cloze_candidates_find_names_products_numbers_years_and_quotes() -> None:
    found = {
        (wh, answer)
        for wh, _, answer in cloze_candidates('Blake Lemoine testet "LaMDA" 2022 für 3 Milliarden')
    }
    assert ("Wer", "Blake Lemoine") in found
    assert ("Wie heißt", "LaMDA") in found
    assert ("Wann", "2022") in found
    assert ("Wie viele", "3 Milliarden") in found
    assert ("Was", "LaMDA") in found


def test_one_word_names_are_told_from_common_nouns_by_the_articles_before_them() -> None:
    texts = [
        "Heute kauft Microsoft die Firma. Die Regierung prüft die Übernahme.",
        "Gestern sperrt Frankreich die App, sagt die Regierung.",
        "Nun will Microsoft mehr Daten, Microsoft und Frankreich streiten.",
        "Auch Frankreich und Microsoft prüfen die Daten der Regierung.",
        "Dann klagt Microsoft, Frankreich droht, die Daten bleiben.",
    ]
    names = single_names(texts, min_count=3)
    assert {"Microsoft", "Frankreich"} <= names
    assert not names & {"Regierung", "Daten", "Übernahme", "Firma", "App"}  # after an article
    assert "Heute" not in names  # the first word is capitalised whatever it is
    assert single_names([*texts, "microsoft.com ist erreichbar"], min_count=3) == names - {"Microsoft"}


def test_cloze_candidates_take_one_word_names_only_when_given() -> None:
    clause = "Frankreich will Tiktok verbieten"
    assert ("Wer", 0, "Frankreich") not in set(cloze_candidates(clause))
    found = set(cloze_candidates(clause, frozenset({"Frankreich", "Tiktok"})))
    assert {("Wer", 0, "Frankreich"), ("Wer", 16, "Tiktok")} <= found
    # a name inside a multi-word name or a product pattern is asked as that span only
    inside = set(cloze_candidates("Dann testet Blake Lemoine LaMDA", frozenset({"Lemoine", "LaMDA"})))
    assert ("Wer", 17, "Lemoine") not in inside and ("Wer", 26, "LaMDA") not in inside


def test_a_cloze_question_leads_with_its_question_word_and_drops_the_answer() -> None:
    clause = "SiFive macht Ernst gegen ARMs Smartphone-Vormacht"
    question = cloze_question(clause, 0, "SiFive", "Was", random.Random(0), dropout=0.0)
    assert question == "Was macht Ernst gegen ARMs Smartphone-Vormacht?"


def test_headline_examples_point_at_their_answer_and_skip_excluded_ids(inputs: tuple[Path, Path]) -> None:
    _, heads_file = inputs
    heads = articles(read_headlines(heads_file))
    made = list(headline_questions(heads, ReaderDataConfig(word_dropout=0.0), random.Random(1)))
    assert made
    for example in made:
        assert (
            example.context[example.answer_start : example.answer_start + len(example.answer)]
            == example.answer
        )


def test_a_wrong_offset_is_caught_when_the_example_is_made() -> None:
    with pytest.raises(AssertionError):
        ReaderExample("Wer?", "Anna kommt", 3, "Anna", "heise", "1", "train")


def test_gnad_template_questions_and_their_no_answer_twins(inputs: tuple[Path, Path]) -> None:
    gnad_file, _ = inputs
    gnad = articles(read_gnad(gnad_file))
    positives = list(gnad_questions(gnad, ReaderDataConfig()))
    assert positives and all(p.answer_start is not None for p in positives)
    pool = [a.body for a in gnad]
    negatives = lexical_negatives(positives, pool, share=1.0, rng=random.Random(0))
    assert negatives and all(n.answer_start is None and n.answer == "" for n in negatives)
    assert all(
        p.answer.lower() not in n.context.lower()
        for p in positives
        for n in negatives
        if n.question == p.question
    )


def test_dev_headlines_are_never_made_into_training_questions(
    tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    from finetune.reader.data import excluded_headlines

    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"qid": "d1", "question": "?", "gold_ids": [6315231]}) + "\n", encoding="utf-8")
    assert excluded_headlines(dev) == {"6315231"}
    assert excluded_headlines(tmp_path / "missing.jsonl") == set()


def test_passage_questions_ask_one_sentence_over_a_window_of_its_article(inputs: tuple[Path, Path]) -> None:
    gnad_file, _ = inputs
    gnad = articles(read_gnad(gnad_file))
    config = ReaderDataConfig(passage_examples=20, passage_sentences=4, word_dropout=0.0)
    made = list(passage_questions(gnad, config, random.Random(3)))
    assert 0 < len(made) <= 20
    for example in made:
        assert example.answer_start is not None
        assert example.context[example.answer_start :].startswith(example.answer)
        assert example.answer not in example.question
        assert 1 <= len(sentences(example.context)) <= 4
        body = next(sentences(a.body) for a in gnad if a.id == example.group)
        assert example.context in " ".join(body)
    # none asked by default (the committed reader was trained without them)
    assert list(passage_questions(gnad, ReaderDataConfig(), random.Random(3))) == []
    # with one-word names, every word of the articles may be one: some answers are single words
    words = frozenset(w for a in gnad for w in a.body.split() if w.isalpha() and w[:1].isupper())
    named = list(passage_questions(gnad, config, random.Random(3), words))
    assert any(" " not in e.answer and e.answer in words and e.question.startswith("Wer") for e in named)
