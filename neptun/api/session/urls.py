"""URLs of the Neptun (cookie-session) dialect, mounted at ``/api/``.

Path ids use the ``str`` converter on purpose: a non-integer or out-of-range id
reaches the view and becomes the dialect's JSON 404, never Django's HTML one.
"""

from django.urls import path

from . import views

chats = views.ChatViewSet.as_view({"get": "list", "post": "create"})
chat = views.ChatViewSet.as_view({"get": "retrieve", "delete": "destroy"})
messages = views.MessageViewSet.as_view({"get": "list", "post": "create"})
projects = views.ProjectViewSet.as_view({"get": "list", "post": "create"})
project_chats = views.ProjectChatViewSet.as_view(
    {"get": "list", "post": "create", "delete": "bulk_destroy"}
)

app_name = "session"

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("users/<str:user_id>/chats", chats, name="chats"),
    path("users/<str:user_id>/chats/<str:chat_id>", chat, name="chat"),
    path("users/<str:user_id>/chats/<str:chat_id>/messages", messages, name="messages"),
    path("users/<str:user_id>/projects", projects, name="projects"),
    path(
        "users/<str:user_id>/projects/<str:project_id>/chats",
        project_chats,
        name="project-chats",
    ),
]
