"""The client's address cannot be chosen by the client.

Every throttle (cookie login, failed API keys, failed bearer tokens, the admin's
login), every deletion record's ``remote_addr`` (the three API dialects and the
admin) and the request log take the client's address from the connection. Each
header a client can forge — ``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded`` —
neither gives an attacker a fresh address per attempt nor lets one lock a victim
out by naming the victim's address. With a trusted proxy configured
(``TRUSTED_PROXIES`` or ``TRUSTED_PROXY_COUNT``), the hop that proxy added to
``X-Forwarded-For`` is the address, and a hop the client prepended is not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from neptun.models import AccessToken, ApiKey, DeletionRecord
from neptun.throttling import ClientAddressMixin
from tests.factories import PASSWORD, ChatFactory, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
VICTIM = "198.51.100.9"
PROXY = "10.0.0.2"


def forged_meta(header: str, address: str) -> dict[str, str]:
    """The request META of one forged header naming ``address``."""
    return {
        "X-Forwarded-For": {"HTTP_X_FORWARDED_FOR": address},
        "X-Real-IP": {"HTTP_X_REAL_IP": address},
        "Forwarded": {"HTTP_FORWARDED": f"for={address};proto=https"},
    }[header]


HEADERS = ["X-Forwarded-For", "X-Real-IP", "Forwarded"]


def fresh(i: int) -> str:
    return f"192.0.2.{i + 1}"


# --------------------------------------------------------------------------- throttles


@dataclass
class Throttle:
    """One throttle: ``attempt(right, meta)`` answers a status; ``limit`` attempts
    that fail are allowed per address, the next is ``throttled``."""

    attempt: Callable[[bool, dict], int]
    limit: int
    refused: int  # a wrong attempt, not throttled
    accepted: int  # a right attempt, not throttled
    throttled: int = 429


def _rate_limit(scope: str) -> int:
    rates = api_settings.DEFAULT_THROTTLE_RATES
    return int((rates.get(scope) or rates["login"]).split("/")[0])


def cookie_login(user, settings) -> Throttle:
    def attempt(right: bool, meta: dict) -> int:
        password = PASSWORD if right else "wrong"
        return (
            APIClient()
            .post(
                "/api/auth/login",
                {"email": user.email, "password": password},
                format="json",
                **meta,
            )
            .status_code
        )

    return Throttle(attempt, _rate_limit("login"), refused=401, accepted=200)


def admin_login(user, settings) -> Throttle:
    user.is_staff = True
    user.save()

    def attempt(right: bool, meta: dict) -> int:
        password = PASSWORD if right else "wrong"
        response = Client().post(
            "/admin/login/", {"username": user.email, "password": password}, **meta
        )
        return response.status_code

    return Throttle(attempt, _rate_limit("admin_login"), refused=200, accepted=302)


def _credential(url: str, header: Callable[[str], dict], valid: str, settings) -> Throttle:
    settings.AUTH_FAILURE_LIMIT = 3

    def attempt(right: bool, meta: dict) -> int:
        secret = valid if right else "guess"
        return APIClient().get(url, **header(secret), **meta).status_code

    return Throttle(attempt, 3, refused=401, accepted=200)


def api_key(user, settings) -> Throttle:
    valid = ApiKey.generate(tenant=user.tenant)[1]
    return _credential("/api/v1/chats", lambda s: {"HTTP_X_API_KEY": s}, valid, settings)


def bearer_token(user, settings) -> Throttle:
    valid = AccessToken.generate(user=user)[1]
    header = lambda s: {"HTTP_AUTHORIZATION": f"Bearer {s}"}  # noqa: E731
    return _credential("/api/chat/conversations", header, valid, settings)


THROTTLES = {
    "cookie login": cookie_login,
    "admin login": admin_login,
    "failed API key": api_key,
    "failed bearer token": bearer_token,
}


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("name", THROTTLES)
def test_a_forged_address_per_attempt_does_not_escape_the_throttle(user, settings, name, header):
    throttle = THROTTLES[name](user, settings)
    for i in range(throttle.limit):
        meta = {"REMOTE_ADDR": ATTACKER, **forged_meta(header, fresh(i))}
        assert throttle.attempt(False, meta) == throttle.refused, i
    meta = {"REMOTE_ADDR": ATTACKER, **forged_meta(header, fresh(throttle.limit))}
    assert throttle.attempt(False, meta) == throttle.throttled
    # The right secret is refused too while the address is throttled.
    meta = {"REMOTE_ADDR": ATTACKER, **forged_meta(header, fresh(throttle.limit + 1))}
    assert throttle.attempt(True, meta) == throttle.throttled


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("name", THROTTLES)
def test_naming_a_victims_address_does_not_lock_the_victim_out(user, settings, name, header):
    throttle = THROTTLES[name](user, settings)
    for _ in range(throttle.limit + 2):
        throttle.attempt(False, {"REMOTE_ADDR": ATTACKER, **forged_meta(header, VICTIM)})
    assert throttle.attempt(True, {"REMOTE_ADDR": VICTIM}) == throttle.accepted
    # It was the attacker's own address that got throttled.
    assert throttle.attempt(True, {"REMOTE_ADDR": ATTACKER}) == throttle.throttled


@pytest.mark.parametrize("name", THROTTLES)
def test_behind_a_trusted_proxy_the_hop_it_added_is_throttled(user, settings, name):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    throttle = THROTTLES[name](user, settings)

    def via_proxy(*hops: str) -> dict:
        return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": ", ".join(hops)}

    # The attacker prepends a fresh hop each time; the proxy appends the real one.
    for i in range(throttle.limit):
        assert throttle.attempt(False, via_proxy(fresh(i), ATTACKER)) == throttle.refused
    assert throttle.attempt(True, via_proxy(fresh(99), ATTACKER)) == throttle.throttled
    # The victim, named by the attacker, and the proxy itself are not throttled.
    assert throttle.attempt(True, via_proxy(VICTIM)) == throttle.accepted
    assert throttle.attempt(True, {"REMOTE_ADDR": PROXY}) == throttle.accepted


@pytest.mark.parametrize("name", THROTTLES)
def test_with_a_proxy_count_the_client_prepended_hop_is_ignored(user, settings, name):
    settings.TRUSTED_PROXY_COUNT = 1
    throttle = THROTTLES[name](user, settings)

    def via_proxy(*hops: str) -> dict:
        return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": ", ".join(hops)}

    for i in range(throttle.limit):
        assert throttle.attempt(False, via_proxy(fresh(i), ATTACKER)) == throttle.refused
    assert throttle.attempt(True, via_proxy(ATTACKER)) == throttle.throttled
    assert throttle.attempt(True, via_proxy(ATTACKER, VICTIM)) == throttle.accepted


@pytest.mark.parametrize("name", THROTTLES)
def test_x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(user, settings, name):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    throttle = THROTTLES[name](user, settings)
    for i in range(throttle.limit):
        meta = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": f"{fresh(i)}, {PROXY}"}
        assert throttle.attempt(False, meta) == throttle.refused
    assert throttle.attempt(True, {"REMOTE_ADDR": ATTACKER}) == throttle.throttled


def _views(resolver=None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None:
                yield pattern, view


def test_every_throttle_of_every_view_keys_on_the_client_address():
    """The class, not the example: a DRF throttle added anywhere without
    ``neptun.throttling`` would trust ``X-Forwarded-For`` again."""
    assert api_settings.NUM_PROXIES == 0  # plain DRF throttles: the peer, not a header
    for throttle in api_settings.DEFAULT_THROTTLE_CLASSES:
        assert issubclass(throttle, ClientAddressMixin), throttle
    throttled = 0
    for pattern, view in _views():
        for throttle in getattr(view, "throttle_classes", ()):
            throttled += 1
            assert issubclass(throttle, ClientAddressMixin), (pattern, view, throttle)
    assert throttled  # the login view is found


# --------------------------------------------------------------------------- deletion records


def _cookie_delete(user, meta: dict) -> None:
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    chat = ChatFactory(owner=user)
    response = client.delete(f"/api/users/{user.pk}/chats/{chat.pk}", **meta)
    assert response.status_code == 200, response.content


def _v1_delete(user, meta: dict) -> None:
    chat = ChatFactory(owner=user)
    secret = ApiKey.generate(tenant=user.tenant)[1]
    response = APIClient().delete(f"/api/v1/chats/{chat.uuid}", HTTP_X_API_KEY=secret, **meta)
    assert response.status_code == 200, response.content


def _conversations_delete(user, meta: dict) -> None:
    ChatFactory(owner=user)
    token = AccessToken.generate(user=user)[1]
    response = APIClient().delete(
        "/api/chat/conversations/all", HTTP_AUTHORIZATION=f"Bearer {token}", **meta
    )
    assert response.status_code == 200, response.content


def _admin_delete(user, meta: dict) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    chat = ChatFactory(owner=user)
    client = Client()
    client.force_login(staff)
    data = {
        "action": "delete_selected",
        helpers.ACTION_CHECKBOX_NAME: [str(chat.pk)],
        "_neptun_confirm": "Yes, delete",
    }
    response = client.post(reverse("admin:chats_chat_changelist"), data, **meta)
    assert response.status_code == 302


DELETIONS = {
    "cookie": _cookie_delete,
    "v1": _v1_delete,
    "conversations": _conversations_delete,
    "admin": _admin_delete,
}


def _recorded(user, door: str, meta: dict) -> str | None:
    DELETIONS[door](user, meta)
    return DeletionRecord.objects.latest("pk").remote_addr


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("door", DELETIONS)
def test_a_deletion_record_keeps_the_peer_not_a_forged_header(user, door, header):
    meta = {"REMOTE_ADDR": ATTACKER, **forged_meta(header, VICTIM)}
    assert _recorded(user, door, meta) == ATTACKER


@pytest.mark.parametrize("door", DELETIONS)
def test_behind_a_trusted_proxy_a_deletion_record_keeps_the_hop_it_added(user, settings, door):
    settings.TRUSTED_PROXIES = [PROXY]
    meta = {
        "REMOTE_ADDR": PROXY,
        "HTTP_X_FORWARDED_FOR": f"{VICTIM}, {ATTACKER}",
        "HTTP_X_REAL_IP": VICTIM,
        "HTTP_FORWARDED": f"for={VICTIM}",
    }
    assert _recorded(user, door, meta) == ATTACKER


@pytest.mark.parametrize("door", DELETIONS)
def test_with_a_proxy_count_a_deletion_record_keeps_the_hop_it_added(user, settings, door):
    settings.TRUSTED_PROXY_COUNT = 1
    meta = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"{VICTIM}, {ATTACKER}"}
    assert _recorded(user, door, meta) == ATTACKER


# --------------------------------------------------------------------------- logs


@pytest.mark.parametrize("header", HEADERS)
def test_the_request_log_keeps_the_peer_not_a_forged_header(client, caplog, header):
    with caplog.at_level(logging.INFO, logger="neptun.request"):
        client.get("/healthz", REMOTE_ADDR=ATTACKER, **forged_meta(header, VICTIM))
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "request"]
    assert line.remote_addr == ATTACKER


def test_behind_a_trusted_proxy_the_request_log_keeps_the_hop_it_added(client, caplog, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    with caplog.at_level(logging.INFO, logger="neptun.request"):
        client.get("/healthz", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{VICTIM}, {ATTACKER}")
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "request"]
    assert line.remote_addr == ATTACKER
