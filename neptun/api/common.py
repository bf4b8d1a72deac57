"""Helpers shared by the API dialects."""

from __future__ import annotations

from datetime import UTC
from typing import cast

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers
from rest_framework.request import Request

from chats.services import DeletionContext
from neptun.client_address import client_address
from neptun.models import DeletionRecord, User

#: The client's address (the connection's peer unless a trusted proxy is configured).
client_ip = client_address


def api_context(request, *, actor: User | None) -> DeletionContext:
    """The DeletionContext of an API request."""
    return DeletionContext(
        actor=actor,
        interface=DeletionRecord.Interface.API,
        endpoint=f"{request.method} {request.path}",
        remote_addr=client_ip(request),
    )


def signed_in_user(request: Request) -> User:
    """The user of a request that the view's ``IsAuthenticated`` let in.

    DRF types ``request.user`` as "a user or AnonymousUser"; past that permission
    (the session and conversations dialects) it is always a :class:`User`."""
    return cast(User, request.user)


#: Largest value of a 64-bit signed primary key.
MAX_DB_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A filter on an id: a number no primary key can hold is invalid input (the
    dialect's 400/422), not a database overflow."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_DB_ID)
        kwargs.setdefault("max_value", MAX_DB_ID)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses UTC offsets beyond
    ±15:59 (``-20:06`` is valid ISO 8601), and a date-time whose UTC value falls outside
    years 1-9999 is invalid input, not a database error."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("Enter a valid date/time.", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class JsonBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` and nothing else: ``"false"`` or ``0`` for a flag
    such as ``temporary`` is a client's mistake to report, not to guess at."""

    default_error_messages = {"invalid": "Must be a JSON boolean (true or false)."}

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class TemporaryChatFieldsMixin:
    """``temporary`` and ``expires_at`` on a chat's representation only when the chat
    is temporary: a regular chat's body stays what clients have always received."""

    def to_representation(self, instance):
        data = super().to_representation(instance)  # type: ignore[misc]
        if not getattr(instance, "temporary", False):
            data.pop("temporary", None)
            data.pop("expires_at", None)
        return data
