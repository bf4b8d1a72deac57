"""Lists and creation of the Neptun dialect: chats, messages, projects, project chats."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chats.models import Chat, ConversationType, Message
from projects.models import Project, ProjectChat
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
)

from .helpers import not_found, project_chats_url

pytestmark = pytest.mark.django_db


def chats_url(user_id) -> str:
    return f"/api/users/{user_id}/chats"


def messages_url(user_id, chat_id) -> str:
    return f"/api/users/{user_id}/chats/{chat_id}/messages"


def projects_url(user_id) -> str:
    return f"/api/users/{user_id}/projects"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def bad_body(*fields: str) -> dict:
    return {
        "statusCode": 400,
        "statusMessage": "Bad Request",
        "message": f"Invalid body({', '.join(fields)})",
    }


# --------------------------------------------------------------------------- chats


def test_chat_list_is_the_users_newest_first_and_paginated(session_client, user, other_user):
    now = timezone.now()
    chats = [ChatFactory(owner=user, created_at=now - dt.timedelta(hours=h)) for h in range(3)]
    ChatFactory(owner=other_user)

    response = session_client.get(chats_url(user.pk), {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert ids(response) == [chats[0].pk, chats[1].pk]
    assert body["previous"] is None
    assert "offset=2" in body["next"]
    first = body["results"][0]
    assert first == {
        "id": chats[0].pk,
        "uuid": str(chats[0].uuid),
        "title": chats[0].title,
        "conversation_type": "regular",
        "collection": None,
        "created_at": first["created_at"],
        "updated_at": first["updated_at"],
    }
    assert ids(session_client.get(chats_url(user.pk), {"limit": 2, "offset": 2})) == [chats[2].pk]


def test_chat_list_filters(session_client, user):
    now = timezone.now()
    old = ChatFactory(owner=user, title="Old Recipes", created_at=now - dt.timedelta(days=10))
    files = ChatFactory(
        owner=user, title="tax files", conversation_type=ConversationType.USER_FILES
    )
    untyped = ChatFactory(owner=user, title="legacy", conversation_type=None)

    def query(**params) -> set[int]:
        response = session_client.get(chats_url(user.pk), params)
        assert response.status_code == 200, response.content
        return set(ids(response))

    assert query(title="recipe") == {old.pk}
    assert query(conversation_type="user_files") == {files.pk}
    assert query(conversation_type="null") == {untyped.pk}
    assert query(conversation_type="regular") == {old.pk}
    cutoff = (now - dt.timedelta(days=1)).isoformat()
    assert query(created_before=cutoff) == {old.pk}
    assert query(created_after=cutoff) == {files.pk, untyped.pk}
    assert query(created_after=cutoff, title="tax") == {files.pk}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"conversation_type": "bogus"}, "conversation_type"),
        ({"created_before": "yesterday"}, "created_before"),
        ({"created_after": "2026-13-01", "created_before": "x"}, "created_after, created_before"),
    ],
)
def test_invalid_filter_is_400_never_an_unfiltered_list(session_client, user, params, names):
    ChatFactory(owner=user)

    response = session_client.get(chats_url(user.pk), params)

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == f"Invalid query({names})"
    assert (body["statusCode"], body["statusMessage"]) == (400, "Bad Request")
    assert set(body["data"]["errors"]) == set(names.split(", "))


def test_create_chat(session_client, user):
    response = session_client.post(
        chats_url(user.pk),
        {"title": "Trip", "conversation_type": "user_files"},
        format="json",
    )

    assert response.status_code == 201
    chat = Chat.objects.get(owner=user)
    assert response.json()["id"] == chat.pk
    assert (chat.title, chat.conversation_type, chat.collection) == ("Trip", "user_files", None)


def test_create_chat_defaults_and_null_type(session_client, user):
    empty = session_client.generic("POST", chats_url(user.pk), data="")
    null = session_client.post(chats_url(user.pk), {"conversation_type": None}, format="json")

    assert empty.status_code == 201
    assert (empty.json()["title"], empty.json()["conversation_type"]) == ("", "regular")
    assert null.status_code == 201
    assert null.json()["conversation_type"] is None


def test_create_chat_with_own_or_global_collection(session_client, user):
    own = CollectionFactory(owner=user)
    shared = CollectionFactory(global_=True, tenant=user.tenant)

    for collection in (own, shared):
        response = session_client.post(
            chats_url(user.pk), {"collection": collection.pk}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["collection"] == collection.pk
    assert Chat.objects.filter(owner=user).count() == 2


@pytest.mark.parametrize("which", ["others", "unknown", "float", "string", "huge"])
def test_create_chat_refuses_a_collection_that_is_not_usable(
    session_client, user, other_user, which
):
    foreign = CollectionFactory(owner=other_user)
    value = {
        "others": foreign.pk,
        "unknown": 999999,
        "float": float(foreign.pk),
        "string": str(foreign.pk),
        "huge": 10**30,
    }[which]

    response = session_client.post(chats_url(user.pk), {"collection": value}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid body(collection)"
    assert list(body["data"]["errors"]) == ["collection"]
    assert not Chat.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"title": 5}, ("title",)),
        ({"title": "x" * 301}, ("title",)),
        ({"conversation_type": "other"}, ("conversation_type",)),
        ({"conversation_type": True, "title": None}, ("title", "conversation_type")),
    ],
)
def test_create_chat_invalid_body_is_400(session_client, user, body, fields):
    response = session_client.post(chats_url(user.pk), body, format="json")

    assert response.status_code == 400
    data = response.json()
    assert {k: data[k] for k in ("statusCode", "statusMessage", "message")} == bad_body(*fields)
    assert not Chat.objects.exists()


def test_create_chat_invalid_json_is_400(session_client, user):
    response = session_client.generic(
        "POST", chats_url(user.pk), data="{", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == bad_body("title", "conversation_type", "collection")


def test_chat_retrieve(session_client, user, other_user):
    chat = ChatFactory(owner=user)
    foreign = ChatFactory(owner=other_user)

    ok = session_client.get(f"{chats_url(user.pk)}/{chat.pk}")
    missing = session_client.get(f"{chats_url(user.pk)}/{foreign.pk}")

    assert (ok.status_code, ok.json()["id"]) == (200, chat.pk)
    assert (missing.status_code, missing.json()) == (404, not_found("Chat not found"))


def test_lists_need_the_path_user_to_be_the_session_user(session_client, user, other_user):
    ChatFactory(owner=other_user)
    project = ProjectFactory(owner=other_user)

    for url in (
        chats_url(other_user.pk),
        projects_url(other_user.pk),
        project_chats_url(other_user.pk, project.pk),
    ):
        response = session_client.get(url)
        assert response.status_code == 404
        assert response.json() == not_found("User not found")
    response = session_client.post(chats_url(other_user.pk), {"title": "x"}, format="json")
    assert (response.status_code, response.json()) == (404, not_found("User not found"))
    assert not Chat.objects.filter(owner=user).exists()


def test_lists_need_a_session(api_client, user):
    response = api_client.get(chats_url(user.pk))

    assert response.status_code == 401
    assert response.json()["statusMessage"] == "Unauthorized"


def test_create_cross_site_is_403(session_client, user):
    response = session_client.post(
        chats_url(user.pk),
        {"title": "x"},
        format="json",
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert not Chat.objects.exists()


# --------------------------------------------------------------------------- messages


def test_messages_list_and_create(session_client, user):
    chat = ChatFactory(owner=user)
    first = MessageFactory(chat=chat, role=Message.Role.USER, content="hello")
    MessageFactory(chat=ChatFactory(owner=user))  # another chat's

    created = session_client.post(
        messages_url(user.pk, chat.pk),
        {"role": "assistant", "content": "Hi! How can I help?"},
        format="json",
    )
    listed = session_client.get(messages_url(user.pk, chat.pk))
    by_role = session_client.get(messages_url(user.pk, chat.pk), {"role": "assistant"})

    assert created.status_code == 201
    message = Message.objects.get(chat=chat, role="assistant")
    assert created.json() == {
        "id": message.pk,
        "chat": chat.pk,
        "role": "assistant",
        "content": "Hi! How can I help?",
        "created_at": created.json()["created_at"],
    }
    assert listed.status_code == 200
    assert ids(listed) == [first.pk, message.pk]
    assert ids(by_role) == [message.pk]


def test_message_role_defaults_to_user_and_content_is_required(session_client, user):
    chat = ChatFactory(owner=user)

    ok = session_client.post(messages_url(user.pk, chat.pk), {"content": "q"}, format="json")
    missing = session_client.post(messages_url(user.pk, chat.pk), {}, format="json")
    wrong = session_client.post(
        messages_url(user.pk, chat.pk), {"content": "x", "role": "admin"}, format="json"
    )

    assert (ok.status_code, ok.json()["role"]) == (201, "user")
    assert missing.status_code == 400
    assert missing.json()["message"] == "Invalid body(content)"
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "Invalid body(role)"
    assert Message.objects.filter(chat=chat).count() == 1


def test_messages_of_another_users_chat_are_404(session_client, user, other_user):
    foreign = ChatFactory(owner=other_user)
    MessageFactory(chat=foreign)

    listed = session_client.get(messages_url(user.pk, foreign.pk))
    created = session_client.post(
        messages_url(user.pk, foreign.pk), {"content": "x"}, format="json"
    )

    assert (listed.status_code, listed.json()) == (404, not_found("Chat not found"))
    assert (created.status_code, created.json()) == (404, not_found("Chat not found"))
    assert Message.objects.filter(chat=foreign).count() == 1


# --------------------------------------------------------------------------- projects


def test_projects_list_create_and_filter(session_client, user, other_user):
    ProjectFactory(owner=other_user, name="Thesis")

    created = session_client.post(projects_url(user.pk), {"name": "Thesis"}, format="json")
    ProjectFactory(owner=user, name="Garden")
    listed = session_client.get(projects_url(user.pk))
    filtered = session_client.get(projects_url(user.pk), {"name": "thes"})

    assert created.status_code == 201
    project = Project.objects.get(owner=user, name="Thesis")
    assert created.json() == {
        "id": project.pk,
        "name": "Thesis",
        "created_at": created.json()["created_at"],
    }
    assert listed.json()["count"] == 2
    assert ids(filtered) == [project.pk]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 7}, {"name": "x" * 201}])
def test_create_project_invalid_is_400(session_client, user, body):
    response = session_client.post(projects_url(user.pk), body, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "Invalid body(name)"
    assert not Project.objects.exists()


def test_project_chats_list_link_and_filter(session_client, user):
    project = ProjectFactory(owner=user)
    linked = ProjectChatFactory(project=project, chat__title="alpha").chat
    loose = ChatFactory(owner=user, title="beta", conversation_type=None)

    created = session_client.post(
        project_chats_url(user.pk, project.pk), {"chat_id": loose.pk}, format="json"
    )
    again = session_client.post(
        project_chats_url(user.pk, project.pk), {"chat_id": loose.pk}, format="json"
    )
    listed = session_client.get(project_chats_url(user.pk, project.pk))
    untyped = session_client.get(
        project_chats_url(user.pk, project.pk), {"conversation_type": "null"}
    )

    assert (created.status_code, created.json()["id"]) == (201, loose.pk)
    assert (again.status_code, again.json()["id"]) == (200, loose.pk)
    assert ProjectChat.objects.filter(project=project).count() == 2
    assert set(ids(listed)) == {linked.pk, loose.pk}
    assert ids(untyped) == [loose.pk]


def test_project_chats_of_unknown_project_are_404(session_client, user, other_user):
    foreign = ProjectFactory(owner=other_user)
    chat = ChatFactory(owner=user)

    for project_id in (foreign.pk, "x", 999999):
        listed = session_client.get(project_chats_url(user.pk, project_id))
        linked = session_client.post(
            project_chats_url(user.pk, project_id), {"chat_id": chat.pk}, format="json"
        )
        assert (listed.status_code, listed.json()) == (404, not_found("Project not found"))
        assert (linked.status_code, linked.json()) == (404, not_found("Project not found"))
    assert not ProjectChat.objects.exists()


@pytest.mark.parametrize("value", ["others", 999999, 10**30])
def test_linking_a_chat_that_is_not_the_users_is_404(session_client, user, other_user, value):
    project = ProjectFactory(owner=user)
    chat_id = ChatFactory(owner=other_user).pk if value == "others" else value

    response = session_client.post(
        project_chats_url(user.pk, project.pk), {"chat_id": chat_id}, format="json"
    )

    assert (response.status_code, response.json()) == (404, not_found("Chat not found"))
    assert not ProjectChat.objects.exists()


@pytest.mark.parametrize("body", [{}, {"chat_id": "1"}, {"chat_id": 1.0}, {"chat_id": True}])
def test_linking_with_invalid_body_is_400(session_client, user, body):
    project = ProjectFactory(owner=user)
    ChatFactory(owner=user)

    response = session_client.post(project_chats_url(user.pk, project.pk), body, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "Invalid body(chat_id)"
    assert not ProjectChat.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["chats", "chats/{chat}", "chats/{chat}/messages", "projects", "projects/{project}/chats"],
)
def test_options_and_head_answer_without_error(session_client, user, path):
    chat = ChatFactory(owner=user)
    project = ProjectFactory(owner=user)
    url = f"/api/users/{user.pk}/" + path.format(chat=chat.pk, project=project.pk)

    options = session_client.options(url)
    head = session_client.head(url)

    assert options.status_code == 200
    assert options.json()["name"]
    assert head.status_code == 200
