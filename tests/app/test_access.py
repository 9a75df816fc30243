"""Access control (`app/access.py`, docs/ACCESS.md): who is recognised how, and what each role sees.

The resolvers are tested with plain mappings; the app itself runs headless (AppTest) for the open
mode, the shared-secret login, Streamlit's OIDC login (AppTest seeds ``st.user`` and the ``[auth]``
secrets) and a proxy that sent no user. AppTest cannot send request headers (``st.context.headers``
comes from the browser's connection), so proxy headers are tested through the resolver only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.access import (
    AccessDenied,
    Viewer,
    access_method,
    role_for,
    role_for_secret,
    viewer_from_headers,
    viewer_from_oidc,
)
from rag.core.answer import AppliedFilters
from rag.core.settings import PROJECT_ROOT, Settings, get_settings
from rag.pipelines.feedback import FeedbackLog, FeedbackRecord

READER_SECRET = "lese-schluessel-1"
EDITOR_SECRET = "redaktions-schluessel-2"
ADMIN_SECRET = "verwaltungs-schluessel-3"
MAIN = str(PROJECT_ROOT / "app" / "main.py")
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "heise-rag",
    "client_secret": "test-client-secret",
    "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_roles_follow_the_lists_and_groups_need_their_prefix() -> None:
    lists = settings(access_editors="Red@Example.org, group:Redaktion", access_admins="group:admins")
    assert role_for("red@example.org", [], lists) == "editor"  # e-mails compared without case
    assert role_for("someone", ["redaktion"], lists) == "editor"
    assert role_for("someone", ["Redaktion", "admins"], lists) == "admin"  # the highest role wins
    assert role_for("admins", [], lists) == "reader"  # a user named like a group gets nothing of it
    assert role_for("someone", [], lists) == "reader"  # no reader list: everyone recognised reads
    closed = settings(access_readers="leser@example.org", access_editors="group:redaktion")
    assert role_for("leser@example.org", [], closed) == "reader"
    assert role_for("fremd@example.org", [], closed) is None
    assert role_for("fremd@example.org", ["redaktion"], closed) == "editor"


def test_the_first_configured_method_wins_and_empty_values_switch_nothing_on() -> None:
    assert access_method(settings(), oidc_configured=False) == "open"
    empty = settings(access_editor_secret="", access_proxy_user_header=" ")  # compose's unset variables
    assert access_method(empty, oidc_configured=False) == "open"
    secret = settings(access_editor_secret=EDITOR_SECRET)
    assert access_method(secret, oidc_configured=False) == "secret"
    assert "redaktions" not in repr(secret)  # the secret is never printed with the settings
    proxy = settings(access_editor_secret=EDITOR_SECRET, access_proxy_user_header="X-Forwarded-User")
    assert access_method(proxy, oidc_configured=False) == "proxy"
    assert access_method(proxy, oidc_configured=True) == "oidc"


def test_a_secret_grants_its_role_and_a_wrong_one_nothing() -> None:
    secrets = settings(access_reader_secret=READER_SECRET, access_editor_secret=EDITOR_SECRET)
    assert role_for_secret(READER_SECRET, secrets) == "reader"
    assert role_for_secret(EDITOR_SECRET, secrets) == "editor"
    assert role_for_secret(EDITOR_SECRET[:-1], secrets) is None
    assert role_for_secret("", secrets) is None
    assert role_for_secret(ADMIN_SECRET, secrets) is None  # no admin secret configured
    same = settings(access_reader_secret=EDITOR_SECRET, access_editor_secret=EDITOR_SECRET)
    assert role_for_secret(EDITOR_SECRET, same) == "editor"


def test_oidc_claims_give_the_viewer_and_its_role() -> None:
    lists = settings(access_editors="red@example.org", access_admins="group:it")
    assert viewer_from_oidc({"is_logged_in": False}, lists) is None
    assert viewer_from_oidc({"email": "red@example.org"}, lists) is None  # no login flag: not logged in
    editor = {"is_logged_in": True, "email": "Red@Example.org", "name": "Rita Redakteurin"}
    assert viewer_from_oidc(editor, lists) == Viewer("Rita Redakteurin", "editor", "oidc")
    admin = {"is_logged_in": True, "email": "it@example.org", "groups": ["it"]}
    assert viewer_from_oidc(admin, lists) == Viewer("it@example.org", "admin", "oidc")
    assert viewer_from_oidc({"is_logged_in": True, "sub": "4711"}, lists) == Viewer("4711", "reader", "oidc")
    closed = settings(access_readers="leser@example.org")
    with pytest.raises(AccessDenied, match=r"fremd@example\.org"):
        viewer_from_oidc({"is_logged_in": True, "email": "fremd@example.org"}, closed)


def test_proxy_headers_give_the_viewer_only_when_a_user_header_is_configured() -> None:
    headers = {"x-forwarded-user": "rita", "X-Forwarded-Groups": "leser, redaktion"}
    proxy = settings(access_proxy_user_header="X-Forwarded-User", access_editors="group:redaktion")
    assert viewer_from_headers(headers, proxy) == Viewer("rita", "editor", "proxy")
    assert viewer_from_headers({"X-Forwarded-User": "otto"}, proxy) == Viewer("otto", "reader", "proxy")
    assert viewer_from_headers({"X-Forwarded-Groups": "redaktion"}, proxy) is None  # no user: nobody
    assert viewer_from_headers(headers, settings(access_editors="group:redaktion")) is None  # not trusted
    custom = settings(
        access_proxy_user_header="Remote-User",
        access_proxy_groups_header="Remote-Groups",
        access_readers="group:leser",
    )
    assert viewer_from_headers({"Remote-User": "rita", "Remote-Groups": "leser"}, custom) is not None
    with pytest.raises(AccessDenied, match="otto"):
        viewer_from_headers({"Remote-User": "otto", "Remote-Groups": "gast"}, custom)


def button(page: AppTest, label: str) -> object:
    return next(b for b in page.button if b.label == label)


def labels(page: AppTest) -> list[str]:
    return [b.label for b in page.button]


def log_in(page: AppTest, secret: str) -> AppTest:
    page.text_input[0].set_value(secret)
    return button(page, "Anmelden").click().run()  # type: ignore[attr-defined]


@pytest.fixture
def secrets_env(fresh_caches: None, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh machine (no index) whose app asks for one of three shared secrets."""
    monkeypatch.setenv("HEISE_RAG_ACCESS_READER_SECRET", READER_SECRET)
    monkeypatch.setenv("HEISE_RAG_ACCESS_EDITOR_SECRET", EDITOR_SECRET)
    monkeypatch.setenv("HEISE_RAG_ACCESS_ADMIN_SECRET", ADMIN_SECRET)
    get_settings.cache_clear()
    return get_settings()


