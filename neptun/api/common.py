"""Helpers shared by the API dialects."""

from __future__ import annotations

from chats.services import DeletionContext
from neptun.models import DeletionRecord, User


def client_ip(request) -> str | None:
    """The client's address as the server saw it (REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


def api_context(request, *, actor: User | None) -> DeletionContext:
    """The DeletionContext of an API request."""
    return DeletionContext(
        actor=actor,
        interface=DeletionRecord.Interface.API,
        endpoint=f"{request.method} {request.path}",
        remote_addr=client_ip(request),
    )
