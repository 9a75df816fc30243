"""Index: what the collection holds, the models behind it, and ingest from a feed or an upload.

Everyone who may read sees the statistics; ingest changes what every reader is answered from, so
its forms are drawn for editors only (`app/access.py`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import resources
from app.build_view import show_build_progress
from app.ingest_view import ingest_items, ingest_upload
from app.login_view import open_access_notice, require
from app.safe_text import plain
from rag.core.settings import get_settings
from rag.models.provision import STATUS_LABELS, model_state
from rag.models.registry import MODELS

REPORT_KEY = "ingest_report"


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
                    "Status": STATUS_LABELS[state.status],
                }
            )
        else:
            rows.append({"Rolle": role, "Modell": value, "Herkunft": "Ordner oder Hub", "Status": "extern"})
    return pd.DataFrame(rows)


def show_stats() -> None:
    settings = get_settings()
    where = settings.qdrant_url or settings.resolved_qdrant_path
    kind = "Qdrant-Server" if settings.qdrant_url else "eingebetteter Qdrant-Speicher"
    st.caption(f"{kind}: `{where}` · Sammlung `{settings.collection}`")
    show_build_progress()
    with st.spinner("Index wird gelesen …"):
        try:
            stats = resources.index_stats()
        except Exception as exc:  # shown, not raised: the rest of the page still works
            st.error(plain(resources.user_message(exc)), icon=":material/error:")
            return
    if stats is None:
        if not resources.default_index_build().running():  # else the build's progress says it all
            st.info(
                "Die Sammlung gibt es noch nicht. Unten Artikel aufnehmen oder `heise-rag index "
                "build-default` ausführen.",
                icon=":material/info:",
            )
        return
    days = months = "—"
    if stats.date_min and stats.date_max:
        days = f"{stats.date_min:%d.%m.%Y} – {stats.date_max:%d.%m.%Y}"  # noqa: RUF001
        months = f"{stats.date_min:%m.%Y} – {stats.date_max:%m.%Y}"  # noqa: RUF001
    size = stats.disk_bytes
    disk = "auf dem Server"
    if size is not None:
        disk = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    cols = st.columns(5)
    cols[0].metric("Artikel", f"{stats.articles:,}".replace(",", "."))
    cols[1].metric("Chunks", f"{stats.points:,}".replace(",", "."))
    cols[2].metric("Quellen", len(stats.sources))
    cols[3].metric("Zeitraum", months, help=days)
    cols[4].metric("Speicher", disk)
    if stats.implausible_dates:
        st.warning(
            f"{stats.implausible_dates} Artikel mit unplausiblem Datum (vor 1995 oder in der Zukunft); "
            "der Zeitraum lässt sie aus.",
            icon=":material/event_busy:",
        )
    st.dataframe(
        pd.DataFrame({"Quelle": list(stats.sources), "Artikel": list(stats.sources.values())}),
        hide_index=True,
    )


def ingest_form() -> None:
    feed_tab, upload_tab = st.tabs(["Feed-URL", "Datei hochladen"])
    with feed_tab, st.form("feed_form"):
        url = st.text_input(
            "Adresse eines RSS- oder Atom-Feeds", placeholder="https://www.heise.de/rss/heise-atom.xml"
        )
        if st.form_submit_button("Feed aufnehmen", icon=":material/rss_feed:"):
            if url.strip():
                st.session_state[REPORT_KEY] = ingest_items("feed", url.strip())
                st.rerun()  # the statistics above were drawn before the ingest
            else:
                st.warning("Bitte eine Feed-Adresse eingeben.", icon=":material/warning:")
    with upload_tab, st.form("upload_form"):
        upload = st.file_uploader(
            "CSV, JSONL oder HTML (auch .gz); Feeds als XML",
            type=["csv", "jsonl", "json", "html", "htm", "xml", "gz"],
        )
        csv_kind = st.radio(
            "Format einer CSV-Datei",
            ["headlines", "10kgnad"],
            format_func={"headlines": "heise-Schlagzeilen", "10kgnad": "10kGNAD (Kategorie;Text)"}.get,
            horizontal=True,
        )
        if st.form_submit_button("Datei aufnehmen", icon=":material/upload_file:"):
            if upload is None:
                st.warning("Bitte eine Datei auswählen.", icon=":material/warning:")
            else:
                st.session_state[REPORT_KEY] = ingest_upload(upload.name, upload.getvalue(), csv_kind)
                st.rerun()


def show_last_report() -> None:
    result = st.session_state.get(REPORT_KEY)
    if result is None:
        return
    if result.error:
        st.error(plain(result.error), icon=":material/error:")
        return
    st.success(f"{plain(result.location)}: {result.report.summary()}", icon=":material/check_circle:")
    skipped = result.report.skipped
    if skipped:
        st.markdown(f"**Übersprungen ({len(skipped)})**")
        st.dataframe(
            pd.DataFrame({"Ort": [s.location for s in skipped], "Grund": [s.reason for s in skipped]}),
            hide_index=True,
            width="stretch",
        )
    warnings = result.report.date_warnings
    if warnings:
        st.markdown(f"**Aufgenommen, aber Datum unplausibel ({len(warnings)})**")
        st.dataframe(
            pd.DataFrame({"Artikel": [w.location for w in warnings], "Grund": [w.reason for w in warnings]}),
            hide_index=True,
            width="stretch",
        )


def main() -> None:
    viewer = require("reader")
    st.title("Index")
    if viewer.method == "open":
        open_access_notice()
    show_stats()
    st.subheader("Artikel aufnehmen")
    if viewer.may("editor"):
        st.caption(
            "Neue und geänderte Artikel werden eingebettet, unveränderte übersprungen; unbrauchbare "
            "Einträge werden mit Grund aufgelistet."
        )
        ingest_form()
        show_last_report()
    else:
        st.info("Artikel aufnehmen darf, wer die Rolle „Redaktion“ hat.", icon=":material/lock:")
    with st.expander("Modelle"):
        st.dataframe(configured_models(), hide_index=True, width="stretch")
        st.caption(f"Modell-Cache: `{get_settings().model_cache_dir}`")


main()
