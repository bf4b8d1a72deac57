"""``DELETE /api/users/{user_id}/projects/{project_id}/chats``: the batch deletion."""

from __future__ import annotations

import json

import pytest

from chats import services
from chats.deletion import audit, sql
from chats.models import Chat, Message
from collections_app.models import Collection, File
from neptun.api.session.serializers import MAX_BATCH_CHAT_IDS
from neptun.models import DeletionRecord
from projects.models import Project, ProjectChat
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
)

from .helpers import BAD_CHAT_IDS, INTERNAL_ERROR, not_found, project_chats_url, row_counts

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999999


@pytest.fixture
def project(user):
    return ProjectFactory(owner=user)


@pytest.fixture
def linked(user, project):
    """Three of ``user``'s chats linked to ``project``, each with two messages."""
    chats = [ProjectChatFactory(project=project, chat__owner=user).chat for _ in range(3)]
    for chat in chats:
        MessageFactory.create_batch(2, chat=chat)
    return chats


def delete(client, url, body=None, *, raw=None, content_type="application/json", **kwargs):
    data = raw if raw is not None else json.dumps(body)
    return client.generic("DELETE", url, data=data, content_type=content_type, **kwargs)


def test_deletes_the_listed_chats_and_returns_true(
    session_client, user, project, linked, django_capture_on_commit_callbacks
):
    keep = linked[2]
    own_file = FileFactory(owner=user, chat=linked[0])
    in_collection = FileFactory(
        owner=user, chat=linked[1], collection=CollectionFactory(owner=user)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = delete(
            session_client,
            project_chats_url(user.pk, project.pk),
            {"chat_ids": [linked[0].pk, linked[1].pk]},
        )

    assert response.status_code == 200
    assert response.content == b"true"
    assert set(Chat.objects.values_list("pk", flat=True)) == {keep.pk}
    assert set(Message.objects.values_list("chat_id", flat=True)) == {keep.pk}
    assert list(ProjectChat.objects.values_list("chat_id", flat=True)) == [keep.pk]
    assert Project.objects.filter(pk=project.pk).exists()
    assert not File.objects.filter(pk=own_file.pk).exists()
    in_collection.refresh_from_db()
    assert in_collection.chat_id is None
    assert Collection.objects.filter(pk=in_collection.collection_id).exists()
    record = DeletionRecord.objects.get()
    assert record.actor == user
    assert record.counts["chats"] == 2
    assert record.counts["messages"] == 4
    assert record.endpoint == f"DELETE {project_chats_url(user.pk, project.pk)}"


def test_matches_the_specs_curl_headers(session_client, user, project, linked):
    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [c.pk for c in linked]},
        headers={"Accept": "application/json"},
    )

    assert (response.status_code, response.json()) == (200, True)
    assert not Chat.objects.exists()


def test_duplicates_are_harmless(session_client, user, project, linked):
    chat_id = linked[0].pk

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [chat_id, chat_id, chat_id]},
    )

    assert (response.status_code, response.json()) == (200, True)
    assert not Chat.objects.filter(pk=chat_id).exists()
    assert Chat.objects.count() == 2


def test_empty_list_deletes_nothing_and_returns_true(session_client, user, project, linked):
    before = row_counts()

    response = delete(session_client, project_chats_url(user.pk, project.pk), {"chat_ids": []})

    assert (response.status_code, response.json()) == (200, True)
    assert row_counts() == before


def test_a_chat_in_two_projects_goes_with_both_links(session_client, user, project, linked):
    second = ProjectFactory(owner=user)
    ProjectChatFactory(project=second, chat=linked[0])

    response = delete(
        session_client, project_chats_url(user.pk, project.pk), {"chat_ids": [linked[0].pk]}
    )

    assert (response.status_code, response.json()) == (200, True)
    assert not ProjectChat.objects.filter(chat_id=linked[0].pk).exists()
    assert Project.objects.filter(pk=second.pk).exists()


def test_calls_the_deletion_service(session_client, user, project, linked, monkeypatch):
    calls = []
    real = services.project_chats_delete

    def spy(**kwargs):
        calls.append((kwargs["owner"], kwargs["project_id"], list(kwargs["chat_ids"])))
        return real(**kwargs)

    monkeypatch.setattr(services, "project_chats_delete", spy)
    response = delete(
        session_client, project_chats_url(user.pk, project.pk), {"chat_ids": [linked[0].pk]}
    )

    assert (response.status_code, response.json()) == (200, True)
    assert calls == [(user, project.pk, [linked[0].pk])]


