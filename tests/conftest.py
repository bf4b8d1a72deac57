"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
``DATABASE_URL`` points at it."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from neptun.models import AccessToken, ApiKey
from tests.factories import PASSWORD, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def session_client(user) -> APIClient:
    """A client logged in as ``user`` through the Neptun login endpoint."""
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return client


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def api_key(tenant) -> tuple[ApiKey, str]:
    return ApiKey.generate(tenant=tenant)


@pytest.fixture
def access_token(user) -> tuple[AccessToken, str]:
    return AccessToken.generate(user=user)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
