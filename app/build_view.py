"""The background build of the default index as the ask and index pages show it.

Why a fragment that reruns itself: Streamlit draws a page once per interaction, and a newcomer who
opened the page while the index builds should watch it grow without reloading. The fragment reruns
every few seconds only while the build runs; when it ends, one full rerun redraws the page (its
statistics and source filter were drawn from the unfinished index).
"""

from __future__ import annotations

import streamlit as st

from app import resources
from app.index_build import BuildProgress, number
from app.safe_text import plain

REFRESH_SECONDS = 2.0


def _draw(progress: BuildProgress) -> None:
    if progress.state == "failed" and progress.error is not None:
        st.error(
            plain(
                "Der Aufbau des Standardindex ist abgebrochen: "
                f"{resources.user_message(progress.error)} Ein Neustart der App oder "
                "`heise-rag index build-default` setzt ihn fort."
            ),
            icon=":material/error:",
        )
    elif progress.state == "done" and progress.ended is not None:
        minutes = f"{(progress.ended - progress.started) / 60:.1f}".replace(".", ",")
        st.success(
            f"Standardindex fertig aufgebaut ({number(progress.chunks)} Abschnitte in {minutes} min).",
            icon=":material/check_circle:",
        )
    else:
        st.info(
            progress.line() + " Fragen werden schon jetzt aus dem bereits Aufgenommenen beantwortet.",
            icon=":material/hourglass_top:",
        )
        if progress.fraction is not None:
            st.progress(progress.fraction)


def _live() -> None:
    progress = resources.default_index_build().progress()
    if progress is None:
        return
    if progress.state not in ("checking", "running"):
        resources.index_stats.clear()
        st.rerun()  # the whole page: statistics and sources change with the finished index
    if progress.needed:
        _draw(progress)


def show_build_progress() -> None:
    """The build's state: live while it runs, its outcome once after it ended in this process."""
    progress = resources.default_index_build().progress()
    if progress is None or (progress.state not in ("checking", "running") and not progress.needed):
        return
    if progress.state in ("checking", "running"):
        st.fragment(_live, run_every=REFRESH_SECONDS)()
    else:
        _draw(progress)
