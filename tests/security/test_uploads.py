"""Uploads: a size limit and a per-user quota (413, nothing written), validation before
the blob is written (content type, names), and no blob left when the row is not
inserted. Through the real test client (multipart) and, for the body limit in front
of Django, the real ASGI application. See docs/limits.md and neptun/uploads.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from collections_app.models import File
from neptun.models import AccessToken, ApiKey
from neptun.uploads import max_request_body
from tests.factories import ChatFactory, FileFactory, UserFactory

LIMIT = 100_000


def media_files() -> set[str]:
    """Every file under MEDIA_ROOT (relative paths)."""
    root = Path(django_settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_the_media_root_is_this_tests_own(media_root):
    assert default_storage.path("x") == str(media_root / "x")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """A media folder of this test's own: stored names are then predictable (no
    collision with an earlier test's file on the same path)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def upload_tmp(tmp_path) -> Path:
    """Where file parts over FILE_UPLOAD_MAX_MEMORY_SIZE are streamed to."""
    path = tmp_path / "upload-tmp"
    path.mkdir()
    return path


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    return client


@pytest.fixture
def v1(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=ApiKey.generate(tenant=user.tenant)[1])
    return client


@pytest.fixture
def limits(settings, upload_tmp):
    """A small upload limit; file parts over 10 kB go to temporary files in a folder
    of this test's own, so that leftovers would show."""
    settings.MAX_UPLOAD_SIZE = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.FILE_UPLOAD_TEMP_DIR = str(upload_tmp)
    return settings


def upload(client: APIClient, content: bytes, name: str = "a.txt", **fields):
    part = SimpleUploadedFile(name, content, content_type=fields.pop("content_type", "text/plain"))
    return client.post("/api/files", {"file": part, **fields}, format="multipart")


def assert_413(response, dialect: str = "detail") -> dict:
    assert response.status_code == 413, (response.status_code, response.content[:300])
    body = response.json()
    if dialect == "cookie":
        assert body["statusCode"] == 413 and body["statusMessage"] == "Content Too Large"
    else:
        assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_422_on_file(response) -> None:
    assert response.status_code == 422, (response.status_code, response.content[:300])
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "file"]


# ---- size limit -------------------------------------------------------------------


def test_the_limits_are_settings_with_documented_defaults():
    assert django_settings.MAX_UPLOAD_SIZE == 50 * 1024 * 1024
    assert django_settings.UPLOAD_QUOTA_PER_USER == 1024 * 1024 * 1024
    assert django_settings.FILE_UPLOAD_HANDLERS[0] == "neptun.uploads.UploadLimitHandler"


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT])
def test_an_upload_over_the_limit_is_413_and_writes_nothing(user, bearer, limits, upload_tmp, size):
    media = media_files()
    response = upload(bearer, b"x" * size)
    body = assert_413(response)
    assert str(LIMIT) in body["detail"]
    assert media_files() == media
    assert list(upload_tmp.iterdir()) == []  # the partial temporary file is gone too
    assert not File.objects.exists()


def test_an_upload_exactly_at_the_limit_is_stored(user, bearer, limits):
    content = os.urandom(LIMIT)
    response = upload(bearer, content, name="exact.bin", content_type="application/octet-stream")
    assert response.status_code == 201, response.content[:300]
    file = File.objects.get(pk=response.json()["id"])
    assert file.size == LIMIT
    with default_storage.open(file.blob.name) as stored:
        assert stored.read() == content


def test_the_limit_counts_all_file_parts_of_a_request(user, bearer, limits, upload_tmp):
    media = media_files()
    parts = {
        "file": SimpleUploadedFile("a.txt", b"a" * 60_000),
        "other": SimpleUploadedFile("b.txt", b"b" * 60_000),
    }
    assert_413(bearer.post("/api/files", parts, format="multipart"))
    assert media_files() == media
    assert list(upload_tmp.iterdir()) == []


def test_a_claimed_content_length_over_the_limit_is_refused_before_reading(user, bearer, limits):
    """The body is not read at all: the test payload holds far fewer bytes than the
    header claims, and reading past them would fail."""
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("a.txt", b"small")})
    response = bearer.generic(
        "POST",
        "/api/files",
        body,
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(max_request_body() + 1),
    )
    assert_413(response)
    assert not File.objects.exists()


def test_v1_multipart_bodies_are_bounded_too(user, v1, limits, upload_tmp):
    """v1 parses multipart bodies (its default parsers) and streams their file parts
    to temporary files: the same limit applies."""
    part = SimpleUploadedFile("a.txt", b"x" * (LIMIT + 1))
    response = v1.post("/api/v1/chats", {"title": "t", "file": part}, format="multipart")
    assert_413(response)
    assert response.json() == {"detail": "Request body too large"}
    assert list(upload_tmp.iterdir()) == []


