"""URLs of the conversations dialect (included at ``api/``)."""

from django.db import transaction
from django.urls import path

from . import views

# Not atomic even if ATOMIC_REQUESTS is switched on: the deletion service opens its
# own transaction and the response must be built after it commits (see views).
delete_all = transaction.non_atomic_requests(views.ConversationsDeleteAllView.as_view())
delete_alias = transaction.non_atomic_requests(views.CollectionsDeleteAllView.as_view())
delete_preview = transaction.non_atomic_requests(views.ConversationsDeletePreviewView.as_view())

urlpatterns = [
    path("chat/conversations/all", delete_all, name="conversations-delete-all"),
    path("collections/all", delete_alias, name="collections-delete-all"),
    path("chat/conversations/all/preview", delete_preview, name="conversations-delete-preview"),
    path("chat/conversations", views.ChatListCreateView.as_view(), name="conversations"),
    path("files", views.FileListCreateView.as_view(), name="files"),
    path("files/<str:file_id>/content", views.FileContentView.as_view(), name="file-content"),
    path("collections", views.CollectionListCreateView.as_view(), name="collections"),
]
