"""Reader training examples from what the project has: XQuAD's training half, 10kGNAD, headlines.

Why these sources: no German QA model or data set ships offline, so the examples come from
material whose answers are known without a human:
- the questions of XQuAD's ``sft`` articles (the half the answer adapter trains on; the other half
  is ``xquad-heldout.jsonl`` and never seen here), each over its gold paragraph, plus the same
  question over another paragraph of its article as a hard no-answer example (same topic, no span);
- template questions over 10kGNAD sentences (``span_questions``: a year, a quantity, a speaker);
- cloze questions over 10kGNAD sentences asked over a paragraph-long window around the sentence
  (``passage_questions``): the only long passages with many distractor spans besides XQuAD's, which
  is what the reader meets in open retrieval over paragraphs;
- cloze questions over heise headlines (``headline_questions``): a name, product, number or quote
  of the headline replaced by a question word; the no-answer twin asks it over the headline most
  similar to it by TF-IDF that lacks the answer (a lexical hard negative, as the retriever would
  bring). Headlines that answer a heise dev question are left out, so the dev figures stay honest.

The split is by article (``split_of``): an article's examples are all in train or all in dev.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from eval.questions import article_of, xquad_part
from finetune.answer_adapter.sft_data import Split, articles, sentences, span_questions, split_of
from finetune.answer_adapter.sft_xquad import read_xquad
from ingest.sources.gnad import read_gnad
from ingest.sources.headlines import read_headlines
from rag.core.domain import Article


@dataclass(frozen=True)
class ReaderExample:
    """A question over one passage; ``answer_start`` None means the passage does not answer it."""

    question: str
    context: str
    answer_start: int | None
    answer: str
    origin: str  # xquad, gnad or heise
    group: str  # the article, for the split
    split: Split

    def __post_init__(self) -> None:
        if self.answer_start is not None:
            found = self.context[self.answer_start : self.answer_start + len(self.answer)]
            assert found == self.answer, f"answer {self.answer!r} not at its offset in {self.context!r}"


@dataclass(frozen=True)
class ReaderDataConfig:
    seed: int = 7
    dev_share: float = 0.15
    negative_share: float = 0.3  # share of positives that get a no-answer twin
    heise_examples: int = 3000
    passage_examples: int = 0  # cloze questions over 10kGNAD paragraph windows
    passage_sentences: int = 5  # sentences of such a window, the asked one at a random place in it
    gnad_window: int = 3  # sentences of a 10kGNAD passage (the answer's and those after it)
    word_dropout: float = 0.1  # of question words, so cloze questions do not match word for word
    min_question_words: int = 3  # alphabetic words a cloze question keeps besides its question word
    single_names: bool = False  # one-word names ("Microsoft", "Frankreich") as "Wer" answers too


_NUMBER = re.compile(
    r"(?<![\w.,])\d{1,3}(?:\.\d{3})*(?:,\d+)?"
    r"(?: (?:Prozent|Millionen|Milliarden|Euro|Dollar|Jahre|Jahren|Monate|Monaten|Tage|Tagen|Stunden"
    r"|Minuten|Mal|Terabit|Gigabit|TByte|GByte|Kilometer|Meter|Grad|Tonnen|Watt|Nutzer|Kunden))?(?![\w])"
)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_NAME = re.compile(r"(?<=\s)[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?(?: [A-ZÄÖÜ][\wäöüß-]+){1,2}")
_BRAND = re.compile(
    r"(?<![\w-])(?:[a-z]+[A-Z][\w-]*|[A-Z][a-z]+[A-Z][\w-]*|[A-Z]{2,}[\w-]*|[A-Za-z]+\d[\w-]*)"
)
_QUOTED = re.compile(r"[„\"]([^“\"]{2,40})[“\"]")
_STOP_NAMES = {"Die", "Der", "Das", "Ein", "Eine", "Mit", "Für", "Bei", "Nach", "Von", "Wie", "Was"}


_DETERMINER = re.compile(
    r"(?:der|die|das|den|dem|des|ein|eine|einen|einem|einer|eines|kein\w*|sein\w*|ihr\w*|unser\w*"
    r"|dies\w*|jede\w*|welch\w*|mein\w*|zum|zur|im|am|vom|beim|ins|ans|\d[\d.,]*)",
    re.IGNORECASE,
)
_NOUN_ENDING = re.compile(r"(?:ung|ungen|heit|keit|schaft|tion|tionen|tät|ismus)$")
_WORD = re.compile(r"[\wÄÖÜäöüß-]+")


def single_names(texts: Sequence[str], min_count: int = 5, max_determined: float = 0.1) -> frozenset[str]:
    """Capitalised words that stand without an article: one-word names ("Microsoft", "Frankreich").

    Why: German capitalises every noun, so the patterns above cannot tell "Microsoft" from
    "Übernahme" and left one-word names out of the cloze answers, although the heise questions ask
    for them ("Welche Bank …?": "Targobank"). A corpus can tell them apart: a common noun follows
    an article, a contraction or a number in a good share of its uses (on the headlines and 10kGNAD:
    "Daten" 0.30, "Regierung" 0.60), a name hardly ever ("Microsoft" 0.02, "Frankreich" 0.01). A
    word seen in lower case, or with a typical noun ending, is no name."""
    seen: dict[str, int] = {}
    determined: dict[str, int] = {}
    lower: set[str] = set()
    for text in texts:
        words = _WORD.findall(text)
        for i, word in enumerate(words):
            if not word[:1].isupper():
                lower.add(word.lower())
                continue
            if i == 0 or not word.isalpha():
                continue  # the first word is capitalised whatever it is
            seen[word] = seen.get(word, 0) + 1
            if _DETERMINER.fullmatch(words[i - 1]):
                determined[word] = determined.get(word, 0) + 1
    return frozenset(
        word
        for word, count in seen.items()
        if count >= min_count
        and determined.get(word, 0) / count <= max_determined
        and word.lower() not in lower
        and not _NOUN_ENDING.search(word)
    )


def cloze_candidates(clause: str, names: frozenset[str] = frozenset()) -> Iterator[tuple[str, int, str]]:
    """(question word, offset, answer) for each answerable span of a headline clause; ``names``
    adds one-word names (``single_names``) that no pattern catches."""
    for m in _QUOTED.finditer(clause):
        yield "Wie heißt", m.start(1), m.group(1)
    for m in _YEAR.finditer(clause):
        yield "Wann", m.start(), m.group(0)
    for m in _NUMBER.finditer(clause):
        if not _YEAR.fullmatch(m.group(0)):
            yield ("Wie viele" if " " in m.group(0) else "Wie viel"), m.start(), m.group(0)
    for m in _NAME.finditer(" " + clause):
        if m.group(0).split()[0] not in _STOP_NAMES:
            yield "Wer", m.start() - 1, m.group(0)
    brands = [(m.start(), m.end()) for m in _BRAND.finditer(clause)]
    for start, end in brands:
        yield "Was", start, clause[start:end]
    taken = [(m.start() - 1, m.end() - 1) for m in _NAME.finditer(" " + clause)] + brands
    for m in _WORD.finditer(clause):
        if m.group(0) in names and not any(a <= m.start() < b for a, b in taken):
            yield "Wer", m.start(), m.group(0)


def cloze_question(clause: str, start: int, answer: str, wh: str, rng: random.Random, dropout: float) -> str:
    """The clause with the answer removed, led by the question word; some words dropped."""
    rest = (clause[:start] + clause[start + len(answer) :]).replace("„“", "").replace('""', "")
    words = [w for w in rest.strip(" .:!?").split() if rng.random() >= dropout]
    return f"{wh} {' '.join(words)}?"


def headline_questions(
    headlines: Sequence[Article],
    config: ReaderDataConfig,
    rng: random.Random,
    names: frozenset[str] = frozenset(),
) -> Iterator[ReaderExample]:
    """Cloze questions over headlines: the clause after a "Topic:" prefix is what gets asked."""
    order = list(range(len(headlines)))
    rng.shuffle(order)
    made = 0
    for i in order:
        if made >= config.heise_examples:
            return
        title = headlines[i].title
        offset = title.find(": ") + 2 if ": " in title else 0
        candidates = list(cloze_candidates(title[offset:], names))
        if not candidates:
            continue
        wh, start, answer = rng.choice(candidates)
        question = cloze_question(title[offset:], start, answer, wh, rng, config.word_dropout)
        kept = question.rstrip("?").split()[len(wh.split()) :]
        if sum(w.isalpha() for w in kept) < config.min_question_words:
            continue
        made += 1
        split = split_of(headlines[i].id, config.dev_share)
        yield ReaderExample(question, title, offset + start, answer, "heise", headlines[i].id, split)


def passage_questions(
    gnad: Sequence[Article],
    config: ReaderDataConfig,
    rng: random.Random,
    names: frozenset[str] = frozenset(),
) -> Iterator[ReaderExample]:
    """Cloze questions over one 10kGNAD sentence, asked over a window of its article's sentences.

    One question per article and round, articles in random order, so that long articles do not
    dominate; the window puts the asked sentence at a random place so the answer is not always first."""
    bodies = [(a, sentences(a.body)) for a in gnad]
    rng.shuffle(bodies)
    made = 0
    for _round in range(3):
        for article, body in bodies:
            if made >= config.passage_examples:
                return
            if len(body) < 2:
                continue
            index = rng.randrange(len(body))
            sentence = body[index]
            # a capitalised pair at a sentence's start is mostly an ordinary word, not a name
            candidates = [
                c for c in cloze_candidates(sentence, names) if c[1] > 0 and len(sentence.split()) <= 40
            ]
            if not candidates:
                continue
            wh, start, answer = rng.choice(candidates)
            question = cloze_question(sentence, start, answer, wh, rng, config.word_dropout)
            if sum(w.isalpha() for w in question.split()[len(wh.split()) :]) < config.min_question_words:
                continue
            first = max(
                0, min(index - rng.randrange(config.passage_sentences), len(body) - config.passage_sentences)
            )
            window = body[first : first + config.passage_sentences]
            before = " ".join(window[: index - first])
            context = " ".join(window)
            offset = len(before) + (1 if before else 0) + start
            made += 1
            split = split_of(article.id, config.dev_share)
            yield ReaderExample(question, context, offset, answer, "gnad-passage", article.id, split)


def gnad_questions(gnad: Sequence[Article], config: ReaderDataConfig) -> Iterator[ReaderExample]:
    """The answer adapter's template questions, each over a window of its article's sentences."""
    for article in gnad:
        body = sentences(article.body)
        split = split_of(article.id, config.dev_share)
        for q in span_questions(body, max_words=40):
            context = " ".join(body[q.sentence_index : q.sentence_index + config.gnad_window])
            start = context.find(q.answer)
            if start >= 0:
                yield ReaderExample(q.question, context, start, q.answer, "gnad", article.id, split)


def xquad_questions(path: Path, config: ReaderDataConfig, rng: random.Random) -> Iterator[ReaderExample]:
    """Questions of XQuAD's ``sft`` articles over the gold paragraph, and over a neighbour without it.

    The split is by paragraph here, not by article: the ``sft`` half has a dozen articles, too few
    for a development split by article to hold any real question."""
    paragraphs, questions = read_xquad(path)
    for q in questions:
        gold_id = q.gold_ids[0]
        article = article_of(gold_id)
        if xquad_part(article) != "sft" or q.answer is None:
            continue
        gold = paragraphs[article][gold_id].body
        split = split_of(gold_id, config.dev_share)
        if (start := gold.find(q.answer)) >= 0:
            yield ReaderExample(q.question, gold, start, q.answer, "xquad", article, split)
        others = [
            p.body for pid, p in paragraphs[article].items() if pid != gold_id and q.answer not in p.body
        ]
        if others:
            yield ReaderExample(q.question, rng.choice(others), None, "", "xquad", article, split)


def lexical_negatives(
    examples: Sequence[ReaderExample], pool: Sequence[str], share: float, rng: random.Random
) -> list[ReaderExample]:
    """No-answer twins: the question over the most TF-IDF-similar pool passage without the answer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    chosen = [e for e in examples if rng.random() < share]
    if not chosen:
        return []
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2).fit(pool)
    matrix = vectorizer.transform(pool)
    similarity = vectorizer.transform([e.question for e in chosen]) @ matrix.T
    negatives = []
    for row, example in enumerate(chosen):
        scores = similarity.getrow(row).toarray().ravel()
        for j in scores.argsort()[::-1][:10]:
            candidate = pool[j]
            if candidate != example.context and example.answer.lower() not in candidate.lower():
                negatives.append(replace(example, context=candidate, answer_start=None, answer=""))
                break
    return negatives


