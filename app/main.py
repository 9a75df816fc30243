"""Streamlit entry point: `streamlit run app/main.py`.

Four pages: asking with sources (the default), the headline check for editors, the evaluation
reports and the index. Page scripts live in `app/pages/`; models and the Qdrant client are loaded
once per process by `app/resources.py` when a page first needs them, so every page draws at once
and waits for models behind a spinner.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="heise-rag", page_icon="📰", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "ask.py", title="Fragen", icon=":material/forum:", default=True),
        st.Page(PAGES / "headlines.py", title="Schlagzeilen-Check", icon=":material/title:"),
        st.Page(PAGES / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
        st.Page(PAGES / "index.py", title="Index", icon=":material/database:"),
    ]
)
st.sidebar.caption("heise-rag · Fragen mit Quellen und Schlagzeilen-Check für heise-online-Meldungen")
navigation.run()
