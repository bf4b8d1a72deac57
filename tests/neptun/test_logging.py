"""Structured logs: a JSON line per request and per deletion."""

from __future__ import annotations

import json
import logging

import pytest

from chats import services
from neptun.logging import JsonFormatter
from tests.factories import ChatFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_json_formatter_puts_extra_fields_on_top():
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "msg": "hello %s", "args": ("you",), "event": "e"}
    )
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "hello you"
    assert data["event"] == "e"
    assert data["ts"].endswith("Z")


def test_one_request_line_with_timing(client, caplog):
    with caplog.at_level(logging.INFO, logger="neptun.request"):
        client.get("/healthz")
    lines = [r for r in caplog.records if getattr(r, "event", None) == "request"]
    assert len(lines) == 1
    assert lines[0].path == "/healthz"
    assert lines[0].status == 200
    assert lines[0].duration_ms >= 0


def test_one_deletion_line_with_counts(user, caplog):
    chat = ChatFactory(owner=user)
    MessageFactory.create_batch(2, chat=chat)
    ctx = services.DeletionContext(actor=user, interface="api", endpoint="DELETE /x")
    with caplog.at_level(logging.INFO, logger="neptun.deletion"):
        services.chat_delete(chat=chat, ctx=ctx)
    lines = [r for r in caplog.records if getattr(r, "event", None) == "deletion"]
    assert len(lines) == 1
    assert lines[0].counts["messages"] == 2
    assert lines[0].actor == user.email
