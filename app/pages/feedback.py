"""Feedback: the readers' thumbs up/down on answers, for admins only.

Why admins only: each record holds a reader's question verbatim, and questions can say more about
the person who asked than the answer does; readers and editors vote, admins read the votes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.login_view import require
from rag.core.settings import get_settings
from rag.pipelines.feedback import FeedbackLog, FeedbackRecord

RATINGS_DE = {"up": "👍", "down": "👎"}


def latest_votes(records: list[FeedbackRecord]) -> list[FeedbackRecord]:
    """One record per answer, the later vote winning (a reader may change their mind), newest first."""
    by_answer = {record.answer_id: record for record in records}
    return sorted(by_answer.values(), key=lambda record: record.created_at, reverse=True)


def votes_table(records: list[FeedbackRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Zeit": [r.created_at.strftime("%d.%m.%Y %H:%M") for r in records],
            "Bewertung": [RATINGS_DE[r.rating] for r in records],
            "Frage": [r.question for r in records],
            "Antwort": [r.answer for r in records],
            "Modell": [r.generator_model for r in records],
        }
    )


def main() -> None:
    require("admin")
    st.title("Feedback")
    path = get_settings().resolved_feedback_path
    votes = latest_votes(list(FeedbackLog(path).records()))
    st.caption(f"Datei: `{path}` · je Antwort zählt die letzte Bewertung")
    if not votes:
        st.info("Noch keine Bewertungen.", icon=":material/info:")
        return
    cols = st.columns(2)
    cols[0].metric("Hilfreich", sum(v.rating == "up" for v in votes))
    cols[1].metric("Nicht hilfreich", sum(v.rating == "down" for v in votes))
    st.dataframe(votes_table(votes), hide_index=True, width="stretch")  # cells are text, never markup
    st.download_button(
        "Alle Bewertungen (JSONL)",
        data=path.read_bytes(),
        file_name="feedback.jsonl",
        mime="application/jsonl",
        icon=":material/download:",
    )


main()
