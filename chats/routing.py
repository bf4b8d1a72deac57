"""WebSocket routes (mounted by ``neptun.asgi``)."""

from django.urls import re_path

from chats import consumers

websocket_urlpatterns = [
    re_path(r"^ws/v1/chats/(?P<chat_uuid>[^/]+)/?$", consumers.ChatConsumer.as_asgi()),
    # Anything else is refused at the handshake instead of raising in the router.
    re_path(r"", consumers.RefuseConsumer.as_asgi()),
]
