"""Downloading a file's content through the dialects that list files: streamed from
the local file system, a presigned redirect on S3; only for the file's owner."""

from __future__ import annotations

import pytest
import requests
from rest_framework.test import APIClient

from neptun.models import AccessToken, ApiKey
from tests.factories import ChatFactory, FileFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    return client


def key_client(tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=ApiKey.generate(tenant=tenant)[1])
    return client


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_conversations_owner_downloads_the_content_as_an_attachment(user):
    f = FileFactory(owner=user, name="report <final>.html", content_type="text/html")
    response = bearer(user).get(f"/api/files/{f.pk}/content")
    assert response.status_code == 200
    assert body_of(response) == b"hello neptun"
    assert response["Content-Type"] == "text/html"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("which", ["theirs", "unknown", "huge", "zero", "text"])
def test_conversations_download_of_anything_else_is_404(user, other_user, which):
    theirs = FileFactory(owner=other_user)
    file_id = {
        "theirs": str(theirs.pk),
        "unknown": str(theirs.pk + 1000),
        "huge": HUGE,
        "zero": "0",
        "text": "abc",
    }[which]
    response = bearer(user).get(f"/api/files/{file_id}/content")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_conversations_download_needs_a_token(user):
    f = FileFactory(owner=user)
    response = APIClient().get(f"/api/files/{f.pk}/content")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_v1_key_downloads_a_file_of_its_tenants_chat(tenant):
    chat = ChatFactory(owner=UserFactory(tenant=tenant))
    f = FileFactory(owner=chat.owner, chat=chat)
    response = key_client(tenant).get(f"/api/v1/chats/{chat.uuid}/files/{f.pk}/content")
    assert response.status_code == 200
    assert body_of(response) == b"hello neptun"
    assert response["Content-Disposition"].startswith("attachment;")


def test_v1_download_outside_the_chat_or_tenant_is_404(tenant):
    owner = UserFactory(tenant=tenant)
    chat, other_chat = ChatFactory(owner=owner), ChatFactory(owner=owner)
    other_chats_file = FileFactory(owner=owner, chat=other_chat)
    foreign = ChatFactory(owner=UserFactory(tenant=TenantFactory()))
    foreign_file = FileFactory(owner=foreign.owner, chat=foreign)
    client = key_client(tenant)
    for url, detail in [
        (f"/api/v1/chats/{chat.uuid}/files/{other_chats_file.pk}/content", "File not found"),
        (f"/api/v1/chats/{chat.uuid}/files/{HUGE}/content", "File not found"),
        (f"/api/v1/chats/{foreign.uuid}/files/{foreign_file.pk}/content", "Chat not found"),
        (f"/api/v1/chats/not-a-uuid/files/{foreign_file.pk}/content", "Chat not found"),
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": detail}, url
    assert APIClient().get(f"/api/v1/chats/{chat.uuid}/files/1/content").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_on_s3_the_download_is_a_presigned_redirect(s3, user):
    f = FileFactory(owner=user, name="notes.txt")
    response = bearer(user).get(f"/api/files/{f.pk}/content")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{s3.endpoint}/{s3.name}/") and "X-Amz-Signature" in location
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == b"hello neptun"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    # Unsigned, the bucket refuses: the link is the authorisation.
    assert requests.get(location.split("?")[0], timeout=10).status_code == 403
    assert s3.count("GetObject") == 0  # the server signs; it does not fetch
