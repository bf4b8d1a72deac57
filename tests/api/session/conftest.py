"""Fixtures of the Neptun dialect's tests: a small world of two users' data."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chats.models import Chat
from collections_app.models import Collection, File
from projects.models import Project
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    ProjectFactory,
)


@dataclass
class World:
    """``user``'s chat with everything that hangs off it, and another user's data."""

    chat: Chat
    own_file: File
    collection_file: File
    collection: Collection
    global_collection: Collection
    project: Project
    other_chat: Chat
    other_project: Project


@pytest.fixture
def world(user, other_user) -> World:
    collection = CollectionFactory(owner=user)
    global_collection = CollectionFactory(global_=True, tenant=user.tenant)
    chat = ChatFactory(owner=user, collection=collection)
    MessageFactory.create_batch(3, chat=chat)
    ChatConnectionFactory(chat=chat)
    project = ProjectFactory(owner=user)
    ProjectChatFactory(project=project, chat=chat)
    own_file = FileFactory(owner=user, chat=chat)
    collection_file = FileFactory(owner=user, chat=chat, collection=collection)
    other_chat = ChatFactory(owner=other_user)
    MessageFactory(chat=other_chat)
    other_project = ProjectFactory(owner=other_user)
    ProjectChatFactory(project=other_project, chat=other_chat)
    return World(
        chat=chat,
        own_file=own_file,
        collection_file=collection_file,
        collection=collection,
        global_collection=global_collection,
        project=project,
        other_chat=other_chat,
        other_project=other_project,
    )
