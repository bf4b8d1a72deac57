"""The admin's retention policies (with the next run's preview) and "Erase user…"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone

from chats.models import Chat
from neptun.models import DeletionRecord, Erasure, RetentionPolicy, User
from tests.admin.conftest import staff_with
from tests.factories import ChatFactory, FileFactory, MessageFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS = reverse("admin:neptun_user_changelist")


def test_the_policy_page_shows_what_the_next_run_would_remove(superuser_client):
    tenant = TenantFactory()
    policy = RetentionPolicy.objects.create(tenant=tenant, inactive_days=10)
    old = ChatFactory(owner=UserFactory(tenant=tenant))
    MessageFactory.create_batch(2, chat=old)
    Chat.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    from chats.models import Message

    Message.objects.update(created_at=timezone.now() - timedelta(days=30))
    ChatFactory(owner=UserFactory(tenant=tenant))  # active: stays

    response = superuser_client.get(
        reverse("admin:neptun_retentionpolicy_change", args=[policy.pk])
    )

    assert response.status_code == 200
    assert dict(response.context["retention_preview"])["chats"] == 1
    assert dict(response.context["retention_preview"])["messages"] == 2
    assert b"neptun-retention-preview" in response.content
    assert Chat.objects.count() == 2  # a preview deletes nothing


def test_saving_a_policy_deletes_nothing_and_invalid_values_change_nothing(superuser_client):
    tenant = TenantFactory()
    policy = RetentionPolicy.objects.create(tenant=tenant, inactive_days=10)
    chat = ChatFactory(owner=UserFactory(tenant=tenant))
    Chat.objects.filter(pk=chat.pk).update(created_at=timezone.now() - timedelta(days=30))
    url = reverse("admin:neptun_retentionpolicy_change", args=[policy.pk])
    base = {"tenant": tenant.pk, "inactive_days": "1", "temporary_hours": "", "record_days": ""}

    refused = superuser_client.post(url, {**base, "temporary_hours": str(10**9)})
    assert refused.status_code == 200  # the form again, with its error
    assert refused.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.inactive_days == 10

    saved = superuser_client.post(url, {**base, "conversation_types": ["regular", "null"]})
    assert saved.status_code == 302
    policy.refresh_from_db()
    assert policy.inactive_days == 1
    assert policy.temporary_hours is None
    assert policy.conversation_types == ["regular", "null"]
    assert Chat.objects.filter(pk=chat.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_erase_user_confirms_then_erases_with_a_receipt(superuser_client, superuser):
    person = UserFactory(email="gone@example.com")
    chat = ChatFactory(owner=person)
    MessageFactory(chat=chat)
    FileFactory(owner=person, chat=chat)
    selection = {"action": "erase_users", helpers.ACTION_CHECKBOX_NAME: [str(person.pk)]}

    page = superuser_client.post(USERS, selection)
    assert page.status_code == 200
    assert b"gone@example.com" in page.content and b"Yes, erase" in page.content
    assert User.objects.filter(pk=person.pk).exists()

    done = superuser_client.post(USERS, {**selection, "confirm": "yes"})

    assert done.status_code == 200
    assert not User.objects.filter(pk=person.pk).exists()
    erasure = Erasure.objects.get()
    assert erasure.status == Erasure.Status.COMPLETE
    assert erasure.counts["chats"] == 1 and erasure.counts["files"] == 1
    assert str(erasure.id).encode() in done.content
    record = DeletionRecord.objects.get(pk=erasure.record_id)
    assert record.interface == DeletionRecord.Interface.ADMIN
    assert record.actor_id == superuser.pk
    assert b"gone@example.com" not in done.content


def test_erase_user_needs_every_delete_permission(client_for):
    person = UserFactory()
    ChatFactory(owner=person)
    staff = staff_with("neptun.view_user", "neptun.delete_user")
    response = client_for(staff).post(
        USERS,
        {"action": "erase_users", helpers.ACTION_CHECKBOX_NAME: [str(person.pk)], "confirm": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"needs the delete permission" in response.content
    assert User.objects.filter(pk=person.pk).exists()
    assert not Erasure.objects.exists()


def test_staff_cannot_erase_themselves(superuser_client, superuser):
    response = superuser_client.post(
        USERS,
        {
            "action": "erase_users",
            helpers.ACTION_CHECKBOX_NAME: [str(superuser.pk)],
            "confirm": "yes",
        },
        follow=True,
    )
    assert b"You cannot erase yourself" in response.content
    assert User.objects.filter(pk=superuser.pk).exists()
