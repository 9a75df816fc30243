"""Fragen: a chat over the index; answers stream, sources appear as cards, filters in the sidebar."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from app import resources
from app.answer_view import REASK_KEY, render_answer_details, render_entry
from app.build_view import show_build_progress
from app.chat import BACKEND_LABELS, MODE_LABELS, ChatEntry, run_entry
from app.login_view import require
from app.safe_text import plain
from rag.core.settings import get_settings

EXAMPLES = (
    "Was war Anfang 2022 mit Exchange los?",
    "Welche Sicherheitslücken hatte Log4j?",
    "Was hat die EU 2023 zum Digital Markets Act beschlossen?",
)


def known_sources() -> list[str]:
    """Source names in the index for the filter; empty (with a note) when the index is unreadable."""
    try:
        stats = resources.index_stats()
    except Exception as exc:  # the chat below shows the same problem in full when asked
        st.caption(plain(resources.user_message(exc)))
        return []
    return list(stats.sources) if stats else []


def source_filter(slot: DeltaGenerator) -> tuple[str, ...]:
    """The source multiselect, drawn last into its sidebar ``slot``: listing the sources opens the
    index (seconds on the default index), and the rest of the page should not wait for that."""
    with slot.container():
        with st.spinner("Quellen im Index werden gelesen …"):
            names = known_sources()
        return tuple(st.multiselect("Quellen", names, placeholder="alle Quellen", key="sources"))


def sidebar_options() -> tuple[dict[str, Any], str, DeltaGenerator]:
    """The sidebar's filters as the options of the next question (sources still to be filled in
    by `source_filter` into the returned slot), and the chosen backend."""
    settings = get_settings()
    with st.sidebar:
        st.header("Filter")
        date_from = date_to = None
        if st.toggle("Zeitraum festlegen", help="Sonst gilt ein in der Frage erkannter Zeitraum."):
            picked = st.date_input(
                "Zeitraum",
                value=(date(2022, 1, 1), date.today()),
                format="DD.MM.YYYY",
                key="date_range",
            )
            if isinstance(picked, tuple) and picked:
                date_from, date_to = picked[0], picked[-1]
        detect = st.toggle(
            "Zeitangaben in der Frage erkennen",
            value=True,
            help="„Anfang 2022“ oder „letzte Woche“ werden zum Zeitfilter; "
            "er lässt sich an der Antwort entfernen.",
        )
        sources_slot = st.empty()
        k = st.slider("Anzahl Quellen", min_value=1, max_value=10, value=settings.answer_sources)
        modes = list(MODE_LABELS)
        mode = st.radio(
            "Suchverfahren", modes, index=modes.index(settings.retrieval_mode), format_func=MODE_LABELS.get
        )
        rerank = st.toggle(
            "Reranker",
            value=bool(settings.reranker_model),
            disabled=not settings.reranker_model,
            help="Ein Cross-Encoder ordnet die Treffer neu."
            + ("" if settings.reranker_model else " Kein Reranker eingerichtet (HEISE_RAG_RERANKER_MODEL)."),
        )
        backend = st.selectbox(
            "Antwort-Backend",
            list(BACKEND_LABELS),
            index=list(BACKEND_LABELS).index(settings.generator_backend),
            format_func=BACKEND_LABELS.get,
            help="Lokal rechnet das Antwortmodell in diesem Prozess; TGI und OpenAI-kompatibel rufen "
            "HEISE_RAG_GENERATOR_URL auf.",
        )
        if st.button("Neues Gespräch", icon=":material/refresh:"):
            st.session_state.chat = []
    options = {
        "date_from": date_from,
        "date_to": date_to,
        "k": k,
        "mode": mode,
        "rerank": rerank,
        "detect_dates": detect,
    }
    return options, backend, sources_slot


def from_any_thread(draw: Callable[[str], object]) -> Callable[[str], None]:
    """``draw`` callable from LangChain's worker threads too: Streamlit draws only from threads that
    carry the session's script context, so the callback hands this run's context to its thread."""
    ctx = get_script_run_ctx()

    def call(line: str) -> None:
        if ctx is not None and get_script_run_ctx(suppress_warning=True) is None:
            add_script_run_ctx(threading.current_thread(), ctx)
        draw(line)

    return call


def answer(entry: ChatEntry, history: list[ChatEntry]) -> None:
    """Run ``entry`` and show it as it streams; the next rerun redraws it from the history."""
    with st.chat_message("user"):
        st.markdown(plain(entry.question))
    with st.chat_message("assistant"):
        stage = st.empty()
        text = st.empty()

        def tokens() -> Iterator[str]:
            for number, token in enumerate(run_entry(entry, history, from_any_thread(stage.caption))):
                if number == 0:
                    stage.empty()
                yield plain(token)

        try:
            text.write_stream(tokens())
        except Exception as exc:  # every failure becomes a German message; the chat stays usable
            entry.error = resources.user_message(exc)
            text.error(plain(entry.error), icon=":material/error:")
        stage.empty()
        if entry.answer is not None:
            text.markdown(plain(entry.answer.text))
        render_answer_details(entry)


def main() -> None:
    require("reader")
    st.title("Fragen an heise online")
    st.caption(
        "Antworten stützen sich nur auf Meldungen im Index und nennen ihre Quellen. "
        "Folgefragen („Und bei Apple?“, „Wie teuer ist er?“) beziehen sich auf das bisherige "
        "Gespräch; eine Frage mit eigenem Thema wird für sich gesucht."
    )
    show_build_progress()
    question = st.chat_input("Frage zu heise-Meldungen stellen …")
    options, backend, sources_slot = sidebar_options()
    resources.warm_up_in_background(backend)
    chat: list[ChatEntry] = st.session_state.setdefault("chat", [])
    if not chat and question is None:
        st.info(
            "Stellen Sie eine Frage zu Technik-Meldungen, zum Beispiel: "
            + " · ".join(f"„{q}“" for q in EXAMPLES),
            icon=":material/lightbulb:",
        )
    reask = st.session_state.pop(REASK_KEY, None)
    for i, entry in enumerate(chat):
        if entry.id == reask:
            entry.options = entry.options | {"detect_dates": False}
            entry.answer, entry.error, entry.timings = None, None, {}
            answer(entry, chat[:i])
        else:
            render_entry(entry)
    options["sources"] = source_filter(sources_slot)
    if question is not None:
        entry = ChatEntry(question=question, options=options, backend=backend)
        answer(entry, list(chat))
        chat.append(entry)


main()
