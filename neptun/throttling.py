"""Throttles keyed by the client's address as :mod:`neptun.client_address` decides it.

DRF's own throttles identify the client by ``BaseThrottle.get_ident``, which (with
``NUM_PROXIES`` unset, DRF's default) takes the whole ``X-Forwarded-For`` value a
client sends: every request can name a new address, or someone else's. With
``NUM_PROXIES`` set it reads ``X-Forwarded-For`` without checking that the peer is a
proxy, and takes the left-most (client-written) hop when there are fewer hops than
proxies. So every throttle of the project uses :class:`ClientAddressMixin` instead:
use the classes below, or the mixin in front of a DRF throttle class — never DRF's
classes alone (``tests/security/test_client_address.py`` checks every view). ``NUM_PROXIES`` is also
set to 0 in the settings, so a DRF throttle used by mistake falls back to the peer
address rather than to a header.
"""

from __future__ import annotations

from rest_framework import throttling

from neptun.client_address import client_address


class ClientAddressMixin:
    """``get_ident``: the client's address (``"unknown"`` when there is none)."""

    def get_ident(self, request) -> str:
        return client_address(request) or "unknown"


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    """DRF's ``ScopedRateThrottle`` (the view's ``throttle_scope``), per client address."""


class AddressRateThrottle(ClientAddressMixin, throttling.SimpleRateThrottle):
    """Every request counted per client address under ``scope``; for views outside
    DRF too (``allow_request(request, None)`` takes a Django request)."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AdminLoginThrottle(AddressRateThrottle):
    """Attempts at ``/admin/login/`` per client address (``ADMIN_LOGIN_THROTTLE_RATE``)."""

    scope = "admin_login"
