"""Who may read the OpenAPI schema (``/api/schema/``) and its docs (``/api/docs/``).

``API_DOCS_ACCESS`` (environment) decides, at request time:

- ``public``: anyone (the default with ``DEBUG`` on — a developer's machine);
- ``staff``: only a logged-in staff member (the admin's session cookie), the default
  with ``DEBUG`` off. The three dialects are published contracts and the schema holds
  no secret, but a production server need not hand every visitor a map of its
  surface; staff read the docs after logging into ``/admin/``;
- ``off``: the two paths answer 404 as if they did not exist.

Without a session the answer is 401, with a non-staff one 403, both JSON
``{"detail": ...}`` whatever format was asked for (the schema is not part of any one
dialect, so it answers in the plain ``detail`` shape; the login page is the admin's).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBase, JsonResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from neptun.authentication import NeptunSessionAuthentication

ACCESS_CHOICES = ("public", "staff", "off")


class ApiDocsAccess(BasePermission):
    message = "The API docs are for staff: log in at /admin/ first."

    def has_permission(self, request: Request, view: APIView) -> bool:
        access = settings.API_DOCS_ACCESS
        if access == "off":
            raise exceptions.NotFound()
        if access == "public":
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class _DocsAccessMixin(APIView):
    authentication_classes = [NeptunSessionAuthentication]
    permission_classes = [ApiDocsAccess]

    # DRF's dispatch takes any HttpResponseBase; the stubs say Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        # The views render YAML or HTML; a refusal is JSON in any case.
        if isinstance(exc, exceptions.APIException):
            response = JsonResponse({"detail": str(exc.detail)}, status=exc.status_code)
            if isinstance(exc, exceptions.NotAuthenticated):
                response["WWW-Authenticate"] = 'Cookie realm="neptun-session"'
            return response
        return super().handle_exception(exc)


class SchemaView(_DocsAccessMixin, SpectacularAPIView):
    pass


class DocsView(_DocsAccessMixin, SpectacularSwaggerView):
    pass
