"""The v1 chat socket: ``ws://…/ws/v1/chats/<uuid>/``.

Authentication is a tenant's key, in the ``X-API-Key`` header or, for browsers
(which cannot set headers on a WebSocket), the ``api_key`` query parameter. A
missing, unknown or revoked key, a malformed id, an unknown chat and another
tenant's chat are all refused at the handshake (HTTP 403 from the server).

Frames are JSON objects with a ``type``:

client → server
    ``{"type": "message", "content": "...", "role": "user"}`` stores a Message
    (``role`` is optional, ``user`` by default); ``{"type": "ping"}``.
server → client
    ``{"type": "connected", "chat": uuid}`` after the handshake;
    ``{"type": "message", "chat": uuid, "message": {...}}`` for a message posted by
    someone else (another socket or the REST API); ``{"type": "message.sent", …}``
    confirms the sender's own message; ``{"type": "pong"}``;
    ``{"type": "error", "detail": "..."}`` for a bad frame or a message that cannot
    be stored (empty, NUL characters, longer than ``MAX_MESSAGE_LENGTH``, unknown
    role); ``{"type": "error", "detail": "...", "code": "rate_limited",
    "retry_after": seconds}`` for a message over the key's budget (``MESSAGE_RATE``,
    shared with the key's REST posts). The socket stays open after every error
    frame, and nothing is stored;
    ``{"type": "chat.deleted", "chat": uuid}`` and then close code 4404 when the
    chat is deleted (through any door) or, a temporary chat, expires; close code
    4401 when the key is revoked.

Expiry: a temporary chat's socket knows the chat's ``expires_at`` from the handshake.
From that moment the chat is gone for every reader, before a retention run removes
its rows: the heartbeat wakes at the expiry, and every frame and every delivery
checks it first, so the socket gets ``chat.deleted`` and 4404 and nothing more.

Revocation: the socket is in its key's group (:func:`neptun.keys.key_group`) and
``neptun.keys.api_keys_revoke`` sends ``key.revoked`` there after commit, which
closes it with 4401 at once. Each delivery of a message also checks the key in the
database first, so a revocation that no event carried
(another process without ``REDIS_URL``, a direct update) still lets nothing through;
the heartbeat closes such a socket at the latest.

Presence: the socket is recorded in ``ChatConnection`` before it is accepted
(see :mod:`chats.presence` for how that serializes with a delete), refreshed every
``CHAT_CONNECTION_TTL / 3`` seconds and on each received frame, and removed in a
``finally`` around the whole consumer: a consumer whose send to a vanished client
raises never reaches its disconnect handler, and a record left behind would answer
409 until its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from datetime import datetime
from typing import cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from chats import presence
from chats.models import Chat, Message
from chats.services import chat_group
from chats.writes import message_create
from neptun.api.v1 import selectors
from neptun.authentication import ApiKeyAuthentication, ApiKeyPrincipal
from neptun.exceptions import InvalidInput, NotFound
from neptun.keys import key_group
from neptun.models import ApiKey
from neptun.throttling import MessageRateThrottle, key_principal

logger = logging.getLogger("neptun.ws")

#: Close codes (4000-4999 are the application's).
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


class RateLimited(Exception):
    """A message frame over the key's budget; ``wait`` seconds until one fits."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


def key_from_scope(scope: dict) -> str:
    """The key in the ``X-API-Key`` header, else in the ``api_key`` query parameter."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-api-key" and value:
            return value.decode("latin-1").strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("api_key") or [""])[0].strip()


def handshake_request(scope: dict, secret: str) -> Request:
    """The handshake as a request, for the REST API's key authentication.

    It carries the key, the connection's peer and its ``X-Forwarded-For`` (failed
    attempts are throttled per client address, for sockets as for HTTP, and
    :func:`neptun.client_address.client_address` decides that address from these
    two as it does for HTTP).
    """
    http = HttpRequest()
    http.method = "GET"
    http.path = http.path_info = scope.get("path", "")
    client = scope.get("client") or ("", 0)
    http.META = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": http.path,
        "REMOTE_ADDR": client[0] or "",
        "HTTP_X_API_KEY": secret,
    }
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.lower() == b"x-forwarded-for"
    ]
    if forwarded:
        http.META["HTTP_X_FORWARDED_FOR"] = ",".join(forwarded)
    return Request(http)


def authenticate(scope: dict) -> ApiKeyPrincipal | None:
    """The REST API's rules: hash lookup, revocation, ``last_used_at``, throttling."""
    secret = key_from_scope(scope)
    if not secret:
        return None
    try:
        result = ApiKeyAuthentication().authenticate(handshake_request(scope, secret))
    except APIException:  # unknown or revoked key, or too many failures (429)
        return None
    return result[0] if result else None


