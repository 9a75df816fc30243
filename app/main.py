"""Streamlit entry point: `streamlit run app/main.py`.

Asking with sources (the default), the headline check for editors, the evaluation reports, the
index and, for admins, the readers' feedback. Who may open what is decided here before any page
draws (`app/access.py`, docs/ACCESS.md); pages check again for themselves. Page scripts live in
`app/pages/`; models and the Qdrant client are loaded once per process by `app/resources.py` when
a page first needs them, so every page draws at once and waits for models behind a spinner. A
missing default index is built in the background (`app/index_build.py`), so `make run` shows the
page within seconds on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import resources
from app.login_view import gate, sidebar_account

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="heise-rag", page_icon="📰", layout="wide")
viewer = gate()
resources.start_index_build()  # a missing default index builds while readers already ask
pages = [
    st.Page(PAGES / "ask.py", title="Fragen", icon=":material/forum:", default=True),
    st.Page(PAGES / "headlines.py", title="Schlagzeilen-Check", icon=":material/title:"),
    st.Page(PAGES / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    st.Page(PAGES / "index.py", title="Index", icon=":material/database:"),
]
if viewer.may("admin"):
    pages.append(st.Page(PAGES / "feedback.py", title="Feedback", icon=":material/thumbs_up_down:"))
navigation = st.navigation(pages)
st.sidebar.caption("heise-rag · Fragen mit Quellen und Schlagzeilen-Check für heise-online-Meldungen")
sidebar_account(viewer)
navigation.run()
