"""User erasure through the v1 API: the receipt, its verification, and the export."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from chats.deletion import effects
from chats.models import BlobRemoval, Chat, ConversationType
from collections_app.models import Collection, File
from neptun.erasure import email_hash, was_erased
from neptun.models import AccessToken, DeletionRecord, Erasure, User
from projects.models import Project
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def user_url(user_id) -> str:
    return f"/api/v1/users/{user_id}"


def person_with_everything(tenant) -> tuple[User, list[str]]:
    """A user with chats of every type, messages, files on each, a project, collections,
    a live socket, a token, a record naming them as actor and an admin log entry."""
    person = UserFactory(tenant=tenant, email="erase.me@example.com")
    own = CollectionFactory(owner=person)
    shared = CollectionFactory(global_=True, tenant=tenant)
    chats = [
        ChatFactory(owner=person, conversation_type=ConversationType.REGULAR),
        ChatFactory(owner=person, conversation_type=ConversationType.USER_FILES, collection=own),
        ChatFactory(
            owner=person, conversation_type=ConversationType.GLOBAL_COLLECTION, collection=shared
        ),
        ChatFactory(owner=person, conversation_type=None),
    ]
    blobs = []
    for chat in chats:
        MessageFactory.create_batch(2, chat=chat, content=f"hi, I am {person.email}")
        blobs.append(FileFactory(owner=person, chat=chat).blob.name)
        ChatConnectionFactory(chat=chat)  # a live socket on every chat
    blobs.append(FileFactory(owner=person, collection=own).blob.name)
    project = ProjectFactory(owner=person)
    ProjectChatFactory(project=project, chat=chats[0])
    AccessToken.generate(user=person)
    DeletionRecord.objects.create(actor=person, actor_email=person.email, interface="api")
    LogEntry.objects.create(
        user=UserFactory(is_staff=True),
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(person.pk),
        object_repr=person.email,
        action_flag=CHANGE,
    )
    return person, blobs


def rows_naming(user_id: int, email: str) -> list[str]:
    """Every row of every table with a foreign key to the user, or any text column
    containing the email."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            manager = model._default_manager
            if isinstance(field, models.ForeignKey) and field.related_model is User:
                if manager.filter(**{field.attname: user_id}).exists():
                    found.append(f"{model._meta.label}.{field.name}")
            elif isinstance(field, models.CharField | models.TextField | models.JSONField):
                lookup = "icontains" if not isinstance(field, models.JSONField) else None
                if lookup and manager.filter(**{f"{field.attname}__{lookup}": email}).exists():
                    found.append(f"{model._meta.label}.{field.name}")
                if isinstance(field, models.JSONField):
                    for value in manager.values_list(field.attname, flat=True):
                        if email in json.dumps(value):
                            found.append(f"{model._meta.label}.{field.name}")
    return found


def stored_names() -> list[str]:
    base = default_storage.location
    names = []
    for root, _, files in os.walk(base):
        names.extend(os.path.relpath(os.path.join(root, f), base) for f in files)
    return names


@pytest.mark.django_db(transaction=True)  # the outbox runs after a real commit
def test_erasure_removes_everything_and_the_receipt_names_no_personal_data(
    key_client, tenant, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)  # only this test's blobs in the storage
    person, blobs = person_with_everything(tenant)
    person_id, email = person.pk, person.email
    bystander_chat = ChatFactory(owner=UserFactory(tenant=tenant))
    global_collection = Collection.objects.get(is_global=True)

    response = key_client.delete(user_url(person_id))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "complete"
    assert body["counts"]["users"] == 1
    assert body["counts"]["chats"] == 4
    assert body["counts"]["messages"] == 8
    assert body["counts"]["files"] == 5
    assert body["counts"]["blobs"] == 5
    assert body["counts"]["projects"] == 1
    assert body["counts"]["collections"] == 1
    assert body["verification"] == {
        "rows_referencing_user": 0,
        "records_naming_email": 0,
        "blobs_remaining": 0,
        "verified": True,
    }
    assert body["email_hash"] == email_hash(email)
    text = json.dumps(body)
    assert email not in text and f'"{person_id}"' not in text

    # Nothing of the person is left anywhere, and nobody else's data went.
    assert rows_naming(person_id, email) == []
    assert not any(default_storage.exists(name) for name in blobs)
    assert len(blobs) == 5
    assert stored_names() == []
    assert not any(email in name for name in stored_names())
    assert Chat.objects.filter(pk=bystander_chat.pk).exists()
    assert Collection.objects.filter(pk=global_collection.pk).exists()
    assert not Project.objects.exists() and not File.objects.exists()
    # The record of the person's own earlier deletion keeps only the hash.
    acted = DeletionRecord.objects.get(actor_email_hash=email_hash(email))
    assert acted.actor_email == "" and acted.actor_id is None
    erasure_record = DeletionRecord.objects.get(pk=Erasure.objects.get().record_id)
    assert erasure_record.endpoint == f"DELETE /api/v1/users/{{id}} [tenant {tenant.name}]"
    assert erasure_record.tenant == tenant
    assert was_erased(email=email.upper())

    # The receipt reads back; the user and their export are gone.
    again = key_client.get(f"/api/v1/erasures/{body['id']}")
    assert again.status_code == 200 and again.json() == body
    assert key_client.get(f"{user_url(person_id)}/export").status_code == 404
    assert key_client.delete(user_url(person_id)).json() == {"detail": "User not found"}


