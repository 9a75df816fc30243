"""Training groups for the cross-encoder reranker, built only from the project's own corpus.

Why these kinds of groups: no German question-passage pairs exist here, and the evaluation sets
(XQuAD dev questions, the heise question set) must stay out of training. Inverse-cloze tasks turn
any article into pairs: a sentence is the query and the rest of its chunk the positive (ICT, Lee et
al. 2019; the sentence stays in one pair in ten so the model also learns exact overlap). Headline
pairs (a body sentence -> its article's lead shown as a headline, the lead -> the rest of its
chunk, a heise teaser's synopsis -> its headline) cover the short, headline-only documents of the
heise index. Question groups (a template question made from a body sentence -> the chunk holding
that sentence, ``finetune.answer_adapter.sft_data.span_questions``) give queries the shape of the product's
questions. Hard negatives are what the project's own hybrid retriever returns for the query from
other articles, rendered exactly as the reranker sees candidates (``rag.retrieval.rerank.passage_text``);
one random negative per group comes from the whole corpus. A passage negative shorter than three quarters
of its positive is lengthened with its article's following chunks: the retriever favours short chunks, and
without this the first trained model learnt that the longer passage wins.

Each group is (query, positive, negative_1 .. negative_n) with a fixed n, the column layout of
sentence-transformers' MultipleNegativesRankingLoss. Articles, not groups, are split into train and
held-out, so no held-out query has seen its article in training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from finetune.answer_adapter.sft_data import span_questions
from ingest.sources.gnad import split_lead
from rag.core.payload import article_key
from rag.models.embeddings import Embedder
from rag.retrieval.rerank import passage_text
from rag.retrieval.search import HybridRetriever, SearchFilter
from rag.store.vector_store import VectorStore

Kind = Literal["ict", "sentence_to_headline", "lead_to_chunk", "teaser_to_headline", "question_to_chunk"]
# How a candidate is shown: as at inference (title + passage), as a headline, or as bare text (the
# lead is the title of a 10kGNAD article, so a lead query must not see titles).
Layout = Literal["passage", "headline", "text"]
LAYOUT: dict[Kind, Layout] = {
    "ict": "passage",
    "sentence_to_headline": "headline",
    "lead_to_chunk": "text",
    "teaser_to_headline": "headline",
    "question_to_chunk": "passage",
}
MIN_WORDS, MAX_WORDS = 6, 45
NEGATIVE_LENGTH_SHARE = 0.75  # passage negatives are lengthened to this share of the positive's length


@dataclass(frozen=True)
class Candidate:
    """One indexed chunk: enough to render it in any layout and to know its article."""

    key: str  # source:article_id
    title: str
    text: str

    def render(self, layout: Layout) -> str:
        if layout == "headline":
            return self.title
        if layout == "text":
            return self.text
        return passage_text(self.title, self.text)


@dataclass
class Group:
    """One query with its positive and ``n`` negatives, already rendered."""

    kind: Kind
    key: str
    query: str
    positive: str
    negatives: list[str]


@dataclass(frozen=True)
class DataConfig:
    ict_per_article: int = 2
    headline_share: float = 0.4  # articles that also give a sentence -> headline group
    lead_share: float = 0.3  # articles that also give a lead -> chunk group
    question_share: float = 0.5  # articles that also give a template question -> chunk group
    keep_sentence: float = 0.1  # ICT groups whose positive still contains the query sentence
    hard_negatives: int = 5
    random_negatives: int = 1
    hard_pool: int = 20  # hard negatives are sampled from the retriever's top articles
    held_out_share: float = 0.06
    max_groups: int | None = None
    seed: int = 13


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, split with the 10kGNAD source's German sentence rules."""
    out: list[str] = []
    rest = text
    while rest:
        sentence, rest = split_lead(rest)
        out.append(sentence)
    return out


def usable(sentence: str) -> bool:
    return MIN_WORDS <= len(sentence.split()) <= MAX_WORDS


def is_held_out(key: str, share: float) -> bool:
    """A stable split by article: the same article lands on the same side on every run."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def load_corpus(store: VectorStore) -> dict[str, list[Candidate]]:
    """Every indexed article's chunks in order, keyed by ``source:article_id``."""
    chunks: dict[str, list[tuple[int, Candidate]]] = defaultdict(list)
    for _, payload in store.scroll_payloads(["source", "article_id", "title", "text", "chunk_index"]):
        key = article_key(payload["source"], payload["article_id"])
        chunks[key].append((int(payload["chunk_index"]), Candidate(key, payload["title"], payload["text"])))
    return {key: [c for _, c in sorted(items, key=lambda t: t[0])] for key, items in chunks.items()}


