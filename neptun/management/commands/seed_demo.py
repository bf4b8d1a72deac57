"""Fill the database with demo data for trying every dialect.

Idempotent: objects are looked up by their natural keys and created only when
missing, so a second run leaves the same data (and restores demo chats that were
deleted meanwhile). Because secrets are stored only as hashes, every run replaces
the demo API key and the demo access token and prints the new ones.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db import transaction

from chats.models import Chat, ConversationType, Message
from collections_app.models import Collection, File
from neptun.management.commands._output import JsonCommand
from neptun.models import AccessToken, ApiKey, Tenant, User
from projects.models import Project, ProjectChat

DEMO_PASSWORD = "neptun-demo-password"
TENANT = "demo"
ALICE = "alice@demo.neptun"
BOB = "bob@demo.neptun"
ADMIN = "admin@demo.neptun"


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
        owner=owner, title=title, defaults={"conversation_type": kind, **extra}
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

        ApiKey.objects.filter(tenant=tenant, name="demo").delete()
        _, api_key = ApiKey.generate(tenant=tenant, name="demo")
        AccessToken.objects.filter(user=alice, name="demo").delete()
        _, token = AccessToken.generate(user=alice, name="demo", days=30)

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
            "The key and token above are new on every run of seed_demo (only hashes are stored).",
        ]
        self.emit(options, data, lines)
