"""Structured logs: a JSON line per request and per deletion."""

from __future__ import annotations

import json
import logging
import sys
import time

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


@pytest.mark.slow
def test_dev_server_logs_one_line_per_request(tmp_path):
    """``manage.py runserver`` (daphne) as bin/serve runs it: each request is one log line,
    not Neptun's, daphne's and ``django`` console handler's copies of it."""
    import subprocess
    import uuid

    import requests

    from tests.servers import HOST, REPO, STARTUP_TIMEOUT, free_port, server_env

    port = free_port()
    env = server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_LEVEL="INFO")
    env.pop("LOG_FORMAT", None)
    log_path = tmp_path / "server.log"
    marker = uuid.uuid4().hex
    ok_path, missing_path = "/healthz", f"/api/users/1/nothing-{marker}"
    with log_path.open("wb") as log:
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"{HOST}:{port}"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            healthz_answers = 0
            for _ in range(STARTUP_TIMEOUT * 5):
                assert process.poll() is None, log_path.read_text()
                try:
                    requests.get(f"http://{HOST}:{port}{ok_path}", timeout=1)
                    healthz_answers += 1
                    break
                except requests.RequestException:
                    time.sleep(0.2)
            assert healthz_answers == 1, log_path.read_text()
            assert requests.get(f"http://{HOST}:{port}{missing_path}", timeout=5).status_code == 404
        finally:
            process.terminate()
            process.wait(timeout=10)
    lines = log_path.read_text(errors="replace").splitlines()
    assert len([line for line in lines if ok_path in line]) == 1, lines
    assert len([line for line in lines if missing_path in line]) == 1, lines
