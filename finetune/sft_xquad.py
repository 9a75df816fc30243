"""XQuAD questions as answer-adapter examples, with half of XQuAD's articles held out for evaluation.

Why XQuAD at all: its questions ("Wer ...?", "Was ...?", "Wie viele ...?") are the kind readers ask,
with human answer spans; the template questions of ``sft_data`` teach the format but almost never
an entity question, and an adapter trained on them alone learned to answer numbers to "Wer"
questions. Why half held out: the dev set is also the answer evaluation, so the split is by
Wikipedia article (stable hash of its title): questions of a held-out article are never trained on
and form ``xquad-heldout.jsonl``, the question file the before/after evaluation reads.

The prompt shows what the product would show: the gold paragraph among another paragraph of its
article and paragraphs of other articles, each shortened by the product's ``focus_passage`` to
the question's sentences.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from finetune.sft_data import Passage, SftExample, make_example, split_of
from rag.passages import SENTENCE, focus_passage

XquadPart = Literal["sft", "heldout"]
HELDOUT_SHARE = 0.5
HELDOUT_FILE = "xquad-heldout.jsonl"


@dataclass(frozen=True)
class XquadQuestion:
    qid: str
    question: str
    answer: str
    article: str  # Wikipedia page name, e.g. "Super_Bowl_50"
    paragraph: int


def xquad_part(title: str, heldout_share: float = HELDOUT_SHARE) -> XquadPart:
    """Stable per-article assignment: the same title always lands in the same part."""
    bucket = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "heldout" if bucket < heldout_share else "sft"


def read_xquad(path: Path) -> tuple[dict[str, list[str]], list[XquadQuestion]]:
    """Paragraph texts per article and every answerable question, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: dict[str, list[str]] = {}
    questions: list[XquadQuestion] = []
    for article in data:
        title = article["title"]
        paragraphs[title] = [p["context"].strip() for p in article["paragraphs"]]
        for number, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                if qa.get("answers"):
                    questions.append(
                        XquadQuestion(qa["id"], qa["question"], qa["answers"][0]["text"], title, number)
                    )
    return paragraphs, questions


def paragraph_id(article: str, number: int) -> str:
    """The article id the SQuAD ingest source gives a paragraph (``ingest/sources/squad.py``)."""
    return f"{article}#{number}"


def _passage(article: str, number: int, text: str) -> Passage:
    return Passage(
        article_id=paragraph_id(article, number),
        title=article.replace("_", " "),
        text=text,
        source="xquad",
    )


def xquad_examples(
    path: Path,
    rng: random.Random,
    *,
    sources: int,
    source_chars: int,
    refusal_share: float,
    dev_share: float,
    sentence_answers: bool = False,
) -> Iterator[SftExample]:
    """One example per question of the ``sft`` articles: answer span (or, with ``sentence_answers``,
    the source sentence that holds it) + marker, or the refusal.

    Besides the gold paragraph, one source is another paragraph of the same article and the rest
    come from other training articles, as retrieval mixes the right article's neighbours with
    unrelated hits; a refusal shows the same without the gold paragraph. A question whose answer
    the shortened gold paragraph no longer shows is left out: refusing it would teach refusing
    questions whose answer is usually there."""
    paragraphs, questions = read_xquad(path)
    pool = [(t, i) for t, texts in paragraphs.items() if xquad_part(t) == "sft" for i in range(len(texts))]
    for q in questions:
        neighbours = [(q.article, i) for i in range(len(paragraphs[q.article])) if i != q.paragraph]
        strangers = [(t, i) for t, i in pool if t != q.article]
        if xquad_part(q.article) != "sft" or not neighbours or len(strangers) < sources - 1:
            continue
        gold = focus_passage(paragraphs[q.article][q.paragraph], q.question, source_chars)
        if q.answer not in gold:
            continue
        others = [rng.choice(neighbours), *rng.sample(strangers, sources - 1)]
        shown = [_passage(t, i, focus_passage(paragraphs[t][i], q.question, source_chars)) for t, i in others]
        rng.shuffle(shown)
        split = split_of(q.article, dev_share)
        if rng.random() < refusal_share and not any(q.answer in p.text for p in shown):
            yield make_example("xquad", q.question, "", shown, None, q.article, split)
            continue
        position = rng.randrange(sources)
        passages = shown[: sources - 1]
        passages.insert(position, _passage(q.article, q.paragraph, gold))
        answer = answer_sentence(gold, q.answer) if sentence_answers else q.answer
        yield make_example("xquad", q.question, answer, passages, position, q.article, split)


def answer_sentence(text: str, span: str) -> str:
    """The sentence of ``text`` that holds ``span`` (the span itself when it crosses sentences)."""
    for match in SENTENCE.finditer(text):
        sentence = match.group(0).strip().strip("… ")
        if span in sentence:
            return sentence.rstrip(".!?")
    return span


def heldout_questions(path: Path) -> list[dict[str, object]]:
    """The held-out articles' questions in the evaluation's JSONL format (``eval/questions.py``)."""
    _, questions = read_xquad(path)
    return [
        {
            "qid": q.qid,
            "question": q.question,
            "gold_ids": [paragraph_id(q.article, q.paragraph)],
            "answer": q.answer,
        }
        for q in questions
        if xquad_part(q.article) == "heldout"
    ]
