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

import random
from collections.abc import Iterator
from pathlib import Path

from eval.questions import EvalQuestion, article_of, load_squad_questions, xquad_part
from finetune.answer_adapter.sft_data import Passage, SftExample, make_example, split_of
from ingest.sources.squad import read_squad
from rag.core.domain import Article
from rag.core.sentences import SENTENCE
from rag.retrieval.passages import focus_passage

HELDOUT_FILE = "xquad-heldout.jsonl"


def read_xquad(path: Path) -> tuple[dict[str, dict[str, Article]], list[EvalQuestion]]:
    """Paragraphs per article (by paragraph id) and every question with an answer, in file order,
    read by the project's own SQuAD readers so ids and texts are those indexed and evaluated."""
    paragraphs: dict[str, dict[str, Article]] = {}
    for item in read_squad(path):
        if isinstance(item, Article):
            paragraphs.setdefault(article_of(item.id), {})[item.id] = item
    return paragraphs, [q for q in load_squad_questions(path).questions if q.answer]


def _passage(paragraph: Article, text: str) -> Passage:
    return Passage(article_id=paragraph.id, title=paragraph.title, text=text, source="xquad")


def xquad_examples(
    path: Path,
    rng: random.Random,
    *,
    sources: int,
    source_chars: int,
    refusal_share: float,
    dev_share: float,
    sentence_answers: bool = False,
    gold_first_share: float = 0.0,
) -> Iterator[SftExample]:
    """One example per question of the ``sft`` articles: answer span (or, with ``sentence_answers``,
    the source sentence that holds it) + marker, or the refusal.

    Besides the gold paragraph, one source is another paragraph of the same article and the rest
    come from other training articles, as retrieval mixes the right article's neighbours with
    unrelated hits; a refusal shows the same without the gold paragraph. A question whose answer
    the shortened gold paragraph no longer shows is left out: refusing it would teach refusing
    questions whose answer is usually there.

    ``gold_first_share`` of the answered examples show the gold paragraph as source 1, the rest at a
    uniformly drawn position: retrieval ranks the gold paragraph first for most questions, and an
    adapter trained on uniform positions learned to copy the right sentence with the wrong marker."""
    paragraphs, questions = read_xquad(path)
    pool = [p for title, found in paragraphs.items() if xquad_part(title) == "sft" for p in found.values()]
    for q in questions:
        gold_id, article = q.gold_ids[0], article_of(q.gold_ids[0])
        neighbours = [p for pid, p in paragraphs[article].items() if pid != gold_id]
        strangers = [p for p in pool if article_of(p.id) != article]
        if xquad_part(article) != "sft" or not neighbours or len(strangers) < sources - 1:
            continue
        assert q.answer is not None  # read_xquad keeps answered questions only
        gold = focus_passage(paragraphs[article][gold_id].body, q.question, source_chars)
        if q.answer not in gold:
            continue
        others = [rng.choice(neighbours), *rng.sample(strangers, sources - 1)]
        shown = [_passage(p, focus_passage(p.body, q.question, source_chars)) for p in others]
        rng.shuffle(shown)
        split = split_of(article, dev_share)
        if rng.random() < refusal_share and not any(q.answer in p.text for p in shown):
            yield make_example("xquad", q.question, "", shown, None, article, split)
            continue
        position = 0 if rng.random() < gold_first_share else rng.randrange(sources)
        passages = shown[: sources - 1]
        passages.insert(position, _passage(paragraphs[article][gold_id], gold))
        answer = answer_sentence(gold, q.answer) if sentence_answers else q.answer
        yield make_example("xquad", q.question, answer, passages, position, article, split)


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
        q.model_dump(mode="json", include={"qid", "question", "gold_ids", "answer"})
        for q in questions
        if xquad_part(article_of(q.gold_ids[0])) == "heldout"
    ]
