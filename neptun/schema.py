"""OpenAPI generation (drf-spectacular) for the three dialects.

- One security scheme per dialect: the ``neptun-session`` cookie, the
  ``X-API-Key`` header and HTTP bearer tokens.
- :class:`NeptunAutoSchema` keeps request bodies on DELETE operations that
  declare one with ``@extend_schema(request=...)``: drf-spectacular drops DELETE
  bodies by default, but two of our deletes take a JSON body.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class NeptunAutoSchema(AutoSchema):
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


class NeptunSessionScheme(OpenApiAuthenticationExtension):
    target_class = "neptun.authentication.NeptunSessionAuthentication"
    name = "neptunSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "neptun-session",
            "description": "Session cookie set by POST /api/auth/login.",
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
