"""``POST /api/auth/login`` and ``POST /api/auth/logout``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from chats.models import Chat
from tests.factories import ChatFactory, UserFactory

from .helpers import chat_url, row_counts

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
WRONG = {"statusCode": 401, "statusMessage": "Unauthorized", "message": "Invalid email or password"}


def bad_body(*fields: str) -> dict:
    return {
        "statusCode": 400,
        "statusMessage": "Bad Request",
        "message": f"Invalid body({', '.join(fields)})",
    }


def test_login_returns_the_user_and_sets_the_session_cookie(api_client, user, password):
    response = api_client.post(LOGIN, {"email": user.email, "password": password}, format="json")

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}
    cookie = response.cookies["neptun-session"]
    assert settings.SESSION_COOKIE_NAME == "neptun-session"
    assert cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_login_email_is_case_insensitive(api_client, user, password):
    response = api_client.post(
        LOGIN, {"email": f"  {user.email.upper()} ", "password": password}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}


def test_login_changes_the_session_key(api_client, user, password):
    """No session fixation: a key set before login is not the key after it."""
    api_client.cookies["neptun-session"] = "attacker-chosen-key"

    response = api_client.post(LOGIN, {"email": user.email, "password": password}, format="json")

    assert response.status_code == 200
    assert response.cookies["neptun-session"].value != "attacker-chosen-key"


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "user@example.com", "password": "wrong"},
        {"email": "nobody@example.com", "password": "correct horse battery staple"},
    ],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_are_401(api_client, user, credentials):
    if credentials["email"] == "user@example.com":
        credentials = {**credentials, "email": user.email}

    response = api_client.post(LOGIN, credentials, format="json")

    assert response.status_code == 401
    assert response.json() == WRONG
    assert "neptun-session" not in response.cookies


def test_inactive_user_cannot_log_in(api_client, password):
    inactive = UserFactory(is_active=False)

    response = api_client.post(
        LOGIN, {"email": inactive.email, "password": password}, format="json"
    )

    assert response.status_code == 401
    assert response.json() == WRONG


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ("", ("email", "password")),
        ("{", ("email", "password")),
        ("[]", ("email", "password")),
        ('"x"', ("email", "password")),
        ("{}", ("email", "password")),
        ('{"email": "a@example.com"}', ("password",)),
        ('{"password": "x"}', ("email",)),
        ('{"email": 1, "password": "x"}', ("email",)),
        ('{"email": "a@example.com", "password": ""}', ("password",)),
        ('{"email": "a@example.com", "password": null}', ("password",)),
        ('{"email": ["a@example.com"], "password": 123}', ("email", "password")),
    ],
)
def test_malformed_login_body_is_400(api_client, user, raw, fields):
    response = api_client.generic("POST", LOGIN, data=raw, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    errors = body.pop("data", None)
    assert body == bad_body(*fields)
    if errors is not None:
        assert set(errors["errors"]) == set(fields)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
def test_cross_site_login_is_403(api_client, user, password, headers):
    response = api_client.post(
        LOGIN, {"email": user.email, "password": password}, format="json", headers=headers
    )

    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "statusMessage": "Forbidden",
        "message": "Cross-site request refused.",
    }
    assert "neptun-session" not in response.cookies


@pytest.mark.parametrize(
    "headers", [{"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}]
)
def test_same_origin_login_works(api_client, user, password, headers):
    response = api_client.post(
        LOGIN, {"email": user.email, "password": password}, format="json", headers=headers
    )

    assert response.status_code == 200


def test_login_rate_is_configured():
    assert ScopedRateThrottle.THROTTLE_RATES["login"]


def test_login_attempts_are_throttled_per_address(api_client, user, password, monkeypatch):
    # DRF reads the rates once, at import; the configured one is checked above.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min"})
    for _ in range(3):
        response = api_client.post(LOGIN, {"email": user.email, "password": "no"}, format="json")
        assert response.status_code == 401

    # Even the right password waits now.
    response = api_client.post(LOGIN, {"email": user.email, "password": password}, format="json")

    assert response.status_code == 429
    assert response.json() == {
        "statusCode": 429,
        "statusMessage": "Too Many Requests",
        "message": "Too many requests, try again later",
    }
    assert int(response["Retry-After"]) > 0
    assert "neptun-session" not in response.cookies
    # Another address is not affected.
    other = api_client.post(
        LOGIN,
        {"email": user.email, "password": password},
        format="json",
        REMOTE_ADDR="10.0.0.2",
    )
    assert other.status_code == 200


def test_logout_returns_true_and_makes_the_cookie_useless(session_client, user):
    chat = ChatFactory(owner=user)
    cookie = session_client.cookies["neptun-session"].value
    assert session_client.get(f"/api/users/{user.pk}/chats").status_code == 200

    response = session_client.post(LOGOUT)

    assert response.status_code == 200
    assert response.content == b"true"
    # The same client, and a fresh one replaying the old cookie, are both refused.
    assert session_client.delete(chat_url(user.pk, chat.pk)).status_code == 401
    replay = APIClient()
    replay.cookies["neptun-session"] = cookie
    response = replay.delete(chat_url(user.pk, chat.pk))
    assert response.status_code == 401
    assert response.json()["statusMessage"] == "Unauthorized"
    assert Chat.objects.filter(pk=chat.pk).exists()


def test_logout_without_session_is_true(api_client):
    response = api_client.post(LOGOUT)

    assert (response.status_code, response.json()) == (200, True)


def test_cross_site_logout_is_403_and_keeps_the_session(session_client, user):
    response = session_client.post(LOGOUT, headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert session_client.get(f"/api/users/{user.pk}/chats").status_code == 200


def test_login_with_get_is_405(api_client):
    response = api_client.get(LOGIN)

    assert response.status_code == 405
    assert response.json() == {
        "statusCode": 405,
        "statusMessage": "Method Not Allowed",
        "message": 'Method "GET" not allowed.',
    }


def test_session_of_a_deleted_user_is_401(session_client, user):
    """A user deleted elsewhere (admin, command) loses the session at once."""
    user_id = user.pk
    user.delete()
    before = row_counts()

    response = session_client.get(f"/api/users/{user_id}/chats")

    assert response.status_code == 401
    assert row_counts() == before


def test_login_body_is_json_even_without_content_type(api_client, user, password):
    body = json.dumps({"email": user.email, "password": password})

    response = api_client.generic(
        "POST", LOGIN, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200


def test_login_takes_a_form_encoded_body(api_client, user, password):
    """As an HTML form or ``curl -d 'email=…&password=…'`` posts it."""
    body = urlencode({"email": user.email, "password": password})

    response = api_client.generic(
        "POST", LOGIN, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}
    assert response.cookies["neptun-session"].value
    assert api_client.get(f"/api/users/{user.pk}/chats").status_code == 200


def test_login_takes_a_multipart_form(api_client, user, password):
    response = api_client.post(
        LOGIN, {"email": user.email, "password": password}, format="multipart"
    )

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}


def test_form_login_with_wrong_password_is_401(api_client, user):
    body = urlencode({"email": user.email, "password": "wrong"})

    response = api_client.generic(
        "POST", LOGIN, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert (response.status_code, response.json()) == (401, WRONG)


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ("", ("email", "password")),
        ("email=a%40example.com", ("password",)),
        ("password=x", ("email",)),
        ("email=a%40example.com&password=", ("password",)),
        ("email=a%40example.com&email=b%40example.com&password=x", ("email",)),
        ("email=a%40example.com&password=x&password=y", ("password",)),
        ("%ff%fe=1", ("email", "password")),
    ],
)
def test_malformed_form_login_is_400(api_client, user, raw, fields):
    response = api_client.generic(
        "POST", LOGIN, data=raw, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    body = response.json()
    body.pop("data", None)
    assert body == bad_body(*fields)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_form_fields_under_another_content_type_are_400(api_client, user, password, content_type):
    body = urlencode({"email": user.email, "password": password})

    response = api_client.generic("POST", LOGIN, data=body, content_type=content_type)

    assert response.status_code == 400
    assert response.json() == bad_body("email", "password")
