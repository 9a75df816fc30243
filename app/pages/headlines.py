"""Schlagzeilen-Check: p(many comments) for alternative headlines, ranked, with a calibration note."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from app import resources
from app.login_view import require
from app.safe_text import plain
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from rag.engagement.predictor import ClassifierInfo

RESULT_KEY = "headline_results"
PLACEHOLDER = (
    "Windows 11: Microsoft erzwingt Konto bei der Einrichtung\nMicrosoft-Konto wird für Windows 11 Pflicht"
)


def headlines_from(text: str) -> list[str]:
    """One headline per non-empty line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def score(typed: list[str], with_alternatives: bool, backend: str) -> pd.DataFrame:
    """Typed headlines (and, when asked, the model's alternatives to the first) with p and rank."""
    rows = [(h, "eingegeben") for h in typed]
    if with_alternatives:
        with st.spinner("Das Antwortmodell formuliert drei Alternativen …"):
            from app.headline_alternatives import suggest_alternatives

            model = resources.chat_model(backend)
            alternatives = suggest_alternatives(model, typed[0])
        if len(alternatives) < 3:
            st.warning(
                f"Das Antwortmodell hat nur {len(alternatives)} brauchbare Alternativen geliefert.",
                icon=":material/warning:",
            )
        rows += [(h, "Vorschlag des Modells") for h in alternatives]
    with st.spinner("Der Klassifikator wird geladen und bewertet …"):
        predictions = resources.engagement_predictor().predict([h for h, _ in rows])
    table = pd.DataFrame(
        {
            "Schlagzeile": [h for h, _ in rows],
            "Herkunft": [origin for _, origin in rows],
            "p(viele Kommentare)": [p.p_many_comments for p in predictions],
            "Einschätzung": [
                "viele Kommentare erwartet" if p.label == "good" else "wenige Kommentare erwartet"
                for p in predictions
            ],
        }
    )
    table = table.sort_values("p(viele Kommentare)", ascending=False, ignore_index=True)
    table.insert(0, "Rang", range(1, len(table) + 1))
    return table


def chart(table: pd.DataFrame) -> alt.LayerChart:
    """Horizontal bars, best first, each labelled with its probability."""
    base = alt.Chart(table).encode(
        x=alt.X("p(viele Kommentare):Q", scale=alt.Scale(domain=[0, 1]), title="p(viele Kommentare)"),
        y=alt.Y("Schlagzeile:N", sort="-x", title=None, axis=alt.Axis(labelLimit=520)),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("Herkunft:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["Rang", "Schlagzeile", alt.Tooltip("p(viele Kommentare):Q", format=".2f")],
    )
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("p(viele Kommentare):Q", format=".2f"))
    return (bars + labels).properties(height=alt.Step(36))


def calibration_note(info: ClassifierInfo) -> str:
    test = info.training.get("blend", {}).get("test") or info.training.get("test", {})  # what is served
    figures = ""
    if test:
        figures = (
            f" Auf den Testdaten: Genauigkeit {test['accuracy']:.1%}, ROC-AUC {test['roc_auc']:.3f}, "
            f"Kalibrierungsfehler (ECE) {test['ece_calibrated']:.3f}."
        )
    return (
        "Die Wahrscheinlichkeit ist kalibriert: Die Werte des Modells"
        + (
            " (feinabgestimmter Encoder, gemischt mit einem TF-IDF-Modell und den ähnlichsten"
            " Trainings-Schlagzeilen)"
            if info.blend
            else ""
        )
        + " werden durch die auf Entwicklungsdaten "
        f"angepasste Temperatur {info.temperature:.2f} geteilt; von Schlagzeilen mit p = 0,7 ziehen "
        "etwa 70 % mehr als 50 statt weniger als 10 Kommentare."
        + figures
        + " „Viele“ heißt mehr als 50 Kommentare, „wenige“ unter 10; dazwischen sagt das Modell nichts. "
        "Trainiert auf heise-Schlagzeilen 2022 bis 2023, nur der Wortlaut zählt (kein Teaser, keine Uhrzeit)."
    )


def main() -> None:
    require("reader")
    st.title("Schlagzeilen-Check")
    st.caption(
        "Wie wahrscheinlich zieht eine Schlagzeile viele Kommentare im heise-Forum? "
        "Mehrere Varianten eingeben, eine pro Zeile, und vergleichen."
    )
    settings = get_settings()
    with st.form("headline_form"):
        text = st.text_area("Schlagzeilen (eine pro Zeile)", placeholder=PLACEHOLDER, height=140)
        with_alternatives = st.checkbox(
            "Drei Alternativen zur ersten Schlagzeile vom Antwortmodell vorschlagen lassen",
            help="Das Antwortmodell formuliert um; die Vorschläge werden mitbewertet (dauert länger).",
        )
        submitted = st.form_submit_button("Schlagzeilen prüfen", type="primary", icon=":material/analytics:")
    if submitted:
        typed = headlines_from(text)
        if not typed:
            st.warning("Bitte mindestens eine Schlagzeile eingeben.", icon=":material/warning:")
            st.session_state.pop(RESULT_KEY, None)
        else:
            try:
                st.session_state[RESULT_KEY] = score(typed, with_alternatives, settings.generator_backend)
            except Exception as exc:  # a German message; the page stays usable
                st.session_state.pop(RESULT_KEY, None)
                st.error(plain(resources.user_message(exc)), icon=":material/error:")
    table = st.session_state.get(RESULT_KEY)
    if table is not None:
        best = table.iloc[0]
        st.subheader("Ergebnis")
        st.markdown(
            f"Am ehesten diskutiert: **{plain(best['Schlagzeile'])}** (p = {best['p(viele Kommentare)']:.2f})"
        )
        st.altair_chart(chart(table), width="stretch")
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "p(viele Kommentare)": st.column_config.ProgressColumn(
                    "p(viele Kommentare)", format="%.2f", min_value=0.0, max_value=1.0
                )
            },
        )
        st.info(calibration_note(resources.engagement_predictor().info), icon=":material/info:")
    card = settings.classifier_model / "MODEL_CARD.md"
    if card.exists():
        with st.expander("Modellkarte des Klassifikators"):
            st.markdown(card.read_text(encoding="utf-8"))


main()
