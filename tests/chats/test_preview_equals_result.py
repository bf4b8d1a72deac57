"""A preview is a dry run of the same deletion: for every entry point, what the
preview counts (blobs included) is what the deletion then reports.

The world has the awkward cases: a blob shared by a file that goes and one that
stays (kept in storage, so not a removed blob), two going files sharing a blob
(one removal), files without a blob, a collection a surviving chat still links to,
a global collection, and someone else's data.
"""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from chats import cleanup, services
from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from neptun.models import Tenant, User
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

pytestmark = pytest.mark.django_db(transaction=True)


def ctx(actor=None):
    return services.DeletionContext(actor=actor, interface="api", endpoint="test")


def _share_blob(target: File, source: File) -> None:
    File.objects.filter(pk=target.pk).update(blob=source.blob.name)


def world():
    tenant = TenantFactory()
    user = UserFactory(tenant=tenant)
    other = UserFactory(tenant=tenant)
    private = CollectionFactory(owner=user)
    shared = CollectionFactory(owner=user)
    global_ = CollectionFactory(global_=True)
    chats = [
        ChatFactory(owner=user, conversation_type=ConversationType.REGULAR),
        ChatFactory(owner=user, conversation_type=ConversationType.USER_FILES, collection=private),
        ChatFactory(
            owner=user, conversation_type=ConversationType.GLOBAL_COLLECTION, collection=global_
        ),
        ChatFactory(owner=user, conversation_type=None),
        ChatFactory(owner=user, conversation_type=ConversationType.REGULAR, collection=shared),
    ]
    for chat in chats:
        MessageFactory.create_batch(2, chat=chat)
    ChatConnectionFactory(chat=chats[0])
    project = ProjectFactory(owner=user)
    ProjectChatFactory(project=project, chat=chats[0])
    ProjectChatFactory(project=project, chat=chats[3])
    own = [FileFactory(owner=user, chat=chat) for chat in chats for _ in range(2)]
    in_private = FileFactory(owner=user, collection=private, chat=chats[1])
    FileFactory(owner=user, collection=shared)
    FileFactory(owner=user)  # loose
    theirs = FileFactory(owner=other, chat=ChatFactory(owner=other))
    # A going file shares its blob with a file that stays: the blob stays.
    _share_blob(own[0], theirs)
    # Two going files share one blob: one removal.
    _share_blob(own[2], own[3])
    # A file row without a blob.
    File.objects.filter(pk=own[4].pk).update(blob="")
    del in_private
    return {"tenant": tenant, "user": user, "other": other, "project": project, "chats": chats}


def same(preview: services.DeletionResult, result: services.DeletionResult) -> None:
    p, r = preview.as_dict(), result.as_dict()
    assert p["counts"] == r["counts"]
    assert p["by_type"] == r["by_type"]


def _blobs_exist():
    return all(
        default_storage.exists(n)
        for n in File.objects.exclude(blob="").values_list("blob", flat=True)
    )


def test_chats():
    w = world()
    chats = Chat.objects.filter(owner=w["user"])
    same(services.chats_delete_preview(chats=chats), services.chats_delete(chats=chats, ctx=ctx()))
    assert _blobs_exist()


@pytest.mark.parametrize("files", [True, False])
@pytest.mark.parametrize("regular", [True, False])
def test_conversations(files, regular):
    w = world()
    flags = services.ConversationFlags(
        delete_files_and_collections=files, delete_regular_chats=regular
    )
    preview = services.conversations_delete_preview(user=w["user"], flags=flags)
    result = services.conversations_delete(user=w["user"], flags=flags, ctx=ctx(w["user"]))
    same(preview, result)
    assert _blobs_exist()


@pytest.mark.parametrize("files", [True, False])
@pytest.mark.parametrize("regular", [True, False])
def test_users_conversations(files, regular):
    """Several users at once (the admin's action): the preview of all of them is
    what their per-user results add up to."""
    w = world()
    ChatFactory(owner=w["other"], collection=CollectionFactory(owner=w["other"]))
    users = User.objects.filter(pk__in=[w["user"].pk, w["other"].pk])
    flags = services.ConversationFlags(
        delete_files_and_collections=files, delete_regular_chats=regular
    )
    preview = services.users_conversations_delete_preview(users=users, flags=flags)
    results = services.users_conversations_delete(users=users, flags=flags, ctx=ctx())
    assert len(results) == 2
    total = services.DeletionResult()
    for result in results:
        total.counts.update(result.counts)
        total.by_type.update(result.by_type)
    same(preview, total)
    assert _blobs_exist()


