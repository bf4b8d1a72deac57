"""The v1 dialect's retention and erasure views (``X-API-Key``).

- ``GET`` / ``PUT /api/v1/retention``: the tenant's retention policy
  (:mod:`chats.retention`). A ``PUT`` only stores it: nothing is deleted in the
  request; the next run applies it. Invalid values are 400 and change nothing.
- ``DELETE /api/v1/users/{id}``: erase one of the tenant's users
  (:func:`neptun.erasure.user_erase`); answers the erasure receipt.
- ``GET /api/v1/erasures/{id}``: a receipt of this tenant, brought up to date.
- ``GET /api/v1/users/{id}/export``: everything the user owns, NDJSON
  (:mod:`neptun.export`), streamed.

A user or receipt of another tenant is the same 404 as an unknown one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import QueryDict, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chats import retention
from chats.services import DeletionContext
from neptun.api.common import client_ip
from neptun.api.session.selectors import parse_id
from neptun.api.v1.views import TAGS, UNAUTHORIZED, V1Api
from neptun.erasure import erasure_refresh, receipt, user_erase
from neptun.exceptions import NotFound
from neptun.export import user_export_lines
from neptun.models import DeletionRecord, Erasure, User

USER_NOT_FOUND = "User not found"
ERASURE_NOT_FOUND = "Erasure not found"

USER_ID = OpenApiParameter(
    "user_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The user's id"
)
ERASURE_ID = OpenApiParameter(
    "erasure_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The receipt's id"
)


class PolicySerializer(serializers.Serializer):
    """A retention policy; ``null`` is "keep forever" (for ``conversation_types``:
    every type). A ``PUT`` may leave keys out: they keep their value."""

    inactive_days = serializers.IntegerField(allow_null=True, min_value=1, required=False)
    conversation_types = serializers.ListField(
        child=serializers.ChoiceField(choices=list(retention.CONVERSATION_TYPES)),
        allow_null=True,
        required=False,
    )
    temporary_hours = serializers.IntegerField(allow_null=True, min_value=1, required=False)
    record_days = serializers.IntegerField(allow_null=True, min_value=1, required=False)


class PolicyOutSerializer(PolicySerializer):
    #: ``tenant``: the tenant's own policy; ``default``: the instance's.
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, popped by the metaclass


class VerificationSerializer(serializers.Serializer):
    rows_referencing_user = serializers.IntegerField()
    records_naming_email = serializers.IntegerField()
    blobs_remaining = serializers.IntegerField()
    verified = serializers.BooleanField()


class ReceiptSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Erasure.Status.choices)
    counts = serializers.DictField(child=serializers.IntegerField())
    verification = VerificationSerializer()
    email_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


def _policy_body(policy: retention.Policy) -> dict:
    return policy.as_dict()


class RetentionApi(V1Api):
    """``GET`` / ``PUT`` the tenant's retention policy."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_retention_retrieve",
        responses={200: PolicyOutSerializer, 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        return Response(_policy_body(retention.policy_for(tenant=self.tenant)))

    @extend_schema(
        tags=TAGS,
        operation_id="v1_retention_update",
        request=PolicySerializer,
        description=(
            "Stores the tenant's policy; deletes nothing (the next retention run "
            "applies it). Keys left out keep their value; null is keep forever."
        ),
        responses={200: PolicyOutSerializer, 401: UNAUTHORIZED},
    )
    def put(self, request: Request) -> Response:
        # DRF reads a missing body as ``{}`` and a form as a QueryDict: only a JSON
        # object counts.
        data: object = request.data
        if request.stream is None or isinstance(data, QueryDict):
            data = None
        policy = retention.policy_set(tenant=self.tenant, data=data)
        return Response(_policy_body(policy))


def _tenant_user(api: V1Api, user_id: str) -> User:
    pk = parse_id(user_id)
    user = User.objects.filter(pk=pk, tenant=api.tenant).first() if pk is not None else None
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


@extend_schema(parameters=[USER_ID])
class UserEraseApi(V1Api):
    """``DELETE`` (erase) one of the tenant's users."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_user_erase",
        request=None,
        description=(
            "Erases the user and everything the user owns. Live sockets on their chats "
            "are closed (chat.deleted, 4404). Answers the erasure receipt: pending while "
            "blobs of the user's files are still being removed, then complete."
        ),
        responses={
            200: ReceiptSerializer,
            401: UNAUTHORIZED,
            404: OpenApiResponse(description="User not found or not of your tenant"),
        },
    )
    def delete(self, request: Request, user_id: str) -> Response:
        user = _tenant_user(self, user_id)
        ctx = DeletionContext(
            actor=None,
            interface=DeletionRecord.Interface.API,
            # The route, not the path: the record must not keep the erased user's id.
            endpoint=f"DELETE /api/v1/users/{{id}} [tenant {self.tenant.name}]",
            remote_addr=client_ip(request),
        )
        return Response(receipt(user_erase(user=user, ctx=ctx)))


@extend_schema(parameters=[ERASURE_ID])
class ErasureApi(V1Api):
    """``GET`` an erasure receipt of the tenant."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_erasure_retrieve",
        responses={
            200: ReceiptSerializer,
            401: UNAUTHORIZED,
            404: OpenApiResponse(description="Erasure not found or not of your tenant"),
        },
    )
    def get(self, request: Request, erasure_id: str) -> Response:
        try:
            pk = uuid.UUID(erasure_id) if len(erasure_id) <= 64 else None
        except ValueError:
            pk = None
        erasure = Erasure.objects.filter(pk=pk, tenant=self.tenant).first() if pk else None
        if erasure is None:
            raise NotFound(ERASURE_NOT_FOUND)
        return Response(receipt(erasure_refresh(erasure=erasure)))


async def _async_lines(lines: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``lines`` served by an ASGI server: each is read in a worker thread, so the
    export streams (a synchronous iterator would be read whole first)."""

    def take() -> bytes | None:
        return next(lines, None)

    while True:
        line = await sync_to_async(take, thread_sensitive=True)()
        if line is None:
            return
        yield line


@extend_schema(parameters=[USER_ID])
class UserExportApi(V1Api):
    """``GET`` everything the user owns as NDJSON."""

    @extend_schema(
        tags=TAGS,
        operation_id="v1_user_export",
        description=(
            "Streams the user's data as NDJSON, one object a line with a `type`: user, "
            "project, collection, chat, message, file, and a last `end` line with counts."
        ),
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            401: UNAUTHORIZED,
            404: OpenApiResponse(description="User not found or not of your tenant"),
        },
    )
    def get(self, request: Request, user_id: str) -> StreamingHttpResponse:
        user = _tenant_user(self, user_id)
        lines = user_export_lines(user=user)
        content = _async_lines(lines) if isinstance(request._request, ASGIRequest) else lines
        return StreamingHttpResponse(
            content,
            content_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="user-{user.pk}.ndjson"'},
        )
