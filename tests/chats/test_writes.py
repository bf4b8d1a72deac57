"""``chats.writes.message_create``: the one way a message is stored, for every door."""

from __future__ import annotations

import pytest

from chats.models import Chat, Message
from chats.writes import message_create
from neptun.exceptions import InvalidInput, NotFound
from tests.factories import ChatFactory

pytestmark = pytest.mark.django_db


def test_stores_the_message_and_marks_the_chats_last_activity():
    chat = ChatFactory()
    message = message_create(chat=chat, role="assistant", content="Hello")
    chat.refresh_from_db()
    assert (message.chat_id, message.role, message.content) == (chat.pk, "assistant", "Hello")
    assert chat.updated_at == message.created_at


def test_role_defaults_to_user():
    assert message_create(chat=ChatFactory(), content="q").role == Message.Role.USER


@pytest.mark.parametrize(
    ("role", "content", "field", "message"),
    [
        ("user", "", "content", '"content" must be a non-empty string.'),
        ("user", " \n", "content", '"content" must be a non-empty string.'),
        ("user", 5, "content", '"content" must be a non-empty string.'),
        ("user", "a\x00", "content", '"content" must not contain NUL (\\u0000) characters.'),
        ("user", "x" * 11, "content", '"content" is longer than 10 characters.'),
        ("robot", "x", "role", '"role" must be one of user, assistant, system.'),
        (None, "x", "role", '"role" must be one of user, assistant, system.'),
    ],
)
def test_invalid_input_names_its_field_and_stores_nothing(settings, role, content, field, message):
    settings.MAX_MESSAGE_LENGTH = 10
    chat = ChatFactory()
    with pytest.raises(InvalidInput) as raised:
        message_create(chat=chat, role=role, content=content)
    assert (raised.value.message, raised.value.extra["field"]) == (message, field)
    assert not Message.objects.exists()


def test_exactly_the_cap_is_stored(settings):
    settings.MAX_MESSAGE_LENGTH = 10
    assert message_create(chat=ChatFactory(), content="x" * 10).content == "x" * 10


def test_a_deleted_chat_is_not_found():
    chat = ChatFactory()
    Chat.objects.filter(pk=chat.pk).delete()
    with pytest.raises(NotFound):
        message_create(chat=chat, content="late")
    assert not Message.objects.exists()