@pytest.mark.parametrize("with_chats", [True, False])
def test_projects(with_chats):
    w = world()
    projects = Project.objects.filter(pk=w["project"].pk)
    preview = services.projects_delete_preview(projects=projects, with_chats=with_chats)
    result = services.projects_delete(projects=projects, with_chats=with_chats, ctx=ctx())
    same(preview, result)


def test_collections():
    w = world()
    collections = Collection.objects.filter(owner=w["user"])
    preview = services.collections_delete_preview(collections=collections)
    same(preview, services.collections_delete(collections=collections, ctx=ctx()))
    assert _blobs_exist()


def test_users():
    w = world()
    users = User.objects.filter(pk=w["user"].pk)
    same(services.users_delete_preview(users=users), services.users_delete(users=users, ctx=ctx()))
    assert _blobs_exist()


def test_tenants():
    w = world()
    tenants = Tenant.objects.filter(pk=w["tenant"].pk)
    preview = services.tenants_delete_preview(tenants=tenants)
    same(preview, services.tenants_delete(tenants=tenants, ctx=ctx()))


def test_files():
    w = world()
    files = File.objects.filter(owner=w["user"])
    same(services.files_delete_preview(files=files), services.files_delete(files=files, ctx=ctx()))
    assert _blobs_exist()


def test_a_batched_purge_answers_its_preview(settings):
    """Above the batch threshold the deletion commits in batches; same counts."""
    settings.DELETION_BATCH_THRESHOLD = 1
    settings.DELETION_BATCH_CHATS = 2
    w = world()
    flags = services.ConversationFlags()
    preview = services.conversations_delete_preview(user=w["user"], flags=flags)
    result = services.conversations_delete(user=w["user"], flags=flags, ctx=ctx(w["user"]))
    assert result.batches > 1
    same(preview, result)


@pytest.mark.parametrize("door", ["chats", "users", "tenants"])
def test_every_batched_door_answers_its_preview(settings, door):
    """The engine's batches of chats, then its last chunk (collections, the users'
    other rows, the tenant's keys): the same counts as the dry run's single chunk."""
    settings.DELETION_BATCH_THRESHOLD = 1
    settings.DELETION_BATCH_CHATS = 2
    w = world()
    if door == "chats":
        chats = Chat.objects.filter(owner=w["user"])
        preview = services.chats_delete_preview(chats=chats)
        result = services.chats_delete(chats=chats, ctx=ctx())
    elif door == "users":
        users = User.objects.filter(pk=w["user"].pk)
        preview = services.users_delete_preview(users=users)
        result = services.users_delete(users=users, ctx=ctx())
    else:
        tenants = Tenant.objects.filter(pk=w["tenant"].pk)
        preview = services.tenants_delete_preview(tenants=tenants)
        result = services.tenants_delete(tenants=tenants, ctx=ctx())
    assert result.batches > 1
    same(preview, result)


def test_orphans():
    from datetime import timedelta

    from django.utils import timezone

    w = world()
    old = timezone.now() - timedelta(days=3)
    Chat.objects.filter(owner=w["user"], conversation_type__isnull=True).update(created_at=old)
    Collection.objects.filter(owner=w["user"]).update(created_at=old)
    File.objects.filter(chat__isnull=True, collection__isnull=True).update(created_at=old)
    options = cleanup.SweepOptions(
        kinds=[k for k in cleanup.KINDS if k != cleanup.ORPHAN_BLOBS], delete_loose_files=True
    )
    preview = cleanup.orphans_preview(options=options)
    report = cleanup.orphans_delete(options=options, ctx=ctx())
    assert preview.result.counts == report.result.counts
    assert preview.result.counts["chats"] == 1
