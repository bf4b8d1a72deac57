"""The OpenAPI schema at /api/schema/ and the docs at /api/docs/.

The schema must be valid OpenAPI 3, list every route the URLconf serves under
``/api/`` with the methods it serves, carry the JSON bodies of the DELETE
endpoints, each dialect's security scheme, and each dialect's error bodies per
status code.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

#: Routes under /api/ that are deliberately not operations of the schema: the schema
#: and its docs themselves, and the v1 catch-all that answers JSON 404s. Trailing-slash
#: aliases of documented paths are also left out (see ``test_every_api_route_is_documented``).
NOT_OPERATIONS = {"/api/schema/", "/api/docs/", "/api/v1/"}

SCHEME_OF_PREFIX = {
    "/api/users/": "neptunSession",
    "/api/auth/logout": "neptunSession",
    "/api/v1/": "tenantApiKey",
    "/api/chat/": "bearerToken",
    "/api/collections": "bearerToken",
    "/api/files": "bearerToken",
}

#: Error components per dialect, by path prefix: (default, {status: component}).
ERRORS_OF_PREFIX = {
    "/api/users/": ("NeptunError", {404: "NeptunNotFound"}),
    "/api/auth/": ("NeptunError", {404: "NeptunNotFound"}),
    "/api/v1/": ("V1Error", {409: "V1Conflict"}),
    "/api/chat/": ("ConversationsError", {422: "ConversationsValidationError"}),
    "/api/collections": ("ConversationsError", {422: "ConversationsValidationError"}),
    "/api/files": ("ConversationsError", {422: "ConversationsValidationError"}),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def _by_prefix(table: dict, path: str):
    for prefix, value in table.items():
        if path.startswith(prefix):
            return value
    raise AssertionError(f"no dialect for {path}")


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _normalise(route: str) -> str:
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _served_methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method for method in actions if method in HTTP_METHODS}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    assert view_class is not None, callback
    return {method for method in HTTP_METHODS if hasattr(view_class, method)}


def api_routes() -> dict[str, set[str]]:
    """Every route of the URLconf under /api/ → the methods its view serves."""
    routes: dict[str, set[str]] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                path = _normalise(prefix + str(pattern.pattern))
                if path.startswith("/api/"):
                    routes.setdefault(path, set()).update(_served_methods(pattern.callback))

    walk(get_resolver().url_patterns, "/")
    return routes


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema


def test_schema_generation_has_no_warnings(capsys):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)


def test_schema_is_also_served_as_yaml(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_docs_page_uses_the_schema_and_self_hosted_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_every_api_route_is_documented(schema):
    routes = api_routes()
    documented = {
        path: {method for method in HTTP_METHODS if method in item}
        for path, item in schema["paths"].items()
    }
    aliases = {path for path in routes if path.endswith("/") and path[:-1] in documented}
    expected = {
        path: methods
        for path, methods in routes.items()
        if path not in NOT_OPERATIONS and path not in aliases
    }
    assert documented == expected
    # Each alias serves the same methods as the path it stands for.
    for alias in aliases:
        assert routes[alias] == documented[alias[:-1]], alias
    # The three dialects are all there.
    assert any(p.startswith("/api/users/") for p in documented)
    assert any(p.startswith("/api/v1/") for p in documented)
    assert "/api/chat/conversations/all" in documented


def _body_schema(schema: dict, operation: dict) -> dict:
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def test_delete_endpoints_document_their_json_bodies(schema):
    paths = schema["paths"]
    batch_delete = paths["/api/users/{user_id}/projects/{project_id}/chats"]["delete"]
    batch = _body_schema(schema, batch_delete)
    assert batch["properties"]["chat_ids"]["type"] == "array"
    assert batch["properties"]["chat_ids"]["items"]["type"] == "integer"
    flags = {
        "delete_files_and_collections",
        "delete_regular_chats",
        "delete_user_file_conversations",
        "delete_global_collection_conversations",
        "delete_null_conversations",
    }
    for path in ("/api/chat/conversations/all", "/api/collections/all"):
        body = _body_schema(schema, paths[path]["delete"])
        assert set(body["properties"]) == flags, path
        for flag in flags:
            assert body["properties"][flag]["type"] == "boolean"
            assert body["properties"][flag]["default"] is True
        assert body.get("additionalProperties") is False, "unknown fields are rejected"
    # DELETEs without a body do not pretend to have one.
    assert "requestBody" not in paths["/api/users/{user_id}/chats/{chat_id}"]["delete"]
    assert "requestBody" not in paths["/api/v1/chats/{chat_uuid}"]["delete"]


def test_each_dialect_has_its_security_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["neptunSession"] == {
        **schemes["neptunSession"],
        "type": "apiKey",
        "in": "cookie",
        "name": "neptun-session",
    }
    assert schemes["tenantApiKey"]["in"] == "header"
    assert schemes["tenantApiKey"]["name"] == "X-API-Key"
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    for path, method, operation in _operations(schema):
        if path == "/api/auth/login":
            assert operation["security"] == [{}], "login needs no credentials"
            continue
        expected = _by_prefix(SCHEME_OF_PREFIX, path)
        names = {name for requirement in operation["security"] for name in requirement}
        assert names == {expected}, (method, path, operation["security"])


def test_each_operation_documents_its_dialects_error_bodies(schema):
    for path, method, operation in _operations(schema):
        default, special = _by_prefix(ERRORS_OF_PREFIX, path)
        responses = operation["responses"]
        assert "500" in responses, (method, path)
        if operation.get("security") != [{}] and {} not in operation.get("security", [{}]):
            assert "401" in responses, (method, path)
            assert "WWW-Authenticate" in responses["401"].get("headers", {}), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert "413" in responses, (method, path)
        for code, response in responses.items():
            if int(code) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[-1] == special.get(int(code), default), (method, path, code)


def test_dialect_specific_statuses(schema):
    paths = schema["paths"]
    # Cookie dialect: unsafe methods can be refused as cross-site.
    for path, method, operation in _operations(schema):
        if path.startswith(("/api/users/", "/api/auth/")) and method != "get":
            assert "403" in operation["responses"], (method, path)
    assert "400" in paths["/api/users/{user_id}/projects/{project_id}/chats"]["delete"]["responses"]
    assert "429" in paths["/api/auth/login"]["post"]["responses"]
    # v1: 409 while sockets are connected; failed keys are throttled.
    v1_delete = paths["/api/v1/chats/{chat_uuid}"]["delete"]["responses"]
    assert {"401", "404", "409", "429"} <= set(v1_delete)
    # Conversations: validation errors are 422 in the pydantic shape.
    delete_all = paths["/api/chat/conversations/all"]["delete"]["responses"]
    assert {"401", "422", "429"} <= set(delete_all)
    assert "400" not in delete_all
    # A wrong Content-Type: DRF's 415 where its parsers read the body, the dialect's 422
    # where the view reads the body itself.
    assert "415" not in delete_all
    assert "415" in paths["/api/chat/conversations"]["post"]["responses"]
    assert "415" in paths["/api/v1/chats"]["post"]["responses"]
    assert "415" not in paths["/api/users/{user_id}/chats"]["post"]["responses"]
    validation = schema["components"]["schemas"]["ConversationsValidationError"]
    assert set(validation["properties"]["detail"]["items"]["required"]) == {"type", "loc", "msg"}
    not_found = schema["components"]["schemas"]["NeptunNotFound"]
    assert not_found["properties"]["data"]["required"] == ["message"]


def test_session_path_ids_are_documented_as_integers(schema):
    operation = schema["paths"]["/api/users/{user_id}/chats/{chat_id}"]["delete"]
    for parameter in operation["parameters"]:
        assert parameter["schema"]["type"] == "integer", parameter


def test_create_operations_link_to_the_created_object(schema):
    links = schema["paths"]["/api/users/{user_id}/chats"]["post"]["responses"]["201"]["links"]
    destroy = next(link for link in links.values() if link["operationId"] == "users_chats_destroy")
    assert destroy["parameters"] == {
        "user_id": "$request.path.user_id",
        "chat_id": "$response.body#/id",
    }
