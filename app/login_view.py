"""The login screen, the role check of each page, the sidebar's account line and the open-access
notice, for the method that `app/access.py` finds configured.

Why twice: `app/main.py` draws the login instead of any page, so nothing of the app (not even the
list of pages) is shown to someone who has not logged in; and every page calls `require` itself,
because Streamlit can run a page script without the entry script (a URL to a page whose entry
script stopped before `st.navigation` falls back to the `pages/` folder).
"""

from __future__ import annotations

import logging

import streamlit as st

from app.access import (
    ROLE_LABELS,
    SESSION_KEY,
    AccessDenied,
    Role,
    Viewer,
    current_method,
    current_viewer,
    listens_on_loopback,
    role_for_secret,
)
from app.safe_text import plain
from rag.core.settings import get_settings

_LOG = logging.getLogger(__name__)


def gate() -> Viewer:
    """This session's viewer; otherwise the login (or the refusal) is drawn and the run ends."""
    method = current_method()
    try:
        viewer = current_viewer()
    except AccessDenied as exc:
        st.title("Kein Zugang")
        st.error(plain(str(exc)), icon=":material/block:")
        if method == "oidc" and st.button("Abmelden", icon=":material/logout:"):
            st.logout()
        st.stop()
    if viewer is not None:
        return viewer
    st.title("Anmeldung")
    if method == "oidc":
        st.write("heise-rag ist nur für angemeldete Nutzer zugänglich.")
        if st.button("Anmelden", icon=":material/login:"):
            st.login()
    elif method == "proxy":
        st.error(
            "Der vorgeschaltete Proxy hat keinen Benutzer übermittelt; ohne Anmeldung gibt es keinen Zugang.",
            icon=":material/block:",
        )
    else:
        secret_form()
    st.stop()


def require(role: Role) -> Viewer:
    """This session's viewer when it may act as ``role``; else the login or a German refusal, and
    the page's run ends."""
    viewer = gate()
    if not viewer.may(role):
        st.error(f"Diese Seite braucht die Rolle „{ROLE_LABELS[role]}“ oder höher.", icon=":material/lock:")
        st.stop()
    return viewer


def secret_form() -> None:
    """Login with a shared secret; the role is the highest whose secret was typed.

    The form clears on submit, so the typed secret does not stay in the widget's state.
    """
    with st.form("login_form", clear_on_submit=True):
        typed = st.text_input("Zugangsschlüssel", type="password")
        if st.form_submit_button("Anmelden", icon=":material/login:"):
            role = role_for_secret(typed, get_settings())
            if role is None:
                _LOG.warning("app login with a shared secret refused")  # never the typed text
                st.error("Der Zugangsschlüssel stimmt nicht.", icon=":material/block:")
                return
            name = f"Zugangsschlüssel {ROLE_LABELS[role]}"
            st.session_state[SESSION_KEY] = Viewer(name=name, role=role, method="secret")
            st.rerun()


def sidebar_account(viewer: Viewer) -> None:
    """Who is logged in with which role, and the way out (the proxy logs out on its own side)."""
    with st.sidebar:
        if viewer.method == "open":
            st.caption("Ohne Anmeldung: offen für alle, die die App erreichen.")
            return
        st.caption(f"Angemeldet: {plain(viewer.name)} · Rolle {ROLE_LABELS[viewer.role]}")
        if viewer.method == "oidc":
            if st.button("Abmelden", icon=":material/logout:", key="logout"):
                st.logout()
        elif viewer.method == "secret":  # a callback: the run it starts already draws the login
            st.button("Abmelden", icon=":material/logout:", key="logout", on_click=_log_out)


def _log_out() -> None:
    """Forgets the whole session, the chat included: whoever uses this browser next must not see it."""
    st.session_state.clear()


def open_access_notice() -> None:
    """Says that nobody is asked who they are, and who can therefore reach the app."""
    if listens_on_loopback():
        st.warning(
            "Keine Anmeldung eingerichtet. Wer die App erreicht, darf alles: fragen, Artikel aufnehmen, "
            "Feedback lesen. Sie lauscht deshalb nur auf localhost (127.0.0.1). Für den Zugriff von "
            "anderen Rechnern zuerst eine Anmeldung einrichten (docs/ACCESS.md).",
            icon=":material/lock_open:",
        )
        return
    address = st.get_option("server.address") or "allen Netzwerkadressen"
    st.error(
        f"Keine Anmeldung eingerichtet, und die App lauscht auf {plain(str(address))}. Wer sie im "
        "Netz erreicht, darf alles: fragen, Artikel aufnehmen, Feedback lesen. Eine Anmeldung "
        "einrichten (docs/ACCESS.md) oder nur auf 127.0.0.1 lauschen.",
        icon=":material/lock_open:",
    )
