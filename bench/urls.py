"""The application's URLs plus the bench-only operations endpoint."""

from django.urls import path

from bench.instrument import run_view
from neptun.urls import handler404, handler500
from neptun.urls import urlpatterns as app_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]

urlpatterns = [path("__bench__/run", run_view, name="bench-run"), *app_urlpatterns]
