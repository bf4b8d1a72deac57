"""Cookie-authenticated unsafe requests from another site are refused (403, nothing
changed, the session still valid); same-origin, trusted-origin (same-site) and
non-browser requests work. Every unsafe method of the cookie dialect is covered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.factories import ChatFactory
from tests.security.conftest import Victim, login, snapshot

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Unsafe:
    method: str
    url: Callable[[Victim], str]
    body: Callable[[Victim], dict] | None
    ok: int


def _link_body(victim: Victim) -> dict:
    return {"chat_id": ChatFactory(owner=victim.user).pk}


UNSAFE = {
    "create chat": Unsafe("post", lambda v: f"/api/users/{v.user.pk}/chats", lambda v: {}, 201),
    "delete chat": Unsafe(
        "delete", lambda v: f"/api/users/{v.user.pk}/chats/{v.chat.pk}", None, 200
    ),
    "post message": Unsafe(
        "post",
        lambda v: f"/api/users/{v.user.pk}/chats/{v.chat.pk}/messages",
        lambda v: {"content": "hi"},
        201,
    ),
    "create project": Unsafe(
        "post", lambda v: f"/api/users/{v.user.pk}/projects", lambda v: {"name": "p"}, 201
    ),
    "link chat": Unsafe(
        "post", lambda v: f"/api/users/{v.user.pk}/projects/{v.project.pk}/chats", _link_body, 201
    ),
    "delete project chats": Unsafe(
        "delete",
        lambda v: f"/api/users/{v.user.pk}/projects/{v.project.pk}/chats",
        lambda v: {"chat_ids": [v.chat.pk]},
        200,
    ),
    "logout": Unsafe("post", lambda v: "/api/auth/logout", None, 200),
}

CROSS_SITE = {
    "foreign Origin": {"HTTP_ORIGIN": "https://evil.example"},
    "opaque Origin": {"HTTP_ORIGIN": "null"},
    "foreign Origin, same-origin fetch metadata": {
        "HTTP_ORIGIN": "https://evil.example",
        "HTTP_SEC_FETCH_SITE": "same-origin",
    },
    "cross-site fetch metadata": {"HTTP_SEC_FETCH_SITE": "cross-site"},
    "same-site fetch metadata without Origin": {"HTTP_SEC_FETCH_SITE": "same-site"},
}
ALLOWED = {
    "same Origin": {"HTTP_ORIGIN": "http://testserver"},
    "trusted (same-site) Origin": {"HTTP_ORIGIN": "http://localhost:8000"},
    "same-origin fetch metadata": {"HTTP_SEC_FETCH_SITE": "same-origin"},
    "typed by the user": {"HTTP_SEC_FETCH_SITE": "none"},
    "non-browser client": {},
}


def _call(client, victim: Victim, unsafe: Unsafe, headers: dict):
    body = unsafe.body(victim) if unsafe.body else None
    return getattr(client, unsafe.method)(unsafe.url(victim), body, format="json", **headers)


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("action", UNSAFE)
def test_cross_site_unsafe_requests_are_refused(victim: Victim, action, headers):
    client = login(victim.user)
    unsafe = UNSAFE[action]
    if unsafe.body is _link_body:
        body = _link_body(victim)
        unsafe = Unsafe(unsafe.method, unsafe.url, lambda v: body, unsafe.ok)
    before = snapshot()
    response = _call(client, victim, unsafe, CROSS_SITE[headers])
    assert response.status_code == 403, response.content
    assert response.json() == {
        "statusCode": 403,
        "statusMessage": "Forbidden",
        "message": "Cross-site request refused.",
    }
    assert snapshot() == before
    # The session survived (a cross-site logout must not log the user out either).
    assert client.get(f"/api/users/{victim.user.pk}/chats").status_code == 200


@pytest.mark.parametrize("headers", ALLOWED)
@pytest.mark.parametrize("action", UNSAFE)
def test_same_site_and_non_browser_requests_work(victim: Victim, action, headers):
    client = login(victim.user)
    response = _call(client, victim, UNSAFE[action], ALLOWED[headers])
    assert response.status_code == UNSAFE[action].ok, response.content


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_login_is_refused(victim: Victim, headers):
    from tests.factories import PASSWORD

    client = login(victim.user).__class__()
    response = client.post(
        "/api/auth/login",
        {"email": victim.user.email, "password": PASSWORD},
        format="json",
        **CROSS_SITE[headers],
    )
    assert response.status_code == 403
    assert "neptun-session" not in response.cookies


def test_safe_cross_site_reads_are_not_blocked_but_the_cookie_is_lax(victim: Victim, settings):
    client = login(victim.user)
    response = client.get(f"/api/users/{victim.user.pk}/chats", HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 200
    # Browsers do not send a SameSite=Lax cookie on cross-site subrequests at all.
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.SESSION_COOKIE_HTTPONLY is True


@pytest.mark.parametrize(
    "url",
    ["/api/v1/chats/{uuid}", "/api/chat/conversations/all", "/api/collections/all"],
)
def test_the_cookie_alone_never_authenticates_the_other_dialects(victim: Victim, url):
    client = login(victim.user)
    before = snapshot()
    response = client.delete(url.format(uuid=victim.chat.uuid), HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 401
    assert snapshot() == before
