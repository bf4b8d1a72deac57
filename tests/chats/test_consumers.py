"""The v1 chat socket: handshake, messaging, presence and what a delete does to it."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from chats import services
from chats.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHORIZED, ChatConsumer
from chats.deletion import effects
from chats.models import Chat, ChatConnection, Message
from neptun.asgi import application
from neptun.models import ApiKey
from tests.factories import ChatFactory, MessageFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5


@pytest.fixture(autouse=True)
def _fresh_failure_counts():
    """Failed key attempts are throttled per address (in the cache); start each test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def secret(api_key) -> str:
    return api_key[1]


@pytest.fixture
def chat(tenant):
    return ChatFactory(owner=UserFactory(tenant=tenant))


def socket(chat_id, secret: str | None = None, *, query: bool = False, path: str | None = None):
    path = path or f"/ws/v1/chats/{chat_id}/"
    headers = []
    if secret is not None and query:
        path += f"?api_key={secret}"
    elif secret is not None:
        headers = [(b"x-api-key", secret.encode())]
    return WebsocketCommunicator(application, path, headers=headers)


async def open_socket(chat, secret, **kwargs) -> WebsocketCommunicator:
    communicator = socket(chat.uuid, secret, **kwargs)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert await communicator.receive_json_from(TIMEOUT) == {
        "type": "connected",
        "chat": str(chat.uuid),
    }
    return communicator


@database_sync_to_async
def connections_of(chat) -> int:
    return ChatConnection.objects.filter(chat_id=chat.pk).count()


@database_sync_to_async
def api_delete(chat_id, secret):
    client = APIClient()
    return client.delete(f"/api/v1/chats/{chat_id}", HTTP_X_API_KEY=secret)


async def closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(TIMEOUT)
    assert output["type"] == "websocket.close", output
    return output["code"]


# --------------------------------------------------------------------------- handshake


async def test_a_tenant_key_in_the_header_connects_and_is_recorded(chat, secret):
    communicator = await open_socket(chat, secret)
    try:
        assert await connections_of(chat) == 1
        assert await database_sync_to_async(services.live_connections)(chat) == 1
    finally:
        await communicator.disconnect()
    assert await connections_of(chat) == 0


async def test_the_key_in_the_query_string_works_for_browsers(chat, secret):
    communicator = await open_socket(chat, secret, query=True)
    await communicator.disconnect()


async def test_the_path_without_trailing_slash_works(chat, secret):
    communicator = socket(chat.uuid, secret, path=f"/ws/v1/chats/{chat.uuid}")
    assert (await communicator.connect(TIMEOUT))[0]
    await communicator.disconnect()


@pytest.mark.parametrize("key", [None, "", "nk_wrong"], ids=["missing", "empty", "unknown"])
async def test_a_bad_key_is_refused_at_the_handshake(chat, key):
    communicator = socket(chat.uuid, key)
    assert await communicator.connect(TIMEOUT) == (False, CLOSE_UNAUTHORIZED)
    assert await connections_of(chat) == 0


