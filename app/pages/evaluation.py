"""Evaluation: the latest retrieval, answer and classifier reports as tables and plots."""

from __future__ import annotations

import re

import streamlit as st

from app.eval_reports import (
    KIND_TITLES,
    Report,
    answer_examples,
    find_reports,
    latest_by_kind,
    metrics_table,
)
from app.login_view import require
from app.resources import repo_path
from rag.core.settings import get_settings

# report.md embeds its plots by relative path, which a browser cannot load; they are shown below.
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def show_report(report: Report) -> None:
    st.caption(f"Ordner: `{report.folder}` · geschrieben {report.written:%d.%m.%Y %H:%M}")
    table = metrics_table(report)
    if table is not None:
        st.dataframe(table, hide_index=True, width="stretch")
    if report.plots:
        columns = st.columns(2)
        for i, plot in enumerate(report.plots):
            with columns[i % 2]:
                st.image(str(plot), caption=plot.stem.replace("-", " ").replace("_", " "), width="stretch")
    examples = answer_examples(report)
    if examples is not None:
        with st.expander(f"Antworten je Frage ({len(examples)})"):
            st.dataframe(examples, hide_index=True, width="stretch")  # cells are text, never markup
    if report.markdown:
        # Reports are written by the project's own evaluation code; Markdown, never HTML.
        with st.expander("Vollständiger Bericht"):
            st.markdown(_IMAGE.sub("", report.markdown))


def main() -> None:
    require("reader")
    st.title("Evaluation")
    settings = get_settings()
    roots = [repo_path("reports"), settings.var_dir / "eval"]
    st.caption(
        "Die neuesten Berichte aus "
        + " und ".join(f"`{root}`" for root in roots)
        + ". Neue Berichte schreibt `heise-rag eval retrieval|answers --output DIR` bzw. "
        "`heise-rag eval classifier`."
    )
    grouped = latest_by_kind(find_reports(roots))
    if not grouped:
        st.info(
            "Noch keine Evaluationsberichte vorhanden. Zum Beispiel: `heise-rag eval retrieval "
            "--squad var/data/xquad-de/xquad.de.dev.json --collection xquad --output var/eval/retrieval`.",
            icon=":material/info:",
        )
        return
    for missing in (kind for kind in ("retrieval", "answers", "classifier") if kind not in grouped):
        st.caption(f"Kein Bericht für „{KIND_TITLES[missing]}“ gefunden.")
    tabs = st.tabs([KIND_TITLES[kind] for kind in grouped])
    for tab, reports in zip(tabs, grouped.values(), strict=True):
        with tab:
            # Several folders of one kind are usually different question sets: all are shown, newest first.
            for report in reports:
                with st.container(border=True):
                    st.subheader(report.folder.name)
                    show_report(report)


main()
