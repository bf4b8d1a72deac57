"""The conversations of several users in one deletion (the admin's action): one
record per user with that user's counts, the collection rule for many users, and
statements that do not grow with the number of users (chats/deletion/grouped.py)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats import services
from chats.deletion import rules
from chats.models import Chat, ConversationType, Message
from collections_app.models import Collection, File
from neptun.models import DeletionRecord, User
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

# Blobs are removed after commit: on_commit callbacks must really run.
pytestmark = pytest.mark.django_db(transaction=True)

ALL = services.ConversationFlags()


def ctx():
    return services.DeletionContext(actor=None, interface="admin", endpoint="test")


def _conversations(user, *, messages=2):
    """A regular chat with an own file, a link and a socket record; a user-files chat
    with its private collection (one file); a NULL-type chat."""
    private = CollectionFactory(owner=user)
    regular = ChatFactory(owner=user, conversation_type=ConversationType.REGULAR)
    user_files = ChatFactory(
        owner=user, conversation_type=ConversationType.USER_FILES, collection=private
    )
    null = ChatFactory(owner=user, conversation_type=None)
    for chat in (regular, user_files, null):
        MessageFactory.create_batch(messages, chat=chat)
    ProjectChatFactory(chat=regular, project__owner=user)
    ChatConnectionFactory(chat=regular)
    FileFactory(owner=user, chat=regular)
    FileFactory(owner=user, collection=private, chat=user_files)
    return private


def test_one_record_per_user_with_that_users_counts():
    first, second, bystander = UserFactory(), UserFactory(), UserFactory()
    _conversations(first)
    _conversations(second, messages=5)
    _conversations(bystander)
    alone = {
        user.pk: _counts(services.conversations_delete_preview(user=user, flags=ALL))
        for user in (first, second)
    }
    users = User.objects.filter(pk__in=[second.pk, first.pk])
    going, staying = _blob_names(first, second), _blob_names(bystander)
    assert len(going) == 4

    results = services.users_conversations_delete(users=users, flags=ALL, ctx=ctx())

    # In id order, each as deleting that user's conversations alone would report.
    assert [_counts(r) for r in results] == [alone[first.pk], alone[second.pk]]
    assert results[1].counts["messages"] == 15 and results[1].counts["blobs"] == 2
    records = DeletionRecord.objects.order_by("pk")
    assert [record.pk for record in records] == [r.record_id for r in results]
    for record, result in zip(records, results, strict=True):
        assert record.counts == {
            **result.as_dict()["counts"],
            "by_type": {"regular": 1, "user_files": 1, "null": 1},
        }
        assert record.endpoint == "test" and record.interface == "admin"
    assert not Chat.objects.filter(owner__in=[first, second]).exists()
    assert Chat.objects.filter(owner=bystander).count() == 3
    assert Message.objects.filter(chat__owner=bystander).count() == 6
    assert not any(default_storage.exists(name) for name in going)
    assert all(default_storage.exists(name) for name in staying)


def _counts(result):
    as_dict = result.as_dict()
    return as_dict["counts"], as_dict["by_type"]


def _blob_names(*users):
    return list(
        File.objects.filter(owner__in=users).exclude(blob="").values_list("blob", flat=True)
    )


def test_a_user_with_nothing_to_delete_still_gets_a_record():
    busy, idle = UserFactory(), UserFactory()
    _conversations(busy)
    users = User.objects.filter(pk__in=[busy.pk, idle.pk])
    results = services.users_conversations_delete(users=users, flags=ALL, ctx=ctx())
    expected = [3, 0] if busy.pk < idle.pk else [0, 3]
    assert [r.counts["chats"] for r in results] == expected
    assert DeletionRecord.objects.count() == 2


def test_the_collection_rule_for_several_users():
    """A selected user's collection goes when a deleted chat of its owner links it
    and no chat that stays does; never a global one, never because of another
    user's chat alone."""
    a, b, outsider = UserFactory(), UserFactory(), UserFactory()
    shared_by_both = CollectionFactory(owner=a)  # a's and b's chats: both go → it goes
    ChatFactory(owner=a, collection=shared_by_both)
    ChatFactory(owner=b, collection=shared_by_both)
    only_b_links = CollectionFactory(owner=a)  # only b's chat links a's collection: stays
    ChatFactory(owner=b, collection=only_b_links)
    still_used = CollectionFactory(owner=b)  # an outsider's chat stays linked: stays
    ChatFactory(owner=b, collection=still_used)
    ChatFactory(owner=outsider, collection=still_used)
    global_ = CollectionFactory(global_=True)  # never deleted this way
    ChatFactory(owner=a, collection=global_)
    files = {c.pk: FileFactory(owner=c.owner, collection=c) for c in (shared_by_both, still_used)}
    users = User.objects.filter(pk__in=[a.pk, b.pk])

    preview = services.users_conversations_delete_preview(users=users, flags=ALL)
    results = services.users_conversations_delete(users=users, flags=ALL, ctx=ctx())

    assert set(Collection.objects.values_list("pk", flat=True)) == {
        only_b_links.pk,
        still_used.pk,
        global_.pk,
    }
    assert not File.objects.filter(pk=files[shared_by_both.pk].pk).exists()
    assert File.objects.filter(pk=files[still_used.pk].pk).exists()
    by_user = {
        user.pk: r for user, r in zip(sorted([a, b], key=lambda u: u.pk), results, strict=True)
    }
    # The collection and its file are booked to its owner.
    assert by_user[a.pk].counts["collections"] == 1 and by_user[a.pk].counts["files"] == 1
    assert by_user[b.pk].counts["collections"] == 0 and by_user[b.pk].counts["files"] == 0
    assert preview.counts["collections"] == 1
    kept = dict(rules.users_conversations_kept(users, flags=ALL))
    assert kept["Collections these chats link to that stay (global, still used, or kept)"] == 0


