"""Every endpoint that reads or deletes, called with the wrong credentials.

For each dialect: no credentials, another user's, another tenant's, a revoked key,
an expired token, a logged-out session, and the credentials of the other dialects.
The answer is the dialect's 401 or 404 (with its body), and the database — every
row of every data table, and the blobs — is exactly as it was.

Lists and the conversations endpoints act on the caller's own data, so another
user's valid credentials get 200 there: the test then checks that nothing of the
victim is in the answer and nothing of the victim changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from neptun.models import DeletionRecord
from tests.security.conftest import Attackers, Victim, login, snapshot

pytestmark = pytest.mark.django_db

SESSION_401 = {"statusCode": 401, "statusMessage": "Unauthorized"}
V1_401 = {"detail": "Invalid or missing API key"}
CONVERSATIONS_401 = {"detail": "Not authenticated"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: Callable[[Victim], str]
    body: Callable[[Victim], dict] | None = None
    lists_own: bool = False  # answers 200 with the caller's own data

    def call(self, client: APIClient, victim: Victim):
        kwargs = {"format": "json"} if self.body else {}
        data = self.body(victim) if self.body else None
        return getattr(client, self.method)(self.url(victim), data, **kwargs)


SESSION = {
    "list chats": Endpoint("get", lambda v: f"/api/users/{v.user.pk}/chats"),
    "get chat": Endpoint("get", lambda v: f"/api/users/{v.user.pk}/chats/{v.chat.pk}"),
    "delete chat": Endpoint("delete", lambda v: f"/api/users/{v.user.pk}/chats/{v.chat.pk}"),
    "list messages": Endpoint(
        "get", lambda v: f"/api/users/{v.user.pk}/chats/{v.chat.pk}/messages"
    ),
    "list projects": Endpoint("get", lambda v: f"/api/users/{v.user.pk}/projects"),
    "list project chats": Endpoint(
        "get", lambda v: f"/api/users/{v.user.pk}/projects/{v.project.pk}/chats"
    ),
    "delete project chats": Endpoint(
        "delete",
        lambda v: f"/api/users/{v.user.pk}/projects/{v.project.pk}/chats",
        body=lambda v: {"chat_ids": [v.chat.pk]},
    ),
}
V1 = {
    "list chats": Endpoint("get", lambda v: "/api/v1/chats", lists_own=True),
    "get chat": Endpoint("get", lambda v: f"/api/v1/chats/{v.chat.uuid}"),
    "delete chat": Endpoint("delete", lambda v: f"/api/v1/chats/{v.chat.uuid}"),
    "list messages": Endpoint("get", lambda v: f"/api/v1/chats/{v.chat.uuid}/messages"),
    "export chat": Endpoint("get", lambda v: f"/api/v1/chats/{v.chat.uuid}/export"),
}
CONVERSATIONS = {
    "list chats": Endpoint("get", lambda v: "/api/chat/conversations", lists_own=True),
    "list files": Endpoint("get", lambda v: "/api/files", lists_own=True),
    "list collections": Endpoint("get", lambda v: "/api/collections", lists_own=True),
    "delete all": Endpoint(
        "delete", lambda v: "/api/chat/conversations/all", body=lambda v: {}, lists_own=True
    ),
    "delete all (alias)": Endpoint(
        "delete", lambda v: "/api/collections/all", body=lambda v: {}, lists_own=True
    ),
    "preview": Endpoint(
        "post", lambda v: "/api/chat/conversations/all/preview", body=lambda v: {}, lists_own=True
    ),
}


def _client(**credentials) -> APIClient:
    client = APIClient()
    client.credentials(**credentials)
    return client


def _logged_out(victim: Victim) -> APIClient:
    """A client still holding the victim's session cookie after logging out."""
    client = login(victim.user)
    cookie = client.cookies["neptun-session"].value
    assert client.post("/api/auth/logout").status_code == 200
    stale = APIClient()
    stale.cookies["neptun-session"] = cookie
    return stale


def _expect(response, status: int, body: dict) -> None:
    assert response.status_code == status, response.content
    data = response.json()
    assert {key: data.get(key) for key in body} == body, data


def _assert_untouched(before: dict) -> None:
    assert snapshot() == before


# --------------------------------------------------------------------------- cookie dialect


SESSION_401_SCENARIOS = {
    "no credentials": lambda v, a: APIClient(),
    "logged-out session": lambda v, a: _logged_out(v),
    "forged session": lambda v, a: _with_cookie("0" * 32),
    "the victim's API key": lambda v, a: _client(HTTP_X_API_KEY=v.api_key),
    "the victim's bearer token": lambda v, a: _client(HTTP_AUTHORIZATION=f"Bearer {v.token}"),
}
SESSION_404_SCENARIOS = {
    "another user of the tenant": lambda v, a: login(a.same_tenant),
    "a user of another tenant": lambda v, a: login(a.other_tenant),
}


def _with_cookie(value: str) -> APIClient:
    client = APIClient()
    client.cookies["neptun-session"] = value
    return client


@pytest.mark.parametrize("scenario", SESSION_401_SCENARIOS)
@pytest.mark.parametrize("endpoint", SESSION)
def test_session_dialect_401(victim: Victim, attackers: Attackers, endpoint, scenario):
    client = SESSION_401_SCENARIOS[scenario](victim, attackers)
    before = snapshot()
    response = SESSION[endpoint].call(client, victim)
    _expect(response, 401, SESSION_401)
    _assert_untouched(before)