async def test_too_many_failed_attempts_refuse_even_a_valid_key(chat, secret, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    for _ in range(3):
        assert (await socket(chat.uuid, "nk_guess").connect(TIMEOUT))[0] is False
    assert await socket(chat.uuid, secret).connect(TIMEOUT) == (False, CLOSE_UNAUTHORIZED)
    await database_sync_to_async(cache.clear)()
    communicator = await open_socket(chat, secret)
    await communicator.disconnect()


def socket_from(chat, secret: str, peer: str, forwarded_for: str | None = None):
    headers = [(b"x-api-key", secret.encode())]
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/v1/chats/{chat.uuid}/", headers)
    communicator.scope["client"] = (peer, 40000)
    return communicator


async def test_a_forged_x_forwarded_for_does_not_escape_the_handshake_throttle(
    chat, secret, settings
):
    settings.AUTH_FAILURE_LIMIT = 3
    for i in range(3):
        guess = socket_from(chat, "nk_guess", "203.0.113.7", f"192.0.2.{i + 1}")
        assert (await guess.connect(TIMEOUT))[0] is False
    forged = socket_from(chat, secret, "203.0.113.7", "192.0.2.99")
    assert await forged.connect(TIMEOUT) == (False, CLOSE_UNAUTHORIZED)
    victim = socket_from(chat, secret, "198.51.100.9", "203.0.113.7")
    assert (await victim.connect(TIMEOUT))[0] is True
    await victim.disconnect()


async def test_behind_a_trusted_proxy_the_handshake_throttles_the_hop_it_added(
    chat, secret, settings
):
    settings.AUTH_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    for i in range(3):
        guess = socket_from(chat, "nk_guess", "10.0.0.2", f"192.0.2.{i + 1}, 203.0.113.7")
        assert (await guess.connect(TIMEOUT))[0] is False
    again = socket_from(chat, secret, "10.0.0.2", "192.0.2.99, 203.0.113.7")
    assert await again.connect(TIMEOUT) == (False, CLOSE_UNAUTHORIZED)
    other = socket_from(chat, secret, "10.0.0.2", "203.0.113.7, 198.51.100.9")
    assert (await other.connect(TIMEOUT))[0] is True
    await other.disconnect()


async def test_the_handshake_updates_last_used_at(chat, api_key):
    key, secret = api_key
    communicator = await open_socket(chat, secret)
    await communicator.disconnect()
    await database_sync_to_async(key.refresh_from_db)()
    assert key.last_used_at is not None


async def test_a_revoked_key_is_refused(chat, api_key):
    key, secret = api_key
    await database_sync_to_async(ApiKey.objects.filter(pk=key.pk).update)(revoked_at=timezone.now())
    assert await socket(chat.uuid, secret).connect(TIMEOUT) == (False, CLOSE_UNAUTHORIZED)


async def test_another_tenants_chat_is_refused_and_not_recorded(secret, db):
    foreign = await database_sync_to_async(ChatFactory)(
        owner=await database_sync_to_async(UserFactory)(tenant=None)
    )
    other_tenant = await database_sync_to_async(TenantFactory)()
    foreign2 = await database_sync_to_async(ChatFactory)(
        owner=await database_sync_to_async(UserFactory)(tenant=other_tenant)
    )
    for chat in (foreign, foreign2):
        assert await socket(chat.uuid, secret).connect(TIMEOUT) == (False, CLOSE_NOT_FOUND)
    assert await database_sync_to_async(ChatConnection.objects.count)() == 0


@pytest.mark.parametrize("chat_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
async def test_a_malformed_or_unknown_chat_is_refused(secret, chat_id):
    assert await socket(chat_id, secret).connect(TIMEOUT) == (False, CLOSE_NOT_FOUND)


async def test_other_paths_are_refused(secret):
    communicator = socket(None, secret, path="/ws/nothing/")
    assert await communicator.connect(TIMEOUT) == (False, CLOSE_NOT_FOUND)


# --------------------------------------------------------------------------- messaging


async def test_a_message_is_stored_and_reaches_the_other_sockets(chat, secret):
    alice = await open_socket(chat, secret)
    bob = await open_socket(chat, secret)
    try:
        await alice.send_json_to({"type": "message", "content": "Hi Bob"})

        mine = await alice.receive_json_from(TIMEOUT)
        theirs = await bob.receive_json_from(TIMEOUT)

        stored = await database_sync_to_async(Message.objects.get)()
        assert stored.chat_id == chat.pk
        assert (stored.role, stored.content) == ("user", "Hi Bob")
        assert mine["type"] == "message.sent"
        assert theirs["type"] == "message"
        assert theirs["chat"] == mine["chat"] == str(chat.uuid)
        assert theirs["message"] == mine["message"]
        assert theirs["message"]["id"] == stored.pk
        assert theirs["message"]["content"] == "Hi Bob"
        assert theirs["message"]["role"] == "user"

        await bob.send_json_to({"type": "message", "content": "Hello", "role": "assistant"})
        assert (await bob.receive_json_from(TIMEOUT))["type"] == "message.sent"
        got = await alice.receive_json_from(TIMEOUT)
        assert (got["type"], got["message"]["content"], got["message"]["role"]) == (
            "message",
            "Hello",
            "assistant",
        )
        assert await alice.receive_nothing(0.2)
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_sockets_of_another_chat_hear_nothing(chat, secret, tenant):
    other = await database_sync_to_async(ChatFactory)(owner=chat.owner)
    here = await open_socket(chat, secret)
    there = await open_socket(other, secret)
    try:
        await here.send_json_to({"type": "message", "content": "private"})
        assert (await here.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert await there.receive_nothing(0.3)
    finally:
        await here.disconnect()
        await there.disconnect()


async def test_a_message_posted_through_rest_reaches_the_sockets(chat, secret):
    listener = await open_socket(chat, secret)
    try:
        response = await database_sync_to_async(APIClient().post)(
            f"/api/v1/chats/{chat.uuid}/messages",
            {"content": "from REST", "role": "system"},
            format="json",
            HTTP_X_API_KEY=secret,
        )
        assert response.status_code == 201
        event = await listener.receive_json_from(TIMEOUT)
        assert event["type"] == "message"
        assert event["message"]["content"] == "from REST"
        assert event["message"]["id"] == response.json()["id"]
    finally:
        await listener.disconnect()


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        ("not json", "Frames are JSON text."),
        ("[1, 2]", 'A frame is a JSON object with a "type".'),
        ('{"type": "dance"}', 'Unknown "type"; use "message" or "ping".'),
        ('{"type": "message"}', '"content" must be a non-empty string.'),
        ('{"type": "message", "content": "  "}', '"content" must be a non-empty string.'),
        ('{"type": "message", "content": 5}', '"content" must be a non-empty string.'),
        (
            '{"type": "message", "content": "x", "role": "robot"}',
            '"role" must be one of user, assistant, system.',
        ),
        (
            '{"type": "message", "content": "a\\u0000b"}',
            '"content" must not contain NUL (\\u0000) characters.',
        ),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(chat, secret, frame, detail):
    communicator = await open_socket(chat, secret)
    try:
        await communicator.send_to(text_data=frame)
        assert await communicator.receive_json_from(TIMEOUT) == {"type": "error", "detail": detail}
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(TIMEOUT) == {"type": "pong"}
        assert await database_sync_to_async(Message.objects.count)() == 0
    finally:
        await communicator.disconnect()


async def test_binary_frames_get_an_error(chat, secret):
    communicator = await open_socket(chat, secret)
    try:
        await communicator.send_to(bytes_data=b"\x00\x01")
        assert (await communicator.receive_json_from(TIMEOUT))["type"] == "error"
    finally:
        await communicator.disconnect()


# --------------------------------------------------------------------------- presence


async def test_the_heartbeat_refreshes_the_record_periodically(chat, secret, settings):
    settings.CHAT_CONNECTION_TTL = 1.5  # heartbeat every 0.5 s
    communicator = await open_socket(chat, secret)
    try:
        old = timezone.now() - timedelta(hours=1)
        await database_sync_to_async(ChatConnection.objects.update)(last_seen_at=old)
        assert await database_sync_to_async(services.live_connections)(chat) == 0
        for _ in range(100):
            await asyncio.sleep(0.1)
            if await database_sync_to_async(services.live_connections)(chat) == 1:
                break
        assert await database_sync_to_async(services.live_connections)(chat) == 1
    finally:
        await communicator.disconnect()


async def test_each_received_frame_refreshes_the_record(chat, secret):
    communicator = await open_socket(chat, secret)
    try:
        old = timezone.now() - timedelta(hours=1)
        await database_sync_to_async(ChatConnection.objects.update)(last_seen_at=old)
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(TIMEOUT) == {"type": "pong"}
        record = await database_sync_to_async(ChatConnection.objects.get)()
        assert record.last_seen_at > timezone.now() - timedelta(seconds=5)
    finally:
        await communicator.disconnect()


async def test_a_removed_record_is_recreated_by_the_next_heartbeat(chat, secret):
    communicator = await open_socket(chat, secret)
    try:
        await database_sync_to_async(ChatConnection.objects.all().delete)()
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(TIMEOUT) == {"type": "pong"}
        assert await connections_of(chat) == 1
    finally:
        await communicator.disconnect()


async def test_a_revoked_key_closes_its_open_sockets_at_the_next_heartbeat(chat, api_key):
    key, secret = api_key
    communicator = await open_socket(chat, secret)
    await database_sync_to_async(ApiKey.objects.filter(pk=key.pk).update)(revoked_at=timezone.now())
    await communicator.send_json_to({"type": "message", "content": "still here?"})
    assert await closed_with(communicator) == CLOSE_UNAUTHORIZED
    await communicator.disconnect(code=CLOSE_UNAUTHORIZED)
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert await connections_of(chat) == 0


def _admin_revoke(key: ApiKey) -> None:
    """Revoke through the admin's action, as staff do."""
    from django.contrib.admin import helpers
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:neptun_apikey_changelist"),
        {"action": "revoke", helpers.ACTION_CHECKBOX_NAME: [str(key.pk)]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


async def test_revoking_a_key_closes_its_open_sockets_at_once(chat, api_key, tenant, settings):
    """Not at the next heartbeat (an hour away here): the revocation tells the socket,
    and it receives nothing more — not the other client's next message."""
    settings.CHAT_CONNECTION_TTL = 3 * 3600
    key, secret = api_key
    _, other_secret = await database_sync_to_async(ApiKey.generate)(tenant=tenant, name="other")
    revoked = await open_socket(chat, secret)
    other = await open_socket(chat, other_secret)
    try:
        await database_sync_to_async(_admin_revoke)(key)
        assert await closed_with(revoked) == CLOSE_UNAUTHORIZED
        await other.send_json_to({"type": "message", "content": "for valid keys only"})
        assert (await other.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert await revoked.receive_nothing(0.3)
    finally:
        await revoked.disconnect(code=CLOSE_UNAUTHORIZED)
        await other.disconnect()
    assert await connections_of(chat) == 0


async def test_a_revocation_no_event_carried_still_lets_no_message_through(
    chat, api_key, tenant, settings
):
    """A key revoked where no event reaches this process (another worker without
    REDIS_URL, an update in the database): each delivery checks the key."""
    settings.CHAT_CONNECTION_TTL = 3 * 3600
    key, secret = api_key
    _, other_secret = await database_sync_to_async(ApiKey.generate)(tenant=tenant, name="other")
    revoked = await open_socket(chat, secret)
    other = await open_socket(chat, other_secret)
    try:
        await database_sync_to_async(ApiKey.objects.filter(pk=key.pk).update)(
            revoked_at=timezone.now()
        )
        await other.send_json_to({"type": "message", "content": "for valid keys only"})
        assert (await other.receive_json_from(TIMEOUT))["type"] == "message.sent"
        assert await closed_with(revoked) == CLOSE_UNAUTHORIZED  # not the message
        assert await revoked.receive_nothing(0.3)
    finally:
        await revoked.disconnect(code=CLOSE_UNAUTHORIZED)
        await other.disconnect()


async def test_revoking_one_key_leaves_the_sockets_of_other_keys_open(chat, api_key, tenant):
    key, secret = api_key
    _, other_secret = await database_sync_to_async(ApiKey.generate)(tenant=tenant, name="other")
    revoked = await open_socket(chat, secret)
    other = await open_socket(chat, other_secret)
    try:
        await database_sync_to_async(_admin_revoke)(key)
        assert await closed_with(revoked) == CLOSE_UNAUTHORIZED
        await other.send_json_to({"type": "ping"})
        assert await other.receive_json_from(TIMEOUT) == {"type": "pong"}
    finally:
        await revoked.disconnect(code=CLOSE_UNAUTHORIZED)
        await other.disconnect()


async def test_the_record_is_removed_even_when_a_send_to_a_vanished_client_raises(chat, secret):
    """The consumer never reaches its disconnect handler; its ``finally`` cleans up."""
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []

    async def receive():
        return await inbox.get()

    async def send(message):
        if message["type"] == "websocket.send" and len(sent) >= 2:
            raise ConnectionResetError("client vanished")
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": f"/ws/v1/chats/{chat.uuid}/",
        "query_string": b"",
        "headers": [(b"x-api-key", secret.encode())],
        "subprotocols": [],
        "url_route": {"args": (), "kwargs": {"chat_uuid": str(chat.uuid)}},
    }
    task = asyncio.create_task(ChatConsumer.as_asgi()(scope, receive, send))
    await inbox.put({"type": "websocket.connect"})
    for _ in range(50):
        if len(sent) == 2:
            break
        await asyncio.sleep(0.05)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]
    assert await connections_of(chat) == 1

    # Another socket's message arrives; relaying it to this client raises.
    await get_channel_layer().group_send(
        services.chat_group(chat.pk),
        {"type": "chat.message", "chat": str(chat.uuid), "message": {}, "sender": None},
    )
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(task, TIMEOUT)
    assert await connections_of(chat) == 0


# --------------------------------------------------------------------------- deletion


async def test_409_then_close_the_socket_then_200(chat, secret):
    await database_sync_to_async(MessageFactory)(chat=chat)
    communicator = await open_socket(chat, secret)

    refused = await api_delete(chat.uuid, secret)

    assert refused.status_code == 409
    assert refused.json()["active_connections"] == 1
    assert set(refused.json()) == {"detail", "active_connections"}
    assert await database_sync_to_async(Chat.objects.filter(pk=chat.pk).exists)()
    assert await communicator.receive_nothing(0.1)  # the socket is untouched

    await communicator.disconnect()
    deleted = await api_delete(chat.uuid, secret)

    assert deleted.status_code == 200
    assert deleted.json()["success"] is True
    assert not await database_sync_to_async(Chat.objects.filter(pk=chat.pk).exists)()
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_two_sockets_count_two(chat, secret):
    first = await open_socket(chat, secret)
    second = await open_socket(chat, secret, query=True)
    try:
        assert (await api_delete(chat.uuid, secret)).json()["active_connections"] == 2
        await first.disconnect()
        assert (await api_delete(chat.uuid, secret)).json()["active_connections"] == 1
    finally:
        await second.disconnect()
    assert (await api_delete(chat.uuid, secret)).status_code == 200


async def test_a_stale_record_of_a_crashed_process_does_not_block(chat, secret, settings):
    settings.CHAT_CONNECTION_TTL = 60
    await database_sync_to_async(ChatConnection.objects.create)(
        chat=chat,
        connection_id="crashed-worker",
        last_seen_at=timezone.now() - timedelta(seconds=61),
    )
    response = await api_delete(chat.uuid, secret)
    assert response.status_code == 200


async def test_a_delete_that_does_not_refuse_closes_the_sockets_after_commit(chat, secret):
    """Admin, command and the other dialects delete anyway; the sockets are told."""
    alice = await open_socket(chat, secret)
    bob = await open_socket(chat, secret)
    ctx = services.DeletionContext(actor=None, interface="admin", endpoint="test")

    await database_sync_to_async(services.chats_delete)(
        chats=Chat.objects.filter(pk=chat.pk), ctx=ctx
    )

    for communicator in (alice, bob):
        assert await communicator.receive_json_from(TIMEOUT) == {
            "type": "chat.deleted",
            "chat": str(chat.uuid),
        }
        assert await closed_with(communicator) == CLOSE_NOT_FOUND
        await communicator.disconnect(code=CLOSE_NOT_FOUND)
    assert await database_sync_to_async(ChatConnection.objects.count)() == 0


async def test_a_delete_in_another_process_is_noticed_by_the_heartbeat(
    chat, secret, settings, monkeypatch
):
    """Without a shared channel layer the event never arrives; the heartbeat sees the chat gone."""
    settings.CHAT_CONNECTION_TTL = 1.5
    monkeypatch.setattr(effects, "notify_chats_deleted", lambda chat_ids: None)
    communicator = await open_socket(chat, secret)
    ctx = services.DeletionContext(actor=None, interface="command", endpoint="test")

    await database_sync_to_async(services.chats_delete)(
        chats=Chat.objects.filter(pk=chat.pk), ctx=ctx
    )

    assert await communicator.receive_json_from(TIMEOUT) == {
        "type": "chat.deleted",
        "chat": str(chat.uuid),
    }
    assert await closed_with(communicator) == CLOSE_NOT_FOUND
    await communicator.disconnect(code=CLOSE_NOT_FOUND)


async def test_posting_to_a_chat_deleted_meanwhile_closes_the_socket(chat, secret, monkeypatch):
    monkeypatch.setattr(effects, "notify_chats_deleted", lambda chat_ids: None)
    communicator = await open_socket(chat, secret)
    ctx = services.DeletionContext(actor=None, interface="command", endpoint="test")
    await database_sync_to_async(services.chats_delete)(
        chats=Chat.objects.filter(pk=chat.pk), ctx=ctx
    )

    await communicator.send_json_to({"type": "message", "content": "anyone?"})

    assert (await communicator.receive_json_from(TIMEOUT))["type"] == "chat.deleted"
    assert await closed_with(communicator) == CLOSE_NOT_FOUND
    await communicator.disconnect(code=CLOSE_NOT_FOUND)
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_connect_waiting_on_a_deletion_is_refused_once_it_commits(
    chat, secret, monkeypatch
):
    """Connect and delete serialize on the chat row: the socket finds the chat gone."""
    # The deletion runs in a plain thread, outside this event loop; its socket notice
    # is not what this test is about.
    monkeypatch.setattr(effects, "notify_chats_deleted", lambda chat_ids: None)
    locked = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def delete_slowly() -> None:
        try:
            with transaction.atomic():
                Chat.objects.select_for_update().filter(pk=chat.pk).first()
                locked.set()
                release.wait(TIMEOUT)
                ctx = services.DeletionContext(actor=None, interface="admin", endpoint="race")
                services.chat_delete(chat=chat, ctx=ctx)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    deleter = threading.Thread(target=delete_slowly)
    deleter.start()
    try:
        assert await asyncio.to_thread(locked.wait, TIMEOUT)
        communicator = socket(chat.uuid, secret)
        connecting = asyncio.create_task(communicator.connect(TIMEOUT * 2))
        await asyncio.sleep(0.5)
        assert not connecting.done()  # waiting for the deletion's lock
        release.set()
        assert await connecting == (False, CLOSE_NOT_FOUND)
    finally:
        release.set()
        await asyncio.to_thread(deleter.join, TIMEOUT * 2)
    assert not errors
    assert await database_sync_to_async(ChatConnection.objects.count)() == 0
    assert not await database_sync_to_async(Chat.objects.filter(pk=chat.pk).exists)()