MALFORMED = [
    pytest.param(None, "", id="empty-body"),
    pytest.param(None, "   ", id="blank-body"),
    pytest.param(None, "{", id="invalid-json"),
    pytest.param(None, "{'chat_ids': [1]}", id="single-quotes"),
    pytest.param(None, '{"chat_ids": [NaN]}', id="nan"),
    pytest.param(None, '{"chat_ids": [Infinity]}', id="infinity"),
    pytest.param(None, '{"chat_ids": [1], "chat_ids": [2]}', id="duplicate-key"),
    pytest.param(None, b"\xff\xfe\x00garbage", id="not-utf8"),
    pytest.param(None, "[" * 100_000, id="deeply-nested"),
    pytest.param({}, None, id="missing-key"),
    pytest.param({"chatIds": [1]}, None, id="misspelled-key"),
    pytest.param({"chat_ids": None}, None, id="null"),
    pytest.param({"chat_ids": 1}, None, id="number-not-list"),
    pytest.param({"chat_ids": "1,2"}, None, id="string-not-list"),
    pytest.param({"chat_ids": {"0": 1}}, None, id="object-not-list"),
    pytest.param({"chat_ids": [1.0]}, None, id="float-1.0"),
    pytest.param({"chat_ids": [1.5]}, None, id="float"),
    pytest.param(None, '{"chat_ids": [1e2]}', id="exponent"),
    pytest.param({"chat_ids": ["1"]}, None, id="string-id"),
    pytest.param({"chat_ids": [True]}, None, id="true"),
    pytest.param({"chat_ids": [False]}, None, id="false"),
    pytest.param({"chat_ids": [0]}, None, id="zero"),
    pytest.param({"chat_ids": [-1]}, None, id="negative"),
    pytest.param({"chat_ids": [None]}, None, id="null-id"),
    pytest.param({"chat_ids": [[1]]}, None, id="nested-list"),
    pytest.param({"chat_ids": [1, "x"]}, None, id="one-bad-among-good"),
    pytest.param([1, 2], None, id="body-is-list"),
    pytest.param("chat_ids", None, id="body-is-string"),
    pytest.param(1, None, id="body-is-number"),
    pytest.param(None, "null", id="body-is-null"),
    pytest.param(True, None, id="body-is-bool"),
]


@pytest.mark.parametrize(("body", "raw"), MALFORMED)
def test_malformed_body_is_400_and_deletes_nothing(
    session_client, user, project, linked, body, raw
):
    if raw is None:
        raw = json.dumps(body)
    elif raw == "{'chat_ids': [1]}":
        raw = raw.replace("1", str(linked[0].pk))
    before = row_counts()

    response = delete(session_client, project_chats_url(user.pk, project.pk), raw=raw)

    assert response.status_code == 400
    assert response.json() == BAD_CHAT_IDS
    assert row_counts() == before


def test_malformed_body_exact_bytes(session_client, user, project, linked):
    response = delete(session_client, project_chats_url(user.pk, project.pk), raw="{")

    assert response.status_code == 400
    assert response.content == (
        b'{"statusCode":400,"statusMessage":"Bad Request","message":"Invalid body(chat_ids)"}'
    )


def test_body_with_another_content_type_is_still_read_as_json(
    session_client, user, project, linked
):
    """``curl -d`` without ``-H Content-Type`` sends form encoding; the JSON still counts."""
    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk]},
        content_type="application/x-www-form-urlencoded",
    )

    assert (response.status_code, response.json()) == (200, True)
    assert not Chat.objects.filter(pk=linked[0].pk).exists()


def test_more_than_the_batch_limit_is_400(session_client, user, project, linked):
    before = row_counts()
    chat_ids = list(range(1, MAX_BATCH_CHAT_IDS + 2))

    response = delete(
        session_client, project_chats_url(user.pk, project.pk), {"chat_ids": chat_ids}
    )

    assert response.status_code == 400
    assert response.json() == {**BAD_CHAT_IDS, "data": {"max_chat_ids": MAX_BATCH_CHAT_IDS}}
    assert row_counts() == before


def test_the_batch_limit_counts_distinct_ids(session_client, user, project, linked):
    chat_ids = [linked[0].pk] * (MAX_BATCH_CHAT_IDS + 5)

    response = delete(
        session_client, project_chats_url(user.pk, project.pk), {"chat_ids": chat_ids}
    )

    assert (response.status_code, response.json()) == (200, True)


@pytest.mark.parametrize("project_id", ["999999", "abc", "0", "-1", "1.0", str(HUGE)])
def test_unknown_or_malformed_project_is_404(session_client, user, project, linked, project_id):
    before = row_counts()

    response = delete(
        session_client, project_chats_url(user.pk, project_id), {"chat_ids": [linked[0].pk]}
    )

    assert response.status_code == 404
    assert response.json() == not_found("Project not found")
    assert row_counts() == before


def test_other_users_project_is_404_and_deletes_nothing(session_client, user, other_user):
    other_project = ProjectFactory(owner=other_user)
    other_chat = ProjectChatFactory(project=other_project).chat
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, other_project.pk),
        {"chat_ids": [other_chat.pk]},
    )

    assert response.status_code == 404
    assert response.json() == not_found("Project not found")
    assert row_counts() == before
    assert Chat.objects.filter(pk=other_chat.pk).exists()


def test_project_is_checked_before_the_body(session_client, user):
    response = delete(session_client, project_chats_url(user.pk, 999999), raw="{")

    assert response.status_code == 404
    assert response.json() == not_found("Project not found")


