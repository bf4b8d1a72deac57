"""Views of the Neptun (cookie-session) dialect.

Every view here authenticates with the ``neptun-session`` cookie (unsafe requests
from another site are refused), answers JSON whatever ``Accept`` says, and turns
errors into the dialect's bodies with :func:`.errors.exception_handler`.

Views under ``/api/users/{user_id}/…`` resolve the path user in ``initial()``:
it must be the session's user, otherwise 404 "User not found" — before any
handler runs, so no handler can forget it. Objects are then fetched through
:mod:`.selectors`, which scope them to that user.

Order of checks: 401 (no session), 403 (cross-site), 404 (path objects), 400
(body), then the one service call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth import authenticate, login, logout
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.filters import BaseFilterBackend
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from chats import services as deletion
from chats.creation import chat_create
from chats.writes import message_create
from neptun.api.common import api_context, signed_in_user
from neptun.authentication import CrossSiteRequest, NeptunSessionAuthentication, is_cross_site
from neptun.exceptions import CollectionNotFound
from neptun.models import User
from neptun.throttling import MessageRateThrottle, ScopedRateThrottle

from . import errors, filters, selectors, services
from .serializers import (
    ChatCreateSerializer,
    ChatSerializer,
    LoginSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    ProjectChatLinkSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    UserSerializer,
    chat_ids_from,
    invalid_body,
    json_body,
    json_or_form_body,
    raise_if_invalid,
)

if TYPE_CHECKING:  # names of the stubs only
    from rest_framework.generics import BaseFilterProtocol
    from rest_framework.permissions import _PermissionClass

# --------------------------------------------------------------------------- dialect base


class AlwaysJSON(DefaultContentNegotiation):
    """Answer JSON whatever ``Accept`` asks for: errors must reach every client."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class NeptunSessionDialect:
    """Authentication, permissions, rendering and errors of the Neptun dialect.

    The attributes carry APIView's types, so that views may set their own."""

    authentication_classes: Sequence[type[BaseAuthentication]] = [NeptunSessionAuthentication]
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticated]
    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer]
    parser_classes: Sequence[type[BaseParser]] = [JSONParser]
    content_negotiation_class: type[BaseContentNegotiation] = AlwaysJSON
    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol[Any]]] = [
        filters.FilterBackend
    ]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return errors.exception_handler


class UserScopedViewSet(NeptunSessionDialect, GenericViewSet):
    """A viewset under ``/api/users/{user_id}/``: ``self.owner`` is the path user."""

    owner: User

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.owner = selectors.path_user(actor=signed_in_user(request), user_id=kwargs["user_id"])

    def _schema_only(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    def _page(self, queryset, serializer_class) -> Response:
        """The filtered, paginated list response of ``queryset``."""
        queryset = self.filter_queryset(queryset)
        page = self.paginate_queryset(queryset)
        if page is None:
            return Response(serializer_class(queryset, many=True).data)
        return self.get_paginated_response(serializer_class(page, many=True).data)


TRUE_RESPONSE = OpenApiResponse(OpenApiTypes.BOOL, description="`true`")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


# --------------------------------------------------------------------------- auth


class LoginView(NeptunSessionDialect, APIView):
    """``POST /api/auth/login`` ``{"email", "password"}`` → the user; sets the cookie.

    The body is JSON or a form (``email=…&password=…``, as HTML forms and many
    CLIs post it), with the same validation."""

    authentication_classes = []
    permission_classes = [AllowAny]
    # Attempts per client address (neptun.client_address, not a header the client
    # picks): REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: UserSerializer,
            400: _error("Invalid body"),
            401: _error("Wrong email or password"),
            403: _error("Cross-site request"),
            429: _error("Too many attempts from this address"),
        },
    )
    def post(self, request: Request) -> Response:
        if is_cross_site(request):
            raise CrossSiteRequest()
        credentials = raise_if_invalid(
            LoginSerializer(data=json_or_form_body(request, fields=("email", "password")))
        )
        email, password = credentials["email"], credentials["password"]
        user = authenticate(request._request, email=email, password=password)
        if user is None and email != email.lower():
            user = authenticate(request._request, email=email.lower(), password=password)
        if user is None:
            raise AuthenticationFailed("Invalid email or password")
        login(request._request, user)
        return Response(UserSerializer(user).data)


class LogoutView(NeptunSessionDialect, APIView):
    """``POST /api/auth/logout`` → ``true``; the session is flushed server-side.

    Idempotent: without a session it also answers ``true``.
    """

    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={200: TRUE_RESPONSE, 403: _error("Cross-site")})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(True)


# --------------------------------------------------------------------------- chats


