"""The ask path: retrieve -> rerank -> read -> write, with an Answer out.

Two ways to write the answer: with a reader (``answer_mode`` ``extractive`` or ``evidence``) the
reader's span and sentence are the evidence the answer is built from (``rag/pipelines/evidence.py``);
without one (``generate``) an LCEL chain prompt -> chat model reads the sources and streams tokens.
Why LCEL there: the same chain streams to the CLI and the app, runs as one `invoke` in the
evaluation, and composes with any LangChain chat model (in-process, TGI, OpenAI-compatible).
The retrieval step records its filters and timings next to the sources, so the final Answer can
report every stage.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from pydantic import BaseModel

from rag.core.answer import Answer, AppliedFilters, Evidence, SourceRef, resolve_citations
from rag.core.modes import AnswerMode, Mode, ReaderChoice
from rag.core.prompting import EVIDENCE_PROMPT, PROMPT, REFUSAL, format_sources
from rag.core.question_form import split_questions
from rag.core.stopword_lists import english_stop_words, german_stop_words
from rag.core.timefilter import detect_date_filter, without_covered_dates
from rag.pipelines.attribution import attribute_citations
from rag.pipelines.evidence import (
    PartAnswer,
    choose_evidence,
    extractive_text,
    joined_text,
    keeps_evidence,
    min_confidence_for,
    typed_readings,
    unanswered_text,
    unrelated_headline,
)
from rag.retrieval.passages import focus_passage
from rag.retrieval.rerank import CrossEncoderReranker
from rag.retrieval.search import HybridRetriever, SearchFilter

if TYPE_CHECKING:
    from rag.reader.reader import SpanReader

MAX_QUESTION_CHARS = 2000
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class AskError(RuntimeError):
    """A question that cannot be answered; the message is German and meant for the user."""


class InvalidQuestionError(AskError):
    pass


class EmptyIndexError(AskError):
    pass


class NoResultsError(AskError):
    pass


class AskOptions(BaseModel):
    """Per-question choices from the CLI or the app's sidebar."""

    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()
    exclude_articles: tuple[str, ...] = ()
    k: int = 5
    mode: Mode = "hybrid"
    rerank: bool = True
    detect_dates: bool = True


_ENGLISH_OPENERS = frozenset(
    [
        "which",
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "were",
        "does",
        "do",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
    ]
)


def check_question(question: str) -> list[str]:
    """Reject what cannot be a question; return German notices for what can be answered anyway."""
    if not question.strip():
        raise InvalidQuestionError("Bitte eine Frage eingeben.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"Die Frage ist zu lang ({len(question)} Zeichen, höchstens {MAX_QUESTION_CHARS})."
        )
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        raise InvalidQuestionError("Die Frage enthält keine Wörter.")
    english = sum(w in english_stop_words() for w in words)
    german = sum(w in german_stop_words() for w in words)
    # two English stop words, or one as the opening question word: "Which company bought …?"
    if english > german and (english >= 2 or words[0] in _ENGLISH_OPENERS):
        return ["Die Frage scheint englisch zu sein; die Quellen und die Antwort sind deutsch."]
    return []


