"""neptun.keys.api_keys_revoke: what the admin's "Revoke" action does."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from neptun.keys import api_keys_revoke
from neptun.models import ApiKey
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_revokes_the_keys_not_yet_revoked_and_keeps_earlier_revocations(tenant):
    fresh, _ = ApiKey.generate(tenant=tenant, name="fresh")
    old, _ = ApiKey.generate(tenant=tenant, name="old")
    earlier = timezone.now() - timezone.timedelta(days=3)
    ApiKey.objects.filter(pk=old.pk).update(revoked_at=earlier)
    other, _ = ApiKey.generate(tenant=TenantFactory(), name="other")

    assert api_keys_revoke(keys=ApiKey.objects.filter(tenant=tenant)) == 1

    for key in (fresh, old, other):
        key.refresh_from_db()
    assert fresh.revoked_at is not None
    assert old.revoked_at == earlier
    assert other.revoked_at is None


def test_the_admin_action_revokes_a_searched_selection():
    """A search across the tenant makes the changelist's queryset a join."""
    tenant = TenantFactory(name="acme")
    key, _ = ApiKey.generate(tenant=tenant)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:neptun_apikey_changelist") + "?q=acme",
        {"action": "revoke", helpers.ACTION_CHECKBOX_NAME: [str(key.pk)]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
