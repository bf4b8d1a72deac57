"""Every way a deletion request can be refused — and that nothing is deleted then."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chats.models import Chat, ConversationType
from neptun.models import AccessToken, DeletionRecord
from tests.api.conversations.conftest import ALIAS, DELETE_ALL, PREVIEW, send
from tests.factories import ChatFactory, FileFactory, MessageFactory

pytestmark = pytest.mark.django_db

FIELDS = (
    "delete_files_and_collections",
    "delete_regular_chats",
    "delete_user_file_conversations",
    "delete_global_collection_conversations",
    "delete_null_conversations",
)
ENDPOINTS = [("DELETE", DELETE_ALL), ("DELETE", ALIAS), ("POST", PREVIEW)]
ENDPOINT_IDS = ["delete", "alias", "preview"]


@pytest.fixture
def data(user, other_user):
    """A few conversations of every type for the user (and one for a bystander)."""
    for conversation_type in [*ConversationType.values, None]:
        chat = ChatFactory(owner=user, conversation_type=conversation_type)
        MessageFactory(chat=chat)
        FileFactory(owner=user, chat=chat)
    ChatFactory(owner=other_user)
    return Chat.objects.count()


def refused(response, status=422):
    """The body of a refusal, after checking that nothing was deleted."""
    assert response.status_code == status, response.content
    assert Chat.objects.count() == 5
    assert DeletionRecord.objects.count() == 0
    return response.json()


endpoints = pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)


# ----------------------------------------------------------------------- body values


@endpoints
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(
    "value", ["true", "false", 1, 0, None, [], {}, 1.0], ids=lambda v: json.dumps(v)
)
def test_values_must_be_json_booleans(data, bearer_client, method, path, field, value):
    body = refused(send(bearer_client, method, path, {field: value}))
    assert body == {
        "detail": [
            {
                "type": "bool_type",
                "loc": ["body", field],
                "msg": "Input should be a valid boolean",
                "input": value,
            }
        ]
    }


@endpoints
@pytest.mark.parametrize(
    "field",
    [
        "delete_regular_chat",  # a typo
        "Delete_regular_chats",
        "include_regular",  # the old names
        "delete_collections",
        "dry_run",
    ],
)
def test_unknown_fields_are_refused(data, bearer_client, method, path, field):
    body = refused(send(bearer_client, method, path, {"delete_regular_chats": True, field: False}))
    assert body == {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", field],
                "msg": "Extra inputs are not permitted",
                "input": False,
            }
        ]
    }


def test_all_problems_are_reported_together(data, bearer_client):
    body = refused(
        send(
            bearer_client,
            "DELETE",
            DELETE_ALL + "?include_regular=false",
            {"delete_regular_chats": "false", "delete_null_conversations": None, "typo": True},
        )
    )
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [
        ("query_parameter_not_supported", ["query", "include_regular"]),
        ("bool_type", ["body", "delete_regular_chats"]),
        ("bool_type", ["body", "delete_null_conversations"]),
        ("extra_forbidden", ["body", "typo"]),
    ]


@endpoints
@pytest.mark.parametrize(
    "raw", ["[]", '"all"', "1", "null", "true", '[{"delete_regular_chats": false}]']
)
def test_body_must_be_an_object(data, bearer_client, method, path, raw):
    body = refused(send(bearer_client, method, path, raw))
    assert body == {
        "detail": [
            {
                "type": "model_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or instance of DeleteConversationsBody",
                "input": json.loads(raw),
                "ctx": {"class_name": "DeleteConversationsBody"},
            }
        ]
    }


@endpoints
@pytest.mark.parametrize(
    ("raw", "pos", "reason"),
    [
        ('{"delete_regular_chats": fals}', 25, "Expecting value"),
        ("{'delete_regular_chats': false}", 1, "Expecting property name enclosed in double quotes"),
        ('{"delete_regular_chats": false,}', 30, "Illegal trailing comma before end of object"),
        ('{"delete_regular_chats": false', 30, "Expecting ',' delimiter"),
        ("delete_regular_chats=false", 0, "Expecting value"),
    ],
)
def test_malformed_json(data, bearer_client, method, path, raw, pos, reason):
    body = refused(send(bearer_client, method, path, raw))
    assert body == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", pos],
                "msg": f"JSON decode error: {reason}",
                "input": raw,
            }
        ]
    }


@endpoints
def test_body_that_is_not_utf8(data, bearer_client, method, path):
    raw = '{"delete_regular_chats": false, "x": "é"}'.encode("latin-1")
    body = refused(send(bearer_client, method, path, raw))
    [error] = body["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"] == ["body", raw.index(b"\xe9")]
    assert error["msg"] == "JSON decode error: the body is not valid UTF-8"


@endpoints
def test_duplicate_keys_are_refused(data, bearer_client, method, path):
    raw = '{"delete_regular_chats": false, "delete_regular_chats": true}'
    body = refused(send(bearer_client, method, path, raw))
    assert body == {
        "detail": [
            {
                "type": "duplicate_key",
                "loc": ["body", "delete_regular_chats"],
                "msg": "Field given more than once",
                "input": raw,
            }
        ]
    }


# ----------------------------------------------------------------------- content type


@endpoints
@pytest.mark.parametrize(
    "content_type",
    ["", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    ids=["missing", "text", "form", "multipart"],
)
def test_body_without_json_content_type(data, bearer_client, method, path, content_type):
    raw = '{"delete_regular_chats": false}'
    body = refused(send(bearer_client, method, path, raw, content_type=content_type))
    assert body == {
        "detail": [
            {
                "type": "content_type",
                "loc": ["header", "content-type"],
                "msg": "The request body must be JSON sent with 'Content-Type: application/json'.",
                "input": content_type or None,
            }
        ]
    }


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "APPLICATION/JSON", "application/merge+json"],
)
def test_json_content_type_variants_are_accepted(data, user, bearer_client, content_type):
    raw = json.dumps(dict.fromkeys(FIELDS, False) | {"delete_null_conversations": True})
    response = send(bearer_client, "DELETE", DELETE_ALL, raw, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json()["deleted_stats"]["conversations_deleted"] == 1
    assert not Chat.objects.filter(owner=user, conversation_type__isnull=True).exists()


# ----------------------------------------------------------------------- query parameters


@endpoints
@pytest.mark.parametrize(
    ("query", "name", "value", "hint"),
    [
        ("include_regular=false", "include_regular", "false", "delete_regular_chats"),
        (
            "delete_collections=true",
            "delete_collections",
            "true",
            "delete_files_and_collections",
        ),
        (
            "include_user_files=false",
            "include_user_files",
            "false",
            "delete_user_file_conversations",
        ),
        (
            "include_global_collection=false",
            "include_global_collection",
            "false",
            "delete_global_collection_conversations",
        ),
        ("delete_regular_chats=false", "delete_regular_chats", "false", "delete_regular_chats"),
        ("force", "force", "", None),
        ("page=1&page=2", "page", ["1", "2"], None),
    ],
)
def test_query_parameters_are_refused(data, bearer_client, method, path, query, name, value, hint):
    """An old client's ``?include_regular=false`` must not delete regular chats."""
    body = refused(send(bearer_client, method, f"{path}?{query}", None, content_type=""))
    [error] = body["detail"]
    assert error["type"] == "query_parameter_not_supported"
    assert error["loc"] == ["query", name]
    assert error["input"] == value
    assert "options moved to the JSON request body" in error["msg"]
    assert "Nothing was deleted" in error["msg"]
    if hint:
        assert f"'{hint}'" in error["msg"]