class RagPipeline:
    """Holds the parts of the ask path and builds its chain once."""

    def __init__(
        self,
        retriever: HybridRetriever,
        chat_model: BaseChatModel,
        reranker: CrossEncoderReranker | None = None,
        today: Callable[[], date] = date.today,
        source_chars: int | None = None,
        reader: SpanReader | None = None,
        answer_mode: AnswerMode = "generate",
        min_confidence: float = 0.0,
        reader_choice: ReaderChoice = "margin",
        passage_min_confidence: float | None = None,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.reranker = reranker
        self.today = today
        self.source_chars = source_chars
        self.reader = reader
        self.answer_mode = answer_mode
        self.min_confidence = min_confidence
        self.passage_min_confidence = (
            min_confidence if passage_min_confidence is None else passage_min_confidence
        )
        self.reader_choice = reader_choice
        self.chain = self._build_chain()
        self.evidence_chain = EVIDENCE_PROMPT | chat_model | StrOutputParser()

    def _filters(self, question: str, options: AskOptions) -> AppliedFilters:
        detected = detect_date_filter(question, self.today()) if options.detect_dates else None
        explicit = options.date_from or options.date_to
        return AppliedFilters(
            date_from=options.date_from if explicit else (detected.date_from if detected else None),
            date_to=options.date_to if explicit else (detected.date_to if detected else None),
            detected_text="" if explicit or detected is None else detected.text,
            sources=options.sources,
            mode=options.mode,
            reranked=options.rerank and self.reranker is not None,
            excluded_articles=options.exclude_articles,
        )

    def _retrieve(self, inputs: dict[str, Any]) -> dict[str, Any]:
        question, options = inputs["question"], inputs["options"]
        filters = self._filters(question, options)
        self.retriever.mode = options.mode
        in_range = without_covered_dates(question, filters.date_from, filters.date_to, self.today())
        result = self.retriever.search(
            in_range,
            SearchFilter(filters.date_from, filters.date_to, filters.sources, filters.excluded_articles),
        )
        timings = dict(result.timings)
        documents = result.documents
        notices: list[str] = []
        if not documents and filters.detected_text:
            # A date range read from the question, not chosen by the user: search without it and say so.
            notices.append(
                f"Im Zeitraum aus der Frage ({filters.detected_text!r}) gibt es keine Artikel; "
                "gesucht wurde ohne Zeitfilter."
            )
            filters = filters.model_copy(update={"date_from": None, "date_to": None, "detected_text": ""})
            result = self.retriever.search(
                question, SearchFilter(sources=filters.sources, exclude_articles=filters.excluded_articles)
            )
            timings = {k: timings.get(k, 0.0) + v for k, v in result.timings.items()}
            documents = result.documents
        if not documents:
            if not self.retriever.store.exists() or self.retriever.store.count() == 0:
                raise EmptyIndexError(
                    "Der Index ist leer. Bitte zuerst Artikel aufnehmen, z. B. mit "
                    "`heise-rag index build-default` oder `heise-rag ingest`."
                )
            raise NoResultsError("Zu dieser Frage wurden mit den gewählten Filtern keine Artikel gefunden.")
        if filters.reranked and self.reranker is not None:
            started = time.perf_counter()
            documents = list(self.reranker.compress_documents(documents, question))
            timings["rerank"] = time.perf_counter() - started
        passages = [d.page_content for d in documents[: options.k]]
        documents = [
            Document(
                page_content=focus_passage(d.page_content, question, self.source_chars), metadata=d.metadata
            )
            for d in documents[: options.k]
        ]
        sources = [SourceRef.from_document(i, d) for i, d in enumerate(documents, start=1)]
        return {
            "passages": passages,
            "sources": sources,
            "documents": documents,
            "filters": filters,
            "timings": timings,
            "notices": notices,
        }

    def _build_chain(self) -> Runnable:
        generate = (
            RunnableLambda(
                lambda x: {"question": x["question"], "context": format_sources(x["retrieval"]["documents"])}
            )
            | PROMPT
            | self.chat_model
            | StrOutputParser()
        )
        return RunnablePassthrough.assign(
            retrieval=RunnableLambda(self._retrieve)
        ) | RunnablePassthrough.assign(text=generate)

    @property
    def reads(self) -> bool:
        """Whether answers are built from the reader's evidence (a reader is set and the mode uses it)."""
        return self.reader is not None and self.answer_mode != "generate"

    def stream(
        self, question: str, options: AskOptions | None = None, notices: Sequence[str] = ()
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final Answer.

        ``notices`` come from steps before the search (a follow-up's rewrite) and lead the
        Answer's own, so every caller shows them where it shows the rest. With the reader, the
        text comes as one piece once it is checked against the evidence.
        """
        notices = [*notices, *check_question(question)]
        options = options or AskOptions()
        started = time.perf_counter()
        inputs = {"question": question, "options": options}
        pieces: list[str] = []
        first_token: float | None = None
        evidence: list[Evidence] = []
        confidence: float | None = None
        if self.reads:
            retrieval = self._retrieve(inputs)
            generation_started = time.perf_counter()
            text, evidence, confidence = self._evidence_answer(question, retrieval)
            pieces.append(text)
            yield text
        else:
            retrieval = None
            generation_started = started
            for chunk in self.chain.stream(inputs):
                if "retrieval" in chunk:
                    retrieval = chunk["retrieval"]
                    generation_started = time.perf_counter()
                if chunk.get("text"):
                    if first_token is None:
                        first_token = time.perf_counter() - generation_started
                    pieces.append(chunk["text"])
                    yield chunk["text"]
        assert retrieval is not None, "the retrieval step always runs before generation"
        timings = retrieval["timings"] | {
            "generate": time.perf_counter() - generation_started,
            "total": time.perf_counter() - started,
        }
        if first_token is not None:
            timings["first_token"] = first_token
        # An answer from the reader's evidence carries its citation already (built or checked by
        # ``rag/pipelines/evidence.py``); attributing it again would split a span like "William E.
        # Simon" at the initial and cite each piece.
        attributed_text, attributed = (
            ("".join(pieces), False)
            if self.reads
            else attribute_citations("".join(pieces), retrieval["sources"])
        )
        text, citations = resolve_citations(attributed_text, retrieval["sources"])
        yield Answer(
            question=question,
            text=text,
            sources=retrieval["sources"],
            citations=citations,
            filters=retrieval["filters"],
            timings=timings,
            notices=notices + retrieval["notices"],
            refused=REFUSAL.rstrip(".") in text,
            citations_attributed=attributed,
            evidence=evidence,
            confidence=confidence,
        )

    def _evidence_answer(self, question: str, retrieval: dict[str, Any]) -> tuple[str, list[Evidence], float]:
        """The reader's evidence and the answer written from it (see ``rag/pipelines/evidence.py``);
        a double question ("Wann … und welche …?") is read part by part over the same sources."""
        sources, passages = retrieval["sources"], retrieval["passages"]
        started = time.perf_counter()
        parts = split_questions(question)
        answers = [self._read_part(part, question, sources, passages) for part in parts]
        retrieval["timings"]["read"] = time.perf_counter() - started
        if len(answers) > 1:
            answered = [a for a in answers if a.answered]
            confidence = min(a.confidence for a in answered or answers)
            return joined_text(parts, answers), [e for a in answered for e in a.evidence], confidence
        text, evidence, confidence, answered = answers[0]
        if not answered or self.answer_mode == "extractive" or len(evidence) > 1:
            return text, evidence, confidence
        best = evidence[0]
        written = self.evidence_chain.invoke(
            {"number": best.source, "sentence": best.sentence, "span": best.span, "question": question}
        )
        return (written.strip() if keeps_evidence(written, best) else text), evidence, confidence

    def _read_part(
        self, part: str, question: str, sources: list[SourceRef], passages: list[str]
    ) -> PartAnswer:
        """The extractive answer to one question, or its refusal with the nearest sentence quoted:
        no fitting span for a number or time, a confidence below its kind's threshold, or a headline
        that shares no content word with the whole question."""
        assert self.reader is not None
        readings, missing = typed_readings(part, self.reader.read(part, passages))
        evidence = choose_evidence(readings, sources, passages, self.min_confidence, self.reader_choice)
        if not evidence:
            return PartAnswer(REFUSAL, [], 0.0, False)
        best = evidence[0]
        threshold = min_confidence_for(best, self.min_confidence, self.passage_min_confidence)
        unrelated = unrelated_headline(question, best, passages[best.source - 1])
        if missing or best.confidence < threshold or unrelated:
            # a refusal has no evidence (the app would mark its span): the nearest sentence is quoted
            return PartAnswer(unanswered_text(best, missing), [], best.confidence, False)
        return PartAnswer(extractive_text(evidence, sources, part), evidence, best.confidence, True)

    def ask(self, question: str, options: AskOptions | None = None) -> Answer:
        """The whole answer at once (evaluation, `--json`)."""
        *_, answer = self.stream(question, options)
        assert isinstance(answer, Answer)
        return answer
