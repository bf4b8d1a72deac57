"""Views of the conversations dialect (``Authorization: Bearer <access token>``).

The deletion views only translate: the request becomes :class:`ConversationFlags`
(:func:`.schemas.parse_delete_options`), the service deletes, its result becomes the
200 body. They are deliberately **not** atomic: the service opens its own
transaction, and blob-removal errors are appended by an after-commit callback, so
the response is built after the deletion has committed (the URLconf also marks them
``non_atomic_requests`` in case ``ATOMIC_REQUESTS`` is ever switched on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.filters import BaseFilterBackend
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.creation import chat_create
from chats.services import conversations_delete, conversations_delete_preview
from neptun.api import downloads
from neptun.api.common import api_context, signed_in_user
from neptun.api.parsers import JSONParser
from neptun.authentication import BearerTokenAuthentication
from neptun.exceptions import CollectionNotFound, GlobalCollectionRequired, NotFound

from . import selectors, services
from .errors import exception_handler
from .filters import ChatFilter, CollectionFilter, FileFilter, QueryFilterBackend
from .schemas import (
    DeleteConversationsBody,
    DeleteConversationsResponse,
    deletion_response,
    parse_delete_options,
)
from .serializers import (
    ChatCreateSerializer,
    ChatSerializer,
    CollectionCreateSerializer,
    CollectionSerializer,
    FileCreateSerializer,
    FileSerializer,
    chat_create_errors,
)

if TYPE_CHECKING:  # names of the stubs only
    from rest_framework.generics import BaseFilterProtocol
    from rest_framework.permissions import _PermissionClass

_ERRORS = {
    401: OpenApiResponse(description='`{"detail": "Not authenticated"}`'),
    422: OpenApiResponse(
        description='`{"detail": [{"type", "loc", "msg", "input"}]}`: invalid body, '
        "unknown field, non-JSON content type or any query parameter. Nothing was deleted."
    ),
}


class ConversationsDialect:
    """Authentication, permission and error format shared by the dialect's views."""

    # APIView's types, so that views may set their own.
    authentication_classes: Sequence[type[BaseAuthentication]] = [BearerTokenAuthentication]
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticated]
    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol[Any]]] = [
        QueryFilterBackend
    ]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler


class ConversationsDeleteAllView(ConversationsDialect, APIView):
    """``DELETE /api/chat/conversations/all`` (alias ``DELETE /api/collections/all``)."""

    parser_classes = [JSONParser]  # documents the body; it is parsed by the schemas module

    @extend_schema(
        operation_id="conversations_delete_all",
        summary="Delete the caller's conversations of the selected types",
        request=DeleteConversationsBody,
        responses={200: DeleteConversationsResponse, **_ERRORS},
    )
    def delete(self, request):
        flags = parse_delete_options(request)
        result = conversations_delete(
            user=request.user, flags=flags, ctx=api_context(request, actor=request.user)
        )
        return Response(deletion_response(result))


@extend_schema_view(
    delete=extend_schema(
        operation_id="collections_delete_all",
        summary="Alias of DELETE /api/chat/conversations/all",
    )
)
class CollectionsDeleteAllView(ConversationsDeleteAllView):
    """``DELETE /api/collections/all``: the old path, same behaviour."""


class ConversationsDeletePreviewView(ConversationsDialect, APIView):
    """``POST /api/chat/conversations/all/preview``: the same stats, nothing deleted."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="conversations_delete_all_preview",
        summary="What deleting the caller's conversations would remove",
        request=DeleteConversationsBody,
        responses={200: DeleteConversationsResponse, **_ERRORS},
    )
    def post(self, request):
        flags = parse_delete_options(request)
        result = conversations_delete_preview(user=request.user, flags=flags)
        return Response(deletion_response(result, preview=True))


class ChatListCreateView(ConversationsDialect, generics.ListCreateAPIView):
    """``GET/POST /api/chat/conversations``: the caller's chats; create one."""

    serializer_class = ChatSerializer
    filterset_class = ChatFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        return selectors.chats_of(signed_in_user(self.request))

    @extend_schema(request=ChatCreateSerializer, responses={201: ChatSerializer})
    def post(self, request, *args, **kwargs):
        data = ChatCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        try:
            chat = chat_create(
                owner=request.user, require_global_collection=True, **data.validated_data
            )
        except (CollectionNotFound, GlobalCollectionRequired) as exc:
            raise chat_create_errors(exc) from None
        return Response(ChatSerializer(chat).data, status=status.HTTP_201_CREATED)


class CollectionListCreateView(ConversationsDialect, generics.ListCreateAPIView):
    """``GET/POST /api/collections``: the caller's collections and the global ones of
    the caller's tenant; create one of the caller's (global ones are created by staff
    in the admin)."""

    serializer_class = CollectionSerializer
    filterset_class = CollectionFilter
    parser_classes = [JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema: no caller
            return CollectionSerializer.Meta.model.objects.none()
        return selectors.collections_visible_to(signed_in_user(self.request))

    @extend_schema(request=CollectionCreateSerializer, responses={201: CollectionSerializer})
    def post(self, request, *args, **kwargs):
        data = CollectionCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        collection = services.collection_create(owner=request.user, **data.validated_data)
        return Response(CollectionSerializer(collection).data, status=status.HTTP_201_CREATED)


class FileListCreateView(ConversationsDialect, generics.ListCreateAPIView):
    """``GET/POST /api/files``: the caller's files; upload one (multipart, field
    ``file``, optional ``chat_id``, ``collection_id`` and ``name``)."""

    serializer_class = FileSerializer
    filterset_class = FileFilter
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.files_of(signed_in_user(self.request))

    @extend_schema(
        request={"multipart/form-data": FileCreateSerializer},
        responses={
            201: FileSerializer,
            413: OpenApiResponse(
                description="The file is larger than MAX_UPLOAD_SIZE, or the caller's "
                "UPLOAD_QUOTA_PER_USER has no room for it; nothing was stored."
            ),
        },
    )
    def post(self, request, *args, **kwargs):
        data = FileCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        file = services.file_create(owner=request.user, **data.validated_data)
        return Response(FileSerializer(file).data, status=status.HTTP_201_CREATED)


class FileContentView(ConversationsDialect, APIView):
    """``GET /api/files/{file_id}/content``: one of the caller's files, as an attachment
    (streamed, or a redirect to a short-lived presigned URL on S3: see
    :mod:`neptun.api.downloads`). Another user's file is the same 404 as an unknown one."""

    @extend_schema(
        operation_id="files_content",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                description="The file's content (local storage)"
            ),
            302: OpenApiResponse(
                description="On S3: `Location` is a presigned URL of the content, valid for "
                "5 minutes"
            ),
            404: OpenApiResponse(description="No file of the caller's with this id"),
        },
    )
    def get(self, request, file_id: str):
        parsed = downloads.parse_file_id(file_id)
        file = (
            selectors.files_of(signed_in_user(request)).filter(pk=parsed).first()
            if parsed is not None
            else None
        )
        if file is None:
            raise NotFound(downloads.FILE_NOT_FOUND)
        return downloads.file_content(file=file)
