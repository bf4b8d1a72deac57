"""WSGI entry point (HTTP only; WebSockets need the ASGI entry point)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neptun.settings.base")

application = get_wsgi_application()
