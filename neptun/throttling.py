"""Throttles keyed by the client's address as :mod:`neptun.client_address` decides it.

DRF's own throttles identify the client by ``BaseThrottle.get_ident``, which (with
``NUM_PROXIES`` unset, DRF's default) takes the whole ``X-Forwarded-For`` value a
client sends: every request can name a new address, or someone else's. With
``NUM_PROXIES`` set it reads ``X-Forwarded-For`` without checking that the peer is a
proxy, and takes the left-most (client-written) hop when there are fewer hops than
proxies. So every throttle of the project uses :class:`ClientAddressMixin` instead:
use the classes below, or the mixin in front of a DRF throttle class — never DRF's
classes alone (``tests/security/test_client_address.py`` checks every view).
``NUM_PROXIES`` is also set to 0 in the settings, so a DRF throttle used by mistake
falls back to the peer address rather than to a header.

The message-post budget
-----------------------
The message-post budget: ``MESSAGE_RATE`` posts per principal, REST and WebSocket.

A principal is who is authenticated, never the client's address: an API key
(``key:<id>``; the v1 REST endpoint and that key's sockets spend the same budget)
or a user (``user:<id>``; the cookie dialect's session, or an access token's user).
Every post counts, whether it is then stored or refused (400, 404), as with DRF's
other throttles; a post over the budget stores nothing.

:class:`MessageRateThrottle` is a DRF throttle on the views that create messages
(their POST only) — the 429 is in each dialect's shape, with ``Retry-After``. The
WebSocket consumer calls :meth:`MessageRateThrottle.allow_principal` with the
key's principal and answers an ``error`` frame instead. The counters live in the
cache, as the other throttles' do: with ``REDIS_URL`` every worker shares them.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.views import APIView

from neptun.client_address import client_address
from neptun.models import AccessToken, ApiKey


class ClientAddressMixin:
    """``get_ident``: the client's address (``"unknown"`` when there is none)."""

    def get_ident(self, request: HttpRequest) -> str:
        return client_address(request) or "unknown"


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    """DRF's ``ScopedRateThrottle`` (the view's ``throttle_scope``), per client address."""


class AddressRateThrottle(ClientAddressMixin, throttling.SimpleRateThrottle):
    """Every request counted per client address under ``scope``; for views outside
    DRF too (``allow_request(request, None)`` takes a Django request)."""

    def get_cache_key(self, request: HttpRequest, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: HttpRequest, view: APIView | None) -> bool:
        # DRF's allow_request hands both only to get_cache_key above, which takes a
        # Django request and no view; the stubs ask for DRF's Request and a view.
        return super().allow_request(request, view)  # type: ignore[arg-type]


class AdminLoginThrottle(AddressRateThrottle):
    """Attempts at ``/admin/login/`` per client address (``ADMIN_LOGIN_THROTTLE_RATE``)."""

    scope = "admin_login"


def key_principal(api_key: ApiKey) -> str:
    return f"key:{api_key.pk}"


def principal_of(request) -> str | None:
    """The budget's name for the request's caller; ``None`` if not authenticated."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return key_principal(auth)
    if isinstance(auth, AccessToken):
        return f"user:{auth.user_id}"
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        pk = getattr(user, "pk", None)
        if pk is not None:
            return f"user:{pk}"
    return None


class MessageRateThrottle(ClientAddressMixin, throttling.SimpleRateThrottle):
    """``MESSAGE_RATE`` (e.g. ``60/min``) message posts per principal; empty: unlimited.

    Keyed by principal, never by address; the mixin is there so that nothing in it
    could fall back to a forwarded header."""

    scope = "messages"
    # Set by SimpleRateThrottle.__init__ from the rate (None without one); not in the stubs.
    num_requests: int | None
    duration: int | None

    def __init__(self) -> None:
        self._principal: str | None = None
        super().__init__()

    def get_rate(self) -> str | None:
        # Read at each request (not frozen at import as DRF's rates table is), so a
        # deployment's setting and a test's override both apply.
        return settings.MESSAGE_RATE or None

    def get_cache_key(self, request: Request | None, view: APIView | None) -> str | None:
        principal = self._principal if request is None else principal_of(request)
        if principal is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal}

    # request and view are None from allow_principal: DRF's allow_request hands them
    # only to get_cache_key above, which then reads self._principal.
    def allow_request(self, request: Request | None, view: APIView | None) -> bool:
        if request is not None and request.method != "POST":
            return True
        return super().allow_request(request, view)  # type: ignore[arg-type]

    def allow_principal(self, principal: str) -> bool:
        """Spend one post of ``principal``'s budget; ``False`` (nothing spent) if none is left."""
        self._principal = principal
        return super().allow_request(None, None)  # type: ignore[arg-type]  # see allow_request

    def wait(self) -> float:
        """Seconds until one more post fits: until the oldest post that still fills the
        budget falls out of the window."""
        num_requests, duration = self.num_requests, self.duration
        if num_requests is None or duration is None:  # no rate: nothing is refused
            return 0.0
        if num_requests < 1 or len(self.history) < num_requests:
            return float(duration)
        blocking = self.history[num_requests - 1]
        return max(duration - (self.now - blocking), 1.0)
