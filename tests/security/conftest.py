"""A victim with data in every table, attackers around it, and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from chats.models import Chat, ChatConnection, Message
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, DeletionRecord, User
from projects.models import Project, ProjectChat
from tests.factories import (
    PASSWORD,
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
    TenantFactory,
    UserFactory,
)

DATA_MODELS = (
    User,
    Chat,
    Message,
    ChatConnection,
    Project,
    ProjectChat,
    Collection,
    File,
    DeletionRecord,
)


def snapshot() -> dict[str, Any]:
    """Every data row (all columns) and which stored blobs exist."""
    rows = {
        model.__name__: list(model.objects.order_by("pk").values_list()) for model in DATA_MODELS
    }
    rows["blobs"] = sorted(
        (name, default_storage.exists(name)) for name in File.objects.values_list("blob", flat=True)
    )
    return rows


def login(user: User) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return client


@dataclass
class Victim:
    user: User
    chat: Chat
    project: Project
    collection: Collection
    file: File
    api_key: str
    token: str


@pytest.fixture
def victim(db) -> Victim:
    user = UserFactory()
    collection = CollectionFactory(owner=user)
    chat = ChatFactory(owner=user, collection=collection)
    MessageFactory.create_batch(3, chat=chat)
    ChatConnectionFactory(chat=chat, last_seen_at=timezone.now() - timezone.timedelta(days=1))
    project = ProjectFactory(owner=user)
    ProjectChatFactory(project=project, chat=chat)
    file = FileFactory(owner=user, chat=chat)
    FileFactory(owner=user, chat=chat, collection=collection)
    other_chat = ChatFactory(owner=user, conversation_type=None)
    MessageFactory(chat=other_chat)
    return Victim(
        user=user,
        chat=chat,
        project=project,
        collection=collection,
        file=file,
        api_key=ApiKey.generate(tenant=user.tenant)[1],
        token=AccessToken.generate(user=user)[1],
    )


@dataclass
class Attackers:
    same_tenant: User
    other_tenant: User
    other_tenant_key: str
    revoked_key: str
    expired_token: str


@pytest.fixture
def attackers(victim) -> Attackers:
    same_tenant = UserFactory(tenant=victim.user.tenant)
    other_tenant = UserFactory(tenant=TenantFactory())
    # The attackers own data too, so a mix-up would show.
    ChatFactory(owner=same_tenant)
    ChatFactory(owner=other_tenant)
    revoked, revoked_secret = ApiKey.generate(tenant=victim.user.tenant, name="revoked")
    revoked.revoked_at = timezone.now()
    revoked.save()
    expired, expired_secret = AccessToken.generate(user=victim.user, name="expired")
    expired.expires_at = timezone.now() - timezone.timedelta(seconds=1)
    expired.save()
    return Attackers(
        same_tenant=same_tenant,
        other_tenant=other_tenant,
        other_tenant_key=ApiKey.generate(tenant=other_tenant.tenant)[1],
        revoked_key=revoked_secret,
        expired_token=expired_secret,
    )