def test_all_or_nothing_when_a_chat_is_not_in_the_project(
    session_client, user, other_user, project, linked
):
    unlinked = ChatFactory(owner=user)  # the user's, but not in this project
    elsewhere = ProjectChatFactory(project__owner=user, chat__owner=user).chat
    others = ProjectChatFactory(project__owner=other_user).chat
    missing = sorted([unlinked.pk, elsewhere.pk, others.pk, 999999])
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk, *missing, linked[1].pk]},
    )

    assert response.status_code == 404
    assert response.json() == not_found(
        "Chats not found in project: " + ", ".join(str(i) for i in missing),
        missing_ids=missing,
    )
    assert row_counts() == before


@pytest.mark.parametrize("with_missing", [False, True])
def test_a_batch_larger_than_a_small_selection_is_staged_all_or_nothing(
    session_client, user, other_user, project, with_missing, monkeypatch
):
    """Over SMALL_SELECTION ids (lowered to 100 here) the selection is staged; on
    PostgreSQL the ids travel as one array parameter. The rules are the same."""
    monkeypatch.setattr(sql, "SMALL_SELECTION", 100)
    chats = [
        ProjectChatFactory(project=project, chat__owner=user).chat
        for _ in range(sql.SMALL_SELECTION + 20)
    ]
    others = ProjectChatFactory(project__owner=other_user).chat
    ids = [c.pk for c in chats] + ([others.pk, HUGE] if with_missing else [])
    before = row_counts()

    response = delete(session_client, project_chats_url(user.pk, project.pk), {"chat_ids": ids})

    if with_missing:
        assert response.status_code == 404
        assert response.json() == not_found(
            f"Chats not found in project: {others.pk}, {HUGE}", missing_ids=[others.pk, HUGE]
        )
        assert row_counts() == before
    else:
        assert response.status_code == 200
        assert response.json() is True
        assert not Chat.objects.filter(pk__in=ids).exists()
        assert Chat.objects.filter(pk=others.pk).exists()
        record = DeletionRecord.objects.get()
        assert record.counts["chats"] == len(chats)
        assert record.counts["links"] == len(chats)


def test_other_users_chat_cannot_be_deleted_through_own_project(
    session_client, user, other_user, project
):
    """Even if a link to another user's chat existed, the chat is not the user's."""
    foreign = ChatFactory(owner=other_user)
    ProjectChatFactory(project=project, chat=foreign)
    before = row_counts()

    response = delete(
        session_client, project_chats_url(user.pk, project.pk), {"chat_ids": [foreign.pk]}
    )

    assert response.status_code == 404
    assert response.json() == not_found(
        f"Chats not found in project: {foreign.pk}", missing_ids=[foreign.pk]
    )
    assert row_counts() == before


def test_an_id_too_large_for_the_database_is_missing_not_a_crash(
    session_client, user, project, linked
):
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk, HUGE]},
    )

    assert response.status_code == 404
    assert response.json() == not_found(f"Chats not found in project: {HUGE}", missing_ids=[HUGE])
    assert row_counts() == before


def test_path_user_not_the_session_user_is_404(session_client, user, other_user, world):
    before = row_counts()

    for user_id in (other_user.pk, "me", HUGE):
        response = delete(
            session_client,
            project_chats_url(user_id, world.other_project.pk),
            {"chat_ids": [world.other_chat.pk]},
        )
        assert response.status_code == 404
        assert response.json() == not_found("User not found")
    assert row_counts() == before


def test_no_session_is_401(api_client, user, project, linked):
    before = row_counts()

    response = delete(
        api_client, project_chats_url(user.pk, project.pk), {"chat_ids": [linked[0].pk]}
    )

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"statusCode", "statusMessage", "message"}
    assert (body["statusCode"], body["statusMessage"]) == (401, "Unauthorized")
    assert row_counts() == before


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]
)
def test_cross_site_is_403_and_deletes_nothing(session_client, user, project, linked, headers):
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk]},
        headers=headers,
    )

    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "statusMessage": "Forbidden",
        "message": "Cross-site request refused.",
    }
    assert row_counts() == before


@pytest.mark.parametrize(
    "headers", [{"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}]
)
def test_same_origin_deletes(session_client, user, project, linked, headers):
    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk]},
        headers=headers,
    )

    assert (response.status_code, response.json()) == (200, True)
    assert not Chat.objects.filter(pk=linked[0].pk).exists()


def test_server_error_is_500_and_rolls_everything_back(
    session_client, user, project, linked, monkeypatch
):
    def broken_record(ctx, result):
        raise RuntimeError("boom")

    monkeypatch.setattr(audit, "write", broken_record)
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [c.pk for c in linked]},
    )

    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert row_counts() == before


def test_body_over_the_upload_limit_is_413_and_deletes_nothing(
    session_client, user, project, linked, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    before = row_counts()

    response = delete(
        session_client,
        project_chats_url(user.pk, project.pk),
        {"chat_ids": [linked[0].pk] * 100},
    )

    assert response.status_code == 413
    assert response.json() == {
        "statusCode": 413,
        "statusMessage": "Content Too Large",
        "message": "Request body too large",
    }
    assert row_counts() == before