def test_without_configuration_the_app_is_open_and_the_index_page_says_so(
    fresh_caches: None, isolated_env: Path, app: Callable[[str], AppTest]
) -> None:
    page = app("index")
    assert not page.exception
    notice = page.warning[0].value
    assert "Keine Anmeldung eingerichtet" in notice and "nur auf localhost (127.0.0.1)" in notice
    assert "Feed aufnehmen" in labels(page)


def test_a_shared_secret_is_asked_for_and_a_wrong_one_refused(
    secrets_env: Settings, app: Callable[[str], AppTest]
) -> None:
    page = app("index")
    assert not page.exception
    assert page.title[0].value == "Anmeldung"
    assert "Feed aufnehmen" not in labels(page) and not page.metric and not page.warning
    page = log_in(page, EDITOR_SECRET + "x")
    assert "Der Zugangsschlüssel stimmt nicht." in page.error[0].value
    assert page.title[0].value == "Anmeldung" and "Feed aufnehmen" not in labels(page)


def test_a_reader_sees_the_index_but_not_the_ingest_form(
    secrets_env: Settings, app: Callable[[str], AppTest]
) -> None:
    page = log_in(app("index"), READER_SECRET)
    assert not page.exception
    assert page.title[0].value == "Index"
    assert "Die Sammlung gibt es noch nicht" in page.info[0].value
    assert "Feed aufnehmen" not in labels(page) and "Datei aufnehmen" not in labels(page)
    assert not page.file_uploader
    assert any("Rolle „Redaktion“" in i.value for i in page.info)