def test_old_client_example_from_the_spec(data, bearer_client):
    """``DELETE /api/collections/all?delete_collections=true&include_regular=false``."""
    body = refused(
        send(
            bearer_client,
            "DELETE",
            ALIAS + "?delete_collections=true&include_regular=false",
            None,
            content_type="",
        )
    )
    assert [e["loc"] for e in body["detail"]] == [
        ["query", "delete_collections"],
        ["query", "include_regular"],
    ]


def test_query_parameter_refused_even_with_a_valid_body(data, bearer_client):
    refused(
        send(
            bearer_client,
            "DELETE",
            DELETE_ALL + "?include_regular=false",
            {"delete_regular_chats": False},
        )
    )


def test_body_too_large(data, bearer_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    raw = json.dumps({"delete_regular_chats": True, "pad": "x" * 200})
    body = refused(send(bearer_client, "DELETE", DELETE_ALL, raw), status=413)
    assert body == {"detail": "Request body too large"}


# ----------------------------------------------------------------------- authentication


@pytest.fixture
def expired_token(user):
    token, secret = AccessToken.generate(user=user)
    AccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    return secret


@endpoints
@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer nt_not-a-token",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "expired",
        "inactive",
    ],
    ids=[
        "missing",
        "unknown",
        "empty",
        "scheme-only",
        "basic",
        "other-scheme",
        "expired",
        "inactive",
    ],
)
def test_not_authenticated(data, user, method, path, header, expired_token, access_token):
    client = APIClient()
    if header == "expired":
        header = f"Bearer {expired_token}"
    elif header == "inactive":
        user.is_active = False
        user.save(update_fields=["is_active"])
        header = f"Bearer {access_token[1]}"
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = send(client, method, path, {"delete_regular_chats": "nonsense"})
    body = refused(response, status=401)
    assert body == {"detail": "Not authenticated"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_another_users_token_acts_on_that_user_only(data, user, other_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=other_user)[1]}")
    response = send(client, "DELETE", DELETE_ALL, {})
    assert response.status_code == 200
    assert response.json()["deleted_stats"]["conversations_deleted"] == 1
    assert Chat.objects.filter(owner=user).count() == 4


