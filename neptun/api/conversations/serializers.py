"""DRF serializers of the conversations dialect's lists and creates.

Input serializers only validate (ownership included, through the selectors); views
pass the validated data to :mod:`.services`. Unknown fields are refused, as in the
deletion body: a misspelt field must not be silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from neptun import uploads
from neptun.api.common import JsonBooleanField, TemporaryChatFieldsMixin
from neptun.exceptions import CollectionNotFound, GlobalCollectionRequired

from . import selectors

if TYPE_CHECKING:  # the mixin's partner, for the checker
    _SerializerBase = serializers.Serializer[Any]
else:
    _SerializerBase = object


class RejectUnknownFieldsMixin(_SerializerBase):
    def validate(self, attrs):
        known = set(self.fields)
        unknown = sorted(key for key in getattr(self, "initial_data", {}) if key not in known)
        if unknown:
            raise serializers.ValidationError(
                {key: "Extra inputs are not permitted" for key in unknown},
                code="extra_forbidden",
            )
        return super().validate(attrs)


# --------------------------------------------------------------------------- output


@extend_schema_serializer(component_name="ConversationsChat")
class ChatSerializer(TemporaryChatFieldsMixin, serializers.ModelSerializer):
    collection_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Chat
        fields = [
            "id",
            "uuid",
            "title",
            "conversation_type",
            "collection_id",
            "created_at",
            "updated_at",
            "temporary",
            "expires_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="ConversationsCollection")
class CollectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Collection
        fields = ["id", "name", "is_global", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(component_name="ConversationsFile")
class FileSerializer(serializers.ModelSerializer):
    chat_id = serializers.IntegerField(allow_null=True, read_only=True)
    collection_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = File
        fields = ["id", "name", "size", "content_type", "chat_id", "collection_id", "created_at"]
        read_only_fields = fields


# --------------------------------------------------------------------------- input


@extend_schema_serializer(component_name="ConversationsChatCreate")
class ChatCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """``conversation_type`` defaults to ``regular``; ``null`` makes a NULL-type chat.

    ``collection_id`` must be one of the user's collections or a global one of the
    user's tenant; a ``global_collection`` conversation needs a global collection.
    Both are checked by :func:`chats.creation.chat_create` (the view answers its
    exceptions as this serializer's field errors).
    """

    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    conversation_type = serializers.ChoiceField(
        choices=ConversationType.choices,
        required=False,
        allow_null=True,
        default=ConversationType.REGULAR,
    )
    collection_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    #: The chat expires as the user's tenant's retention policy says.
    temporary = JsonBooleanField(required=False, default=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["collection"] = attrs.pop("collection_id", None)  # an id, checked on create
        return attrs


@extend_schema_serializer(component_name="ConversationsCollectionCreate")
class CollectionCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200)


@extend_schema_serializer(component_name="ConversationsFileCreate")
class FileCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A multipart upload into one of the user's chats and/or own collections."""

    file = serializers.FileField()
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    chat_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    collection_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate_file(self, upload):
        """The part's content type must fit ``File.content_type`` and be
        ``type/subtype``: checked here, before the blob is written."""
        problem = uploads.validate_content_type(upload.content_type or "")
        if problem:
            raise serializers.ValidationError(problem, code="value_error")
        return upload

    def validate(self, attrs):
        attrs = super().validate(attrs)
        user = self.context["request"].user
        chat_id = attrs.pop("chat_id", None)
        collection_id = attrs.pop("collection_id", None)
        attrs["chat"] = attrs["collection"] = None
        if chat_id is not None:
            attrs["chat"] = selectors.own_chat(user, chat_id)
            if attrs["chat"] is None:
                raise serializers.ValidationError({"chat_id": "Chat not found"}, code="not_found")
        if collection_id is not None:
            attrs["collection"] = selectors.own_collection(user, collection_id)
            if attrs["collection"] is None:
                raise serializers.ValidationError(
                    {"collection_id": "Collection not found (or not yours to add files to)"},
                    code="not_found",
                )
        attrs["upload"] = attrs.pop("file")
        return attrs


def chat_create_errors(
    exc: CollectionNotFound | GlobalCollectionRequired,
) -> serializers.ValidationError:
    """The field error of :class:`ChatCreateSerializer` for an exception of
    :func:`chats.creation.chat_create` (the 422 this dialect has always answered)."""
    if isinstance(exc, CollectionNotFound):
        return serializers.ValidationError(
            {"collection_id": "Collection not found"}, code="not_found"
        )
    return serializers.ValidationError(
        {"collection_id": "A global_collection conversation needs a global collection"}
    )