def excluded_headlines(dev_questions: Path) -> set[str]:
    """Article ids that answer a heise dev question: never trained on."""
    if not dev_questions.exists():
        return set()
    lines = dev_questions.read_text(encoding="utf-8").splitlines()
    return {str(g) for line in lines if line.strip() for g in json.loads(line).get("gold_ids", [])}


def build_reader_examples(
    *, xquad: Path, gnad: Path, headlines: Path, heise_dev: Path, config: ReaderDataConfig
) -> list[ReaderExample]:
    """Every example, shuffled with the seed."""
    rng = random.Random(config.seed)
    excluded = excluded_headlines(heise_dev)
    heads = [h for h in articles(read_headlines(headlines)) if h.id not in excluded]
    gnad_articles = articles(read_gnad(gnad))
    names = (
        single_names([h.title for h in heads] + [f"{a.title}. {a.body}" for a in gnad_articles])
        if config.single_names
        else frozenset()
    )
    heise = list(headline_questions(heads, config, rng, names))
    gnad_examples = list(gnad_questions(gnad_articles, config))
    gnad_pool = [" ".join(sentences(a.body)[:3]) for a in gnad_articles]
    # its own generator: the other sources draw the same examples whether or not passages are asked
    passages = list(passage_questions(gnad_articles, config, random.Random(f"{config.seed}-passages"), names))
    examples = [
        *xquad_questions(xquad, config, rng),
        *heise,
        *lexical_negatives(heise, [h.title for h in heads], config.negative_share, rng),
        *gnad_examples,
        *lexical_negatives(gnad_examples, gnad_pool, config.negative_share, rng),
        *passages,
        *lexical_negatives(passages, [e.context for e in passages], config.negative_share, rng),
    ]
    rng.shuffle(examples)
    return examples
