"""No-answer twins: every question asked once more with its gold articles left out of the search.

Why: the dev sets hold only answerable questions, so on them a refusal threshold can only lose
answers. Asked again without its gold article (and without every other part of the same article:
XQuAD's paragraph ids ``<title>#<n>`` share one Wikipedia page), a question has no answer in the
index, and the right reply is the refusal. The twins measure how often the pipeline refuses where
it should, beside how often it refuses where it should not. Where another article tells the same
story (a heise follow-up report), the twin still has an answer: its refusal rate is a lower bound
of what a threshold gains, not an exact one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from eval.answer_eval import AnswerRecord
from eval.questions import EvalQuestion, article_of

NO_ANSWER_METRIC = "no_answer_refused"


def gold_families(questions: Sequence[EvalQuestion], known: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Per question: its gold articles and every article id of the same page (``article_of``)."""
    by_page: dict[str, list[str]] = defaultdict(list)
    for article_id in known:
        by_page[article_of(article_id)].append(article_id)
    return {
        q.qid: tuple(sorted({a for g in q.gold_ids for a in by_page.get(article_of(g), [g])}))
        for q in questions
    }


def no_answer_scores(twins: Sequence[AnswerRecord]) -> dict[str, dict[str, float | None]]:
    """Per twin: 1 when it was refused, 0 when it was answered.

    A twin the pipeline rejects (no article passes the filters) counts as refused: the user is told
    that nothing was found, which is the right reply to a question the index cannot answer."""
    return {
        r.question.qid: {NO_ANSWER_METRIC: float(r.answer.refused) if r.answer is not None else 1.0}
        for r in twins
    }
