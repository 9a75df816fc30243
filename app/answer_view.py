"""How one answer is shown: text, date-filter chip, source cards, timings and the feedback thumbs.

Every string that comes from an article, the model or the reader goes through `plain()`; links are
offered only for http(s) URLs.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.chat import ChatEntry
from app.safe_text import plain, safe_link
from rag.core.answer import Answer, Evidence, SourceRef
from rag.core.settings import get_settings
from rag.core.timefilter import DateFilter
from rag.pipelines.feedback import FeedbackLog, FeedbackRecord

STAGES = {
    "load": "Index und Modelle bereitstellen",
    "condense": "Folgefrage umformulieren",
    "embed": "Frage einbetten",
    "search": "Suche in Qdrant",
    "rerank": "Reranking",
    "read": "Leser: Antwortstelle finden",
    "first_token": "bis zum ersten Token",
    "generate": "Antwort erzeugen",
    "total": "Suche und Antwort gesamt",
}
REASK_KEY = "ask_without_date_filter"
CARD_COLUMNS = 3


def highlighted(evidence: Evidence) -> str:
    """The evidence sentence as Markdown with the answer span in bold (all text escaped)."""
    before, span, after = (
        evidence.sentence[: evidence.start],
        evidence.sentence[evidence.start : evidence.end],
        evidence.sentence[evidence.end :],
    )
    return f"{plain(before)}**{plain(span)}**{plain(after)}" if span.strip() else plain(evidence.sentence)


def render_evidence(answer: Answer) -> None:
    """The reader's evidence under the answer: the sentence with the span marked, and the confidence."""
    for evidence in answer.evidence:
        st.markdown(f"Beleg \\[{evidence.source}\\]: „{highlighted(evidence)}“")
    if answer.confidence is not None:
        st.caption(f"Sicherheit des Lesers: {answer.confidence:.0%}")


def render_source_card(
    entry_id: str, source: SourceRef, cited: bool, evidence: Evidence | None = None
) -> None:
    day = f"{source.published_at:%d.%m.%Y}" if source.published_at else "ohne Datum"
    with st.container(border=True, key=f"source-{entry_id}-{source.number}"):
        st.markdown(f"**\\[{source.number}\\] {plain(source.title or 'ohne Titel')}**")
        marks = [day, plain(source.source), f"Relevanz {source.score:.3f}"]
        if cited:
            marks.append("zitiert")
        if evidence is not None:
            marks.append(f"Beleg, Sicherheit {evidence.confidence:.0%}")
        st.caption(" · ".join(marks))
        if evidence is not None:
            st.markdown(highlighted(evidence))
        with st.expander("Verwendete Passage"):
            st.markdown(plain(source.passage))
        link = safe_link(source.url)
        if link:
            st.link_button("Zum Artikel", link, icon=":material/open_in_new:")


def render_sources(entry_id: str, answer: Answer) -> None:
    if not answer.sources:
        return
    cited = {c.number for c in answer.citations}
    st.markdown("**Quellen**")
    if answer.citations_attributed:
        st.caption(
            "Einige Quellenangaben hat nicht das Modell gesetzt: Sätze ohne Angabe wurden der Quelle "
            "zugeordnet, die die meisten ihrer Wörter enthält."
        )
    columns = st.columns(min(CARD_COLUMNS, len(answer.sources)))
    for i, source in enumerate(answer.sources):
        with columns[i % len(columns)]:
            evidence = next((e for e in answer.evidence if e.source == source.number), None)
            render_source_card(entry_id, source, source.number in cited, evidence)


def _ask_without_dates(entry_id: str) -> None:
    st.session_state[REASK_KEY] = entry_id


def render_filter_chip(entry: ChatEntry, answer: Answer) -> None:
    """The date range detected in the question, as a chip that asks again without it."""
    filters = answer.filters
    if not filters.detected_text:
        return
    label = DateFilter(filters.date_from, filters.date_to).label
    st.button(
        f"Zeitraum {label} (aus „{plain(filters.detected_text)}“)",
        key=f"chip-{entry.id}",
        icon=":material/close:",
        help="Zeitfilter entfernen und die Frage ohne ihn neu stellen",
        on_click=_ask_without_dates,
        args=(entry.id,),
    )


def render_timings(entry: ChatEntry) -> None:
    if not entry.timings:
        return
    with st.expander("Zeiten je Schritt"):
        rows = [
            {"Schritt": STAGES.get(stage, stage), "Sekunden": round(seconds, 2)}
            for stage, seconds in entry.timings.items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _save_feedback(entry: ChatEntry) -> None:
    value = st.session_state.get(f"feedback-{entry.id}")
    if value is None or entry.answer is None:
        return
    settings = get_settings()
    record = FeedbackRecord.from_answer(
        "up" if value == 1 else "down",
        entry.question,
        entry.answer,
        answer_id=entry.id,
        backend=entry.backend,
        generator_model=settings.generator_model if entry.backend == "local" else str(settings.generator_url),
    )
    FeedbackLog(settings.resolved_feedback_path).append(record)
    st.toast("Danke! Die Bewertung ist gespeichert.", icon=":material/check:")


def render_answer_details(entry: ChatEntry) -> None:
    """Everything under the answer text; the text itself is written by the caller (it streams)."""
    answer = entry.answer
    if answer is None:
        return
    for notice in answer.notices:
        st.info(plain(notice), icon=":material/info:")
    render_filter_chip(entry, answer)
    render_evidence(answer)
    render_sources(entry.id, answer)
    render_timings(entry)
    st.feedback("thumbs", key=f"feedback-{entry.id}", on_change=_save_feedback, args=(entry,))


def render_entry(entry: ChatEntry) -> None:
    """A finished entry, as every rerun redraws the conversation."""
    with st.chat_message("user"):
        st.markdown(plain(entry.question))
    with st.chat_message("assistant"):
        if entry.error:
            st.error(plain(entry.error), icon=":material/error:")
        elif entry.answer is not None:
            st.markdown(plain(entry.answer.text))
        render_answer_details(entry)
