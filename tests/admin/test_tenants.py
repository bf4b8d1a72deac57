"""Tenants are deleted through the service: users and what they own, keys, the row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chats import services
from chats.models import Chat, Message
from collections_app.models import Collection, File
from neptun.models import ApiKey, DeletionRecord, Tenant, User
from tests.admin.test_actions import action_post, confirm_post, goes
from tests.factories import (
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
TENANTS = reverse("admin:neptun_tenant_changelist")


def _tenant_with_data():
    tenant = TenantFactory()
    for _ in range(2):
        user = UserFactory(tenant=tenant)
        chat = ChatFactory(owner=user)
        MessageFactory.create_batch(2, chat=chat)
        FileFactory(owner=user, chat=chat)
    ApiKey.generate(tenant=tenant)
    return tenant


def test_tenants_delete_service_takes_users_keys_and_row():
    tenant = _tenant_with_data()
    other = _tenant_with_data()
    global_ = CollectionFactory(global_=True)
    preview = services.tenants_delete_preview(tenants=Tenant.objects.filter(pk=tenant.pk))
    result = services.tenants_delete(
        tenants=Tenant.objects.filter(pk=tenant.pk),
        ctx=services.DeletionContext(None, "command", "test"),
    )
    for kind, n in {
        "tenants": 1,
        "users": 2,
        "api_keys": 1,
        "chats": 2,
        "messages": 4,
        "files": 2,
    }.items():
        assert result.counts[kind] == n, kind
        assert preview.counts[kind] == n, kind
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not User.objects.filter(tenant_id=tenant.pk).exists()
    assert User.objects.filter(tenant=other).count() == 2
    assert Message.objects.filter(chat__owner__tenant=other).count() == 4
    assert ApiKey.objects.filter(tenant=other).count() == 1
    assert Collection.objects.filter(pk=global_.pk).exists()


def test_admin_deletes_tenant_through_the_service(superuser_client):
    tenant = _tenant_with_data()
    other = _tenant_with_data()
    response = action_post(superuser_client, TENANTS, "delete_selected", [tenant.pk])
    assert response.status_code == 200
    assert goes(response)["Users"] == [2]
    assert goes(response)["Chats"] == [2]
    assert Tenant.objects.filter(pk=tenant.pk).exists()  # the page deleted nothing
    confirm_post(superuser_client, TENANTS, "delete_selected", [tenant.pk])
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert Tenant.objects.filter(pk=other.pk).exists()
    assert Chat.objects.filter(owner__tenant=other).count() == 2
    assert File.objects.filter(owner__tenant=other).count() == 2
    record = DeletionRecord.objects.get()
    assert record.interface == "admin"
    assert record.counts["tenants"] == 1


def test_a_tenants_global_collections_go_with_it(django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    tenant = _tenant_with_data()
    other = _tenant_with_data()
    kb = CollectionFactory(global_=True, tenant=tenant)
    in_kb = [
        FileFactory(owner=UserFactory(tenant=tenant, is_staff=True), collection=kb),
        FileFactory(owner=UserFactory(tenant=None, is_staff=True), collection=kb),
    ]
    others_kb = CollectionFactory(global_=True, tenant=other)
    FileFactory(owner=UserFactory(tenant=other), collection=others_kb)
    selection = Tenant.objects.filter(pk=tenant.pk)

    preview = services.tenants_delete_preview(tenants=selection)
    with django_capture_on_commit_callbacks(execute=True):  # blobs go after commit
        result = services.tenants_delete(
            tenants=selection, ctx=services.DeletionContext(None, "command", "test")
        )

    # 2 chats' files, the staff user's file counted once, the staff user of no tenant's.
    for kind, n in {"collections": 1, "files": 4, "users": 3}.items():
        assert result.counts[kind] == n, kind
        assert preview.counts[kind] == n, kind
    assert not Collection.objects.filter(pk=kb.pk).exists()
    assert not File.objects.filter(pk__in=[f.pk for f in in_kb]).exists()
    assert not any(default_storage.exists(f.blob.name) for f in in_kb)
    assert Collection.objects.filter(pk=others_kb.pk).exists()
    assert File.objects.filter(collection=others_kb).count() == 1
