"""create_user, create_api_key, create_access_token and seed_demo, with --json."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

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