def test_the_receipt_is_pending_until_the_outbox_has_removed_the_blobs(
    key_client, tenant, monkeypatch, django_capture_on_commit_callbacks
):
    person = UserFactory(tenant=tenant)
    blob = FileFactory(owner=person, chat=ChatFactory(owner=person)).blob.name
    real_delete = default_storage.delete
    down = [True]

    def refuse_while_down(name):
        if down[0]:
            raise OSError("storage unavailable")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", refuse_while_down)
    with django_capture_on_commit_callbacks(execute=True):
        body = key_client.delete(user_url(person.pk)).json()
    assert body["status"] == "pending"
    assert body["verification"]["blobs_remaining"] == 1
    assert body["verification"]["verified"] is False
    assert default_storage.exists(blob)

    down[0] = False
    BlobRemoval.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    effects.sweep()  # the worker's periodic sweep

    later = key_client.get(f"/api/v1/erasures/{body['id']}").json()
    assert later["status"] == "complete"
    assert later["verification"]["blobs_remaining"] == 0
    assert later["completed_at"] is not None
    assert not default_storage.exists(blob)


def test_erasure_removes_the_users_sessions_and_no_one_elses(key_client, tenant):
    from django.contrib.sessions.models import Session

    from tests.security.conftest import login

    person, bystander = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    login(person)
    login(bystander)

    def users_of_sessions() -> list[str]:
        return [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]

    assert sorted(users_of_sessions()) == sorted([str(person.pk), str(bystander.pk)])
    assert key_client.delete(user_url(person.pk)).status_code == 200
    assert users_of_sessions() == [str(bystander.pk)]


def test_another_tenants_user_is_404_and_nothing_is_erased(key_client):
    stranger = UserFactory(tenant=TenantFactory())
    ChatFactory(owner=stranger)
    for path in (user_url(stranger.pk), user_url("abc"), user_url(0), user_url(2**70)):
        response = key_client.delete(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "User not found"}
    assert User.objects.filter(pk=stranger.pk).exists() and Chat.objects.count() == 1
    assert not Erasure.objects.exists()


def test_another_tenants_receipt_is_404(key_client):
    other = TenantFactory()
    erasure = Erasure.objects.create(tenant=other, email_hash="x", interface="api")
    for erasure_id in (str(erasure.id), "nope", "0" * 100):
        response = key_client.get(f"/api/v1/erasures/{erasure_id}")
        assert response.status_code == 404
        assert response.json() == {"detail": "Erasure not found"}


def test_erasure_needs_the_key(api_client, tenant_user):
    response = api_client.delete(user_url(tenant_user.pk))
    assert response.status_code == 401
    assert User.objects.filter(pk=tenant_user.pk).exists()


# --------------------------------------------------------------------------- export


def export_lines(response) -> list[dict]:
    content = b"".join(response.streaming_content)
    return [json.loads(line) for line in content.decode().splitlines()]


def test_the_export_streams_everything_the_user_owns(key_client, tenant):
    person = UserFactory(tenant=tenant)
    collection = CollectionFactory(owner=person)
    chat = ChatFactory(owner=person, collection=collection)
    MessageFactory.create_batch(3, chat=chat)
    FileFactory(owner=person, chat=chat)
    ProjectChatFactory(project=ProjectFactory(owner=person), chat=chat)
    expired = ChatFactory(
        owner=person, temporary=True, expires_at=timezone.now() - timedelta(seconds=1)
    )
    MessageFactory(chat=expired, content="gone")
    FileFactory(owner=person, chat=expired)
    ChatFactory(owner=UserFactory(tenant=tenant))  # someone else's

    response = key_client.get(f"{user_url(person.pk)}/export")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = export_lines(response)
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "user" and kinds[-1] == "end"
    assert lines[0]["email"] == person.email
    assert [line["id"] for line in lines if line["type"] == "chat"] == [str(chat.uuid)]
    assert kinds.count("message") == 3
    assert kinds.count("file") == 1
    assert kinds.count("collection") == 1
    project = next(line for line in lines if line["type"] == "project")
    assert project["chats"] == [str(chat.uuid)]
    assert all(line.get("content") != "gone" for line in lines)
    assert lines[-1]["counts"] == {
        "projects": 1,
        "collections": 1,
        "chats": 1,
        "messages": 3,
        "files": 1,
    }


def test_the_export_reads_in_batches(key_client, tenant, monkeypatch):
    from neptun import export

    monkeypatch.setattr(export, "EXPORT_BATCH", 2)
    person = UserFactory(tenant=tenant)
    chat = ChatFactory(owner=person)
    MessageFactory.create_batch(5, chat=chat)
    lines = export_lines(key_client.get(f"{user_url(person.pk)}/export"))
    assert [line["type"] for line in lines].count("message") == 5


