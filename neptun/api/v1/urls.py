"""URLs of the v1 tenant API, under ``/api/v1/``. Chat ids are parsed by the views,
so a malformed one is the same JSON 404 as an unknown one."""

from django.urls import path, re_path

from neptun.api.v1 import views

urlpatterns = [
    path("chats", views.ChatListApi.as_view(), name="v1-chats"),
    path("chats/<str:chat_uuid>", views.ChatDetailApi.as_view(), name="v1-chat"),
    path("chats/<str:chat_uuid>/messages", views.MessageListApi.as_view(), name="v1-chat-messages"),
    path("chats/<str:chat_uuid>/export", views.ChatExportApi.as_view(), name="v1-chat-export"),
    path(
        "chats/<str:chat_uuid>/files/<str:file_id>/content",
        views.FileContentApi.as_view(),
        name="v1-chat-file-content",
    ),
    # The same with a trailing slash (left out of the OpenAPI schema).
    re_path(r"^chats/$", views.ChatListApi.as_view(schema=None)),
    re_path(r"^chats/(?P<chat_uuid>[^/]+)/$", views.ChatDetailApi.as_view(schema=None)),
    re_path(r"^chats/(?P<chat_uuid>[^/]+)/messages/$", views.MessageListApi.as_view(schema=None)),
    re_path(r"^chats/(?P<chat_uuid>[^/]+)/export/$", views.ChatExportApi.as_view(schema=None)),
    re_path(r"", views.NotFoundApi.as_view(), name="v1-not-found"),
]
