"""Input and output shapes of the v1 dialect.

A chat's ``id`` on the wire is its UUID (the spec addresses chats by it); the
integer primary key never leaves the server.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from chats.models import Chat, ConversationType, Message
from collections_app.models import File
from neptun.api.common import JsonBooleanField, TemporaryChatFieldsMixin
from neptun.models import Tenant, User


@extend_schema_serializer(component_name="V1Chat")
class ChatOutSerializer(TemporaryChatFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    user = serializers.IntegerField(source="owner_id", read_only=True)
    user_email = serializers.EmailField(source="owner.email", read_only=True)

    class Meta:
        model = Chat
        fields = [
            "id",
            "title",
            "user",
            "user_email",
            "conversation_type",
            "collection",
            "created_at",
            "updated_at",
            "temporary",
            "expires_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="V1ChatCreate")
class ChatCreateSerializer(serializers.Serializer):
    """``{"user": <id> | "user_email": "...", "title", "conversation_type", "collection",
    "temporary"}``.

    ``collection``: one of the user's collections or a global one of this tenant.
    ``temporary``: the chat expires as the tenant's retention policy says.
    """

    user = serializers.IntegerField(required=False, min_value=1)
    user_email = serializers.EmailField(required=False)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    conversation_type = serializers.ChoiceField(
        choices=ConversationType.choices,
        required=False,
        allow_null=True,
        default=ConversationType.REGULAR,
    )
    collection = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    temporary = JsonBooleanField(required=False, default=False)

    def __init__(self, *args, tenant: Tenant | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def validate(self, attrs: dict) -> dict:
        if "user" not in attrs and "user_email" not in attrs:
            raise serializers.ValidationError({"user": ["Give `user` (id) or `user_email`."]})
        users = User.objects.filter(tenant=self.tenant)
        if "user" in attrs:
            users = users.filter(pk=attrs["user"])
        if "user_email" in attrs:
            users = users.filter(email__iexact=attrs["user_email"])
        owner = users.first()
        if owner is None:
            raise serializers.ValidationError({"user": ["No such user in this tenant."]})
        attrs["owner"] = owner
        # ``collection`` stays an id: :func:`chats.creation.chat_create` checks it for
        # the owner (their own, or a global one of this tenant) and the view answers
        # its CollectionNotFound with :data:`COLLECTION_NOT_FOUND`.
        attrs.setdefault("collection", None)
        return attrs


#: The 400 of ``POST /api/v1/chats`` for a collection the chat's user may not use.
COLLECTION_NOT_FOUND = {"collection": ["No such collection of this user (or global)."]}


@extend_schema_serializer(component_name="V1Message")
class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "role", "content", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"role": {"required": False, "default": Message.Role.USER}}

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


@extend_schema_serializer(component_name="V1File")
class FileOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = File
        fields = ["id", "name", "size", "content_type", "collection", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(component_name="V1Error")
class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_serializer(component_name="V1Conflict")
class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    active_connections = serializers.IntegerField()


@extend_schema_serializer(component_name="V1ChatDeleted")
class ChatDeletedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    deleted_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="V1ChatExport")
class ChatExportSerializer(serializers.Serializer):
    chat = ChatOutSerializer()
    messages = MessageSerializer(many=True)
    files = FileOutSerializer(many=True)
    exported_at = serializers.DateTimeField()