def test_another_tenants_user_has_no_export(key_client):
    stranger = UserFactory(tenant=TenantFactory())
    response = key_client.get(f"{user_url(stranger.pk)}/export")
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found"}


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db(transaction=True)
def test_erase_user_is_a_dry_run_without_yes_and_prints_the_receipt_with_it(tenant, capsys):
    person = UserFactory(tenant=tenant, email="cmd@example.com")
    ChatFactory(owner=person)
    call_command("erase_user", "--email", "CMD@example.com")
    assert "Would erase" in capsys.readouterr().out
    assert User.objects.filter(pk=person.pk).exists()
    call_command("erase_user", "--email", "cmd@example.com", "--yes", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "complete"
    assert body["counts"]["chats"] == 1
    assert "cmd@example.com" not in json.dumps(body)
    assert not User.objects.filter(pk=person.pk).exists()
    record = DeletionRecord.objects.get(pk=Erasure.objects.get().record_id)
    assert record.interface == DeletionRecord.Interface.COMMAND


def test_erase_user_says_when_an_address_was_erased(tenant):
    from django.core.management.base import CommandError

    UserFactory(tenant=tenant, email="twice@example.com")
    call_command("erase_user", "--email", "twice@example.com", "--yes")
    with pytest.raises(CommandError, match="was erased"):
        call_command("erase_user", "--email", "twice@example.com")
    with pytest.raises(CommandError, match="no erasure"):
        call_command("erase_user", "--email", "never@example.com")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_export_streams_under_asgi_too(tenant, api_key):
    """Served by an ASGI server the lines come from an async iterator (a synchronous
    one would be read whole before the first byte goes out)."""
    from asgiref.testing import ApplicationCommunicator
    from channels.db import database_sync_to_async

    from neptun.asgi import application

    person = await database_sync_to_async(UserFactory)(tenant=tenant)
    chat = await database_sync_to_async(ChatFactory)(owner=person)
    await database_sync_to_async(MessageFactory.create_batch)(3, chat=chat)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": f"{user_url(person.pk)}/export",
        "query_string": b"",
        "headers": [(b"x-api-key", api_key[1].encode()), (b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    assert start["type"] == "http.response.start" and start["status"] == 200
    chunks = []
    for _ in range(1000):  # bounded: the export is a few lines
        message = await communicator.receive_output(10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    assert len(chunks) > 2  # line by line, not one body
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    assert [line["type"] for line in lines] == ["user", "chat", *["message"] * 3, "end"]


@pytest.mark.django_db(transaction=True)  # the outbox runs after a real commit
def test_a_blob_storage_still_has_keeps_the_receipt_pending_until_the_worker_removes_it(
    key_client, tenant, monkeypatch
):
    """The receipt asks the storage itself: a removal that reported success and left the
    blob is caught, queued again, and done by the worker's sweep."""
    from chats import tasks

    person = UserFactory(tenant=tenant)
    names = [FileFactory(owner=person, chat=ChatFactory(owner=person)).blob.name for _ in range(2)]
    someone_elses = FileFactory(owner=UserFactory(tenant=tenant)).blob.name
    real_delete = default_storage.delete
    lied_about: list[str] = []

    def leaves_the_first_blob(name):
        if not lied_about:
            lied_about.append(name)  # "done", and the blob is still there
            return
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", leaves_the_first_blob)
    body = key_client.delete(user_url(person.pk)).json()

    assert body["status"] == "pending"
    assert body["verification"]["blobs_remaining"] == 1
    assert [row.name for row in BlobRemoval.objects.all()] == lied_about
    assert default_storage.exists(lied_about[0])

    result = tasks.sweep_outbox.call()

    assert result["erasures_completed"] == 1
    erasure = Erasure.objects.get()  # moved by the sweep, not by a read
    assert erasure.status == Erasure.Status.COMPLETE
    assert erasure.verification["blobs_remaining"] == 0
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(someone_elses)
    record = DeletionRecord.objects.get(pk=erasure.record_id)
    assert record.counts["blobs"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_blob_storage_cannot_tell_about_is_not_claimed_removed(key_client, tenant, monkeypatch):
    from chats import tasks

    person = UserFactory(tenant=tenant)
    name = FileFactory(owner=person, chat=ChatFactory(owner=person)).blob.name
    real_exists = default_storage.exists
    asked: list[str] = []

    def silent_once(blob):
        if not asked:
            asked.append(blob)
            raise OSError("storage unavailable")
        return real_exists(blob)

    monkeypatch.setattr(default_storage, "exists", silent_once)
    body = key_client.delete(user_url(person.pk)).json()

    assert asked == [name]
    assert body["status"] == "pending"
    assert body["verification"]["blobs_remaining"] == 1
    tasks.sweep_outbox.call()  # removing a blob that is gone is success
    assert Erasure.objects.get().status == Erasure.Status.COMPLETE
    assert not real_exists(name)
