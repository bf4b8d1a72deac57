"""Fill the database with demo data for trying every dialect.

Idempotent: objects are looked up by their natural keys and created only when
missing, so a second run leaves the same data, with the same ids (and restores demo
chats that were deleted meanwhile: with a new id, but their old UUID, which is
derived from owner and title).

Credentials: secrets are stored only as hashes, so a run cannot print the key it
made last time. In development (``DEBUG`` on) the demo API key and access token are
therefore derived from ``SECRET_KEY``: every run prints the same ones, and keeps (or
makes) them valid — un-revoked, the token's expiry pushed 30 days out — so what
``bin/serve`` printed last time keeps working. They are no more secret than the
demo password. Outside development every run makes a new random key and token and
deletes the previous demo ones.

``--env-file PATH`` also writes what the run printed as shell variables (``BASE``,
``USER_ID``, ``CHAT_ID``, ``PROJECT_ID``, ``CHAT_IDS``, ``CHAT_UUID``, ``KEY``,
``TOKEN``), readable by the owner only; ``bin/serve`` writes ``.demo.env`` (ignored
by git), which the README's examples ``source``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shlex
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from chats.models import Chat, ConversationType, Message
from collections_app.models import Collection, File
from neptun.management.commands._output import JsonCommand
from neptun.models import AccessToken, ApiKey, Tenant, User, hash_secret
from projects.models import Project, ProjectChat

DEMO_PASSWORD = "neptun-demo-password"
TENANT = "demo"
ALICE = "alice@demo.neptun"
BOB = "bob@demo.neptun"
ADMIN = "admin@demo.neptun"
TOKEN_DAYS = 30
#: Namespace of the demo chats' UUIDs (uuid5 of owner and title).
DEMO_NAMESPACE = uuid.UUID("6f0c1b8e-2a51-4d1e-9a57-1b3f4e0d7c21")


def _derived_secret(prefix: str, purpose: str) -> str:
    """A development demo secret: the same on every run with the same SECRET_KEY."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"neptun.seed_demo:{purpose}".encode(), hashlib.sha256
    ).digest()
    return prefix + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _demo_api_key(tenant: Tenant) -> str:
    if not settings.DEBUG:
        ApiKey.objects.filter(tenant=tenant, name="demo").delete()
        return ApiKey.generate(tenant=tenant, name="demo")[1]
    secret = _derived_secret(ApiKey.PREFIX, "api_key")
    key, created = ApiKey.objects.get_or_create(
        key_hash=hash_secret(secret),
        defaults={"tenant": tenant, "name": "demo", "prefix": secret[:10]},
    )
    if not created and (key.revoked_at is not None or key.tenant_id != tenant.pk):
        key.revoked_at, key.tenant = None, tenant
        key.save(update_fields=["revoked_at", "tenant"])
    return secret


def _demo_token(user: User) -> str:
    if not settings.DEBUG:
        AccessToken.objects.filter(user=user, name="demo").delete()
        return AccessToken.generate(user=user, name="demo", days=TOKEN_DAYS)[1]
    secret = _derived_secret(AccessToken.PREFIX, "access_token")
    AccessToken.objects.update_or_create(
        token_hash=hash_secret(secret),
        defaults={
            "user": user,
            "name": "demo",
            "expires_at": timezone.now() + timedelta(days=TOKEN_DAYS),
        },
    )
    return secret


def _write_env_file(path: Path, values: dict[str, object]) -> None:
    """Shell assignments, written to a new file readable by the owner only."""
    text = "".join(f"{name}={shlex.quote(str(value))}\n" for name, value in values.items())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Written by seed_demo (bin/serve): `source` it for the README's examples.\n")
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _user(email: str, tenant: Tenant, **extra) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, tenant=tenant, **extra)
    return user


def _file(owner: User, name: str, text: str, **where) -> File:
    existing = File.objects.filter(owner=owner, name=name, **where).first()
    if existing is not None:
        return existing
    data = text.encode()
    f = File(owner=owner, name=name, size=len(data), content_type="text/plain", **where)
    f.blob.save(name, ContentFile(data), save=False)
    f.save()
    return f


def _chat(
    owner: User, title: str, kind: str | None, messages: list[tuple[str, str]], **extra
) -> Chat:
    chat, created = Chat.objects.get_or_create(
        owner=owner,
        title=title,
        defaults={
            "conversation_type": kind,
            "uuid": uuid.uuid5(DEMO_NAMESPACE, f"{owner.email}/{title}"),
            **extra,
        },
    )
    if created:
        Message.objects.bulk_create(
            Message(chat=chat, role=role, content=content) for role, content in messages
        )
    return chat


