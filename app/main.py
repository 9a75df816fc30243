"""Streamlit entry point: `streamlit run app/main.py`.

The first page is a status overview (configured models, whether each is provisioned, the vector
index); later pages add asking, the headline check, evaluation and index management.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rag.index_status import index_status
from rag.models.provision import model_state
from rag.models.registry import MODELS
from rag.settings import get_settings

STATUS_DE = {
    "ready": "bereit",
    "missing": "fehlt",
    "incomplete": "unvollständig",
    "stale": "veraltet",
}


def configured_models() -> pd.DataFrame:
    """One row per model setting: what it names and whether that is ready to load."""
    settings = get_settings()
    rows = []
    for role, value in (
        ("Einbettungen", settings.embedding_model),
        ("Antwortmodell", settings.generator_model),
        ("Reranker", settings.reranker_model),
    ):
        if value is None:
            rows.append({"Rolle": role, "Modell": "—", "Herkunft": "—", "Status": "aus"})
        elif value in MODELS:
            state = model_state(MODELS[value], settings.model_cache_dir)
            rows.append(
                {
                    "Rolle": role,
                    "Modell": value,
                    "Herkunft": MODELS[value].package_label,
                    "Status": STATUS_DE[state.status],
                }
            )
        else:
            rows.append({"Rolle": role, "Modell": value, "Herkunft": "Ordner oder Hub", "Status": "extern"})
    return pd.DataFrame(rows)


def main() -> None:
    st.set_page_config(page_title="heise-rag", page_icon="📰", layout="wide")
    settings = get_settings()
    st.title("heise-rag")
    st.caption(
        "Fragen zu heise-online-Meldungen mit Quellenangaben, dazu ein Schlagzeilen-Check für die Redaktion."
    )

    st.subheader("Modelle")
    st.dataframe(configured_models(), hide_index=True, use_container_width=True)
    st.caption(f"Modell-Cache: {settings.model_cache_dir}")

    st.subheader("Vektorindex")
    status = index_status(settings)
    mode = "Qdrant-Server" if status.mode == "server" else "eingebetteter Qdrant-Speicher"
    st.write(f"{mode}: `{status.location}`")
    if status.error:
        st.error(f"Index nicht erreichbar: {status.error}")
    elif not status.collections:
        st.info("Noch kein Index angelegt. Artikel werden mit `heise-rag ingest` aufgenommen.")
    else:
        st.dataframe(
            pd.DataFrame({"Sammlung": list(status.collections), "Punkte": list(status.collections.values())}),
            hide_index=True,
        )
    st.caption(f"Antwort-Backend: {settings.generator_backend}")


main()
