"""Request bodies and response representations of the Neptun dialect.

Bodies are read as JSON by :func:`json_body` whatever the ``Content-Type`` says
(``curl -d`` without a header still works); a body that is not JSON is the
endpoint's 400. The login also takes a form (:func:`json_or_form_body`). Input
fields are strict: a string field takes only JSON strings and an id only a JSON
integer — ``1.0``, ``"1"`` and ``true`` are not ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chats.creation import usable_collection
from chats.models import Chat, ConversationType, Message
from neptun.api.common import JsonBooleanField, TemporaryChatFieldsMixin
from neptun.exceptions import CollectionNotFound, InvalidInput
from neptun.models import User
from projects.models import Project

from . import selectors


def invalid_body(*fields: str, **extra: object) -> InvalidInput:
    """The dialect's 400: ``Invalid body(field, …)``."""
    return InvalidInput(f"Invalid body({', '.join(fields)})", **extra)


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # ``{"chat_ids": [1], "chat_ids": [2]}`` has no single meaning.
        raise _NotJson("duplicate key")
    return obj


def json_body(request, *, fields: Sequence[str], allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, or the 400 naming ``fields``.

    Not JSON (including ``NaN``/``Infinity`` and duplicate keys), not an object,
    or empty (unless ``allow_empty``, which reads an empty body as ``{}``): 400.
    """
    try:
        raw = request.body
    except RawPostDataException as exc:  # a multipart body already consumed as a form
        raise invalid_body(*fields) from exc
    if not raw.strip():
        if allow_empty:
            return {}
        raise invalid_body(*fields)
    try:
        data = json.loads(
            raw, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicate_keys
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise invalid_body(*fields) from exc
    if not isinstance(data, dict):
        raise invalid_body(*fields)
    return data


#: Media types whose body :func:`json_or_form_body` also reads as a form.
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def json_or_form_body(request, *, fields: Sequence[str]) -> dict[str, Any]:
    """The body as :func:`json_body` reads it or, sent as an HTML form posts it
    (``application/x-www-form-urlencoded`` or ``multipart/form-data``), its form
    fields: each of ``fields`` at most once, as text (a field sent twice is the 400
    naming it). Any other content type whose body is not JSON stays the 400."""
    try:
        return json_body(request, fields=fields)
    except InvalidInput:
        media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media_type not in FORM_MEDIA_TYPES:
            raise
    try:
        form = request._request.POST
    except Exception as exc:  # a malformed multipart body: Django's parser says why
        raise invalid_body(*fields) from exc
    repeated = [name for name in fields if len(form.getlist(name)) > 1]
    if repeated:
        raise invalid_body(*repeated)
    return {name: form[name] for name in fields if name in form}


def is_positive_int(value: object) -> bool:
    """A JSON integer ≥ 1 (``bool`` and ``float`` are not)."""
    return type(value) is int and value > 0


#: Most distinct ids one batch deletion takes: bounds its lock time and keeps its
#: id list within every database's limit on query parameters.
#: A setting (``MAX_BATCH_CHAT_IDS`` in the environment), read at start-up.
MAX_BATCH_CHAT_IDS: int = settings.MAX_BATCH_CHAT_IDS


def chat_ids_from(data: dict[str, Any]) -> list[int]:
    """``chat_ids`` of a batch body: a list of positive integers, else 400.

    Duplicates are harmless (the service de-duplicates); ``[]`` is valid. Integers
    too large to be a database id are valid input and simply not found. More than
    :data:`MAX_BATCH_CHAT_IDS` distinct ids is a 400 that says so in ``data``.
    """
    chat_ids = data.get("chat_ids")
    if not isinstance(chat_ids, list) or not all(is_positive_int(i) for i in chat_ids):
        raise invalid_body("chat_ids")
    if len(set(chat_ids)) > MAX_BATCH_CHAT_IDS:
        raise invalid_body("chat_ids", max_chat_ids=MAX_BATCH_CHAT_IDS)
    return chat_ids


def raise_if_invalid(serializer: serializers.Serializer) -> dict[str, Any]:
    """Validated data, or the dialect's 400 naming the invalid fields."""
    if not serializer.is_valid():
        raise invalid_body(*serializer.errors, errors=serializer.errors)
    return serializer.validated_data


# --------------------------------------------------------------------------- strict fields


class StrictCharField(serializers.CharField):
    """A ``CharField`` that refuses numbers instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class StrictIdField(serializers.Field):
    """A JSON integer ≥ 1; ``1.0``, ``"1"`` and ``true`` are refused."""

    default_error_messages = {"invalid": "Must be a positive integer."}

    def to_internal_value(self, data: Any) -> int:
        if not is_positive_int(data):
            self.fail("invalid")
        return data

    def to_representation(self, value: int) -> int:
        return value


# --------------------------------------------------------------------------- bodies


class LoginSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254, trim_whitespace=True)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class ChatCreateSerializer(serializers.Serializer):
    """``{"title"?, "conversation_type"?, "collection"?, "temporary"?}``.

    ``conversation_type`` defaults to ``regular`` and may be ``null``;
    ``collection`` must be one of the owner's collections or a global one of the
    owner's tenant (the owner comes in ``context["owner"]``). It is checked here, by
    the rule :func:`chats.creation.chat_create` applies again, so that it is reported
    together with the other fields' errors, as this dialect always has.
    """

    title = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    conversation_type = serializers.ChoiceField(
        choices=ConversationType.choices,
        allow_null=True,
        required=False,
        default=ConversationType.REGULAR,
    )
    collection = StrictIdField(required=False, allow_null=True, default=None)
    temporary = JsonBooleanField(required=False, default=False)

    def validate_collection(self, value: int | None):
        if value is None:
            return None
        pk = selectors.parse_id(value)
        try:
            collection = (
                usable_collection(owner=self.context["owner"], collection=pk)
                if pk is not None
                else None
            )
        except CollectionNotFound:
            collection = None
        if collection is None:
            raise serializers.ValidationError("Collection not found.")
        return collection


class MessageCreateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=Message.Role.choices, required=False, default=Message.Role.USER
    )
    content = StrictCharField(trim_whitespace=False)


class ProjectCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)


class ProjectChatLinkSerializer(serializers.Serializer):
    chat_id = StrictIdField()


# --------------------------------------------------------------------------- representations


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email"]
        read_only_fields = fields


class ChatSerializer(TemporaryChatFieldsMixin, serializers.ModelSerializer):
    collection = serializers.IntegerField(source="collection_id", allow_null=True, read_only=True)

    class Meta:
        model = Chat
        fields = [
            "id",
            "uuid",
            "title",
            "conversation_type",
            "collection",
            "created_at",
            "updated_at",
            "temporary",
            "expires_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    chat = serializers.IntegerField(source="chat_id", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "chat", "role", "content", "created_at"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "created_at"]
        read_only_fields = fields
