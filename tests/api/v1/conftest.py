"""Fixtures of the v1 API tests: a client carrying the tenant's key."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import ChatFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    """Failed key attempts are throttled per address (in the cache); start each test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def key_client(api_key) -> APIClient:
    """A client sending the ``tenant``'s key in ``X-API-Key``."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key[1])
    return client


@pytest.fixture
def tenant_user(tenant):
    return UserFactory(tenant=tenant)


@pytest.fixture
def chat(tenant_user):
    return ChatFactory(owner=tenant_user)


@pytest.fixture
def foreign_chat(db):
    """A chat of another tenant's user."""
    return ChatFactory(owner=UserFactory(tenant=TenantFactory()))
