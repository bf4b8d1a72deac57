"""The specs' own call shapes: a raw ``Cookie: neptun-session=…`` header, as curl sends it.

First through Django's test client (no cookie jar: the header is set by hand),
then over real HTTP against a live server, with curl and with httpx exactly as a
client would write them.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
from django.test import Client

from chats.models import Chat, Message
from projects.models import ProjectChat
from tests.factories import PASSWORD, ChatFactory, MessageFactory, ProjectChatFactory, UserFactory

from .helpers import BAD_CHAT_IDS, chat_url, not_found, project_chats_url


def session_cookie_of(user) -> str:
    """The value of ``neptun-session`` after logging in through the API."""
    response = Client().post(
        "/api/auth/login",
        json.dumps({"email": user.email, "password": PASSWORD}),
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.cookies["neptun-session"].value


@pytest.mark.django_db
def test_delete_chat_with_a_cookie_header_like_curl(user):
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(2, chat=chat)
    cookie = session_cookie_of(user)
    client = Client()  # empty cookie jar: only the header below authenticates

    # curl -X DELETE -H "Cookie: neptun-session=…" …/api/users/{user_id}/chats/{chat_id}
    response = client.delete(
        chat_url(user.pk, chat.pk), headers={"Cookie": f"neptun-session={cookie}"}
    )
    again = client.delete(
        chat_url(user.pk, chat.pk), headers={"Cookie": f"neptun-session={cookie}"}
    )
    anonymous = client.delete(chat_url(user.pk, chat.pk))

    assert response.status_code == 200
    assert response.content == b"true"
    assert not Chat.objects.filter(pk=chat.pk).exists()
    assert not Message.objects.exists()
    assert (again.status_code, again.json()) == (404, not_found("Chat not found"))
    assert anonymous.status_code == 401


@pytest.mark.django_db
def test_delete_project_chats_with_the_specs_curl_headers(user):
    link = ProjectChatFactory(project__owner=user, chat__owner=user)
    keep = ProjectChatFactory(project=link.project, chat__owner=user)
    cookie = session_cookie_of(user)
    headers = {
        "Accept": "application/json",
        "Cookie": f"neptun-session={cookie}",
    }
    url = project_chats_url(user.pk, link.project_id)

    bad = Client().delete(
        url, '{"chat_ids": [1.0]}', content_type="application/json", headers=headers
    )
    ok = Client().delete(
        url,
        json.dumps({"chat_ids": [link.chat_id]}),
        content_type="application/json",
        headers=headers,
    )

    assert (bad.status_code, bad.json()) == (400, BAD_CHAT_IDS)
    assert (ok.status_code, ok.content) == (200, b"true")
    assert list(Chat.objects.values_list("pk", flat=True)) == [keep.chat_id]
    assert list(ProjectChat.objects.values_list("pk", flat=True)) == [keep.pk]


# --------------------------------------------------------------------------- real HTTP


@pytest.fixture
def http_user(transactional_db):
    return UserFactory()


def login_over_http(base: str, user) -> str:
    response = httpx.post(
        f"{base}/api/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.cookies["neptun-session"]


def test_spec_calls_over_http_with_httpx(live_server, http_user):
    base = live_server.url
    user = http_user
    chat = ChatFactory(owner=user)
    link = ProjectChatFactory(project__owner=user, chat__owner=user)
    cookie = login_over_http(base, user)

    # The delete-chat spec's Python example: the cookie in the client's jar.
    with httpx.Client(cookies={"neptun-session": cookie}) as client:
        one = client.delete(f"{base}{chat_url(user.pk, chat.pk)}")
    # The batch spec's example in a form httpx accepts: a DELETE body goes through
    # ``request`` (``delete()`` takes no ``json=``); the cookie as a raw header.
    with httpx.Client() as client:
        batch = client.request(
            "DELETE",
            f"{base}{project_chats_url(user.pk, link.project_id)}",
            json={"chat_ids": [link.chat_id]},
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Cookie": f"neptun-session={cookie}",
            },
        )
        raw_cookie = {"Cookie": f"neptun-session={cookie}"}
        logout = client.post(f"{base}/api/auth/logout", headers=raw_cookie)
        replay = client.delete(f"{base}{chat_url(user.pk, 1)}", headers=raw_cookie)

    assert (one.status_code, one.json()) == (200, True)
    assert (batch.status_code, batch.json()) == (200, True)
    assert not Chat.objects.filter(pk__in=[chat.pk, link.chat_id]).exists()
    assert (logout.status_code, logout.json()) == (200, True)
    assert replay.status_code == 401
    assert replay.json()["statusMessage"] == "Unauthorized"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_spec_curl_commands_verbatim(live_server, http_user):
    base = live_server.url
    user = http_user
    chat = ChatFactory(owner=user)
    link = ProjectChatFactory(project__owner=user, chat__owner=user)
    cookie = login_over_http(base, user)
    curl = shutil.which("curl")

    def run(*args: str) -> tuple[int, str]:
        out = subprocess.run(
            [curl, "-s", "-w", "\n%{http_code}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        body, _, code = out.rpartition("\n")
        return int(code), body

    # curl -X DELETE -H "Cookie: neptun-session=…" "…/api/users/{user_id}/chats/123"
    single = run(
        "-X",
        "DELETE",
        "-H",
        f"Cookie: neptun-session={cookie}",
        f"{base}{chat_url(user.pk, chat.pk)}",
    )
    # curl -X DELETE "…/projects/1/chats" -H Accept -H Content-Type -H Cookie -d '{…}'
    batch = run(
        "-X",
        "DELETE",
        f"{base}{project_chats_url(user.pk, link.project_id)}",
        "-H",
        "Accept: application/json",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Cookie: neptun-session={cookie}",
        "-d",
        json.dumps({"chat_ids": [link.chat_id]}),
    )
    missing = run(
        "-X",
        "DELETE",
        "-H",
        f"Cookie: neptun-session={cookie}",
        f"{base}{chat_url(user.pk, chat.pk)}",
    )

    assert single == (200, "true")
    assert batch == (200, "true")
    assert missing == (
        404,
        '{"statusCode":404,"statusMessage":"Not Found","data":{"message":"Chat not found"}}',
    )
    assert not Chat.objects.exists()
