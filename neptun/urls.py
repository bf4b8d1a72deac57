"""Root URLconf: the admin and the three API dialects."""

from django.contrib import admin
from django.urls import include, path, re_path

from neptun.api.docs import DocsView, SchemaView
from neptun.views import api_not_found, healthz, home

handler404 = "neptun.views.not_found"
handler500 = "neptun.views.internal_error"

# The admin's "View site" link.
admin.site.site_url = "/"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # Dialect 1: cookie session (``neptun-session``), Neptun error bodies.
    path("api/", include("neptun.api.session.urls")),
    # Dialect 2: tenant API keys (``X-API-Key``), ``{"detail": ...}`` errors; retention
    # and erasure first (the chat URLs end with a catch-all 404).
    path("api/v1/", include("neptun.api.v1.privacy_urls")),
    path("api/v1/", include("neptun.api.v1.urls")),
    # Dialect 3: bearer tokens, FastAPI-style 422 bodies.
    path("api/", include("neptun.api.conversations.urls")),
    # Anything else under /api/: the JSON 404 of its dialect, also with DEBUG on.
    re_path(r"^api(?:/.*)?$", api_not_found, name="api-not-found"),
]
