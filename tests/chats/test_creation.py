"""chats.creation.chat_create: the one chat creation of every dialect."""

from __future__ import annotations

import pytest

from chats.creation import chat_create
from chats.models import Chat, ConversationType
from neptun.exceptions import CollectionNotFound, GlobalCollectionRequired
from tests.factories import CollectionFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

GLOBAL = ConversationType.GLOBAL_COLLECTION


@pytest.fixture
def owner():
    return UserFactory(tenant=TenantFactory(name="acme"))


def test_links_the_owners_collection_or_a_global_one_of_their_tenant(owner):
    own = CollectionFactory(owner=owner)
    kb = CollectionFactory(global_=True, tenant=owner.tenant)
    for collection in (own, own.pk, kb, kb.pk, None):
        chat = chat_create(owner=owner, title="t", conversation_type=GLOBAL, collection=collection)
        assert chat.owner == owner
        assert chat.collection_id == getattr(collection, "pk", collection)
    assert Chat.objects.count() == 5


@pytest.mark.parametrize("which", ["other tenant's global", "other user's", "unknown"])
@pytest.mark.parametrize("as_row", [False, True], ids=["id", "row"])
def test_anything_else_is_not_found_and_writes_nothing(owner, which, as_row):
    collection = {
        "other tenant's global": lambda: CollectionFactory(global_=True),
        "other user's": lambda: CollectionFactory(owner=UserFactory(tenant=owner.tenant)),
        "unknown": lambda: None,
    }[which]()
    value = collection if as_row else getattr(collection, "pk", None)  # a row is checked too
    value = 987654 if collection is None else value
    with pytest.raises(CollectionNotFound) as caught:
        chat_create(owner=owner, title="", conversation_type=GLOBAL, collection=value)
    assert caught.value.message == "Collection not found"
    assert not Chat.objects.exists()


def test_a_user_of_no_tenant_has_no_global_collection():
    owner = UserFactory(tenant=None)
    with pytest.raises(CollectionNotFound):
        chat_create(
            owner=owner,
            title="",
            conversation_type=GLOBAL,
            collection=CollectionFactory(global_=True).pk,
        )


def test_require_global_collection(owner):
    own = CollectionFactory(owner=owner)
    for collection in (own, None):
        with pytest.raises(GlobalCollectionRequired):
            chat_create(
                owner=owner,
                title="",
                conversation_type=GLOBAL,
                collection=collection,
                require_global_collection=True,
            )
    assert not Chat.objects.exists()
    kb = CollectionFactory(global_=True, tenant=owner.tenant)
    chat = chat_create(
        owner=owner,
        title="",
        conversation_type=GLOBAL,
        collection=kb,
        require_global_collection=True,
    )
    assert chat.collection == kb
    # Only a global_collection conversation needs one.
    chat_create(
        owner=owner,
        title="",
        conversation_type=ConversationType.REGULAR,
        collection=own,
        require_global_collection=True,
    )