def test_the_kept_counts_match_what_stays():
    a, b = UserFactory(), UserFactory()
    _conversations(a)
    _conversations(b)
    users = User.objects.filter(pk__in=[a.pk, b.pk])
    flags = services.ConversationFlags(delete_user_file_conversations=False)
    kept = dict(rules.users_conversations_kept(users, flags=flags))
    services.users_conversations_delete(users=users, flags=flags, ctx=ctx())
    assert kept["Their conversations of the types not selected"] == 2
    assert Chat.objects.count() == 2
    # Each user's private collection stays (its chat stays), with its file.
    assert kept["Collections these chats link to that stay (global, still used, or kept)"] == 0
    assert Collection.objects.count() == 2 and File.objects.count() == 2


def test_a_blob_two_users_shared_is_removed_once_and_booked_once():
    a, b = sorted([UserFactory(), UserFactory()], key=lambda u: u.pk)
    mine = FileFactory(owner=a, chat=ChatFactory(owner=a))
    theirs = FileFactory(owner=b, chat=ChatFactory(owner=b))
    File.objects.filter(pk=theirs.pk).update(blob=mine.blob.name)
    users = User.objects.filter(pk__in=[a.pk, b.pk])
    preview = services.users_conversations_delete_preview(users=users, flags=ALL)
    results = services.users_conversations_delete(users=users, flags=ALL, ctx=ctx())
    assert [r.counts["blobs"] for r in results] == [1, 0]  # to the lowest id
    assert preview.counts["blobs"] == 1
    assert not default_storage.exists(mine.blob.name)


def _statements(n_users: int) -> tuple[int, int]:
    """Statements of the preview with its kept counts, and of the deletion (after
    commit work included), for ``n_users`` users with conversations."""
    users = [UserFactory() for _ in range(n_users)]
    for user in users:
        _conversations(user)
    selection = User.objects.filter(pk__in=[u.pk for u in users])
    with CaptureQueriesContext(connection) as page:
        services.users_conversations_delete_preview(users=selection, flags=ALL)
        rules.users_conversations_kept(selection, flags=ALL)
    with CaptureQueriesContext(connection) as deletion:
        results = services.users_conversations_delete(users=selection, flags=ALL, ctx=ctx())
    assert len(results) == n_users and all(r.counts["chats"] == 3 for r in results)
    assert all(r.counts["blobs"] == 2 for r in results)
    return len(page.captured_queries), len(deletion.captured_queries)


def test_statements_do_not_grow_with_the_number_of_users():
    few = _statements(2)
    DeletionRecord.objects.all().delete()
    many = _statements(20)
    assert many == few


def test_a_blob_storage_refuses_is_reported_on_its_owners_record(monkeypatch):
    a, b = sorted([UserFactory(), UserFactory()], key=lambda u: u.pk)
    refused = FileFactory(owner=b, chat=ChatFactory(owner=b)).blob.name
    FileFactory(owner=a, chat=ChatFactory(owner=a))
    real_delete = default_storage.delete

    def refuse(name):
        if name == refused:
            raise PermissionError("storage refused")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", refuse)
    users = User.objects.filter(pk__in=[a.pk, b.pk])
    first, second = services.users_conversations_delete(users=users, flags=ALL, ctx=ctx())
    monkeypatch.undo()

    assert first.errors == [] and first.counts["blobs"] == 1
    assert [error["blob"] for error in second.errors] == [refused]
    assert second.counts["blobs"] == 0
    record = DeletionRecord.objects.get(pk=second.record_id)
    assert record.counts["blobs"] == 0 and record.errors[0]["blob"] == refused
    assert DeletionRecord.objects.get(pk=first.record_id).errors == []
    assert default_storage.exists(refused)
