"""Throttles backed by the cache: logins per address, and failed API-key / token
attempts per address; the 429 is in each dialect's shape with ``Retry-After``."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from neptun.models import AccessToken, ApiKey
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
BYSTANDER = "198.51.100.9"


def _login(email: str, password: str, addr: str):
    return APIClient().post(
        "/api/auth/login", {"email": email, "password": password}, format="json", REMOTE_ADDR=addr
    )


def test_login_is_throttled_per_address_in_the_neptun_shape(user):
    from rest_framework.settings import api_settings

    rate = api_settings.DEFAULT_THROTTLE_RATES["login"]
    allowed = int(rate.split("/")[0])
    for _ in range(allowed):
        assert _login(user.email, "wrong", ATTACKER).status_code == 401
    response = _login(user.email, PASSWORD, ATTACKER)  # even the right password now
    assert response.status_code == 429
    assert response.json() == {
        "statusCode": 429,
        "statusMessage": "Too Many Requests",
        "message": "Too many requests, try again later",
    }
    assert int(response["Retry-After"]) > 0
    assert "neptun-session" not in response.cookies
    # Another address is not affected; the counters live in the cache.
    assert _login(user.email, PASSWORD, BYSTANDER).status_code == 200
    cache.clear()
    assert _login(user.email, PASSWORD, ATTACKER).status_code == 200


DIALECTS = {
    "v1": (
        "/api/v1/chats",
        lambda secret: {"HTTP_X_API_KEY": secret},
        lambda user: ApiKey.generate(tenant=user.tenant)[1],
        {"detail": "Invalid or missing API key"},
    ),
    "conversations": (
        "/api/chat/conversations",
        lambda secret: {"HTTP_AUTHORIZATION": f"Bearer {secret}"},
        lambda user: AccessToken.generate(user=user)[1],
        {"detail": "Not authenticated"},
    ),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_failed_credentials_are_throttled_per_address(user, settings, dialect):
    url, header, make_secret, unauthorized = DIALECTS[dialect]
    settings.AUTH_FAILURE_LIMIT = 3
    settings.AUTH_FAILURE_WINDOW = 60
    valid = make_secret(user)
    client = APIClient()
    for attempt in range(3):
        response = client.get(url, **header(f"guess-{attempt}"), REMOTE_ADDR=ATTACKER)
        assert response.status_code == 401
        assert response.json() == unauthorized
    response = client.get(url, **header("guess-4"), REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    assert response["Retry-After"] == "60"
    # A valid secret from the throttled address is refused too: guessing cannot go on
    # by mixing in a known key.
    assert client.get(url, **header(valid), REMOTE_ADDR=ATTACKER).status_code == 429
    # Another address is not affected, and successes are not counted as failures.
    for _ in range(5):
        assert client.get(url, **header(valid), REMOTE_ADDR=BYSTANDER).status_code == 200
    # The counter lives in the cache (DRF's ``Throttled`` is raised from it).
    cache.clear()
    assert client.get(url, **header(valid), REMOTE_ADDR=ATTACKER).status_code == 200


def test_throttled_deletes_delete_nothing(user, settings):
    from tests.factories import ChatFactory

    settings.AUTH_FAILURE_LIMIT = 1
    chat = ChatFactory(owner=user)
    key = ApiKey.generate(tenant=user.tenant)[1]
    client = APIClient()
    assert (
        client.get("/api/v1/chats", HTTP_X_API_KEY="nope", REMOTE_ADDR=ATTACKER).status_code == 401
    )
    response = client.delete(f"/api/v1/chats/{chat.uuid}", HTTP_X_API_KEY=key, REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429
    assert type(chat).objects.filter(pk=chat.pk).exists()
