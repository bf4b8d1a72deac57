"""Expected bodies and small helpers of the Neptun dialect's tests."""

from __future__ import annotations

from typing import Any

from chats.models import Chat, ChatConnection, Message
from collections_app.models import Collection, File
from neptun.models import DeletionRecord, User
from projects.models import Project, ProjectChat

BAD_CHAT_IDS = {
    "statusCode": 400,
    "statusMessage": "Bad Request",
    "message": "Invalid body(chat_ids)",
}
INTERNAL_ERROR = {
    "statusCode": 500,
    "statusMessage": "Internal Server Error",
    "message": "Internal server error",
}


def not_found(message: str, **data: Any) -> dict[str, Any]:
    return {"statusCode": 404, "statusMessage": "Not Found", "data": {"message": message, **data}}


def chat_url(user_id: object, chat_id: object) -> str:
    return f"/api/users/{user_id}/chats/{chat_id}"


def project_chats_url(user_id: object, project_id: object) -> str:
    return f"/api/users/{user_id}/projects/{project_id}/chats"


def row_counts() -> dict[str, int]:
    """Rows of every kind a deletion could touch; equal before and after = nothing deleted."""
    models = (
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
    return {model.__name__: model.objects.count() for model in models}
