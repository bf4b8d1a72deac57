"""ASGI entry point: HTTP goes to Django, WebSockets to the chat consumers.

Served by daphne (``manage.py runserver`` uses it, as daphne is installed) or by
``daphne neptun.asgi:application`` / any ASGI server in production.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "neptun.settings.base")

# Set Django up (apps, settings) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chats.routing import websocket_urlpatterns  # noqa: E402
from neptun.uploads import RequestBodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Django reads a whole body to disk before any view runs: refuse an
        # oversized one first (neptun/uploads.py).
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