class ChatViewSet(UserScopedViewSet):
    """``/api/users/{user_id}/chats[/{chat_id}]``."""

    serializer_class = ChatSerializer
    filterset_class = filters.ChatFilter

    def get_queryset(self):
        if self._schema_only():
            return ChatSerializer.Meta.model.objects.none()
        return selectors.chat_list(owner=self.owner)

    def list(self, request: Request, user_id: str) -> Response:
        return self._page(self.get_queryset(), ChatSerializer)

    @extend_schema(request=ChatCreateSerializer, responses={201: ChatSerializer})
    def create(self, request: Request, user_id: str) -> Response:
        fields = ("title", "conversation_type", "collection")
        data = json_body(request, fields=fields, allow_empty=True)
        values = raise_if_invalid(ChatCreateSerializer(data=data, context={"owner": self.owner}))
        try:
            chat = chat_create(owner=self.owner, **values)
        except CollectionNotFound:  # gone since the body was validated
            raise invalid_body(
                "collection", errors={"collection": ["Collection not found."]}
            ) from None
        return Response(ChatSerializer(chat).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, user_id: str, chat_id: str) -> Response:
        chat = selectors.chat_get(owner=self.owner, chat_id=chat_id)
        return Response(ChatSerializer(chat).data)

    @extend_schema(
        responses={
            200: TRUE_RESPONSE,
            401: _error("No valid session"),
            403: _error("Cross-site request"),
            404: _error("Chat or user not found"),
        }
    )
    def destroy(self, request: Request, user_id: str, chat_id: str) -> Response:
        """Delete the chat with its messages, project links and own files."""
        chat = selectors.chat_get(owner=self.owner, chat_id=chat_id)
        deletion.chat_delete(chat=chat, ctx=api_context(request, actor=self.owner))
        return Response(True)


class MessageViewSet(UserScopedViewSet):
    """``/api/users/{user_id}/chats/{chat_id}/messages``.

    Posts spend the user's message budget (``MESSAGE_RATE``): over it, 429 with
    ``Retry-After`` and nothing stored.
    """

    serializer_class = MessageSerializer
    filterset_class = filters.MessageFilter

    def get_throttles(self):
        return [MessageRateThrottle()] if self.action == "create" else []

    def get_queryset(self):
        if self._schema_only():
            return MessageSerializer.Meta.model.objects.none()
        chat = selectors.chat_get(owner=self.owner, chat_id=self.kwargs["chat_id"])
        return selectors.message_list(chat=chat)

    def list(self, request: Request, user_id: str, chat_id: str) -> Response:
        return self._page(self.get_queryset(), MessageSerializer)

    @extend_schema(
        request=MessageCreateSerializer,
        responses={
            201: MessageSerializer,
            429: _error("Too many messages posted by this user (`MESSAGE_RATE`)"),
        },
    )
    def create(self, request: Request, user_id: str, chat_id: str) -> Response:
        chat = selectors.chat_get(owner=self.owner, chat_id=chat_id)
        values = raise_if_invalid(
            MessageCreateSerializer(data=json_body(request, fields=("role", "content")))
        )
        message = message_create(chat=chat, **values)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- projects


class ProjectViewSet(UserScopedViewSet):
    """``/api/users/{user_id}/projects``."""

    serializer_class = ProjectSerializer
    filterset_class = filters.ProjectFilter

    def get_queryset(self):
        if self._schema_only():
            return ProjectSerializer.Meta.model.objects.none()
        return selectors.project_list(owner=self.owner)

    def list(self, request: Request, user_id: str) -> Response:
        return self._page(self.get_queryset(), ProjectSerializer)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request, user_id: str) -> Response:
        values = raise_if_invalid(
            ProjectCreateSerializer(data=json_body(request, fields=("name",)))
        )
        project = services.project_create(owner=self.owner, **values)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectChatViewSet(UserScopedViewSet):
    """``/api/users/{user_id}/projects/{project_id}/chats``: list, link, batch delete."""

    serializer_class = ChatSerializer
    filterset_class = filters.ChatFilter

    def get_queryset(self):
        if self._schema_only():
            return ChatSerializer.Meta.model.objects.none()
        project = selectors.project_get(owner=self.owner, project_id=self.kwargs["project_id"])
        return selectors.project_chat_list(project=project)

    def list(self, request: Request, user_id: str, project_id: str) -> Response:
        return self._page(self.get_queryset(), ChatSerializer)

    @extend_schema(
        request=ProjectChatLinkSerializer,
        responses={200: ChatSerializer, 201: ChatSerializer},
    )
    def create(self, request: Request, user_id: str, project_id: str) -> Response:
        """Link one of the user's chats to the project (idempotent)."""
        project = selectors.project_get(owner=self.owner, project_id=project_id)
        values = raise_if_invalid(
            ProjectChatLinkSerializer(data=json_body(request, fields=("chat_id",)))
        )
        chat = selectors.chat_get(owner=self.owner, chat_id=values["chat_id"])
        _, created = services.project_chat_link(project=project, chat=chat)
        return Response(
            ChatSerializer(chat).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=inline_serializer(
            "DeleteProjectChats",
            {
                "chat_ids": drf_serializers.ListField(
                    child=drf_serializers.IntegerField(min_value=1)
                )
            },
        ),
        responses={
            200: TRUE_RESPONSE,
            400: _error("Invalid body(chat_ids)"),
            401: _error("No valid session"),
            403: _error("Cross-site request"),
            404: _error("Project, user or some of the chats not found; nothing deleted"),
        },
    )
    def bulk_destroy(self, request: Request, user_id: str, project_id: str) -> Response:
        """Delete the listed chats of the project, all or nothing."""
        project = selectors.project_get(owner=self.owner, project_id=project_id)
        chat_ids = chat_ids_from(json_body(request, fields=("chat_ids",)))
        deletion.project_chats_delete(
            owner=self.owner,
            project_id=project.pk,
            chat_ids=chat_ids,
            ctx=api_context(request, actor=self.owner),
        )
        return Response(True)