# ----------------------------------------------------------------------- other statuses


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", DELETE_ALL),
        ("POST", DELETE_ALL),
        ("PUT", ALIAS),
        ("DELETE", PREVIEW),
        ("GET", PREVIEW),
    ],
)
def test_wrong_method(data, bearer_client, method, path):
    response = send(bearer_client, method, path, None, content_type="")
    assert refused(response, status=405) == {"detail": "Method Not Allowed"}


def test_unexpected_error_is_a_bare_500(data, bearer_client, monkeypatch):
    from neptun.api.conversations import views

    def explode(**kwargs):
        raise RuntimeError("secret internals /srv/app.py line 3")

    monkeypatch.setattr(views, "conversations_delete", explode)
    response = send(bearer_client, "DELETE", DELETE_ALL, {})
    assert refused(response, status=500) == {"detail": "Internal Server Error"}
    assert b"secret" not in response.content


def test_too_many_failed_tokens_are_throttled(data, settings, access_token):
    settings.AUTH_FAILURE_LIMIT = 2
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nt_guess")
    for _ in range(2):
        assert send(client, "DELETE", DELETE_ALL, {}).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token[1]}")  # even a good one
    response = send(client, "DELETE", DELETE_ALL, {})
    body = refused(response, status=429)
    assert set(body) == {"detail"} and "throttled" in body["detail"]
    assert response["Retry-After"] == str(settings.AUTH_FAILURE_WINDOW)


@endpoints
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_constants_are_refused(data, bearer_client, method, path, constant):
    raw = f'{{"delete_regular_chats": {constant}}}'
    body = refused(send(bearer_client, method, path, raw))
    assert body == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body"],
                "msg": f"JSON decode error: {constant} is not a JSON value",
                "input": raw,
            }
        ]
    }


def test_absurdly_nested_body_is_refused_not_a_500(data, bearer_client):
    raw = "[" * 100_000 + "]" * 100_000
    body = refused(send(bearer_client, "DELETE", DELETE_ALL, raw))
    assert [(e["type"], e["msg"]) for e in body["detail"]] == [
        ("json_invalid", "JSON decode error: nested too deeply")
    ]