# ---- the ASGI application refuses an oversized body before Django spools it --------


async def _asgi_post(path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    from neptun.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await communicator.send_input(
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        )
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    return start["status"], json.loads(body["body"])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/files", {"detail": "Request body too large"}),
        ("/api/v1/chats", {"detail": "Request body too large"}),
        (
            "/api/users/1/chats",
            {
                "statusCode": 413,
                "statusMessage": "Content Too Large",
                "message": "Request body too large",
            },
        ),
    ],
)
async def test_asgi_refuses_a_content_length_over_the_limit_unread(path, expected):
    """No body is sent at all: the answer comes from the header alone."""
    headers = [
        (b"content-type", b"multipart/form-data; boundary=x"),
        (b"content-length", str(max_request_body() + 1).encode()),
    ]
    status, body = await _asgi_post(path, headers, [])
    assert (status, body) == (413, expected)


@pytest.mark.asyncio
async def test_asgi_stops_a_chunked_body_once_it_passes_the_limit(settings):
    settings.MAX_UPLOAD_SIZE = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    chunk = b"x" * (256 * 1024)
    chunks = [chunk] * (max_request_body() // len(chunk) + 4)
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]
    status, body = await _asgi_post("/api/files", headers, chunks)
    assert (status, body) == (413, {"detail": "Request body too large"})


# ---- quota ------------------------------------------------------------------------


def test_an_upload_over_the_quota_is_413_and_writes_nothing(user, bearer, settings):
    settings.UPLOAD_QUOTA_PER_USER = 1000
    FileFactory(owner=UserFactory(), size=900)  # another user's files do not count
    assert upload(bearer, b"a" * 600).status_code == 201
    assert upload(bearer, b"b" * 400).status_code == 201  # exactly full
    media = media_files()
    body = assert_413(upload(bearer, b"c"))
    assert "quota" in body["detail"]
    assert media_files() == media
    assert File.objects.filter(owner=user).count() == 2


def test_a_quota_of_zero_is_no_quota(user, bearer, settings):
    settings.UPLOAD_QUOTA_PER_USER = 0
    FileFactory(owner=user, size=10**15)
    assert upload(bearer, b"a").status_code == 201


# ---- validation before the blob is written ----------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/" + "x" * 300, "a/" + "b" * 199, "not a type", "text", "text/plain/extra", "é/é"],
    ids=["301 chars", "201 chars", "spaces", "no subtype", "two slashes", "non-ascii"],
)
def test_a_bad_content_type_is_422_and_writes_nothing(user, bearer, content_type):
    media = media_files()
    assert_422_on_file(upload(bearer, b"hello", content_type=content_type))
    assert media_files() == media
    assert not File.objects.exists()


def test_a_content_type_at_the_fields_length_is_stored(user, bearer):
    content_type = "application/" + "x" * (200 - len("application/"))
    response = upload(bearer, b"hello", content_type=content_type)
    assert response.status_code == 201, response.content[:300]
    assert File.objects.get().content_type == content_type


def _stored_basename(file: File) -> str:
    return os.path.basename(file.blob.name)


def test_a_long_utf8_file_name_is_stored_under_a_shortened_name(user, bearer):
    name = "é" * 250 + ".txt"  # 254 characters, 504 bytes
    first = upload(bearer, b"first", name=name)
    assert first.status_code == 201, first.content[:300]
    assert first.json()["name"] == name  # the display name is kept whole
    # The same name again: storage adds a suffix to the stored name, which must fit too.
    second = upload(bearer, b"second", name=name)
    assert second.status_code == 201, second.content[:300]
    listed = bearer.get("/api/files").json()["results"]
    assert {f["name"] for f in listed} == {name}
    blobs = []
    for response, content in ((first, b"first"), (second, b"second")):
        file = File.objects.get(pk=response.json()["id"])
        stored = _stored_basename(file)
        assert stored.endswith(".txt") and stored.startswith("é")
        assert len(stored.encode()) <= 255
        with default_storage.open(file.blob.name) as blob:
            assert blob.read() == content
        blobs.append(file.blob.name)
    assert len(set(blobs)) == 2
    assert _stored_basename(File.objects.get(pk=first.json()["id"])) == "é" * 121 + ".txt"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("!!!", "upload"),
        ("###.txt", "upload.txt"),
        ("a" * 300 + ".pdf", "a" * 243 + ".pdf"),
        ("x." + "e" * 40, "x." + "e" * 40),
        ("日本語のファイル名" * 20 + ".md", "日本語のファイル名" * 9 + ".md"),
    ],
    ids=["no usable character", "only an extension", "300 ascii", "long extension", "cjk"],
)
def test_hostile_file_names_are_stored(user, bearer, name, stored):
    response = upload(bearer, b"content", name=name)
    assert response.status_code == 201, response.content[:300]
    file = File.objects.get(pk=response.json()["id"])
    basename = _stored_basename(file)
    assert len(basename.encode()) <= 247
    assert basename == stored
    with default_storage.open(file.blob.name) as blob:
        assert blob.read() == b"content"


