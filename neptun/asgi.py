"""ASGI entry point (HTTP; the WebSocket routes join in chats/routing.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neptun.settings.base")

application = get_asgi_application()
