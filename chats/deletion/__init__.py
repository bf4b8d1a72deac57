"""The deletion package: the one place where Neptun deletes data.

- :mod:`~chats.deletion.api` — the doors: the ``*_delete`` and ``*_preview`` functions;
- :mod:`~chats.deletion.rules` — what goes with what (a chat, a project, a
  collection, a user, a tenant), and what the admin shows as kept: **change "what
  goes with a chat" there**;
- :mod:`~chats.deletion.engine` — the one loop: plan, then chunks of lock, count,
  execute, record (a dry run counts instead);
- :mod:`~chats.deletion.sql` — id sets (a list or a staged temporary table) and every
  database-specific branch;
- :mod:`~chats.deletion.grouped` — one deletion over many owners with one record
  per owner (the admin's conversations of several users);
- :mod:`~chats.deletion.audit` — the only writer of ``DeletionRecord``;
- :mod:`~chats.deletion.effects` — the outbox: blobs removed, sockets told, after commit;
- :mod:`~chats.deletion.storage` — the storage calls: batched blob removal (S3's
  ``DeleteObjects``) and a flat, paginated listing of one folder;
- :mod:`~chats.deletion.result` — ``DeletionContext``, ``DeletionResult``, the count keys;
- :mod:`~chats.deletion.schedule` — when the worker's periodic jobs are due.

Import the public names from here (or from :mod:`chats.services`, the stable path);
nothing outside the package uses a private name of it.
"""

from chats.deletion.api import (
    chat_delete,
    chats_delete,
    chats_delete_preview,
    collections_delete,
    collections_delete_preview,
    conversations_delete,
    conversations_delete_preview,
    files_delete,
    files_delete_preview,
    live_connections,
    project_chats_delete,
    projects_delete,
    projects_delete_preview,
    tenants_delete,
    tenants_delete_preview,
    users_conversations_delete,
    users_conversations_delete_preview,
    users_delete,
    users_delete_preview,
)
from chats.deletion.effects import chat_group
from chats.deletion.result import (
    COUNT_KINDS,
    TYPE_KEYS,
    DeletionContext,
    DeletionResult,
    Progress,
)
from chats.deletion.rules import ConversationFlags

__all__ = [
    "COUNT_KINDS",
    "TYPE_KEYS",
    "ConversationFlags",
    "DeletionContext",
    "DeletionResult",
    "Progress",
    "chat_delete",
    "chat_group",
    "chats_delete",
    "chats_delete_preview",
    "collections_delete",
    "collections_delete_preview",
    "conversations_delete",
    "conversations_delete_preview",
    "files_delete",
    "files_delete_preview",
    "live_connections",
    "project_chats_delete",
    "projects_delete",
    "projects_delete_preview",
    "tenants_delete",
    "tenants_delete_preview",
    "users_conversations_delete",
    "users_conversations_delete_preview",
    "users_delete",
    "users_delete_preview",
]
