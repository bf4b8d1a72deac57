"""Oversized or hostile input gets a clear 4xx in the dialect's shape — never a 500
or a hang — and changes nothing. The limits are settings (see docs/limits.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from neptun.api.session.serializers import MAX_BATCH_CHAT_IDS
from tests.factories import MessageFactory
from tests.security.conftest import Victim, login, snapshot

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024
SECONDS = 10  # no single request may take longer (a hang would)


@dataclass
class Clients:
    session: APIClient
    v1: APIClient
    bearer: APIClient


@pytest.fixture
def clients(victim: Victim) -> Clients:
    v1 = APIClient()
    v1.credentials(HTTP_X_API_KEY=victim.api_key)
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {victim.token}")
    return Clients(session=login(victim.user), v1=v1, bearer=bearer)


#: Every endpoint that reads a JSON body: (dialect, method, url template).
JSON_BODIES = [
    ("session", "post", "/api/auth/login"),
    ("session", "post", "/api/users/{user}/chats"),
    ("session", "post", "/api/users/{user}/chats/{chat}/messages"),
    ("session", "post", "/api/users/{user}/projects"),
    ("session", "post", "/api/users/{user}/projects/{project}/chats"),
    ("session", "delete", "/api/users/{user}/projects/{project}/chats"),
    ("v1", "post", "/api/v1/chats"),
    ("v1", "post", "/api/v1/chats/{uuid}/messages"),
    ("bearer", "post", "/api/chat/conversations"),
    ("bearer", "post", "/api/collections"),
    ("bearer", "delete", "/api/chat/conversations/all"),
    ("bearer", "delete", "/api/collections/all"),
    ("bearer", "post", "/api/chat/conversations/all/preview"),
]


def _url(template: str, victim: Victim) -> str:
    return template.format(
        user=victim.user.pk, chat=victim.chat.pk, project=victim.project.pk, uuid=victim.chat.uuid
    )


def _send(clients: Clients, dialect: str, method: str, url: str, body: bytes, **extra):
    client = getattr(clients, dialect)
    start = time.monotonic()
    response = getattr(client, method)(
        url, data=body, content_type=extra.pop("content_type", "application/json"), **extra
    )
    assert time.monotonic() - start < SECONDS
    return response


def _assert_dialect_error(dialect: str, url: str, response, status: int | tuple[int, ...]):
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (url, response.status_code, response.content[:300])
    body = response.json()
    if dialect == "session":
        assert body["statusCode"] == response.status_code
        assert "message" in body or "message" in body.get("data", {})
    elif response.status_code == 422:
        assert isinstance(body["detail"], list) and body["detail"][0]["loc"]
    else:
        assert isinstance(body["detail"], str)


def _id(case) -> str:
    return f"{case[1].upper()} {case[2]}"


@pytest.mark.parametrize("case", JSON_BODIES, ids=_id)
def test_a_10_mb_body_is_413(victim, clients, case):
    dialect, method, template = case
    url = _url(template, victim)
    before = snapshot()
    body = b'{"chat_ids": [' + b"1," * (TEN_MB // 2) + b"1]}"
    response = _send(clients, dialect, method, url, body)
    _assert_dialect_error(dialect, url, response, 413)
    assert snapshot() == before


@pytest.mark.parametrize("case", JSON_BODIES, ids=_id)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"chat_ids": ' + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"}",
    ],
    ids=["deep arrays", "deep objects", "deep inside a field"],
)
def test_deeply_nested_json_is_4xx(victim, clients, case, body):
    dialect, method, template = case
    url = _url(template, victim)
    before = snapshot()
    response = _send(clients, dialect, method, url, body)
    _assert_dialect_error(dialect, url, response, (400, 422))
    assert snapshot() == before


@pytest.mark.parametrize("case", JSON_BODIES, ids=_id)
@pytest.mark.parametrize(
    "body",
    [b'{"title": "\xff\xfe"}', b"\xff\xfe\x00{", b'{"chat_ids": [1], "\xc3\x28": 1}'],
    ids=["in a string", "at the start", "in a key"],
)
def test_non_utf8_bodies_are_4xx(victim, clients, case, body):
    dialect, method, template = case
    url = _url(template, victim)
    before = snapshot()
    response = _send(clients, dialect, method, url, body)
    _assert_dialect_error(dialect, url, response, (400, 422))
    assert snapshot() == before


def test_100000_chat_ids_are_400_and_delete_nothing(victim, clients):
    url = _url("/api/users/{user}/projects/{project}/chats", victim)
    before = snapshot()
    ids = [victim.chat.pk, *range(10**9, 10**9 + 100_000)]
    response = clients.session.delete(url, {"chat_ids": ids}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "statusMessage": "Bad Request",
        "message": "Invalid body(chat_ids)",
        "data": {"max_chat_ids": MAX_BATCH_CHAT_IDS},
    }
    assert snapshot() == before


def test_the_largest_allowed_batch_is_answered_quickly(victim, clients):
    url = _url("/api/users/{user}/projects/{project}/chats", victim)
    before = snapshot()
    ids = [victim.chat.pk, *range(10**9, 10**9 + MAX_BATCH_CHAT_IDS - 1)]
    start = time.monotonic()
    response = clients.session.delete(url, {"chat_ids": ids}, format="json")
    assert time.monotonic() - start < SECONDS
    assert response.status_code == 404  # all or nothing: unknown ids, nothing deleted
    assert len(response.json()["data"]["missing_ids"]) == MAX_BATCH_CHAT_IDS - 1
    assert snapshot() == before


HUGE = ["9223372036854775808", "9" * 40, "1" + "0" * 5000, "-1", "0", "1e9", "%FF", "%C3%28"]


@pytest.mark.parametrize("value", HUGE, ids=lambda v: v[:12])
@pytest.mark.parametrize(
    "case",
    [
        ("session", "get", "/api/users/{huge}/chats"),
        ("session", "get", "/api/users/{user}/chats/{huge}"),
        ("session", "delete", "/api/users/{user}/chats/{huge}"),
        ("session", "get", "/api/users/{user}/chats/{huge}/messages"),
        ("session", "get", "/api/users/{user}/projects/{huge}/chats"),
        ("session", "delete", "/api/users/{user}/projects/{huge}/chats"),
        ("v1", "get", "/api/v1/chats/{huge}"),
        ("v1", "delete", "/api/v1/chats/{huge}"),
        ("v1", "get", "/api/v1/chats/{huge}/export"),
    ],
    ids=_id,
)
def test_huge_or_malformed_path_ids_are_404(victim, clients, case, value):
    dialect, method, template = case
    url = template.format(huge=value, user=victim.user.pk)
    before = snapshot()
    body = b'{"chat_ids": [1]}' if method == "delete" else b""
    response = _send(clients, dialect, method, url, body)
    _assert_dialect_error(dialect, url, response, 404)
    assert snapshot() == before


@pytest.mark.parametrize(
    "case",
    [
        ("session", "/api/users/{user}/chats"),
        ("session", "/api/users/{user}/chats/{chat}/messages"),
        ("session", "/api/users/{user}/projects"),
        ("session", "/api/users/{user}/projects/{project}/chats"),
        ("v1", "/api/v1/chats"),
        ("v1", "/api/v1/chats/{uuid}/messages"),
        ("bearer", "/api/chat/conversations"),
        ("bearer", "/api/files"),
        ("bearer", "/api/collections"),
    ],
    ids=lambda case: case[1],
)
@pytest.mark.parametrize("query", ["limit={n}", "offset={n}", "limit={n}&offset={n}"])
@pytest.mark.parametrize("n", ["9223372036854775808", "9" * 40, "1" * 5000, "-5"])
def test_huge_paging_values_never_fail(victim, clients, settings, case, query, n):
    dialect, template = case
    settings.MAX_PAGE_SIZE = 3
    MessageFactory.create_batch(4, chat=victim.chat)
    url = _url(template, victim) + "?" + query.format(n=n)
    response = getattr(clients, dialect).get(url)
    assert response.status_code == 200, response.content[:300]
    # A limit that reads as a number is cut to MAX_PAGE_SIZE; one that does not (a
    # negative, or more digits than Python reads) falls back to the default page size.
    readable = n.isdigit() and len(n) <= 4300 and "limit" in query
    page = settings.MAX_PAGE_SIZE if readable else settings.REST_FRAMEWORK["PAGE_SIZE"]
    assert len(response.json()["results"]) <= page


@pytest.mark.parametrize(
    ("dialect", "url", "status"),
    [
        ("session", "/api/users/{user}/chats?created_after=99999-01-01", 400),
        ("session", "/api/users/{user}/chats?conversation_type=%FF", 400),
        ("v1", "/api/v1/chats?project=3e33", 400),
        ("v1", "/api/v1/chats?user=-9223372036854775809", 400),
        ("v1", "/api/v1/chats?created_before=0000-00-00", 400),
        # Valid ISO 8601 offsets PostgreSQL refuses, and UTC values outside years 1-9999.
        ("session", "/api/users/{user}/chats?created_after=0127-06-07T00:00:14-20:06", 200),
        ("session", "/api/users/{user}/projects?created_before=0001-01-01T00:00:00%2B13:39", 400),
        ("v1", "/api/v1/chats?created_after=6458-04-03T15:21:15-18:47", 200),
        ("v1", "/api/v1/chats?created_before=9999-12-31T23:59:59-01:00", 400),
        ("bearer", "/api/chat/conversations?collection=1e40", 422),
        ("bearer", "/api/files?chat=99999999999999999999999", 422),
        ("bearer", "/api/files?collection=-1e40", 422),
    ],
)
def test_filters_out_of_range_are_the_dialects_4xx(victim, clients, dialect, url, status):
    url = _url(url, victim)
    response = getattr(clients, dialect).get(url)
    if status == 200:
        assert response.status_code == 200, response.content[:300]
        return
    _assert_dialect_error(dialect, url, response, status)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("HTTP_X_API_KEY", "nk_\xff\xfe"),
        ("HTTP_AUTHORIZATION", "Bearer nt_\xff\xfe"),
        ("HTTP_X_API_KEY", "x" * 100_000),
        ("HTTP_AUTHORIZATION", "Bearer " + "x" * 100_000),
    ],
)
def test_hostile_credentials_are_401(victim, header, value):
    url = "/api/v1/chats" if header == "HTTP_X_API_KEY" else "/api/chat/conversations"
    response = APIClient().get(url, **{header: value})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("dialect", "method", "template", "body", "status"),
    [
        ("session", "get", "/api/users/{user}/chats?title=%00", None, 400),
        ("session", "post", "/api/users/{user}/chats", {"title": "a\u0000b"}, 400),
        ("session", "post", "/api/users/{user}/chats/{chat}/messages", {"content": "\u0000"}, 400),
        ("session", "post", "/api/users/{user}/projects", {"name": "a\u0000b"}, 400),
        ("v1", "get", "/api/v1/chats?user_email=%00", None, 400),
        ("v1", "post", "/api/v1/chats/{uuid}/messages", {"role": "user", "content": "\u0000"}, 400),
        ("bearer", "get", "/api/chat/conversations?title=%00", None, 422),
        ("bearer", "post", "/api/collections", {"name": "a\u0000"}, 422),
    ],
)
def test_nul_characters_are_the_dialects_4xx(
    victim, clients, dialect, method, template, body, status
):
    """PostgreSQL cannot store NUL in text: it must be refused before it gets there."""
    url = _url(template, victim)
    before = snapshot()
    client = getattr(clients, dialect)
    response = getattr(client, method)(url, body, format="json") if body else client.get(url)
    _assert_dialect_error(dialect, url, response, status)
    assert snapshot() == before
