"""Instruction data for the answer adapter, in exactly the prompt the product sends.

Why these sources: the examples come from material whose answers are known without a human:
sentences of the 10kGNAD articles (derStandard) turned into extractive questions by templates (a
year, a quantity, a speaker), questions whose answer is a heise headline among distractor
headlines, the same questions asked over sources that lack the answer, which must get the refusal
sentence, and (``sft_xquad``) the questions of half of XQuAD's articles; the other half and the
heise questions stay evaluation data. Every prompt is built by the product's own ``PROMPT`` and
``format_sources`` from langchain ``Document`` objects shaped like retrieved chunks, so the adapter
learns the format it will see; answers are short German spans with the ``[n]`` of their source.

The split is by article: an article's questions are all in train or all in dev.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal

from langchain_core.documents import Document

from ingest.sources.base import Skipped
from ingest.sources.gnad import read_gnad
from ingest.sources.headlines import read_headlines
from rag.core.domain import Article
from rag.core.prompting import PROMPT, REFUSAL, format_sources

Kind = Literal["year", "quantity", "speaker", "headline", "xquad", "refusal"]
Split = Literal["train", "dev"]

MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9])")
_YEAR = re.compile(r"\b(im Jahr|seit|bis|ab) ((?:19|20)\d{2})\b")
_YEAR_QUESTION = {
    "im Jahr": "in welchem Jahr",
    "seit": "seit welchem Jahr",
    "bis": "bis zu welchem Jahr",
    "ab": "ab welchem Jahr",
}
_UNITS = "Prozent|Millionen|Milliarden|Euro|Dollar|Menschen|Personen|Mitarbeiter|Kilometer|Stunden|Tage|Tagen"
_QUANTITY = re.compile(
    rf"\b(\d{{1,3}}(?:\.\d{{3}})*(?:,\d+)?) ((?:Millionen|Milliarden) (?:Euro|Dollar)|{_UNITS})\b"
)
_MASS_UNITS = {
    "Prozent",
    "Euro",
    "Dollar",
    "Millionen Euro",
    "Milliarden Euro",
    "Millionen Dollar",
}  # "wie viel"; countable units take "wie viele"
_SPEAKER = re.compile(
    r"^(?P<quote>.{25,200}?), (?:sagte|erklärte|meinte|betonte|so) "
    r"(?P<who>[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)? [A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?)\.$"
)
_WORD = re.compile(r"\b[A-ZÄÖÜ][\wäöüß-]{5,}\b")


@dataclass(frozen=True)
class SftConfig:
    """How many examples of each kind and how the sources are cut (kept short for CPU training)."""

    seed: int = 13
    sources: int = 2  # sources per prompt, one of which holds the answer (none for refusals)
    window_words: int = 40  # words of the answer's passage (its sentence plus what follows)
    distractor_words: int = 28
    headline_examples: int = 400
    refusal_share: float = 0.2  # share of the extractive questions asked over sources without the answer
    dev_share: float = 0.1
    max_question_words: int = 30
    article_examples: int | None = None  # at most this many 10kGNAD template examples (None: all)
    xquad_sources: int = 3  # as the product's default answer_sources
    xquad_source_chars: int = 450  # as the product's default source_chars


@dataclass(frozen=True)
class Passage:
    """A chunk-like piece of an article, shaped as the retriever returns it."""

    article_id: str
    title: str
    text: str
    source: str
    published_at: str | None = None

    def document(self) -> Document:
        return Document(
            page_content=self.text,
            metadata={
                "article_id": self.article_id,
                "title": self.title,
                "source": self.source,
                "published_at": self.published_at,
            },
        )


@dataclass(frozen=True)
class SftExample:
    """One chat example: the product prompt over ``sources``, and the answer the model should give."""

    id: str
    kind: Kind
    split: Split
    question: str
    answer: str
    sources: tuple[Passage, ...]
    origin: str  # the article the question was made from
    messages: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        row = asdict(self)
        row["sources"] = [asdict(p) for p in self.sources]
        return json.dumps(row, ensure_ascii=False)


def chat_messages(question: str, documents: Sequence[Document], answer: str) -> list[dict[str, str]]:
    """System, user and assistant turns exactly as the product prompt renders them."""
    rendered = PROMPT.format_messages(context=format_sources(documents), question=question)
    roles = {"system": "system", "human": "user"}
    return [{"role": roles[m.type], "content": str(m.content)} for m in rendered] + [
        {"role": "assistant", "content": answer}
    ]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def clip_words(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit]) + " …"


def split_of(article_id: str, dev_share: float) -> Split:
    """Stable per-article split, independent of the order and of the other articles."""
    bucket = int(hashlib.sha256(article_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < dev_share else "train"


@dataclass(frozen=True)
class SpanQuestion:
    kind: Kind
    question: str
    answer: str
    sentence_index: int


def _as_question(sentence: str, start: int, end: int, replacement: str) -> str:
    question = (sentence[:start] + replacement + sentence[end:]).rstrip(" .!") + "?"
    return question[0].upper() + question[1:]


def span_questions(body_sentences: Sequence[str], max_words: int) -> Iterator[SpanQuestion]:
    """Template questions whose answer is a span of one sentence: a year, a quantity, a speaker.

    At most one question of each kind per article, so that long, number-heavy articles do not
    dominate the data."""
    seen: set[Kind] = set()
    for i, sentence in enumerate(body_sentences):
        if len(sentence.split()) > max_words:
            continue
        found: SpanQuestion | None = None
        if speaker := _SPEAKER.match(sentence):
            found = SpanQuestion("speaker", f"Wer sagte: „{speaker['quote']}“?", speaker["who"], i)
        elif year := _YEAR.search(sentence):
            question = _as_question(sentence, *year.span(), _YEAR_QUESTION[year[1]])
            found = SpanQuestion("year", question, year[2], i)
        elif quantity := _QUANTITY.search(sentence):
            how = "wie viel" if quantity[2] in _MASS_UNITS else "wie viele"
            question = _as_question(sentence, *quantity.span(), f"{how} {quantity[2]}")
            found = SpanQuestion("quantity", question, f"{quantity[1]} {quantity[2]}", i)
        if found is not None and found.kind not in seen:
            seen.add(found.kind)
            yield found


def _passage(article: Article, text: str) -> Passage:
    return Passage(
        article_id=article.id,
        title=article.title,
        text=text,
        source=article.source,
        published_at=article.published_at.isoformat() if article.published_at else None,
    )


def _distractors(
    pool: Sequence[Article], exclude: str, n: int, words: int, rng: random.Random
) -> list[Passage]:
    candidates = [a for a in pool if a.id != exclude]
    if len(candidates) < n:
        raise ValueError(f"need {n} distractor articles, the input has {len(candidates)}")
    chosen: list[Passage] = []
    while len(chosen) < n:
        other = candidates[rng.randrange(len(candidates))]
        if any(p.article_id == other.id for p in chosen):
            continue
        parts = sentences(other.body) or [other.teaser or other.title]
        start = rng.randrange(len(parts))
        chosen.append(_passage(other, clip_words(" ".join(parts[start : start + 3]), words)))
    return chosen


def make_example(
    kind: Kind,
    question: str,
    answer_text: str,
    sources: list[Passage],
    answer_index: int | None,
    origin: str,
    split: Split,
) -> SftExample:
    """The answer gets the 1-based marker of the source that holds it; a refusal gets none."""
    answer = REFUSAL if answer_index is None else f"{answer_text} [{answer_index + 1}]"
    digest = hashlib.sha256(f"{kind}|{origin}|{question}".encode()).hexdigest()[:12]
    return SftExample(
        id=f"{kind}-{digest}",
        kind="refusal" if answer_index is None else kind,
        split=split,
        question=question,
        answer=answer,
        sources=tuple(sources),
        origin=origin,
        messages=chat_messages(question, [p.document() for p in sources], answer),
    )


def article_examples(
    articles: Sequence[Article], config: SftConfig, rng: random.Random
) -> Iterator[SftExample]:
    """Extractive questions from article sentences, some turned into refusals by removing the answer."""
    for article in articles:
        body = sentences(article.body)
        split = split_of(article.id, config.dev_share)
        for q in span_questions(body, config.max_question_words):
            if q.answer.lower() not in body[q.sentence_index].lower():
                continue
            others = _distractors(articles, article.id, config.sources, config.distractor_words, rng)
            if rng.random() < config.refusal_share:
                yield make_example(q.kind, q.question, "", others, None, article.id, split)
                continue
            window = clip_words(" ".join(body[q.sentence_index : q.sentence_index + 2]), config.window_words)
            if q.answer not in window:  # the clip cut the answer's sentence; keep only that sentence
                window = body[q.sentence_index]
            position = rng.randrange(config.sources)
            sources = others[: config.sources - 1]
            sources.insert(position, _passage(article, window))
            yield make_example(q.kind, q.question, q.answer, sources, position, article.id, split)


def _german_date(iso: str) -> str:
    year, month, day = iso[:10].split("-")
    return f"{int(day)}. {MONTHS[int(month) - 1]} {year}"


def headline_examples(
    headlines: Sequence[Article], config: SftConfig, rng: random.Random
) -> Iterator[SftExample]:
    """Which headline appeared on a date, or mentions a word: the answer is the headline, cited."""
    dated = [h for h in headlines if h.published_at is not None]
    for _ in range(config.headline_examples):
        group = rng.sample(dated, config.sources)
        target_index = rng.randrange(config.sources)
        target = group[target_index]
        day = target.published_at.date()  # type: ignore[union-attr]
        if any(h.published_at.date() == day for h in group if h is not target):  # type: ignore[union-attr]
            continue
        words = [
            w for w in _WORD.findall(target.title) if not any(w in h.title for h in group if h is not target)
        ]
        if words and rng.random() < 0.5:
            question = f"Welche Meldung berichtet über {rng.choice(words)}?"
        else:
            question = f"Welche Meldung erschien am {_german_date(day.isoformat())}?"
        sources = [_passage(h, h.title) for h in group]
        split = split_of(target.id, config.dev_share)
        if rng.random() < config.refusal_share:  # the same question with the target swapped out
            taken = {h.id for h in group}
            others = [h for h in dated if h.published_at.date() != day and h.id not in taken]  # type: ignore[union-attr]
            replacement = rng.choice(others) if others else None
            if replacement is not None and not any(w in replacement.title for w in words):
                sources[target_index] = _passage(replacement, replacement.title)
                yield make_example("headline", question, "", sources, None, target.id, split)
                continue
        yield make_example("headline", question, target.title, sources, target_index, target.id, split)


def articles(items: Iterable[Article | Skipped]) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


def build_examples(
    gnad_path: Path,
    headlines_path: Path,
    config: SftConfig,
    extra: Callable[[random.Random], Iterable[SftExample]] | None = None,
) -> list[SftExample]:
    """Every example, ``extra``'s (drawn with the same generator) included, shuffled with the seed
    (so a prefix is a fair sample of the kinds)."""
    rng = random.Random(config.seed)
    gnad = articles(read_gnad(gnad_path))
    heads = articles(read_headlines(headlines_path))
    templated = list(islice(article_examples(gnad, config, rng), config.article_examples))
    examples = [*templated, *headline_examples(heads, config, rng)]
    if extra is not None:
        examples += extra(rng)
    rng.shuffle(examples)
    return examples


def write_examples(
    examples: Sequence[SftExample], output: Path, command: str | None = None
) -> dict[str, object]:
    """``train.jsonl``, ``dev.jsonl`` and ``stats.json`` (sizes per split and kind, and the command
    that built them, which the adapter's model card quotes) into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    stats: dict[str, object] = {}
    for split in ("train", "dev"):
        rows = [e for e in examples if e.split == split]
        (output / f"{split}.jsonl").write_text("".join(e.to_json() + "\n" for e in rows), encoding="utf-8")
        stats[split] = {"examples": len(rows), "kinds": dict(sorted(Counter(e.kind for e in rows).items()))}
    if command:
        stats["command"] = command
    (output / "stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats


def read_examples(path: Path) -> list[dict[str, object]]:
    """The rows of a ``train.jsonl``/``dev.jsonl`` file (the trainer needs only ``messages``)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
