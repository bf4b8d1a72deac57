"""OpenAPI generation (drf-spectacular) for the three dialects.

- One security scheme per dialect: the ``neptun-session`` cookie, the
  ``X-API-Key`` header and HTTP bearer tokens.
- :class:`NeptunAutoSchema` keeps request bodies on DELETE operations that
  declare one with ``@extend_schema(request=...)``: drf-spectacular drops DELETE
  bodies by default, but two of our deletes take a JSON body.
- It also documents every operation's **error bodies per status code in its
  dialect's shape** (the dialect is recognised by the view's exception handler),
  so that no view has to repeat them: 400/422 where a body or query is read, 401
  where credentials are required, 403 for the cookie dialect's unsafe methods
  (cross-site check), 404 where the path names an object, 413 where a body is
  read, 415 where DRF's parsers read it, 429 where credentials are throttled, 500
  everywhere. A status a view declares itself keeps its description; a bare
  ``object`` schema there is replaced by the dialect's body.
- Path ids of the cookie dialect (``user_id``, ``chat_id``, ``project_id``) are
  documented as the integers they are (the URLconf takes any string so that a
  malformed id is the dialect's JSON 404).
- :func:`add_links` (a postprocessing hook) adds OpenAPI links from each create
  operation to the operations on the created object, for clients and for
  stateful testing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentIdentity, ResolvedComponent

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_DB_ID = 2**63 - 1

# --------------------------------------------------------------------------- error bodies

_NEPTUN_ERROR = {
    "type": "object",
    "description": "Error body of the cookie dialect (every status but 404).",
    "properties": {
        "statusCode": {"type": "integer"},
        "statusMessage": {"type": "string"},
        "message": {"type": "string"},
        "data": {
            "type": "object",
            "additionalProperties": {},
            "description": "More about the error, e.g. `errors` by field or `max_chat_ids`.",
        },
    },
    "required": ["statusCode", "statusMessage", "message"],
}
_NEPTUN_NOT_FOUND = {
    "type": "object",
    "description": "404 body of the cookie dialect.",
    "properties": {
        "statusCode": {"type": "integer", "enum": [404]},
        "statusMessage": {"type": "string", "enum": ["Not Found"]},
        "data": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "missing_ids": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "Ids of a batch deletion that are not the project's chats.",
                },
            },
            "required": ["message"],
            "additionalProperties": {},
        },
    },
    "required": ["statusCode", "statusMessage", "data"],
}
_DETAIL_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": {},
}
_VALIDATION_ERROR = {
    "type": "object",
    "description": "FastAPI/pydantic-style validation error: one entry per problem.",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "loc": {
                        "type": "array",
                        "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                        "description": 'Where the problem is: `["body", field]`, '
                        '`["query", name]` or `["header", name]`.',
                    },
                    "msg": {"type": "string"},
                    "input": {"nullable": True},
                    "ctx": {"type": "object", "additionalProperties": {}},
                },
                "required": ["type", "loc", "msg"],
            },
        }
    },
    "required": ["detail"],
}

DESCRIPTIONS = {
    400: "Invalid body or query; nothing was changed.",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "Cross-site request refused (cookie-authenticated unsafe request from another site).",
    404: "Not found, or not the caller's (indistinguishable).",
    413: "Request body larger than DATA_UPLOAD_MAX_MEMORY_SIZE; nothing was changed.",
    415: "Unsupported Content-Type for the body.",
    422: "Invalid body, query or headers; nothing was changed.",
    429: "Too many attempts from this address; retry after `Retry-After` seconds.",
    500: "Internal server error (logged; no details are returned).",
}

_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "The authentication scheme expected.",
        }
    },
    429: {
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "Seconds until attempts are accepted again.",
        }
    },
}


@dataclass(frozen=True)
class Dialect:
    """How a dialect answers errors, for the schema."""

    name: str
    #: component name → schema of each error body of the dialect.
    components: dict[str, dict[str, Any]]
    #: status → component name; ``None`` key is the default.
    by_status: dict[int | None, str]
    validation_status: int = 400
    cross_site_check: bool = False
    drf_parsers: bool = False
    throttled_credentials: bool = False
    #: Operations that read their body themselves, not through DRF's parsers: a wrong
    #: Content-Type is their validation error, not a 415.
    raw_body_operations: frozenset[str] = frozenset()
    #: component name → dotted path of the dialect's own serializer for it, used
    #: instead of the schema above when it can be imported (one component, not two).
    serializers: dict[str, str] = field(default_factory=dict)

    def component_for(self, status: int) -> str:
        return self.by_status.get(status) or self.by_status[None]


SESSION = Dialect(
    name="session",
    components={"NeptunError": _NEPTUN_ERROR, "NeptunNotFound": _NEPTUN_NOT_FOUND},
    by_status={None: "NeptunError", 404: "NeptunNotFound"},
    cross_site_check=True,
)
V1 = Dialect(
    name="v1",
    components={"V1Error": _DETAIL_ERROR},
    by_status={None: "V1Error"},
    serializers={"V1Error": "neptun.api.v1.serializers.ErrorSerializer"},
    drf_parsers=True,
    throttled_credentials=True,
)
CONVERSATIONS = Dialect(
    name="conversations",
    components={
        "ConversationsError": _DETAIL_ERROR,
        "ConversationsValidationError": _VALIDATION_ERROR,
    },
    by_status={None: "ConversationsError", 422: "ConversationsValidationError"},
    validation_status=422,
    drf_parsers=True,
    throttled_credentials=True,
    raw_body_operations=frozenset(
        {
            "conversations_delete_all",
            "collections_delete_all",
            "conversations_delete_all_preview",
        }
    ),
)

#: A view's dialect, by the module of its exception handler.
DIALECTS = {
    "neptun.api.session.errors": SESSION,
    "neptun.api.v1.errors": V1,
    "neptun.api.conversations.errors": CONVERSATIONS,
}


def dialect_of(view) -> Dialect | None:
    try:
        handler = view.get_exception_handler()
    except Exception:  # a view outside the three dialects
        return None
    return DIALECTS.get(getattr(handler, "__module__", ""))


def _is_bare(response: dict[str, Any]) -> bool:
    """A declared response without a real schema (none, or a free-form object)."""
    content = response.get("content")
    if not content:
        return True
    schemas = [media.get("schema") or {} for media in content.values()]
    return all(
        schema.get("type") == "object" and not schema.get("properties") and "$ref" not in schema
        for schema in schemas
    )


# --------------------------------------------------------------------------- the schema class


class NeptunAutoSchema(AutoSchema):
    #: Path variables of the cookie dialect that are database ids.
    SESSION_ID_PARAMETERS = ("user_id", "chat_id", "project_id")

    def _declares_request(self) -> bool:
        return type(self).get_request_serializer is not NeptunAutoSchema.get_request_serializer

    def _get_request_body(self, direction: str = "request"):
        if self.method != "DELETE" or not self._declares_request():
            return super()._get_request_body(direction)
        self.method = "POST"  # let the base class build the body as for POST
        try:
            body = super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
        if body is not None:
            body["required"] = False
        return body

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        if dialect_of(self.view) is SESSION:
            for parameter in parameters:
                if parameter["name"] in self.SESSION_ID_PARAMETERS:
                    parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_DB_ID}
                    parameter["description"] = (
                        "A database id. Any other value (or another user's id) is the "
                        "dialect's 404."
                    )
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            dialect = dialect_of(self.view)
            if dialect is not None:
                self._add_error_responses(operation, dialect)
        return operation

    def _error_statuses(self, operation: dict[str, Any], dialect: Dialect) -> list[int]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        has_query = any(p.get("in") == "query" for p in parameters)
        has_path = any(p.get("in") == "path" for p in parameters)
        security = operation.get("security") or []
        needs_credentials = bool(security) and {} not in security
        throttled = bool(getattr(self.view, "throttle_classes", None))
        statuses = [500]
        if has_body or has_query:
            statuses.append(dialect.validation_status)
        if needs_credentials:
            statuses.append(401)
        if dialect.cross_site_check and self.method in UNSAFE_METHODS:
            statuses.append(403)
        if has_path:
            statuses.append(404)
        if has_body:
            statuses.append(413)
            if dialect.drf_parsers and operation["operationId"] not in dialect.raw_body_operations:
                statuses.append(415)
        if throttled or (dialect.throttled_credentials and needs_credentials):
            statuses.append(429)
        return sorted(statuses)

    def _error_ref(self, dialect: Dialect, status: int) -> dict[str, str]:
        name = dialect.component_for(status)
        if name in dialect.serializers:
            try:
                serializer = import_string(dialect.serializers[name])
            except ImportError:
                pass
            else:
                return self.resolve_serializer(serializer, "response").ref
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            object=ComponentIdentity(f"neptun.schema.{name}"),
            schema=dialect.components[name],
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _add_error_responses(self, operation: dict[str, Any], dialect: Dialect) -> None:
        responses = operation["responses"]
        for status in self._error_statuses(operation, dialect):
            response = responses.get(str(status))
            if response is None:
                response = responses[str(status)] = {"description": DESCRIPTIONS[status]}
            if _is_bare(response):
                response["content"] = {
                    "application/json": {"schema": self._error_ref(dialect, status)}
                }
            if status in _HEADERS and "headers" not in response:
                response["headers"] = dict(_HEADERS[status])
        # Statuses a view declared without a real schema (e.g. 409) get the dialect's body too.
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400 and _is_bare(response):
                response["content"] = {
                    "application/json": {"schema": self._error_ref(dialect, int(code))}
                }
        operation["responses"] = dict(sorted(responses.items()))


# --------------------------------------------------------------------------- links

_PARAMETER = re.compile(r"\{([^}]+)\}")


def _link_value(parameter: str) -> str:
    return "$response.body#/uuid" if parameter.endswith("uuid") else "$response.body#/id"


def _needs_other_ids(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether the operation's body requires ids of other objects (``chat_id``, ``chat_ids``)."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        body = media.get("schema", {})
        if "$ref" in body:
            body = components.get(body["$ref"].rsplit("/", 1)[-1], {})
        if any(name.endswith(("_id", "_ids")) for name in body.get("required", [])):
            return True
    return False


def add_links(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Link each create operation (201) to the operations on what it created.

    ``POST /a/{x}/chats`` → every operation under ``/a/{x}/chats/{chat_id}…``: ``x`` comes
    from the request's path, ``chat_id`` from the 201 body (``uuid`` for a ``*uuid``
    parameter, ``id`` otherwise). Operations whose body also needs ids of other objects
    (linking a chat, deleting a batch of chats) are not linked: the created object
    alone does not make them succeed.
    """
    paths = result.get("paths", {})
    components = result.get("components", {}).get("schemas", {})
    for path, item in paths.items():
        post = item.get("post")
        created = (post or {}).get("responses", {}).get("201")
        if created is None:
            continue
        own = set(_PARAMETER.findall(path))
        links: dict[str, Any] = {}
        for other, other_item in paths.items():
            match = re.fullmatch(re.escape(path) + r"/\{([^}]+)\}(/.*)?", other)
            if match is None:
                continue
            new = match.group(1)
            for method, operation in other_item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                if _needs_other_ids(operation, components):
                    continue
                parameters = {name: f"$request.path.{name}" for name in own}
                parameters[new] = _link_value(new)
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": parameters,
                    "description": f"The object created by {post['operationId']}.",
                }
        if links:
            created["links"] = links
    return result


