"""Uploads and deletions on S3 (a moto server on loopback, django-storages and boto3 as
in production): through every dialect, the admin and the command, checked against
the bucket's own listing."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from chats import services
from chats.deletion import effects, storage
from chats.models import BlobRemoval, Chat, ConversationType
from collections_app.models import File
from neptun.models import AccessToken, ApiKey, DeletionRecord
from neptun.uploads import upload_root
from tests.factories import ChatFactory, CollectionFactory, FileFactory, UserFactory

# Blobs go after commit, and the requests are checked to run outside transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    return client


def chat_with_files(owner, n: int = 3) -> tuple[Chat, list[File]]:
    chat = ChatFactory(owner=owner, conversation_type=ConversationType.USER_FILES)
    return chat, [FileFactory(owner=owner, chat=chat) for _ in range(n)]


def assert_no_request_in_a_transaction(s3) -> None:
    inside = [op for op, in_transaction in s3.requests if in_transaction]
    assert not inside, f"storage requests inside a transaction: {inside}"


def test_upload_streams_into_the_bucket_under_the_namespace(s3, user):
    response = bearer(user).post(
        "/api/files",
        {"file": SimpleUploadedFile("notes.txt", b"some notes", "text/plain")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    f = File.objects.get(pk=response.json()["id"])
    assert f.blob.name.startswith(f"{upload_root()}/{user.pk}/")
    assert upload_root() == "test/uploads"
    assert s3.objects() == {f.blob.name}
    body = s3.client.get_object(Bucket=s3.name, Key=f.blob.name)["Body"].read()
    assert body == b"some notes"
    assert s3.count("PutObject") == 1
    assert_no_request_in_a_transaction(s3)


def test_the_same_file_name_twice_is_two_objects(s3, user):
    """Storage never reuses a name (django-storages would overwrite by default)."""
    client = bearer(user)
    for content in (b"first", b"second"):
        upload = SimpleUploadedFile("same.txt", content, "text/plain")
        assert client.post("/api/files", {"file": upload}, format="multipart").status_code == 201
    names = list(File.objects.order_by("id").values_list("blob", flat=True))
    assert len(set(names)) == 2 and s3.objects() == set(names)
    bodies = [s3.client.get_object(Bucket=s3.name, Key=n)["Body"].read() for n in names]
    assert bodies == [b"first", b"second"]


def test_conversations_delete_all_removes_the_objects_in_one_request(s3, user, other_user):
    _chat, files = chat_with_files(user, n=12)
    kept = FileFactory(owner=other_user)
    s3.requests.clear()

    response = bearer(user).generic(
        "DELETE",
        "/api/chat/conversations/all",
        json.dumps({"delete_files_and_collections": True}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["deleted_stats"]["files_deleted"] == 12
    assert s3.objects() == {kept.blob.name}
    assert s3.count("DeleteObjects") == 1 and s3.count("DeleteObject") == 0
    assert DeletionRecord.objects.get().counts["blobs"] == 12
    assert not BlobRemoval.objects.exists()
    assert_no_request_in_a_transaction(s3)
    assert all(not f.blob.name.startswith(kept.blob.name) for f in files)


def test_session_dialect_delete_chat_removes_its_objects(s3, user, session_client):
    chat, files = chat_with_files(user)
    collection_file = FileFactory(owner=user, chat=chat, collection=CollectionFactory(owner=user))

    response = session_client.delete(f"/api/users/{user.pk}/chats/{chat.pk}")

    assert response.status_code == 200, response.content
    assert s3.objects() == {collection_file.blob.name}
    assert s3.count("DeleteObjects") == 1
    assert_no_request_in_a_transaction(s3)
    assert not File.objects.filter(pk__in=[f.pk for f in files]).exists()


def test_v1_delete_chat_removes_its_objects(s3, tenant):
    owner = UserFactory(tenant=tenant)
    chat, _files = chat_with_files(owner)
    other = FileFactory(owner=owner)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=ApiKey.generate(tenant=tenant)[1])

    response = client.delete(f"/api/v1/chats/{chat.uuid}")

    assert response.status_code == 200, response.content
    assert s3.objects() == {other.blob.name}
    assert s3.count("DeleteObjects") == 1
    assert_no_request_in_a_transaction(s3)


def test_admin_delete_removes_the_objects(s3, user):
    chat, _files = chat_with_files(user)
    other_chat, other_files = chat_with_files(user, n=1)
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = admin.post(
        reverse("admin:chats_chat_changelist"),
        {
            "action": "delete_selected",
            helpers.ACTION_CHECKBOX_NAME: [str(chat.pk)],
            "_neptun_confirm": "Yes, delete",
        },
    )

    assert response.status_code == 302
    assert s3.objects() == {other_files[0].blob.name}
    assert Chat.objects.get() == other_chat
    assert_no_request_in_a_transaction(s3)


def test_the_command_removes_orphans_in_the_namespace_only(s3, user):
    null_chat, null_files = chat_with_files(user, n=2)
    Chat.objects.filter(pk=null_chat.pk).update(
        conversation_type=None, created_at=timezone.now() - timedelta(days=3)
    )
    live = FileFactory(owner=user)
    orphan = s3.put(f"{upload_root()}/{user.pk}/2026/01/01/orphan.txt")
    legacy = s3.put("uploads/1/2025/01/01/before-namespaces.txt")
    neighbour = s3.put("test-2/uploads/1/2026/01/01/theirs.txt")
    stranger = s3.put("elsewhere/not-ours.txt")
    out = io.StringIO()

    call_command("cleanup_orphans", "--yes", "--json", "--older-than", "0s", stdout=out)

    data = json.loads(out.getvalue())
    assert data["kinds"]["null-chats"]["removed"] == 1
    assert data["kinds"]["orphan-blobs"]["removed"] == 1
    assert s3.objects() == {live.blob.name, legacy, neighbour, stranger}
    assert orphan not in s3.objects()
    assert not any(f.blob.name in s3.objects() for f in null_files)
    assert s3.count("DeleteObject") == 0
    assert_no_request_in_a_transaction(s3)


def test_a_partial_delete_objects_failure_is_retried_by_the_outbox(s3, user, settings):
    settings.OUTBOX_RETRY_BASE = 0
    chat, files = chat_with_files(user, n=4)
    refused = files[1].blob.name
    s3.deny_delete(refused)

    result = services.chats_delete(
        chats=Chat.objects.filter(pk=chat.pk),
        ctx=services.DeletionContext(actor=user, interface="api", endpoint="test"),
    )

    # One request: three keys deleted, the fourth reported by S3 and kept.
    assert s3.count("DeleteObjects") == 1
    assert s3.objects() == {refused}
    assert [(e["blob"], e["action"]) for e in result.errors] == [(refused, effects.RETRY_ACTION)]
    assert result.errors[0]["error"].startswith("AccessDenied")
    row = BlobRemoval.objects.get()
    assert (row.name, row.attempts, row.failed) == (refused, 1, False)
    record = DeletionRecord.objects.get()
    assert record.counts["blobs"] == 3

    s3.allow_delete()
    BlobRemoval.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    outcome = effects.sweep()

    assert outcome.removed == 1 and not outcome.errors
    assert s3.objects() == set()
    assert not BlobRemoval.objects.exists()
    record.refresh_from_db()
    assert record.counts["blobs"] == 4 and record.errors == []


def test_removal_is_batched_at_the_request_limit(s3, monkeypatch):
    monkeypatch.setattr(storage, "MAX_KEYS_PER_REQUEST", 2)
    names = [s3.put(f"{upload_root()}/1/{i}.txt") for i in range(5)]
    missing = f"{upload_root()}/1/never-there.txt"

    failed = storage.blobs_remove(names=[*names, missing, names[0]])

    assert failed == {}
    assert s3.objects() == set()
    assert s3.count("DeleteObjects") == 3  # 6 distinct names, 2 a request


def test_a_failed_request_fails_each_of_its_names(s3, settings):
    names = [s3.put(f"{upload_root()}/1/{i}.txt") for i in range(2)]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": "no-such"},
        },
    }
    failed = storage.blobs_remove(names=names)
    assert set(failed) == set(names)
    assert all("NoSuchBucket" in error for error in failed.values())
    assert s3.objects() == set(names)


def test_the_listing_is_paginated_and_stays_under_the_prefix(s3, monkeypatch):
    monkeypatch.setattr(storage, "LIST_PAGE_SIZE", 2)
    ours = {s3.put(f"{upload_root()}/1/{i}.txt") for i in range(5)}
    s3.put("test-2/uploads/1/0.txt")
    s3.put(f"{upload_root()}x/1/0.txt")
    errors: list = []
    s3.requests.clear()

    found = list(storage.blobs_under(root=upload_root(), errors=errors))

    assert {blob.name for blob in found} == ours and not errors
    assert all(blob.modified <= timezone.now() for blob in found)
    assert s3.count("ListObjectsV2") == 3


def test_the_admin_file_form_uploads_outside_a_transaction(s3, user):
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    now = timezone.now()
    response = admin.post(
        reverse("admin:collections_app_file_add"),
        {
            "owner": user.pk,
            "name": "handbook.txt",
            "blob": SimpleUploadedFile("handbook.txt", b"the handbook", "text/plain"),
            "size": 12,
            "content_type": "text/plain",
            "created_at_0": now.strftime("%Y-%m-%d"),
            "created_at_1": now.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content[-2000:]
    f = File.objects.get()
    assert s3.objects() == {f.blob.name} and f.blob.name.startswith(upload_root() + "/")
    assert s3.count("PutObject") == 1
    assert_no_request_in_a_transaction(s3)


def test_a_large_upload_goes_to_the_bucket_in_parts(s3, user):
    """Over FILE_UPLOAD_MAX_MEMORY_SIZE Django spools the upload to a temporary file,
    and boto3 copies that in parts: the file is never whole in memory."""
    content = bytes(range(256)) * (9 * 1024 * 1024 // 256)  # 9 MiB: two 8 MiB parts
    upload = SimpleUploadedFile("big.bin", content, "application/octet-stream")
    response = bearer(user).post("/api/files", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    f = File.objects.get()
    assert s3.count("CreateMultipartUpload") == 1 and s3.count("UploadPart") == 2
    assert s3.count("PutObject") == 0
    stored = s3.client.get_object(Bucket=s3.name, Key=f.blob.name)["Body"].read()
    assert stored == content and f.size == len(content)


def test_an_upload_over_the_limit_writes_nothing_to_the_bucket(s3, user, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    upload = SimpleUploadedFile("big.bin", b"x" * 1001, "application/octet-stream")
    response = bearer(user).post("/api/files", {"file": upload}, format="multipart")
    assert response.status_code == 413
    assert s3.objects() == set() and not File.objects.exists()
    assert not s3.requests  # refused before storage is asked anything
