"""Authentication classes of the three API dialects, in one module.

- :class:`NeptunSessionAuthentication`: the ``neptun-session`` cookie. Unsafe
  requests are refused when they come from another site (see
  :func:`is_cross_site`) instead of DRF's token-based CSRF check.
- :class:`ApiKeyAuthentication`: ``X-API-Key``, a tenant's key (v1 dialect). The
  request's ``auth`` is the :class:`~neptun.models.ApiKey`; ``user`` is an
  :class:`ApiKeyPrincipal` standing for the tenant.
- :class:`BearerTokenAuthentication`: ``Authorization: Bearer <token>``, a user's
  access token (conversations dialect).

Secrets are looked up by their SHA-256 hash (a unique index) and then compared
with :func:`hmac.compare_digest`, so no comparison leaks timing.

Failed key and token attempts are counted per client address
(:func:`neptun.client_address.client_address`) in the cache; past
``AUTH_FAILURE_LIMIT`` failures within ``AUTH_FAILURE_WINDOW`` seconds, every
further attempt from that address is refused with DRF's ``Throttled`` (429 in each
dialect's shape) until the window passes — even with a valid secret, so guessing
cannot continue by mixing in a known key.
"""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from neptun.client_address import client_address
from neptun.models import AccessToken, ApiKey, Tenant, User, hash_secret

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class CrossSiteRequest(exceptions.PermissionDenied):
    default_detail = "Cross-site request refused."


def _own_origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def is_cross_site(request) -> bool:
    """Whether an unsafe cookie request comes from another site.

    ``Origin`` (when present) must be the server's own origin or one of
    ``TRUSTED_ORIGINS``. Without ``Origin``, ``Sec-Fetch-Site`` must be
    ``same-origin`` or ``none`` (typed by the user). A request with neither
    header — curl, a server-side client — is not a browser's and passes.
    """
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        allowed = {o.rstrip("/") for o in settings.TRUSTED_ORIGINS}
        with contextlib.suppress(Exception):  # a bad Host simply is not our origin
            allowed.add(_own_origin(request))
        parts = urlsplit(origin)
        return f"{parts.scheme}://{parts.netloc}" not in allowed
    if origin == "null":
        return True
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    return False


class NeptunSessionAuthentication(SessionAuthentication):
    """Django session (cookie ``neptun-session``) with a cross-site check."""

    def enforce_csrf(self, request: Request) -> None:
        if request.method not in SAFE_METHODS and is_cross_site(request):
            raise CrossSiteRequest()

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when the session is missing.
        return 'Cookie realm="neptun-session"'


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """The caller of the v1 API: a tenant, identified by one of its keys."""

    tenant: Tenant
    api_key: ApiKey
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None
    email: str = ""

    def __str__(self) -> str:
        return f"tenant {self.tenant.name} via key {self.api_key.prefix}…"


def _failure_key(request: Request) -> str:
    return f"neptun:auth-failures:{client_address(request) or 'unknown'}"


def check_failures(request: Request) -> None:
    """Refuse a client that failed too often recently (429)."""
    if cache.get(_failure_key(request), 0) >= settings.AUTH_FAILURE_LIMIT:
        raise exceptions.Throttled(wait=settings.AUTH_FAILURE_WINDOW)


def note_failure(request: Request) -> None:
    key = _failure_key(request)
    cache.add(key, 0, timeout=settings.AUTH_FAILURE_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.AUTH_FAILURE_WINDOW)


#: ``ApiKey.last_used_at`` is written at most once per this many seconds per key:
#: it answers "is this key still in use?", and a write on every request would add
#: a statement to each of them (and contention on the key's row under load).
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _lookup(model, field: str, secret: str, related: str):
    digest = hash_secret(secret)
    obj = model.objects.select_related(related).filter(**{field: digest}).first()
    if obj is None or not hmac.compare_digest(getattr(obj, field), digest):
        return None
    return obj


class ApiKeyAuthentication(BaseAuthentication):
    header = "X-API-Key"

    def authenticate(self, request: Request):
        secret = request.headers.get(self.header)
        if not secret:
            return None
        check_failures(request)
        key = _lookup(ApiKey, "key_hash", secret, "tenant")
        if key is None or key.revoked_at is not None:
            note_failure(request)
            raise exceptions.AuthenticationFailed("Invalid or missing API key")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyPrincipal(tenant=key.tenant, api_key=key), key

    def authenticate_header(self, request: Request) -> str:
        return self.header


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None
        check_failures(request)
        token = _lookup(AccessToken, "token_hash", secret.strip(), "user")
        if token is None or token.is_expired:
            note_failure(request)
            raise exceptions.AuthenticationFailed("Not authenticated")
        user: User = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("Not authenticated")
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