def test_an_editor_ingests_but_may_not_read_feedback(
    secrets_env: Settings, app: Callable[[str], AppTest]
) -> None:
    page = log_in(app("index"), EDITOR_SECRET)
    assert not page.exception
    assert {"Feed aufnehmen", "Datei aufnehmen"} <= set(labels(page))
    assert not page.warning  # the open-access notice is for open apps only
    page.switch_page("pages/feedback.py").run()  # not in the editor's navigation: reached by URL
    assert not page.exception
    assert page.error[0].value == "Diese Seite braucht die Rolle „Verwaltung“ oder höher."
    assert not page.title and not page.dataframe


def test_the_sidebar_names_the_login_and_logs_out(app_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the default page: AppTest drops the entry script's sidebar after `switch_page`."""
    monkeypatch.setenv("HEISE_RAG_ACCESS_EDITOR_SECRET", EDITOR_SECRET)
    get_settings.cache_clear()
    page = log_in(AppTest.from_file(MAIN, default_timeout=120).run(), EDITOR_SECRET)
    assert not page.exception
    assert page.title[0].value == "Fragen an heise online"
    assert "Angemeldet: Zugangsschlüssel Redaktion · Rolle Redaktion" in [
        c.value for c in page.sidebar.caption
    ]
    page = button(page, "Abmelden").click().run()  # type: ignore[attr-defined]
    assert page.title[0].value == "Anmeldung" and not page.sidebar.button
    assert "chat" not in page.session_state  # the next person at this browser sees no old questions


def test_an_admin_reads_the_feedback(secrets_env: Settings, app: Callable[[str], AppTest]) -> None:
    log = FeedbackLog(secrets_env.resolved_feedback_path)
    for rating in ("down", "up"):  # the later vote on the same answer counts
        log.append(
            FeedbackRecord(
                answer_id="a1",
                rating=rating,
                question="Was war mit Log4j?",
                searched_question="Was war mit Log4j?",
                answer="Eine Lücke [1].",
                sources=[],
                cited=[1],
                filters=AppliedFilters(),
                backend="local",
                generator_model="tiny-random-llama",
            )
        )
    page = log_in(app("feedback"), ADMIN_SECRET)
    assert not page.exception
    assert page.title[0].value == "Feedback"
    assert page.dataframe[0].value[["Bewertung", "Frage"]].to_dict("records") == [
        {"Bewertung": "👍", "Frage": "Was war mit Log4j?"}
    ]
    assert [m.value for m in page.metric] == ["1", "0"]


def test_oidc_login_when_streamlit_auth_is_configured(
    fresh_caches: None, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_ACCESS_EDITORS", "red@example.org")
    monkeypatch.setenv("HEISE_RAG_ACCESS_READER_SECRET", READER_SECRET)  # OIDC takes precedence
    get_settings.cache_clear()
    page = AppTest.from_file(MAIN, default_timeout=120)
    page.secrets["auth"] = AUTH
    page.user = {"is_logged_in": False}
    page.switch_page("pages/index.py").run()
    assert not page.exception
    assert page.title[0].value == "Anmeldung" and labels(page) == ["Anmelden"]
    assert not page.text_input  # no secret form: the identity provider logs in
    page.user = {"is_logged_in": True, "email": "red@example.org", "name": "Rita"}
    page.run()
    assert not page.exception
    assert "Feed aufnehmen" in labels(page)


def test_a_proxy_that_sends_no_user_gets_no_page(
    fresh_caches: None, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, app: Callable[[str], AppTest]
) -> None:
    monkeypatch.setenv("HEISE_RAG_ACCESS_PROXY_USER_HEADER", "X-Forwarded-User")
    get_settings.cache_clear()
    page = app("index")
    assert not page.exception
    assert "keinen Benutzer übermittelt" in page.error[0].value
    assert "Feed aufnehmen" not in labels(page) and not page.metric