class Command(JsonCommand):
    help = "Create (or restore) demo data and print how to try each API dialect."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--env-file",
            type=Path,
            help="Also write the printed ids and credentials as shell variables here.",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        tenant, _ = Tenant.objects.get_or_create(name=TENANT)
        alice = _user(ALICE, tenant)
        bob = _user(BOB, tenant)
        admin = _user(ADMIN, tenant, is_staff=True, is_superuser=True)

        handbook, _ = Collection.objects.get_or_create(
            name="Company handbook", is_global=True, owner=None, tenant=tenant
        )
        _file(admin, "handbook.txt", "Vacation policy: 30 days.", collection=handbook)
        notes, _ = Collection.objects.get_or_create(name="Alice's notes", owner=alice)

        launch, _ = Project.objects.get_or_create(owner=alice, name="Launch plan")
        plan_chats = [
            _chat(
                alice,
                f"Launch idea {n}",
                ConversationType.REGULAR,
                [("user", f"Idea {n}?"), ("assistant", f"Here is idea {n}.")],
            )
            for n in (1, 2, 3)
        ]
        for chat in plan_chats:
            ProjectChat.objects.get_or_create(project=launch, chat=chat)
        regular = _chat(
            alice,
            "Recipe ideas",
            ConversationType.REGULAR,
            [("user", "Dinner tonight?"), ("assistant", "Try a risotto.")],
        )
        _file(alice, "shopping-list.txt", "rice, stock, parmesan", chat=regular)
        with_files = _chat(
            alice,
            "Questions about my notes",
            ConversationType.USER_FILES,
            [("user", "Summarise my notes"), ("assistant", "They cover three topics.")],
            collection=notes,
        )
        _file(
            alice,
            "notes.txt",
            "topic one, topic two, topic three",
            collection=notes,
            chat=with_files,
        )
        with_global = _chat(
            alice,
            "Vacation question",
            ConversationType.GLOBAL_COLLECTION,
            [("user", "How many vacation days?"), ("assistant", "30 days.")],
            collection=handbook,
        )
        _chat(alice, "Untyped legacy chat", None, [("user", "hello?")])

        bob_project, _ = Project.objects.get_or_create(owner=bob, name="Bob's research")
        bob_chat = _chat(
            bob,
            "Bob's chat",
            ConversationType.REGULAR,
            [("user", "Hi"), ("assistant", "Hello Bob")],
        )
        ProjectChat.objects.get_or_create(project=bob_project, chat=bob_chat)

        api_key = _demo_api_key(tenant)
        token = _demo_token(alice)

        base = options["base_url"].rstrip("/")
        data = {
            "tenant": tenant.name,
            "password": DEMO_PASSWORD,
            "users": {
                "alice": {"id": alice.pk, "email": ALICE},
                "bob": {"id": bob.pk, "email": BOB},
            },
            "admin": {"email": ADMIN, "password": DEMO_PASSWORD, "url": f"{base}/admin/"},
            "project_id": launch.pk,
            "project_chat_ids": [c.pk for c in plan_chats],
            "chat_id": regular.pk,
            "chat_uuid": str(with_global.uuid),
            "api_key": api_key,
            "access_token": token,
        }
        ids = ", ".join(str(c.pk) for c in plan_chats[:2])
        lines = [
            "Demo data is ready.",
            f"  Admin:  {base}/admin/  ({ADMIN} / {DEMO_PASSWORD})",
            f"  Users:  {ALICE} (id {alice.pk}) and {BOB} (id {bob.pk}), password {DEMO_PASSWORD}",
            "",
            "1) Neptun dialect (session cookie):",
            f"  curl -c /tmp/neptun.jar -H 'Content-Type: application/json' -d "
            f'\'{{"email":"{ALICE}","password":"{DEMO_PASSWORD}"}}\' {base}/api/auth/login',
            f"  curl -b /tmp/neptun.jar -X DELETE {base}/api/users/{alice.pk}/chats/{regular.pk}",
            f"  curl -b /tmp/neptun.jar -X DELETE {base}/api/users/{alice.pk}/projects/{launch.pk}/chats "
            f"-H 'Content-Type: application/json' -d '{{\"chat_ids\": [{ids}]}}'",
            "",
            "2) v1 tenant API (X-API-Key):",
            f"  curl -H 'X-API-Key: {api_key}' {base}/api/v1/chats",
            f"  curl -X DELETE -H 'X-API-Key: {api_key}' {base}/api/v1/chats/{with_global.uuid}",
            "",
            "3) Conversations API (Bearer token of alice):",
            f"  curl -X POST -H 'Authorization: Bearer {token}' {base}/api/chat/conversations/all/preview",
            f"  curl -X DELETE -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
            f"-d '{{\"delete_files_and_collections\": false}}' {base}/api/chat/conversations/all",
            "",
            "The key and token above stay the same on every run of seed_demo in development."
            if settings.DEBUG
            else "The key and token above are new on every run of seed_demo (only hashes are "
            "stored); the previous demo ones no longer work.",
        ]
        env_file = options.get("env_file")
        if env_file is not None:
            _write_env_file(
                env_file,
                {
                    "BASE": base,
                    "USER_ID": alice.pk,
                    "CHAT_ID": regular.pk,
                    "PROJECT_ID": launch.pk,
                    "CHAT_IDS": json.dumps([c.pk for c in plan_chats[:2]]),
                    "CHAT_UUID": with_global.uuid,
                    "KEY": api_key,
                    "TOKEN": token,
                },
            )
            lines.append(f"The same ids, key and token are in {env_file}: `source {env_file}`.")
        self.emit(options, data, lines)