@pytest.mark.parametrize("own_path", [False, True], ids=["victim's path", "own user path"])
@pytest.mark.parametrize("scenario", SESSION_404_SCENARIOS)
@pytest.mark.parametrize("endpoint", SESSION)
def test_session_dialect_404(victim: Victim, attackers: Attackers, endpoint, scenario, own_path):
    client = SESSION_404_SCENARIOS[scenario](victim, attackers)
    attacker = attackers.same_tenant if scenario.startswith("another") else attackers.other_tenant
    url = SESSION[endpoint].url(victim)
    own_list = False
    if own_path:  # the attacker's own user id, the victim's object ids
        url = url.replace(f"/api/users/{victim.user.pk}/", f"/api/users/{attacker.pk}/", 1)
        own_list = url.count("/") <= 4  # /api/users/{id}/chats: the attacker's own list
    before = snapshot()
    body = SESSION[endpoint].body(victim) if SESSION[endpoint].body else None
    response = getattr(client, SESSION[endpoint].method)(url, body, format="json")
    if own_list:
        assert response.status_code == 200, response.content
        assert str(victim.chat.uuid) not in response.content.decode()
        assert victim.project.name not in response.content.decode()
        _assert_untouched(before)
        return
    assert response.status_code == 404, response.content
    data = response.json()
    assert data["statusCode"] == 404 and data["statusMessage"] == "Not Found"
    assert data["data"]["message"].endswith("not found") or "not found" in data["data"]["message"]
    _assert_untouched(before)


# --------------------------------------------------------------------------- v1


V1_401_SCENARIOS = {
    "no credentials": lambda v, a: APIClient(),
    "a revoked key": lambda v, a: _client(HTTP_X_API_KEY=a.revoked_key),
    "an unknown key": lambda v, a: _client(HTTP_X_API_KEY="nk_" + "x" * 43),
    "the victim's session": lambda v, a: login(v.user),
    "the victim's bearer token": lambda v, a: _client(HTTP_AUTHORIZATION=f"Bearer {v.token}"),
}


@pytest.mark.parametrize("scenario", V1_401_SCENARIOS)
@pytest.mark.parametrize("endpoint", V1)
def test_v1_dialect_401(victim: Victim, attackers: Attackers, endpoint, scenario):
    client = V1_401_SCENARIOS[scenario](victim, attackers)
    before = snapshot()
    response = V1[endpoint].call(client, victim)
    _expect(response, 401, V1_401)
    assert response["WWW-Authenticate"] == "X-API-Key"
    _assert_untouched(before)


@pytest.mark.parametrize("endpoint", V1)
def test_v1_dialect_other_tenants_key(victim: Victim, attackers: Attackers, endpoint):
    client = _client(HTTP_X_API_KEY=attackers.other_tenant_key)
    before = snapshot()
    response = V1[endpoint].call(client, victim)
    if V1[endpoint].lists_own:
        assert response.status_code == 200
        assert str(victim.chat.uuid) not in response.content.decode()
    else:
        _expect(response, 404, {"detail": "Chat not found"})
    _assert_untouched(before)


# --------------------------------------------------------------------------- conversations


CONVERSATIONS_401_SCENARIOS = {
    "no credentials": lambda v, a: APIClient(),
    "an expired token": lambda v, a: _client(HTTP_AUTHORIZATION=f"Bearer {a.expired_token}"),
    "an unknown token": lambda v, a: _client(HTTP_AUTHORIZATION="Bearer nt_" + "x" * 43),
    "the victim's session": lambda v, a: login(v.user),
    "the victim's API key": lambda v, a: _client(HTTP_X_API_KEY=v.api_key),
}


@pytest.mark.parametrize("scenario", CONVERSATIONS_401_SCENARIOS)
@pytest.mark.parametrize("endpoint", CONVERSATIONS)
def test_conversations_dialect_401(victim: Victim, attackers: Attackers, endpoint, scenario):
    client = CONVERSATIONS_401_SCENARIOS[scenario](victim, attackers)
    before = snapshot()
    response = CONVERSATIONS[endpoint].call(client, victim)
    assert response.status_code == 401, response.content
    assert response.json() == CONVERSATIONS_401
    assert response["WWW-Authenticate"] == "Bearer"
    _assert_untouched(before)


@pytest.mark.parametrize("other", ["same_tenant", "other_tenant"])
@pytest.mark.parametrize("endpoint", CONVERSATIONS)
def test_conversations_dialect_other_users_token(
    victim: Victim, attackers: Attackers, endpoint, other
):
    from neptun.models import AccessToken

    attacker = getattr(attackers, other)
    client = _client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=attacker)[1]}")
    victim_chats = set(victim.user.chats.values_list("pk", flat=True))
    response = CONVERSATIONS[endpoint].call(client, victim)
    assert response.status_code == 200, response.content
    assert str(victim.chat.uuid) not in response.content.decode()
    assert victim.collection.name not in response.content.decode()
    # Whatever the attacker did, it was to the attacker's own data only.
    assert set(victim.user.chats.values_list("pk", flat=True)) == victim_chats
    assert victim.user.files.count() == 2
    assert victim.user.collections.count() == 1
    assert not DeletionRecord.objects.filter(actor=victim.user).exists()
