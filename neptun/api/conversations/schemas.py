"""The body of ``DELETE /api/chat/conversations/all`` and how a request becomes flags.

The body is parsed here from the raw bytes, not by DRF's parsers, so that every
problem is answered in the dialect's 422 shape and nothing is guessed:

- Query parameters are refused (``loc: ["query", name]``): options moved to the JSON
  body, and an old client's ``?include_regular=false`` must not silently delete
  regular chats.
- An empty body (no bytes, or only whitespace) means all defaults: everything is
  deleted, as the spec says.
- A non-empty body must be sent as ``Content-Type: application/json`` (or a
  ``+json`` type). Anything else is **422** (not 415), with ``loc: ["header",
  "content-type"]``: one error shape for every rejected request, which clients of
  this dialect already handle. ``curl -d`` without ``-H 'Content-Type:
  application/json'`` sends a form type and lands here.
- The body must be UTF-8 JSON (RFC 8259) holding one object. Duplicate keys are
  refused: with "last one wins" a repeated key could flip an option unnoticed.
- Values must be JSON booleans (``"true"``, ``1`` and ``null`` are refused) and
  unknown fields are refused, so a typo can never widen a deletion.

All problems found are reported together, as pydantic/FastAPI do.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic import ValidationError as PydanticValidationError

from chats.services import ConversationFlags, DeletionResult

from .errors import PayloadTooLarge, RequestValidationError, error_item


class DeleteConversationsBody(BaseModel):
    """Options of the conversations deletion; each defaults to ``true``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    delete_files_and_collections: StrictBool = Field(
        default=True,
        description="Also delete the files uploaded in the deleted conversations and the "
        "user-owned collections they link to (unless a surviving conversation still links "
        "to one). Global collections are never deleted. When false, files and collections "
        "stay and files lose their chat link.",
    )
    delete_regular_chats: StrictBool = Field(
        default=True, description="Delete conversations of type `regular`."
    )
    delete_user_file_conversations: StrictBool = Field(
        default=True, description="Delete conversations of type `user_files`."
    )
    delete_global_collection_conversations: StrictBool = Field(
        default=True, description="Delete conversations of type `global_collection`."
    )
    delete_null_conversations: StrictBool = Field(
        default=True, description="Delete conversations whose type is NULL (cleanup)."
    )

    def to_flags(self) -> ConversationFlags:
        return ConversationFlags(**self.model_dump())


#: Query parameters of the old API, and the body field that replaces each.
OLD_QUERY_PARAMETERS = {
    "delete_collections": "delete_files_and_collections",
    "include_regular": "delete_regular_chats",
    "include_user_files": "delete_user_file_conversations",
    "include_global_collection": "delete_global_collection_conversations",
    "include_null": "delete_null_conversations",
}


def _query_errors(query) -> list[dict[str, Any]]:
    errors = []
    for name in query:
        values = query.getlist(name)
        replacement = OLD_QUERY_PARAMETERS.get(name)
        if replacement is None and name in DeleteConversationsBody.model_fields:
            replacement = name
        hint = f" (use the body field '{replacement}')" if replacement else ""
        errors.append(
            error_item(
                type="query_parameter_not_supported",
                loc=["query", name],
                msg=(
                    "Query parameters are not supported: options moved to the JSON request "
                    f"body{hint}. Nothing was deleted."
                ),
                input=values[0] if len(values) == 1 else values,
            )
        )
    return errors


def _is_json(content_type: str) -> bool:
    content_type = content_type.split(";", 1)[0].strip().lower()
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


