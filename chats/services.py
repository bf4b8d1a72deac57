"""The deletion service's stable import path.

The deletion itself lives in the :mod:`chats.deletion` package (its layout is in
that package's docstring and the README). Callers — the API dialects, the admin,
the commands, the benchmark and other apps — import its public names from here, so
the package can be rearranged without touching them. This module holds no logic.
"""

from chats.deletion import (
    COUNT_KINDS,
    TYPE_KEYS,
    ConversationFlags,
    DeletionContext,
    DeletionResult,
    Progress,
    chat_delete,
    chat_group,
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
from neptun.exceptions import Conflict, NotFound

__all__ = [
    "COUNT_KINDS",
    "TYPE_KEYS",
    "Conflict",
    "ConversationFlags",
    "DeletionContext",
    "DeletionResult",
    "NotFound",
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
