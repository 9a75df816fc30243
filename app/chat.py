"""The ask page's conversation: one entry per question, and running an entry through the pipeline.

Why a module and not page code: Streamlit re-executes page scripts on every rerun, so classes kept
in `st.session_state` must live in an importable module to stay the same class across reruns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app import resources
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from rag.core.answer import Answer
    from rag.pipelines.condense import Turn

# The keys are rag.core.modes.MODES and rag.generation.BACKENDS (a test keeps them equal); importing
# rag.generation here would load the model stack before the page draws.
MODE_LABELS = {
    "auto": "Automatisch (Vektor, bei Wortübereinstimmung hybrid)",
    "hybrid": "Hybrid (Vektor + BM25)",
    "dense": "Nur Vektorsuche",
    "sparse": "Nur BM25",
}
BACKEND_LABELS = {"local": "Lokal (im Prozess)", "tgi": "TGI-Server", "openai": "OpenAI-kompatibel"}
# Every session shares one in-process model, which answers one question at a time.
WAITING_FOR_MODEL = "Warte auf das Modell … (es beantwortet gerade eine andere Frage)"
# A question asked before the default index's first batch is embedded waits for it (seconds to a
# minute after `make run` shows the page) instead of finding an empty index.
WAITING_FOR_INDEX = (
    "Der Standardindex wird gerade aufgebaut; die Antwort kommt, sobald die ersten Meldungen "
    "aufgenommen sind …"
)
FIRST_CHUNKS_TIMEOUT_S = 300.0


@dataclass
class ChatEntry:
    """A question as typed, what was searched for it, and its answer or German error."""

    question: str
    options: dict[str, Any]  # AskOptions fields; AskOptions itself imports the model stack
    backend: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    searched: str = ""
    answer: Answer | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def history_turns(entries: Sequence[ChatEntry]) -> list[Turn]:
    """Earlier answered exchanges, as the condense step reads them."""
    from rag.pipelines.condense import Turn

    return [Turn(e.searched or e.question, e.answer.text) for e in entries if e.answer is not None]


def run_entry(
    entry: ChatEntry,
    history: Sequence[ChatEntry],
    on_stage: Callable[[str], None],
) -> Iterator[str]:
    """Answer ``entry``: yield the answer text as it streams, filling ``entry`` as stages finish.

    ``on_stage`` receives a German line for each slow stage before it starts (loading models,
    rewriting a follow-up, searching, waiting for the in-process model while it answers another
    session), so the page can show what it is waiting for; the waiting line may come from a
    LangChain worker thread. Errors are raised to the caller, which turns them into a German message.
    """
    on_stage("Index und Modelle werden geladen …")
    started = time.perf_counter()
    with resources.LOAD_LOCK:  # two sessions importing the model stack at once break transformers
        from rag.core.answer import Answer
        from rag.generation.local import notify_when_waiting
        from rag.pipelines.ask import AskOptions, check_question
        from rag.pipelines.components import build_pipeline
        from rag.pipelines.condense import condense_question, needs_context

    check_question(entry.question)
    options = AskOptions(**entry.options)
    settings = get_settings()
    store = resources.vector_store()
    embedder = resources.embedder()
    chat_model = resources.chat_model(entry.backend)
    reranker = resources.reranker() if options.rerank else None
    entry.timings["load"] = time.perf_counter() - started
    build = resources.default_index_build()
    if build.running() and (not store.exists() or store.count() == 0):
        on_stage(WAITING_FOR_INDEX)
        if not build.wait_for_chunks(FIRST_CHUNKS_TIMEOUT_S):
            raise resources.AppError(
                "Der Standardindex wird gerade aufgebaut und hat noch keinen Artikel; bitte in "
                "einigen Sekunden erneut fragen."
            )
    pipeline = build_pipeline(settings, store, embedder, chat_model, reranker, reader=resources.reader())
    turns = history_turns(history)
    if needs_context(entry.question, turns):
        on_stage("Folgefrage wird mit dem Verlauf zu einer eigenständigen Frage umformuliert …")
    with notify_when_waiting(lambda: on_stage(WAITING_FOR_MODEL)):
        condensed = condense_question(chat_model, turns, entry.question)
        entry.searched = condensed.question
        if condensed.how != "typed":
            entry.timings["condense"] = condensed.seconds
        on_stage("Quellen werden gesucht, die Antwort wird formuliert …")
        notices = list(condensed.notices)
        if building := resources.building_notice():
            notices.append(building)
        for event in pipeline.stream(entry.searched, options, notices):
            if isinstance(event, Answer):
                entry.answer = event
                entry.timings |= event.timings
            else:
                yield event