class _NotJson(ValueError):
    """``NaN``, ``Infinity`` and ``-Infinity``: Python's json accepts them, JSON does not."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


def _preview(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _body_value(raw: bytes, content_type: str) -> tuple[Any, list[dict[str, Any]]]:
    """The decoded JSON body (``{}`` when empty) and the errors found reading it."""
    if not raw.strip():
        return {}, []
    if not _is_json(content_type):
        return None, [
            error_item(
                type="content_type",
                loc=["header", "content-type"],
                msg="The request body must be JSON sent with 'Content-Type: application/json'.",
                input=content_type or None,
            )
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            error_item(
                type="json_invalid",
                loc=["body", exc.start],
                msg="JSON decode error: the body is not valid UTF-8",
                input=_preview(raw.decode("utf-8", errors="replace")),
            )
        ]
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
        ), []
    except _DuplicateKey as exc:
        return None, [
            error_item(
                type="duplicate_key",
                loc=["body", exc.key],
                msg="Field given more than once",
                input=_preview(text),
            )
        ]
    except RecursionError:
        return None, [
            error_item(
                type="json_invalid",
                loc=["body"],
                msg="JSON decode error: nested too deeply",
                input=_preview(text),
            )
        ]
    except _NotJson as exc:
        return None, [
            error_item(
                type="json_invalid",
                loc=["body"],
                msg=f"JSON decode error: {exc} is not a JSON value",
                input=_preview(text),
            )
        ]
    except json.JSONDecodeError as exc:
        return None, [
            error_item(
                type="json_invalid",
                loc=["body", exc.pos],
                msg=f"JSON decode error: {exc.msg}",
                input=_preview(text),
            )
        ]


def parse_delete_options(request) -> ConversationFlags:
    """The flags a conversations deletion (or its preview) asks for.

    Raises :class:`RequestValidationError` (422) listing every problem with the query
    string, headers and body; nothing may be deleted then.
    """
    errors = _query_errors(request.query_params)
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
    value, body_errors = _body_value(raw, request.content_type or "")
    errors.extend(body_errors)
    body = None
    if not body_errors:
        try:
            body = DeleteConversationsBody.model_validate(value)
        except PydanticValidationError as exc:
            errors.extend(RequestValidationError.from_pydantic(exc, prefix=["body"]).errors)
    if errors or body is None:
        raise RequestValidationError(errors)
    return body.to_flags()


# --------------------------------------------------------------------------- response


class DeletedStats(BaseModel):
    conversations_deleted: int
    files_deleted: int
    collections_deleted: int
    regular_conversations_deleted: int
    user_files_conversations_deleted: int
    global_collection_conversations_deleted: int
    null_conversations_deleted: int
    errors: list[dict[str, Any]] = Field(
        description="What could not be done, e.g. a file blob that storage refused to "
        "remove (the row is gone; the blob is left for `manage.py cleanup_orphans`)."
    )


class DeleteConversationsResponse(BaseModel):
    detail: str
    deleted_stats: DeletedStats


def deletion_response(result: DeletionResult, *, preview: bool = False) -> dict[str, Any]:
    """The 200 body of a deletion (or of its preview) from the service's result.

    ``detail`` keeps the spec's sentence exactly in shape, with fixed plural wording so
    that clients which match it keep working: "Successfully deleted N conversations
    (a regular chat conversations, b user file conversations, c global collection
    conversations)". Conversations of NULL type are appended as ", d null
    conversations" only when there are any, so the parts always add up to N. A
    preview says "Would delete …" instead of "Successfully deleted …".
    """
    by_type = result.by_type
    stats = DeletedStats(
        conversations_deleted=result.counts.get("chats", 0),
        files_deleted=result.counts.get("files", 0),
        collections_deleted=result.counts.get("collections", 0),
        regular_conversations_deleted=by_type.get("regular", 0),
        user_files_conversations_deleted=by_type.get("user_files", 0),
        global_collection_conversations_deleted=by_type.get("global_collection", 0),
        null_conversations_deleted=by_type.get("null", 0),
        errors=list(result.errors),
    )
    parts = [
        f"{stats.regular_conversations_deleted} regular chat conversations",
        f"{stats.user_files_conversations_deleted} user file conversations",
        f"{stats.global_collection_conversations_deleted} global collection conversations",
    ]
    if stats.null_conversations_deleted:
        parts.append(f"{stats.null_conversations_deleted} null conversations")
    verb = "Would delete" if preview else "Successfully deleted"
    detail = f"{verb} {stats.conversations_deleted} conversations ({', '.join(parts)})"
    return DeleteConversationsResponse(detail=detail, deleted_stats=stats).model_dump()
