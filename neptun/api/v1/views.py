"""The v1 tenant API (``X-API-Key``): chats addressed by UUID, ``{"detail": ...}`` errors.

Views only translate: the key's tenant and the path into a selector call, the
selected chat into a service call, the result into the body of the spec.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

from django.db import transaction
from django.http import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.creation import chat_create
from chats.models import Chat, Message
from chats.services import chat_delete
from chats.writes import message_create
from neptun.api import downloads
from neptun.api.common import api_context
from neptun.api.pagination import LimitOffsetPagination
from neptun.api.v1 import selectors
from neptun.api.v1.errors import exception_handler
from neptun.api.v1.filters import ChatFilter, QueryFilterBackend
from neptun.api.v1.serializers import (
    COLLECTION_NOT_FOUND,
    ChatCreateSerializer,
    ChatDeletedSerializer,
    ChatExportSerializer,
    ChatOutSerializer,
    ConflictSerializer,
    ErrorSerializer,
    FileOutSerializer,
    MessageSerializer,
)
from neptun.authentication import ApiKeyAuthentication, ApiKeyPrincipal
from neptun.exceptions import CollectionNotFound, NotFound
from neptun.models import ApiKey, Tenant
from neptun.throttling import MessageRateThrottle

TAGS = ["v1 (X-API-Key)"]
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Invalid or missing API key")
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="Chat not found or doesn't belong to your tenant"
)
CHAT_UUID = OpenApiParameter(
    "chat_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The chat's UUID"
)
BAD_BODY = OpenApiResponse(ErrorSerializer, description="Invalid body (`errors` by field)")
MESSAGE_THROTTLED = OpenApiResponse(
    ErrorSerializer,
    description="Too many failed key attempts from this address, or too many messages "
    "posted with this key (`MESSAGE_RATE`, shared with its WebSockets); see `Retry-After`",
)


def iso_utc(moment: datetime) -> str:
    """``2024-01-15T10:45:00Z``: ISO 8601, UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class V1Api(APIView):
    """Base of every v1 view: tenant key authentication and the v1 error body."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    def get_exception_handler(self):
        return exception_handler

    @property
    def tenant(self) -> Tenant:
        # ApiKeyAuthentication's user; DRF types request.user as a Django user.
        return cast(ApiKeyPrincipal, self.request.user).tenant


class V1ListApi(V1Api, generics.GenericAPIView):
    """A v1 view with a paginated list (``?limit=&offset=``)."""

    pagination_class = LimitOffsetPagination

    def paginated(self, queryset) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ChatListApi(V1ListApi):
    """``GET`` the tenant's chats (filtered, paginated); ``POST`` a chat for one of its users."""

    queryset = Chat.objects.none()  # for the schema; requests use the tenant's chats
    serializer_class = ChatOutSerializer
    filter_backends = [QueryFilterBackend]
    filterset_class = ChatFilter

    @extend_schema(tags=TAGS, responses={200: ChatOutSerializer(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        chats = selectors.tenant_chats(tenant=self.tenant).select_related("owner")
        return self.paginated(self.filter_queryset(chats).order_by("-created_at", "-id"))

    @extend_schema(
        tags=TAGS,
        request=ChatCreateSerializer,
        responses={201: ChatOutSerializer, 400: BAD_BODY, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        serializer = ChatCreateSerializer(data=request.data, tenant=self.tenant)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            chat = chat_create(
                owner=data["owner"],
                title=data["title"],
                conversation_type=data["conversation_type"],
                collection=data["collection"],
                temporary=data["temporary"],
            )
        except CollectionNotFound:
            raise ValidationError(COLLECTION_NOT_FOUND) from None
        return Response(ChatOutSerializer(chat).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[CHAT_UUID])
class ChatDetailApi(V1Api):
    """``GET`` one chat; ``DELETE`` it (409 while sockets are connected to it)."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_retrieve",
        responses={200: ChatOutSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request, chat_uuid: str) -> Response:
        chat = selectors.chat_get(tenant=self.tenant, chat_uuid=chat_uuid)
        return Response(ChatOutSerializer(chat).data)

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_delete",
        request=None,
        summary="Delete Chat",
        description=(
            "Permanently deletes the chat with its messages, project links and the files "
            "uploaded in it that belong to no collection. Atomic. Refused with 409 while "
            "WebSocket connections to the chat are live."
        ),
        responses={
            200: ChatDeletedSerializer,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            409: OpenApiResponse(ConflictSerializer, description="Active WebSocket connections"),
            500: OpenApiResponse(ErrorSerializer, description="Internal server error"),
        },
    )
    def delete(self, request: Request, chat_uuid: str) -> Response:
        chat = selectors.chat_selection(tenant=self.tenant, chat_uuid=chat_uuid)
        key = cast(ApiKey, request.auth)  # ApiKeyAuthentication's credentials
        ctx = api_context(request, actor=None)
        # The caller is a tenant's key, not a user: the audit record names the key.
        ctx = replace(
            ctx, endpoint=f"{ctx.endpoint} [key {key.prefix}… of tenant {self.tenant.name}]"
        )
        result = chat_delete(chat=chat, ctx=ctx, refuse_if_connected=True)
        return Response(
            {
                "success": True,
                "message": "Chat deleted successfully",
                "deleted_at": iso_utc(result.deleted_at or timezone.now()),
            }
        )


@extend_schema(parameters=[CHAT_UUID])
class ChatExportApi(V1Api):
    """``GET`` the whole chat with its messages (and its files' metadata) as JSON."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_export",
        responses={200: ChatExportSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request, chat_uuid: str) -> Response:
        with transaction.atomic():  # one consistent snapshot on PostgreSQL's default level
            chat = selectors.chat_get(tenant=self.tenant, chat_uuid=chat_uuid)
            messages = MessageSerializer(
                selectors.chat_messages(chat=chat).iterator(chunk_size=2000), many=True
            ).data
            files = FileOutSerializer(chat.files.order_by("id"), many=True).data
        body = {
            "chat": ChatOutSerializer(chat).data,
            "messages": messages,
            "files": files,
            "exported_at": iso_utc(timezone.now()),
        }
        return Response(
            body,
            headers={"Content-Disposition": f'attachment; filename="chat-{chat.uuid}.json"'},
        )


class FileContentApi(V1Api):
    """``GET`` one file of a chat: its content, as an attachment (streamed, or a
    redirect to a short-lived presigned URL on S3: see :mod:`neptun.api.downloads`).
    The chat must be the tenant's and the file one of the chat's (those its export
    lists); anything else is 404."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_file_content",
        parameters=[
            CHAT_UUID,
            OpenApiParameter(
                "file_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The file's id"
            ),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                description="The file's content (local storage)"
            ),
            302: OpenApiResponse(
                description="On S3: `Location` is a presigned URL of the content, valid for "
                "5 minutes"
            ),
            401: UNAUTHORIZED,
            404: OpenApiResponse(
                ErrorSerializer, description="Chat or file not found, or not your tenant's"
            ),
        },
    )
    def get(self, request: Request, chat_uuid: str, file_id: str) -> HttpResponseBase:
        chat = selectors.chat_get(tenant=self.tenant, chat_uuid=chat_uuid)
        parsed = downloads.parse_file_id(file_id)
        file = chat.files.filter(pk=parsed).first() if parsed is not None else None
        if file is None:
            raise NotFound(downloads.FILE_NOT_FOUND)
        return downloads.file_content(file=file)


@extend_schema(parameters=[CHAT_UUID])
class MessageListApi(V1ListApi):
    """``GET`` a chat's messages (oldest first, paginated); ``POST`` one.

    Posts spend the key's message budget (``MESSAGE_RATE``, shared with the key's
    sockets): over it, 429 with ``Retry-After`` and nothing stored.
    """

    queryset = Message.objects.none()  # for the schema; requests use the chat's messages
    serializer_class = MessageSerializer
    throttle_classes = [MessageRateThrottle]

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_messages_list",
        responses={200: MessageSerializer(many=True), 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request, chat_uuid: str) -> Response:
        chat = selectors.chat_get(tenant=self.tenant, chat_uuid=chat_uuid)
        return self.paginated(selectors.chat_messages(chat=chat))

    @extend_schema(
        tags=TAGS,
        operation_id="v1_chat_messages_create",
        request=MessageSerializer,
        responses={
            201: MessageSerializer,
            400: BAD_BODY,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
            429: MESSAGE_THROTTLED,
        },
    )
    def post(self, request: Request, chat_uuid: str) -> Response:
        chat = selectors.chat_get(tenant=self.tenant, chat_uuid=chat_uuid)
        serializer = MessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = message_create(
            chat=chat,
            role=serializer.validated_data["role"],
            content=serializer.validated_data["content"],
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


@extend_schema(exclude=True)
class NotFoundApi(V1Api):
    """Any other path under ``/api/v1/``: a JSON 404, not an HTML page."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound("Not Found")

    def get(self, request: Request) -> Response:
        raise NotFound("Not Found")
