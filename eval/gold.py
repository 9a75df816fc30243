"""Gold articles of a question set, checked against the collection being evaluated.

Why check: a gold id that the collection does not hold (a typo, a question written for another
index) would silently count as a miss and drag every metric down. Such questions are reported and
left out; the texts of the gold articles that do exist become ragas' reference contexts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from eval.questions import EvalQuestion
from rag.store.vector_store import VectorStore


def gold_passages(store: VectorStore, questions: Sequence[EvalQuestion]) -> dict[str, list[str]]:
    """Every article id in the collection; chunk texts (in order) only for the gold articles."""
    wanted = {gid for q in questions for gid in q.gold_ids}
    chunks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for _, payload in store.scroll_payloads(["article_id", "chunk_index", "text"]):
        aid = str(payload["article_id"])
        if aid in wanted:
            chunks[aid].append((int(payload.get("chunk_index", 0)), str(payload.get("text", ""))))
        else:
            chunks.setdefault(aid, [])
    return {aid: [text for _, text in sorted(parts)] for aid, parts in chunks.items()}


def keep_known_gold(
    questions: Sequence[EvalQuestion], known: set[str] | dict[str, list[str]]
) -> tuple[list[EvalQuestion], list[str]]:
    """Questions with at least one gold article in the collection, and one line per dropped one."""
    kept, problems = [], []
    for q in questions:
        present = [g for g in q.gold_ids if g in known]
        if not present:
            problems.append(f"{q.qid}: no gold article in the collection ({', '.join(q.gold_ids)})")
        elif len(present) < len(q.gold_ids):
            missing = ", ".join(g for g in q.gold_ids if g not in known)
            problems.append(f"{q.qid}: gold ids not in the collection, ignored: {missing}")
            kept.append(q.model_copy(update={"gold_ids": tuple(present)}))
        else:
            kept.append(q)
    return kept, problems