def test_control_characters_in_a_file_name_are_dropped(user, bearer):
    response = upload(bearer, b"content", name="re\x00p\x01ort\x7f.txt")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["name"] == "report.txt"
    assert _stored_basename(File.objects.get()) == "report.txt"


# ---- a row that is not inserted leaves no blob ---------------------------------------


@pytest.fixture
def refuse_file_inserts(db):
    """A database trigger that fails every insert into the file table: the blob is
    written by then, and must go again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_file() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_file BEFORE INSERT ON collections_app_file "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_file()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse_file BEFORE INSERT ON collections_app_file "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER test_refuse_file"
            + (" ON collections_app_file" if connection.vendor == "postgresql" else "")
        )
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION test_refuse_file()")


@pytest.mark.parametrize("quota", [0, 10**9], ids=["no quota", "quota"])
def test_a_failed_insert_removes_the_blob_it_wrote(
    user, bearer, refuse_file_inserts, settings, quota
):
    settings.UPLOAD_QUOTA_PER_USER = quota
    chat = ChatFactory(owner=user)
    media = media_files()
    response = upload(bearer, b"hello", chat_id=chat.pk)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert media_files() == media
    assert not File.objects.exists()


# ---- the admin's file form -----------------------------------------------------------


@pytest.fixture
def admin_client(db):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def admin_add(client: Client, owner, content: bytes, name: str = "a.txt"):
    now = timezone.now()
    return client.post(
        "/admin/collections_app/file/add/",
        {
            "owner": owner.pk,
            "name": name,
            "blob": SimpleUploadedFile(name, content),
            "size": len(content),
            "content_type": "text/plain",
            "created_at_0": now.strftime("%Y-%m-%d"),
            "created_at_1": now.strftime("%H:%M:%S"),
        },
    )


def test_the_admin_form_stores_a_long_utf8_name(user, admin_client):
    name = "é" * 250 + ".txt"
    response = admin_add(admin_client, user, b"hello", name=name)
    assert response.status_code == 302, response.content[:500]
    file = File.objects.get()
    assert file.name == name
    assert len(_stored_basename(file).encode()) <= 247
    with default_storage.open(file.blob.name) as blob:
        assert blob.read() == b"hello"


def test_the_admin_form_refuses_an_upload_over_the_limit(user, admin_client, limits, upload_tmp):
    media = media_files()
    response = admin_add(admin_client, user, b"x" * (LIMIT + 1))
    assert response.status_code == 400
    assert media_files() == media
    assert list(upload_tmp.iterdir()) == []
    assert not File.objects.exists()


def test_a_failed_insert_from_the_admin_form_removes_the_blob(
    user, admin_client, refuse_file_inserts
):
    media = media_files()
    response = admin_add(admin_client, user, b"hello")
    assert response.status_code == 500
    assert media_files() == media


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gone", ["chat", "collection"])
def test_an_upload_into_a_chat_or_collection_deleted_meanwhile_is_refused_not_a_500(gone):
    """The serializer found the chat (or collection); a deletion committed before the
    upload's insert. The upload is refused like an unknown one and keeps no blob —
    not an IntegrityError at commit."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from neptun.api.conversations import services as conversations
    from neptun.exceptions import InvalidInput
    from tests.factories import ChatFactory, CollectionFactory, UserFactory

    owner = UserFactory()
    chat = ChatFactory(owner=owner)
    collection = CollectionFactory(owner=owner)
    doomed = chat if gone == "chat" else collection
    type(doomed).objects.filter(pk=doomed.pk).delete()  # the row goes, the object keeps its pk
    before = media_files()
    with pytest.raises(InvalidInput) as refused:
        conversations.file_create(
            owner=owner,
            upload=SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"),
            chat=chat if gone == "chat" else None,
            collection=collection if gone == "collection" else None,
        )
    assert refused.value.extra["field"] == f"{gone}_id"
    assert not File.objects.exists()
    assert media_files() == before
