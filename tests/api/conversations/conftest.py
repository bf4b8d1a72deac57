"""Fixtures of the conversations dialect's API tests."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

DELETE_ALL = "/api/chat/conversations/all"
ALIAS = "/api/collections/all"
PREVIEW = "/api/chat/conversations/all/preview"


@pytest.fixture(autouse=True)
def _fresh_auth_failure_counts():
    """Failed token attempts are counted per address in the cache; start each test at 0."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def bearer_client(access_token) -> APIClient:
    """A client that sends ``Authorization: Bearer <user's token>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token[1]}")
    return client


def send(client, method, path, body=None, *, content_type="application/json"):
    """Send ``body`` (a dict is JSON-encoded; str/bytes go as they are)."""
    if isinstance(body, dict | list):
        body = json.dumps(body)
    return client.generic(method, path, body or "", content_type=content_type)
