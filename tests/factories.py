"""factory-boy factories for every model."""

from __future__ import annotations

import factory
from django.core.files.base import ContentFile
from factory.django import DjangoModelFactory

from chats.models import Chat, ChatConnection, ConversationType, Message
from collections_app.models import Collection, File
from neptun.models import AccessToken, ApiKey, DeletionRecord, Tenant, User
from projects.models import Project, ProjectChat

PASSWORD = "correct horse battery staple"


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tenant-{n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    tenant = factory.SubFactory(TenantFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ApiKeyFactory(DjangoModelFactory):
    """Use ``ApiKey.generate`` when the secret is needed."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(TenantFactory)
    prefix = "nk_test"
    key_hash = factory.Sequence(lambda n: f"{n:064x}")


class CollectionFactory(DjangoModelFactory):
    class Meta:
        model = Collection

    owner = factory.SubFactory(UserFactory)
    is_global = False
    name = factory.Sequence(lambda n: f"collection-{n}")

    class Params:
        # A global collection belongs to one tenant (a new one unless ``tenant=`` is given).
        global_ = factory.Trait(
            owner=None, is_global=True, tenant=factory.SubFactory(TenantFactory)
        )


class ChatFactory(DjangoModelFactory):
    class Meta:
        model = Chat

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"chat {n}")
    conversation_type = ConversationType.REGULAR
    collection = None


class MessageFactory(DjangoModelFactory):
    class Meta:
        model = Message

    chat = factory.SubFactory(ChatFactory)
    role = Message.Role.USER
    content = factory.Sequence(lambda n: f"message {n}")


class FileFactory(DjangoModelFactory):
    class Meta:
        model = File

    owner = factory.SubFactory(UserFactory)
    chat = None
    collection = None
    name = factory.Sequence(lambda n: f"file-{n}.txt")
    blob = factory.LazyAttribute(lambda o: ContentFile(b"hello neptun", name=o.name))
    size = 12
    content_type = "text/plain"


class ProjectFactory(DjangoModelFactory):
    class Meta:
        model = Project

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"project {n}")


class ProjectChatFactory(DjangoModelFactory):
    class Meta:
        model = ProjectChat

    project = factory.SubFactory(ProjectFactory)
    chat = factory.SubFactory(ChatFactory, owner=factory.SelfAttribute("..project.owner"))


class ChatConnectionFactory(DjangoModelFactory):
    class Meta:
        model = ChatConnection

    chat = factory.SubFactory(ChatFactory)
    connection_id = factory.Sequence(lambda n: f"conn-{n}")


class AccessTokenFactory(DjangoModelFactory):
    """Use ``AccessToken.generate`` when the secret is needed."""

    class Meta:
        model = AccessToken

    user = factory.SubFactory(UserFactory)
    token_hash = factory.Sequence(lambda n: f"{n:064x}")


class DeletionRecordFactory(DjangoModelFactory):
    class Meta:
        model = DeletionRecord

    interface = DeletionRecord.Interface.API
