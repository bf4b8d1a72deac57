"""The authentication classes of the three dialects, tested directly."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from neptun.authentication import (
    ApiKeyAuthentication,
    BearerTokenAuthentication,
    is_cross_site,
)
from neptun.models import AccessToken, ApiKey

pytestmark = pytest.mark.django_db
rf = APIRequestFactory()


def drf(request) -> Request:
    return Request(request)


def test_api_key_authenticates_tenant_and_updates_last_used(tenant):
    key, secret = ApiKey.generate(tenant=tenant)
    assert key.last_used_at is None
    principal, auth = ApiKeyAuthentication().authenticate(drf(rf.get("/", HTTP_X_API_KEY=secret)))
    assert principal.tenant == tenant
    assert auth.pk == key.pk
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_api_key_last_used_is_written_at_most_once_a_minute(tenant, django_assert_num_queries):
    key, secret = ApiKey.generate(tenant=tenant)
    request = rf.get("/", HTTP_X_API_KEY=secret)
    ApiKeyAuthentication().authenticate(drf(request))
    key.refresh_from_db()
    first = key.last_used_at
    # Used again within the minute: one lookup (tenant joined), no write.
    with django_assert_num_queries(1):
        principal, _ = ApiKeyAuthentication().authenticate(drf(request))
        assert principal.tenant.name == tenant.name
    key.refresh_from_db()
    assert key.last_used_at == first
    # Used again after more than a minute: written.
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timezone.timedelta(seconds=61))
    ApiKeyAuthentication().authenticate(drf(request))
    key.refresh_from_db()
    assert key.last_used_at >= first


def test_api_key_missing_is_anonymous_unknown_or_revoked_fails(tenant):
    assert ApiKeyAuthentication().authenticate(drf(rf.get("/"))) is None
    with pytest.raises(exceptions.AuthenticationFailed):
        ApiKeyAuthentication().authenticate(drf(rf.get("/", HTTP_X_API_KEY="nk_wrong")))
    key, secret = ApiKey.generate(tenant=tenant)
    key.revoked_at = timezone.now()
    key.save()
    with pytest.raises(exceptions.AuthenticationFailed):
        ApiKeyAuthentication().authenticate(drf(rf.get("/", HTTP_X_API_KEY=secret)))


def test_keys_and_tokens_are_stored_only_as_hashes(tenant, user):
    key, secret = ApiKey.generate(tenant=tenant)
    token, token_secret = AccessToken.generate(user=user)
    stored = [str(v) for v in ApiKey.objects.values_list(flat=False).get(pk=key.pk)]
    stored += [str(v) for v in AccessToken.objects.values_list(flat=False).get(pk=token.pk)]
    assert secret not in stored
    assert token_secret not in stored


def test_bearer_token(user):
    _, secret = AccessToken.generate(user=user)
    who, _ = BearerTokenAuthentication().authenticate(
        drf(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    )
    assert who == user
    assert BearerTokenAuthentication().authenticate(drf(rf.get("/"))) is None
    assert (
        BearerTokenAuthentication().authenticate(drf(rf.get("/", HTTP_AUTHORIZATION="Basic abc")))
        is None
    )
    with pytest.raises(exceptions.AuthenticationFailed):
        BearerTokenAuthentication().authenticate(
            drf(rf.get("/", HTTP_AUTHORIZATION="Bearer nt_wrong"))
        )


def test_expired_token_and_inactive_user_fail(user):
    token, secret = AccessToken.generate(user=user)
    token.expires_at = timezone.now() - timezone.timedelta(seconds=1)
    token.save()
    with pytest.raises(exceptions.AuthenticationFailed):
        BearerTokenAuthentication().authenticate(
            drf(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {secret}"))
        )
    _, fresh = AccessToken.generate(user=user)
    user.is_active = False
    user.save()
    with pytest.raises(exceptions.AuthenticationFailed):
        BearerTokenAuthentication().authenticate(
            drf(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {fresh}"))
        )


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({}, False),  # curl, server-side clients
        ({"HTTP_SEC_FETCH_SITE": "same-origin"}, False),
        ({"HTTP_SEC_FETCH_SITE": "none"}, False),
        ({"HTTP_SEC_FETCH_SITE": "cross-site"}, True),
        ({"HTTP_SEC_FETCH_SITE": "same-site"}, True),
        ({"HTTP_ORIGIN": "http://testserver"}, False),
        ({"HTTP_ORIGIN": "http://localhost:8000"}, False),  # a TRUSTED_ORIGINS default
        ({"HTTP_ORIGIN": "https://evil.example"}, True),
        ({"HTTP_ORIGIN": "null"}, True),
        ({"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "same-origin"}, True),
    ],
)
def test_cross_site_detection(headers, cross):
    assert is_cross_site(rf.delete("/api/x", **headers)) is cross


@pytest.fixture
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_repeated_failures_are_throttled_even_with_a_valid_key(tenant, settings, fresh_cache):
    settings.AUTH_FAILURE_LIMIT = 3
    _, secret = ApiKey.generate(tenant=tenant)
    auth = ApiKeyAuthentication()
    for _ in range(3):
        with pytest.raises(exceptions.AuthenticationFailed):
            auth.authenticate(drf(rf.get("/", HTTP_X_API_KEY="nk_guess")))
    with pytest.raises(exceptions.Throttled):
        auth.authenticate(drf(rf.get("/", HTTP_X_API_KEY=secret)))
    # another client address is not affected
    principal, _ = auth.authenticate(
        drf(rf.get("/", HTTP_X_API_KEY=secret, REMOTE_ADDR="10.9.9.9"))
    )
    assert principal.tenant == tenant


def test_bearer_failures_are_throttled(user, settings, fresh_cache):
    settings.AUTH_FAILURE_LIMIT = 2
    auth = BearerTokenAuthentication()
    for _ in range(2):
        with pytest.raises(exceptions.AuthenticationFailed):
            auth.authenticate(drf(rf.get("/", HTTP_AUTHORIZATION="Bearer nt_guess")))
    with pytest.raises(exceptions.Throttled):
        auth.authenticate(drf(rf.get("/", HTTP_AUTHORIZATION="Bearer nt_guess")))
