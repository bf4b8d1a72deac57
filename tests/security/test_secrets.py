"""Secrets: keys and tokens are stored and logged only as hashes, compared in
constant time, and ``manage.py check --deploy`` is clean with production settings."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from neptun import authentication
from neptun.logging import JsonFormatter
from neptun.models import AccessToken, ApiKey, hash_secret
from tests.factories import PASSWORD, ChatFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent.parent


def _text_fields(model) -> list[str]:
    return [
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
        and field.concrete
    ]


def _stored_anywhere(secret: str) -> list[str]:
    """``model.field`` of every stored value that contains ``secret``."""
    found = []
    for model in apps.get_models():
        for name in _text_fields(model):
            lookup = (
                "icontains"
                if not isinstance(model._meta.get_field(name), models.JSONField)
                else None
            )
            if lookup and model.objects.filter(**{f"{name}__{lookup}": secret}).exists():
                found.append(f"{model.__name__}.{name}")
    return found


@pytest.fixture
def all_logs(caplog):
    """Every log record at DEBUG, SQL included, rendered as the JSON lines production writes."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    formatter = JsonFormatter()
    connection.force_debug_cursor = True  # log SQL as with DEBUG on

    def rendered() -> str:
        return "\n".join(formatter.format(record) for record in caplog.records)

    yield rendered
    connection.force_debug_cursor = False


def _exercise_credentials(user, key: str, token: str) -> None:
    chat = ChatFactory(owner=user)
    v1 = APIClient()
    v1.credentials(HTTP_X_API_KEY=key)
    assert v1.get(f"/api/v1/chats/{chat.uuid}").status_code == 200
    assert v1.delete(f"/api/v1/chats/{chat.uuid}").status_code == 200
    wrong = APIClient()
    wrong.credentials(HTTP_X_API_KEY=key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert wrong.get("/api/v1/chats").status_code == 401
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get("/api/chat/conversations").status_code == 200
    assert bearer.delete("/api/chat/conversations/all", {}, format="json").status_code == 200
    expired = APIClient()
    expired.credentials(HTTP_AUTHORIZATION=f"Bearer {token}x")
    assert expired.get("/api/chat/conversations").status_code == 401
    session = APIClient()
    assert (
        session.post(
            "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    assert (
        session.post(
            "/api/auth/login", {"email": user.email, "password": "wrong"}, format="json"
        ).status_code
        == 401
    )


def test_keys_and_tokens_from_the_commands_are_stored_and_logged_only_as_hashes(user, all_logs):
    out = io.StringIO()
    call_command("create_api_key", "--tenant", user.tenant.name, "--json", stdout=out)
    key = json.loads(out.getvalue())["key"]
    out = io.StringIO()
    call_command("create_access_token", "--email", user.email, "--json", stdout=out)
    token = json.loads(out.getvalue())["token"]
    assert key.startswith(ApiKey.PREFIX) and token.startswith(AccessToken.PREFIX)

    _exercise_credentials(user, key, token)

    # Logged: never, not even in SQL, nor the password.
    logs = all_logs()
    assert "SELECT" in logs, "SQL was logged, so the check below saw the queries"
    for secret in (key, token, PASSWORD, key[10:30], token[10:30]):
        assert secret not in logs
    # Stored: only hashes (a key keeps a short prefix to recognise it, never the secret).
    assert _stored_anywhere(key) == []
    assert _stored_anywhere(token) == []
    assert ApiKey.objects.filter(key_hash=hash_secret(key)).exists()
    assert AccessToken.objects.filter(token_hash=hash_secret(token)).exists()


def test_lookups_query_the_hash_and_compare_in_constant_time(user, monkeypatch):
    key = ApiKey.generate(tenant=user.tenant)[1]
    token = AccessToken.generate(user=user)[1]
    compared = []
    real = authentication.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", spy)
    for headers, url in (
        ({"HTTP_X_API_KEY": key}, "/api/v1/chats"),
        ({"HTTP_AUTHORIZATION": f"Bearer {token}"}, "/api/chat/conversations"),
    ):
        client = APIClient()
        client.credentials(**headers)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        sql = " ".join(query["sql"] for query in queries.captured_queries)
        secret = headers.get("HTTP_X_API_KEY") or token
        assert secret not in sql
        assert hash_secret(secret) in sql
    assert (hash_secret(key), hash_secret(key)) in compared
    assert (hash_secret(token), hash_secret(token)) in compared


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "PYTEST_CURRENT_TEST"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="neptun.settings.base",
        DEBUG="0",
        SECRET_KEY="p" + os.urandom(40).hex(),
        ALLOWED_HOSTS="neptun.example.com",
        TRUSTED_ORIGINS="https://chat.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_COOKIES="1",
        SECURE_HSTS_SECONDS="31536000",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