#: Fields a chat's body has only when the chat is temporary
#: (:class:`neptun.api.common.TemporaryChatFieldsMixin`).
TEMPORARY_CHAT_FIELDS = ("temporary", "expires_at")


def optional_temporary_fields(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """A chat's ``temporary`` and ``expires_at`` are read-only but not always there:
    not required in the chat components (drf-spectacular requires read-only fields)."""
    for component in result.get("components", {}).get("schemas", {}).values():
        properties = component.get("properties", {})
        if all(name in properties for name in TEMPORARY_CHAT_FIELDS):
            required = [n for n in component.get("required", []) if n not in TEMPORARY_CHAT_FIELDS]
            component["required"] = required
    return result


# --------------------------------------------------------------------------- security schemes


class NeptunSessionScheme(OpenApiAuthenticationExtension):
    target_class = "neptun.authentication.NeptunSessionAuthentication"
    name = "neptunSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "neptun-session",
            "description": "Session cookie set by POST /api/auth/login. Unsafe requests "
            "from another site (by `Origin` / `Sec-Fetch-Site`) are refused with 403.",
        }


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "neptun.authentication.ApiKeyAuthentication"
    name = "tenantApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A tenant's API key (manage.py create_api_key).",
        }


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "neptun.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's access token (manage.py create_access_token).",
        }