def _key_valid(key_id: int) -> bool:
    return ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True).exists()


def _open(principal: ApiKeyPrincipal, chat_uuid: uuid.UUID, connection_id: str):
    return presence.connection_open(
        chats=selectors.tenant_chats(tenant=principal.tenant),
        chat_uuid=chat_uuid,
        connection_id=connection_id,
    )


def _chat_id(principal: ApiKeyPrincipal, chat_uuid: uuid.UUID) -> int | None:
    return (
        selectors.tenant_chats(tenant=principal.tenant)
        .filter(uuid=chat_uuid)
        .values_list("id", flat=True)
        .first()
    )


def _beat(*, chat_id: int, connection_id: str, key_id: int) -> str:
    """Refresh the record; ``"ok"``, ``"chat_gone"`` or ``"key_revoked"``."""
    if not _key_valid(key_id):
        return "key_revoked"
    state = presence.connection_heartbeat(chat_id=chat_id, connection_id=connection_id)
    return "chat_gone" if state is presence.Heartbeat.CHAT_GONE else "ok"


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """A chat room on one chat, with presence recorded for the v1 DELETE's 409."""

    async def __call__(self, scope, receive, send):
        self.principal: ApiKeyPrincipal | None = None
        self.chat_id: int | None = None
        self.chat_uuid: uuid.UUID | None = None
        self.expires_at: datetime | None = None
        self.group: str | None = None
        self.key_group: str | None = None
        self.connection_id: str | None = None
        self.accepted = False
        self.closing = False
        self._heartbeat: asyncio.Task | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        principal = await database_sync_to_async(authenticate)(self.scope)
        if principal is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        chat_uuid = selectors.parse_chat_uuid(self.scope["url_route"]["kwargs"].get("chat_uuid"))
        chat_id = (
            await database_sync_to_async(_chat_id)(principal, chat_uuid) if chat_uuid else None
        )
        if chat_id is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # In the key's group before the key is checked once more: a revocation that
        # commits after this check reaches the socket as ``key.revoked``.
        self.key_group = key_group(principal.api_key.pk)
        await self.channel_layer.group_add(self.key_group, self.channel_name)
        if not await database_sync_to_async(_key_valid)(principal.api_key.pk):
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # Join the group before the presence record exists: a deletion that does not
        # refuse (admin, command, other dialects) and commits after the record
        # notifies the group after its commit, and this socket is in it by then.
        self.group = chat_group(chat_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Known before the record exists, so that the ``finally`` removes it even if
        # this task is cancelled while the insert is running.
        self.connection_id = f"{uuid.uuid4().hex}:{self.channel_name}"[:200]
        chat = await database_sync_to_async(_open)(principal, chat_uuid, self.connection_id)
        if chat is None:  # deleted between the two queries
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.principal, self.chat_id, self.chat_uuid = principal, chat.pk, chat.uuid
        self.expires_at = chat.expires_at
        await self.accept()
        self.accepted = True
        await self.send_json({"type": "connected", "chat": str(self.chat_uuid)})
        self._heartbeat = asyncio.create_task(self._heartbeat_loop())

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        """Stop the heartbeat, leave the group, remove the presence record. Idempotent."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for attr in ("group", "key_group"):
            group = getattr(self, attr)
            setattr(self, attr, None)
            if group is not None:
                try:
                    await self.channel_layer.group_discard(group, self.channel_name)
                except Exception:
                    logger.exception("could not leave group %s", group)
        connection_id, self.connection_id = self.connection_id, None
        if connection_id is not None:
            try:
                await database_sync_to_async(presence.connection_close)(connection_id=connection_id)
            except Exception:
                # The record goes stale after the TTL and stops counting then.
                logger.exception("could not remove presence record %s", connection_id)

    # ------------------------------------------------------------------ heartbeat

    async def _heartbeat_loop(self) -> None:
        interval = presence.heartbeat_interval()
        while True:
            await asyncio.sleep(self._until_next_beat(interval))
            if not await self._refresh():
                return  # closing: the chat or the key is gone

    def _until_next_beat(self, interval: float) -> float:
        """Seconds to the next beat: ``interval``, or less to wake at the expiry."""
        if self.expires_at is None:
            return interval
        left = (self.expires_at - timezone.now()).total_seconds()
        return min(interval, max(left, 0.0) + 0.01)

    def _expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    async def _refresh(self) -> bool:
        """Refresh presence; close the socket when the chat or the key is gone."""
        if self.connection_id is None or self.chat_id is None or self.principal is None:
            return False
        if self._expired():
            await self._chat_gone()
            return False
        try:
            state = await database_sync_to_async(_beat)(
                chat_id=self.chat_id,
                connection_id=self.connection_id,
                key_id=self.principal.api_key.pk,
            )
        except Exception:
            logger.exception("heartbeat of %s failed", self.connection_id)
            return True
        if state == "chat_gone":
            await self._chat_gone()
            return False
        if state == "key_revoked":
            await self._close(CLOSE_UNAUTHORIZED)
            return False
        return True

    async def _close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        await self.close(code=code)

    async def _chat_gone(self) -> None:
        if self.closing or not self.accepted:
            return
        await self.send_json({"type": "chat.deleted", "chat": str(self.chat_uuid)})
        await self._close(CLOSE_NOT_FOUND)

    # ------------------------------------------------------------------ frames

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.closing:
            return
        if text_data is None:
            await self._error("Frames are JSON text.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("Frames are JSON text.")
            return
        if not isinstance(content, dict):
            await self._error('A frame is a JSON object with a "type".')
            return
        if not await self._refresh():
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "message":
            await self._post(content)
        else:
            await self._error('Unknown "type"; use "message" or "ping".')

    async def _post(self, content: dict) -> None:
        try:
            message = await database_sync_to_async(self._store)(
                content.get("role", Message.Role.USER), content.get("content")
            )
        except RateLimited as exc:
            await self.send_json(
                {
                    "type": "error",
                    "detail": f"Too many messages; try again in {exc.wait} seconds.",
                    "code": "rate_limited",
                    "retry_after": exc.wait,
                }
            )
            return
        except InvalidInput as exc:
            await self._error(exc.message)
            return
        except NotFound:
            await self._chat_gone()
            return
        await self.channel_layer.group_send(
            self.group,
            presence.message_event(message, chat_uuid=self.chat_uuid, sender=self.channel_name),
        )

    def _store(self, role: object, text: object) -> Message:
        """Spend one post of the key's budget (shared with its REST posts), then store.

        Validation is :func:`chats.writes.message_create`'s, as for REST: ``role`` and
        ``text`` are what the frame held, whatever their type.
        """
        principal, chat_uuid = self.principal, self.chat_uuid
        if principal is None or chat_uuid is None:  # set by connect() before any frame
            raise RuntimeError("a frame before the socket was opened")
        throttle = MessageRateThrottle()
        if not throttle.allow_principal(key_principal(principal.api_key)):
            raise RateLimited(math.ceil(throttle.wait()))
        chat = Chat(pk=self.chat_id, uuid=chat_uuid)
        return message_create(
            chat=chat, role=cast(str, role), content=cast(str, text), announce=False
        )

    async def _error(self, detail: str) -> None:
        await self.send_json({"type": "error", "detail": detail})

    # ------------------------------------------------------------------ group events

    async def _may_deliver(self) -> bool:
        """Whether the socket's key is still valid; closes it (4401) when not."""
        if not self.accepted or self.closing or self.principal is None:
            return False
        if self._expired():
            await self._chat_gone()
            return False
        try:
            valid = await database_sync_to_async(_key_valid)(self.principal.api_key.pk)
        except Exception:
            logger.exception("could not check the key of %s", self.connection_id)
            return False  # nothing reaches a key that could not be checked
        if not valid:
            await self._close(CLOSE_UNAUTHORIZED)
        return valid

    async def chat_message(self, event: dict) -> None:
        if not await self._may_deliver():
            return
        own = event.get("sender") is not None and event.get("sender") == self.channel_name
        await self.send_json(
            {
                "type": "message.sent" if own else "message",
                "chat": event["chat"],
                "message": event["message"],
            }
        )

    async def chat_deleted(self, event: dict) -> None:
        await self._chat_gone()

    async def key_revoked(self, event: dict) -> None:
        await self._close(CLOSE_UNAUTHORIZED)


class RefuseConsumer(AsyncJsonWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
