"""Who uses the app and what they may do: read (ask, headlines), change the index, read feedback.

Four ways to know the user, chosen by configuration (docs/ACCESS.md), first match wins:
Streamlit's OpenID Connect login when `.streamlit/secrets.toml` has an `[auth]` section; a user
header set by a trusted reverse proxy when `HEISE_RAG_ACCESS_PROXY_USER_HEADER` names one; shared
secrets typed into a login form; otherwise nobody is asked and everybody may do everything, which
is why the app listens on localhost only by default. The resolvers take plain mappings (the OIDC
claims, the request headers) so the role rules are tested without a browser; `current_viewer`
feeds them from Streamlit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from rag.core.settings import Settings, get_settings

Role = Literal["reader", "editor", "admin"]
Method = Literal["open", "oidc", "proxy", "secret"]
ROLES: tuple[Role, ...] = ("reader", "editor", "admin")  # each role may do what the ones before may
ROLE_LABELS: dict[Role, str] = {"reader": "Lesen", "editor": "Redaktion", "admin": "Verwaltung"}
SESSION_KEY = "access_viewer"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Viewer:
    """The person using this session, how they were recognised, and their highest role."""

    name: str
    role: Role
    method: Method

    def may(self, role: Role) -> bool:
        """Whether this viewer may do what ``role`` may (roles include the lower ones)."""
        return ROLES.index(self.role) >= ROLES.index(role)


OPEN_VIEWER = Viewer(name="alle", role="admin", method="open")


class AccessDenied(Exception):
    """A recognised user whom the role lists leave out; the message is German and shown as is."""


def access_method(settings: Settings, oidc_configured: bool) -> Method:
    """How users are recognised; a configured method never falls back to open access."""
    if oidc_configured:
        return "oidc"
    if settings.access_proxy_user_header:
        return "proxy"
    if any(_secrets(settings).values()):
        return "secret"
    return "open"


def role_for(identity: str, groups: Collection[str], settings: Settings) -> Role | None:
    """The highest role whose list names ``identity`` or one of its ``groups`` (as ``group:NAME``).

    Anyone recognised reads while ``access_readers`` is empty; once it lists people, the rest are
    refused (None), which matters for identity providers where anybody has an account. Groups are
    prefixed so that a user called like a group never gets that group's role.
    """
    names = {f"group:{g.strip().lower()}" for g in groups if g.strip()}
    if identity.strip():
        names.add(identity.strip().lower())
    for role, listed in (
        ("admin", settings.access_admins),
        ("editor", settings.access_editors),
        ("reader", settings.access_readers),
    ):
        if names.intersection(listed):
            return role
    return None if settings.access_readers else "reader"


def viewer_from_oidc(user: Mapping[str, object], settings: Settings) -> Viewer | None:
    """The viewer behind Streamlit's ``st.user`` claims; None while nobody is logged in.

    The e-mail claim is the identity the role lists name (``sub`` when a provider sends none);
    a ``groups`` claim, which some providers put into the ID token, counts like proxy groups.
    """
    if user.get("is_logged_in") is not True:
        return None
    identity = str(user.get("email") or user.get("sub") or "")
    raw_groups = user.get("groups")
    groups = [str(g) for g in raw_groups] if isinstance(raw_groups, list) else []
    role = role_for(identity, groups, settings)
    name = str(user.get("name") or identity or "angemeldet")
    if role is None:
        raise AccessDenied(f"{name} ist angemeldet, hat aber keinen Zugang zu dieser App.")
    return Viewer(name=name, role=role, method="oidc")


def viewer_from_headers(headers: Mapping[str, str], settings: Settings) -> Viewer | None:
    """The viewer the trusted proxy names in its headers; None when the user header is missing.

    Only called when ``access_proxy_user_header`` is set: the headers are believed because the
    app is then reachable through the proxy alone, which replaces whatever a client sent.
    """
    header = settings.access_proxy_user_header
    if not header:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}  # header names have no case
    user = lowered.get(header.lower(), "").strip()
    if not user:
        return None
    groups = lowered.get(settings.access_proxy_groups_header.lower(), "").split(",")
    role = role_for(user, groups, settings)
    if role is None:
        raise AccessDenied(f"{user} hat keinen Zugang zu dieser App.")
    return Viewer(name=user, role=role, method="proxy")


def role_for_secret(typed: str, settings: Settings) -> Role | None:
    """The highest role whose shared secret is ``typed``, or None.

    Every configured secret is compared, each in constant time (`hmac.compare_digest` over
    SHA-256 digests, which also hides the secrets' lengths), so the answer's timing says nothing
    about how close a guess was or which secret it was near.
    """
    guess = hashlib.sha256(typed.encode()).digest()
    found: Role | None = None
    for role, secret in _secrets(settings).items():
        if secret is not None and hmac.compare_digest(guess, hashlib.sha256(secret.encode()).digest()):
            found = role
    return found


def _secrets(settings: Settings) -> dict[Role, str | None]:
    """The configured shared secrets by role, lowest role first."""
    values = (settings.access_reader_secret, settings.access_editor_secret, settings.access_admin_secret)
    return {
        role: value.get_secret_value() if value else None for role, value in zip(ROLES, values, strict=True)
    }


def oidc_configured() -> bool:
    """Whether `.streamlit/secrets.toml` (or the test's secrets) has Streamlit's ``[auth]`` section."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all
        return False


def current_method() -> Method:
    """The configured way to recognise users, which decides the login screen."""
    return access_method(get_settings(), oidc_configured())


def current_viewer() -> Viewer | None:
    """This session's viewer; None until someone logs in. Raises `AccessDenied` for a recognised
    user without a role."""
    settings = get_settings()
    method = access_method(settings, oidc_configured())
    if method == "open":
        return OPEN_VIEWER
    if method == "oidc":
        return viewer_from_oidc(st.user, settings)
    if method == "proxy":
        return viewer_from_headers(st.context.headers, settings)
    viewer = st.session_state.get(SESSION_KEY)
    return viewer if isinstance(viewer, Viewer) and viewer.method == "secret" else None


def listens_on_loopback() -> bool:
    """Whether Streamlit serves on a loopback address only (`make run`, `.streamlit/config.toml`)."""
    return str(st.get_option("server.address") or "") in LOOPBACK
