"""A global collection belongs to one tenant, through every door that reads or links one.

Tenant A has a global collection (an admin knowledge base, with a file). For every
route of the three dialects and the admin that lists, gets, filters by, links (chat
creation, file upload) or counts a collection, a user or key of tenant B — and a
user of no tenant — neither sees it nor attaches it, filters by it or counts it: the
answer is exactly the one for a collection id that does not exist, and the database
(every row, every blob) is as it was. Tenant A's users and key still can.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, Tenant, User
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    TenantFactory,
    UserFactory,
)
from tests.security.conftest import login, snapshot

pytestmark = pytest.mark.django_db

#: An id no collection has (the tests create a handful).
UNKNOWN = 987654


@dataclass
class World:
    tenant_a: Tenant
    global_a: Collection
    global_file: File
    member: User  # a user of tenant A
    member_chat: Chat  # linked to the global collection
    key_a: str
    outsider: User  # a user of tenant B, or of no tenant
    outsider_collection: Collection
    key_b: str


@pytest.fixture(params=["tenant B", "no tenant"])
def world(request, db) -> World:
    tenant_a = TenantFactory(name="demo")
    admin = UserFactory(tenant=tenant_a, is_staff=True)
    global_a = CollectionFactory(global_=True, tenant=tenant_a, name="Company handbook")
    global_file = FileFactory(owner=admin, collection=global_a, name="handbook.txt")
    member = UserFactory(tenant=tenant_a)
    member_chat = ChatFactory(
        owner=member, conversation_type=ConversationType.GLOBAL_COLLECTION, collection=global_a
    )
    tenant_b = TenantFactory(name="other")
    outsider = UserFactory(tenant=tenant_b if request.param == "tenant B" else None)
    outsider_collection = CollectionFactory(owner=outsider, name="outsider's notes")
    ChatFactory(owner=outsider, collection=outsider_collection)
    # Tenant B has a global collection of its own: it must not hide tenant A's problem.
    CollectionFactory(global_=True, tenant=tenant_b, name="B's handbook")
    return World(
        tenant_a=tenant_a,
        global_a=global_a,
        global_file=global_file,
        member=member,
        member_chat=member_chat,
        key_a=ApiKey.generate(tenant=tenant_a)[1],
        outsider=outsider,
        outsider_collection=outsider_collection,
        key_b=ApiKey.generate(tenant=tenant_b)[1],
    )


def bearer(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.generate(user=user)[1]}")
    return client


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def without_input(body: dict) -> dict:
    """A 422 body with the echoed ``input`` left out (it is the id sent)."""
    return {"detail": [{k: v for k, v in e.items() if k != "input"} for e in body["detail"]]}


def assert_like_unknown(call, world: World, *, status: int, normalise=lambda body: body):
    """``call(collection_id)`` answers for tenant A's global collection exactly as for
    an id that does not exist, and changes nothing."""
    before = snapshot()
    theirs = call(world.global_a.pk)
    assert snapshot() == before
    unknown = call(UNKNOWN)
    assert snapshot() == before
    assert theirs.status_code == unknown.status_code == status, theirs.content
    assert normalise(theirs.json()) == normalise(unknown.json())
    assert world.global_a.name not in theirs.content.decode()


# --------------------------------------------------------------------------- conversations


def test_conversations_collection_list(world: World):
    listed = ids(bearer(world.outsider).get("/api/collections"))
    assert world.global_a.pk not in listed
    assert world.outsider_collection.pk in listed
    assert world.global_a.pk not in ids(
        bearer(world.outsider).get("/api/collections?is_global=true")
    )

    assert world.global_a.pk in ids(bearer(world.member).get("/api/collections"))
    assert ids(bearer(world.member).get("/api/collections?is_global=true")) == {world.global_a.pk}


@pytest.mark.parametrize("conversation_type", ["global_collection", "regular", "user_files"])
def test_conversations_chat_create(world: World, conversation_type):
    client = bearer(world.outsider)

    def create(collection_id):
        return client.post(
            "/api/chat/conversations",
            {"conversation_type": conversation_type, "collection_id": collection_id},
            format="json",
        )

    assert_like_unknown(create, world, status=422, normalise=without_input)
    [error] = create(world.global_a.pk).json()["detail"]
    assert (error["loc"], error["type"], error["msg"]) == (
        ["body", "collection_id"],
        "not_found",
        "Collection not found",
    )

    response = bearer(world.member).post(
        "/api/chat/conversations",
        {"conversation_type": conversation_type, "collection_id": world.global_a.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Chat.objects.get(pk=response.json()["id"]).collection == world.global_a


def test_conversations_chat_list_filtered_by_collection(world: World):
    client = bearer(world.outsider)
    assert_like_unknown(
        lambda pk: client.get(f"/api/chat/conversations?collection={pk}"), world, status=200
    )
    assert ids(client.get(f"/api/chat/conversations?collection={world.global_a.pk}")) == set()

    member = bearer(world.member)
    listed = ids(member.get(f"/api/chat/conversations?collection={world.global_a.pk}"))
    assert listed == {world.member_chat.pk}


def test_conversations_file_list_filtered_by_collection(world: World):
    client = bearer(world.outsider)
    assert_like_unknown(lambda pk: client.get(f"/api/files?collection={pk}"), world, status=200)
    assert ids(client.get(f"/api/files?collection={world.global_a.pk}")) == set()


def test_conversations_file_upload_into_the_collection(world: World):
    def upload(client):
        def call(collection_id):
            payload = {
                "file": SimpleUploadedFile("x.txt", b"x", "text/plain"),
                "collection_id": collection_id,
            }
            return client.post("/api/files", payload, format="multipart")

        return call

    assert_like_unknown(upload(bearer(world.outsider)), world, status=422, normalise=without_input)
    # A global collection's files are managed in the admin: not even its tenant's
    # users upload into it through the API.
    assert_like_unknown(upload(bearer(world.member)), world, status=422, normalise=without_input)


@pytest.mark.parametrize("path", ["/api/chat/conversations/all/preview"])
def test_conversations_preview_counts_only_own(world: World, path):
    before = snapshot()
    stats = bearer(world.outsider).post(path, {}, format="json").json()["deleted_stats"]
    assert stats["conversations_deleted"] == 1
    assert stats["global_collection_conversations_deleted"] == 0
    assert (stats["files_deleted"], stats["collections_deleted"]) == (0, 1)

    stats = bearer(world.member).post(path, {}, format="json").json()["deleted_stats"]
    assert stats["global_collection_conversations_deleted"] == 1
    # Its tenant's users link it; they never delete it or its files.
    assert (stats["files_deleted"], stats["collections_deleted"]) == (0, 0)
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/api/chat/conversations/all", "/api/collections/all"])
def test_conversations_delete_all_leaves_the_global_collection(world: World, path):
    for user in (world.outsider, world.member):
        response = bearer(user).delete(path, {}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["deleted_stats"]["collections_deleted"] == (
            1 if user == world.outsider else 0
        )
    assert Collection.objects.filter(pk=world.global_a.pk).exists()
    assert File.objects.filter(pk=world.global_file.pk).exists()
    assert not Chat.objects.filter(owner__in=[world.outsider, world.member]).exists()


# --------------------------------------------------------------------------- v1


def test_v1_chat_create(world: World):
    client = with_key(world.key_b)
    if world.outsider.tenant is None:  # no key reaches a user of no tenant
        pytest.skip("a user of no tenant has no key")

    def create(collection_id):
        body = {
            "user": world.outsider.pk,
            "conversation_type": "global_collection",
            "collection": collection_id,
        }
        return client.post("/api/v1/chats", body, format="json")

    assert_like_unknown(create, world, status=400)
    assert create(world.global_a.pk).json()["errors"] == {
        "collection": ["No such collection of this user (or global)."]
    }

    response = with_key(world.key_a).post(
        "/api/v1/chats",
        {
            "user": world.member.pk,
            "conversation_type": "global_collection",
            "collection": world.global_a.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["collection"] == world.global_a.pk


def test_v1_chat_list_and_reads(world: World):
    response = with_key(world.key_b).get("/api/v1/chats")
    assert response.status_code == 200
    assert all(chat["collection"] != world.global_a.pk for chat in response.json()["results"])
    for suffix in ("", "/messages", "/export"):
        response = with_key(world.key_b).get(f"/api/v1/chats/{world.member_chat.uuid}{suffix}")
        assert response.status_code == 404, suffix

    response = with_key(world.key_a).get("/api/v1/chats")
    [chat] = response.json()["results"]
    assert chat["collection"] == world.global_a.pk


# --------------------------------------------------------------------------- Neptun (cookie)


def test_session_chat_create(world: World):
    client = login(world.outsider)
    url = f"/api/users/{world.outsider.pk}/chats"

    def create(collection_id):
        return client.post(url, {"collection": collection_id}, format="json")

    assert_like_unknown(create, world, status=400)
    body = create(world.global_a.pk).json()
    assert body["message"] == "Invalid body(collection)"
    assert body["data"]["errors"] == {"collection": ["Collection not found."]}

    response = login(world.member).post(
        f"/api/users/{world.member.pk}/chats",
        {"conversation_type": "global_collection", "collection": world.global_a.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["collection"] == world.global_a.pk


# --------------------------------------------------------------------------- admin


COLLECTIONS = "/admin/collections_app/collection/"


def test_admin_collection_list_by_tenant(world: World, staff_client):
    def listed(query: str) -> set[int]:
        response = staff_client.get(COLLECTIONS + query)
        assert response.status_code == 200
        return {obj.pk for obj in response.context["cl"].result_list}

    assert world.global_a.pk in listed(f"?tenant={world.tenant_a.pk}")
    if world.outsider.tenant is not None:
        outsiders = listed(f"?tenant={world.outsider.tenant_id}")
        assert world.global_a.pk not in outsiders
        assert world.outsider_collection.pk in outsiders
    response = staff_client.get(COLLECTIONS + f"?tenant={world.tenant_a.pk}")
    assert ">demo<" in response.content.decode()  # the tenant column


@pytest.fixture
def staff_client(db) -> APIClient:
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_superuser("root@example.com", "pw-for-the-admin"))
    return client