def load_teasers(path: Path) -> list[tuple[str, str]]:
    """(headline, synopsis) pairs of the 2019 heise front-page teasers, duplicates dropped."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = {(r["title"].strip(), r["synopsis"].strip()) for r in csv.DictReader(handle)}
    return sorted((t, s) for t, s in rows if t and s)


@dataclass
class Draft:
    """A query and positive before negatives are mined."""

    kind: Kind
    key: str
    query: str
    positive: str


def article_drafts(
    key: str, chunks: Sequence[Candidate], config: DataConfig, rng: random.Random
) -> Iterator[Draft]:
    """The ICT and headline drafts of one multi-sentence article (a derStandard article here)."""
    title = chunks[0].title
    per_chunk = [(c, sentences(c.text)) for c in chunks]
    options = [(c, s, i) for c, ss in per_chunk for i, s in enumerate(ss) if usable(s) and s != title]
    if not options:
        return
    for chunk, sentence, _ in rng.sample(options, min(config.ict_per_article, len(options))):
        keep = rng.random() < config.keep_sentence
        rest = chunk.text if keep else " ".join(s for s in sentences(chunk.text) if s != sentence)
        if len(rest.split()) >= MIN_WORDS:
            yield Draft("ict", key, sentence, passage_text(title, rest))
    if rng.random() < config.headline_share:
        body = [o for o in options if not o[1].startswith(title)]
        if body:
            yield Draft("sentence_to_headline", key, rng.choice(body)[1], title)
    lead, rest = split_lead(chunks[0].text)
    if rng.random() < config.lead_share and usable(lead) and len(rest.split()) >= MIN_WORDS:
        yield Draft("lead_to_chunk", key, lead, rest)
    if rng.random() < config.question_share:
        asked = [
            (c, q.question) for c, ss in per_chunk for q in span_questions(ss, MAX_WORDS) if c.text != title
        ]
        if asked:
            chunk, question = rng.choice(asked)
            yield Draft("question_to_chunk", key, question, passage_text(title, chunk.text))


def has_body(chunks: Sequence[Candidate]) -> bool:
    """Whether an article has text beyond its title (headline-only articles have none)."""
    return any(c.text != c.title for c in chunks)


@dataclass(frozen=True)
class NegativePool:
    """Where negatives come from for one layout: passages only from articles with a body, so a
    passage group never learns "long beats short" from headline-only negatives."""

    keys: Sequence[str]
    search_filter: SearchFilter


def negative_pools(corpus: dict[str, list[Candidate]]) -> dict[Layout, NegativePool]:
    bodied = sorted(key for key, chunks in corpus.items() if has_body(chunks))
    sources = tuple(sorted({key.partition(":")[0] for key in bodied}))
    passages = NegativePool(bodied, SearchFilter(sources=sources))
    return {"passage": passages, "text": passages, "headline": NegativePool(sorted(corpus), SearchFilter())}


def mine_negatives(
    draft: Draft,
    retriever: HybridRetriever,
    corpus: dict[str, list[Candidate]],
    pools: dict[Layout, NegativePool],
    config: DataConfig,
    rng: random.Random,
) -> list[str]:
    """Hard negatives from the hybrid retriever (other articles only), then random ones."""
    layout = LAYOUT[draft.kind]
    keys = pools[layout].keys
    hits = retriever.search(draft.query, pools[layout].search_filter).documents[: config.hard_pool]
    pool = [
        Candidate(
            article_key(d.metadata["source"], d.metadata["article_id"]), d.metadata["title"], d.page_content
        )
        for d in hits
    ]
    seen = {draft.positive}
    wanted = int(NEGATIVE_LENGTH_SHARE * len(draft.positive)) if layout != "headline" else 0
    hard: list[str] = []
    for candidate in rng.sample(pool, len(pool)):
        text = lengthened(candidate, corpus.get(candidate.key, [candidate]), layout, wanted)
        if candidate.key != draft.key and text not in seen and len(hard) < config.hard_negatives:
            hard.append(text)
            seen.add(text)
    randoms: list[str] = []
    needed = config.hard_negatives + config.random_negatives
    while len(hard) + len(randoms) < needed:
        key = rng.choice(keys)
        text = lengthened(rng.choice(corpus[key]), corpus[key], layout, wanted)
        if key != draft.key and text not in seen:
            randoms.append(text)
            seen.add(text)
    return hard + randoms


def lengthened(candidate: Candidate, chunks: Sequence[Candidate], layout: Layout, min_chars: int) -> str:
    """The candidate rendered in ``layout``, its text extended by its article's following chunks
    until the rendering has ``min_chars`` characters (or the article ends). The hit's own text stays
    first, so a hard negative stays hard; the few tokens neighbouring chunks share are repeated."""
    texts = [c.text for c in chunks]
    following = texts[texts.index(candidate.text) + 1 :] if candidate.text in texts else []
    shown = candidate
    while len(shown.render(layout)) < min_chars and following:
        shown = Candidate(shown.key, shown.title, f"{shown.text} {following.pop(0)}")
    return shown.render(layout)


class QueryCache(Embedder):
    """The retriever's embedder with every mining query encoded up front, in batches.

    Why: one query at a time costs a full forward pass each (seconds on the shared CPU here); the
    batched pass gives the same vectors, and the retriever itself runs unchanged.
    """

    def __init__(self, base: Embedder, queries: Sequence[str]) -> None:
        super().__init__(base.model_name, cache_dir=base._cache_dir, device=base._device, batch_size=64)
        unique = sorted(set(queries))
        vectors = base.model.encode_query(
            unique, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=True
        )
        self._vectors = dict(zip(unique, vectors, strict=True))
        self.__dict__["model"] = base.model

    def encode_query(self, text: str) -> np.ndarray:
        vector = self._vectors.get(text)
        return vector if vector is not None else super().encode_query(text)


@dataclass
class RerankData:
    train: list[Group]
    held_out: list[Group]

    def sizes(self) -> dict[str, object]:
        by_kind: dict[str, int] = defaultdict(int)
        for group in self.train + self.held_out:
            by_kind[group.kind] += 1
        return {
            "train_groups": len(self.train),
            "held_out_groups": len(self.held_out),
            "by_kind": dict(by_kind),
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for split, groups in (("train", self.train), ("held_out", self.held_out)):
                for group in groups:
                    handle.write(json.dumps({"split": split} | asdict(group), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> RerankData:
        data = cls([], [])
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            split = row.pop("split")
            (data.train if split == "train" else data.held_out).append(Group(**row))
        return data


def make_drafts(
    corpus: dict[str, list[Candidate]], teasers: Sequence[tuple[str, str]], config: DataConfig
) -> list[Draft]:
    """Queries and positives from every multi-sentence article and every teaser, shuffled, capped."""
    rng = random.Random(config.seed)
    drafts: list[Draft] = []
    for key in negative_pools(corpus)["passage"].keys:  # headline-only articles have nothing to cut
        drafts.extend(article_drafts(key, corpus[key], config, rng))
    drafts.extend(
        Draft("teaser_to_headline", f"teaser:{title}", synopsis, title) for title, synopsis in teasers
    )
    rng.shuffle(drafts)
    return drafts[: config.max_groups] if config.max_groups is not None else drafts


def mine_groups(
    drafts: Sequence[Draft],
    corpus: dict[str, list[Candidate]],
    retriever: HybridRetriever,
    config: DataConfig,
) -> RerankData:
    """Negatives for every draft, split by article into train and held-out.

    Each draft draws from its own seeded generator, so any subset of drafts (a shard mined in
    another process) gets exactly the negatives it gets in a full run.
    """
    pools = negative_pools(corpus)
    retriever = retriever.model_copy(
        update={"embedder": QueryCache(retriever.embedder, [d.query for d in drafts])}
    )
    data = RerankData([], [])
    for draft in tqdm(drafts, desc="mining", unit=" groups"):
        rng = random.Random(f"{config.seed}\x1f{draft.key}\x1f{draft.query}")
        negatives = mine_negatives(draft, retriever, corpus, pools, config, rng)
        group = Group(draft.kind, draft.key, draft.query, draft.positive, negatives)
        (data.held_out if is_held_out(draft.key, config.held_out_share) else data.train).append(group)
    return data
