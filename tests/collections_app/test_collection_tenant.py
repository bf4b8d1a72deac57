"""A global collection belongs to one tenant: the database, the model and the admin say so."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from collections_app.models import Collection
from tests.factories import CollectionFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/collections_app/collection/add/"


@pytest.mark.parametrize(
    "fields",
    [
        {"is_global": True, "owner": None, "tenant": None},  # global without a tenant
        {"is_global": False, "tenant": "a tenant"},  # a user's own with a tenant
    ],
    ids=["global without tenant", "own with tenant"],
)
def test_database_refuses_a_collection_without_its_one_tenant(fields):
    user = UserFactory()
    fields = {"owner": user, **fields}
    if fields["tenant"] == "a tenant":
        fields["tenant"] = user.tenant
    with pytest.raises(IntegrityError), transaction.atomic():
        Collection.objects.create(name="kb", **fields)
    assert not Collection.objects.exists()


def test_model_validation_names_the_tenant_field():
    user = UserFactory()
    with pytest.raises(ValidationError) as caught:
        Collection(name="kb", is_global=True).full_clean()
    assert list(caught.value.message_dict) == ["tenant"]
    with pytest.raises(ValidationError) as caught:
        Collection(name="notes", owner=user, tenant=user.tenant).full_clean()
    assert list(caught.value.message_dict) == ["tenant"]
    Collection(name="kb", is_global=True, tenant=user.tenant).full_clean()
    Collection(name="notes", owner=user).full_clean()


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_requires_a_tenant_for_a_global_collection(staff_client):
    response = staff_client.post(ADD, {"name": "Handbook", "is_global": "on"})
    assert response.status_code == 200  # the form again, with the error
    assert "tenant" in response.context["adminform"].form.errors
    assert not Collection.objects.exists()

    tenant = TenantFactory(name="acme")
    response = staff_client.post(ADD, {"name": "Handbook", "is_global": "on", "tenant": tenant.pk})
    assert response.status_code == 302, response.context["adminform"].form.errors
    collection = Collection.objects.get()
    assert (collection.is_global, collection.tenant, collection.owner) == (True, tenant, None)


def test_admin_list_shows_and_filters_by_tenant(staff_client):
    acme, other = TenantFactory(name="acme"), TenantFactory(name="other-co")
    kb = CollectionFactory(global_=True, tenant=acme, name="acme kb")
    own = CollectionFactory(owner=UserFactory(tenant=acme), name="acme notes")
    foreign = CollectionFactory(global_=True, tenant=other, name="other kb")

    response = staff_client.get(f"/admin/collections_app/collection/?tenant={acme.pk}")
    assert {c.pk for c in response.context["cl"].result_list} == {kb.pk, own.pk}
    page = response.content.decode()
    assert ">acme<" in page and "other kb" not in page
    response = staff_client.get(f"/admin/collections_app/collection/?tenant={other.pk}")
    assert {c.pk for c in response.context["cl"].result_list} == {foreign.pk}
    response = staff_client.get("/admin/collections_app/collection/?tenant=x")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
