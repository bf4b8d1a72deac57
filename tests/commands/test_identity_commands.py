"""create_user, create_api_key, create_access_token and seed_demo, with --json."""

from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from chats.models import Chat, ConversationType
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, Tenant, User, hash_secret
from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def run_json(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_create_user_json_and_login_works():
    data = run_json(
        "create_user",
        "--email",
        "New@Example.com",
        "--password",
        "s3cret-pass",
        "--tenant",
        "acme",
        "--staff",
    )
    user = User.objects.get(pk=data["id"])
    assert data == {
        "id": user.pk,
        "email": "new@example.com",
        "tenant": "acme",
        "tenant_id": Tenant.objects.get(name="acme").pk,
        "is_staff": True,
        "is_superuser": False,
    }
    assert user.check_password("s3cret-pass")
    assert user.tenant.name == "acme"


def test_create_user_refuses_duplicate():
    UserFactory(email="dup@example.com")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "--email", "dup@example.com", "--password", "x" * 10)


def test_create_api_key_prints_secret_once_and_stores_hash():
    tenant = TenantFactory(name="acme")
    data = run_json("create_api_key", "--tenant", "acme", "--name", "ci")
    key = ApiKey.objects.get(pk=data["id"])
    assert data["key"].startswith("nk_")
    assert key.tenant == tenant
    assert key.key_hash == hash_secret(data["key"])
    assert data["key"] not in (key.key_hash, key.prefix)


def test_create_api_key_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant"):
        call_command("create_api_key", "--tenant", "nope")


def test_create_access_token_with_expiry():
    user = UserFactory(email="t@example.com")
    data = run_json("create_access_token", "--email", "t@example.com", "--days", "7")
    token = AccessToken.objects.get(pk=data["id"])
    assert token.user == user
    assert token.token_hash == hash_secret(data["token"])
    assert data["expires_at"] is not None
    never = run_json("create_access_token", "--email", "t@example.com", "--days", "0")
    assert never["expires_at"] is None


def test_create_access_token_unknown_user():
    with pytest.raises(CommandError, match="No user"):
        call_command("create_access_token", "--email", "ghost@example.com")


def test_seed_demo_is_idempotent_and_covers_every_type():
    first = run_json("seed_demo")
    counts = (Chat.objects.count(), File.objects.count(), Collection.objects.count())
    second = run_json("seed_demo")
    assert (Chat.objects.count(), File.objects.count(), Collection.objects.count()) == counts
    assert User.objects.count() == 3
    types = set(Chat.objects.values_list("conversation_type", flat=True))
    assert types == {
        ConversationType.REGULAR,
        ConversationType.USER_FILES,
        ConversationType.GLOBAL_COLLECTION,
        None,
    }
    assert Collection.objects.filter(is_global=True).count() == 1
    assert User.objects.filter(is_superuser=True).count() == 1
    # secrets rotate: only the newest demo key and token work
    assert first["api_key"] != second["api_key"]
    assert ApiKey.objects.filter(name="demo").count() == 1
    assert ApiKey.objects.get(name="demo").key_hash == hash_secret(second["api_key"])
    assert AccessToken.objects.get(name="demo").token_hash == hash_secret(second["access_token"])


def test_seed_demo_restores_deleted_demo_chats():
    run_json("seed_demo")
    n = Chat.objects.count()
    Chat.objects.filter(title="Recipe ideas").delete()
    run_json("seed_demo")
    assert Chat.objects.count() == n


def _demo_state() -> list[tuple[int, str, str]]:
    return sorted(Chat.objects.values_list("pk", "uuid", "title"))


def test_seed_demo_again_keeps_credentials_and_chats_in_development(settings):
    """bin/serve re-runs seed_demo: what the last run printed must still work."""
    settings.DEBUG = True
    first = run_json("seed_demo")
    chats = _demo_state()

    second = run_json("seed_demo")

    assert (second["api_key"], second["access_token"]) == (
        first["api_key"],
        first["access_token"],
    )
    for key in ("users", "project_id", "project_chat_ids", "chat_id", "chat_uuid"):
        assert second[key] == first[key]
    assert _demo_state() == chats
    client = APIClient()
    response = client.get("/api/v1/chats", headers={"X-API-Key": first["api_key"]})
    assert response.status_code == 200
    assert first["chat_uuid"] in {chat["id"] for chat in response.json()["results"]}
    response = client.post(
        "/api/chat/conversations/all/preview",
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert response.status_code == 200


def test_seed_demo_restores_a_deleted_demo_chat_with_its_uuid(settings):
    settings.DEBUG = True
    first = run_json("seed_demo")
    Chat.objects.filter(uuid=first["chat_uuid"]).delete()

    second = run_json("seed_demo")

    assert second["chat_uuid"] == first["chat_uuid"]
    assert Chat.objects.filter(uuid=first["chat_uuid"]).exists()


def test_seed_demo_restores_a_revoked_demo_key_in_development(settings):
    settings.DEBUG = True
    first = run_json("seed_demo")
    ApiKey.objects.filter(key_hash=hash_secret(first["api_key"])).update(revoked_at=timezone.now())

    second = run_json("seed_demo")

    assert second["api_key"] == first["api_key"]
    assert ApiKey.objects.get(key_hash=hash_secret(first["api_key"])).revoked_at is None


def test_seed_demo_env_file_holds_what_it_printed(settings, tmp_path):
    """``bin/serve`` writes ``.demo.env``; the README's examples ``source`` it."""
    settings.DEBUG = True
    env_file = tmp_path / ".demo.env"
    data = run_json("seed_demo", "--env-file", str(env_file))

    assert env_file.stat().st_mode & 0o077 == 0  # secrets: readable by the owner only
    names = ("BASE", "USER_ID", "CHAT_ID", "PROJECT_ID", "CHAT_IDS", "CHAT_UUID", "KEY", "TOKEN")
    script = f'source "{env_file}" && printf "%s\\n" ' + " ".join(f'"${n}"' for n in names)
    shell = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.splitlines() == [
        "http://127.0.0.1:8000",
        str(data["users"]["alice"]["id"]),
        str(data["chat_id"]),
        str(data["project_id"]),
        json.dumps(data["project_chat_ids"][:2]),
        data["chat_uuid"],
        data["api_key"],
        data["access_token"],
    ]
