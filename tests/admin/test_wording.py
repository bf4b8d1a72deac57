"""The admin's sentences: counts with their plurals, blobs removed, model names."""

from __future__ import annotations

import pytest
from django.urls import reverse

from neptun.admin_deletion import counts_text
from neptun.models import AccessToken, ApiKey
from tests.admin.test_actions import CHATS, _chat_with_everything, confirm_post, texts
from tests.factories import ChatFactory

# on_commit callbacks (blob removal, the result messages) must really run.
pytestmark = pytest.mark.django_db(transaction=True)


def test_counts_text_uses_singular_and_plural():
    counts = {"chats": 1, "messages": 2, "files": 1, "links": 1, "connections": 1, "blobs": 1}

    assert counts_text(counts) == (
        "1 chat, 2 messages, 1 file, 0 collections, 1 project link, "
        "1 live-connection record; 1 blob removed from storage"
    )


def test_counts_text_plurals_and_zero_blobs():
    counts = {"users": 2, "chats": 3, "messages": 0, "files": 2, "collections": 1, "links": 2}

    assert counts_text(counts) == (
        "2 users, 3 chats, 0 messages, 2 files, 1 collection, 2 project links; "
        "0 blobs removed from storage"
    )


def test_success_message_names_the_blobs_removed(superuser_client, user):
    chat, _own, _in_collection = _chat_with_everything(user)
    plain = ChatFactory(owner=user)

    response = confirm_post(superuser_client, CHATS, "delete_selected", [chat.pk])
    [message] = texts(response)
    assert message.startswith(
        "Deleted 1 chat, 3 messages, 1 file, 0 collections, 1 project link, "
        "1 live-connection record; 1 blob removed from storage."
    )

    response = confirm_post(superuser_client, CHATS, "delete_selected", [plain.pk])
    assert (
        "Deleted 1 chat, 0 messages, 0 files, 0 collections; 0 blobs removed from storage."
        in (texts(response)[-1])
    )


def test_api_keys_are_called_api_keys(superuser_client):
    assert ApiKey._meta.verbose_name == "API key"
    assert ApiKey._meta.verbose_name_plural == "API keys"
    assert AccessToken._meta.verbose_name_plural == "access tokens"

    html = superuser_client.get(reverse("admin:index")).content.decode()
    assert ">API keys<" in html
    assert "Api keys" not in html
    page = superuser_client.get(reverse("admin:neptun_apikey_changelist")).content.decode()
    assert "Select API key to change" in page


def test_deletion_record_summary_uses_singular_and_plural():
    from django.contrib import admin

    from neptun.models import DeletionRecord

    record = DeletionRecord(
        counts={"chats": 1, "messages": 2, "collections": 1, "links": 1, "blobs": 3, "x": "y"}
    )

    summary = admin.site._registry[DeletionRecord].summary(record)

    assert summary == "1 chat, 2 messages, 1 collection, 1 project link, 3 blobs"
