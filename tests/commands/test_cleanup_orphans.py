"""``manage.py cleanup_orphans``: every orphan kind, dry run, JSON, grace, resume."""

from __future__ import annotations

import io
import json
import os
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from chats import cleanup, services
from chats.deletion import engine
from chats.models import Chat, ChatConnection, ConversationType, Message
from collections_app.models import Collection, File
from neptun.management.commands.cleanup_orphans import parse_duration
from neptun.models import DeletionRecord
from neptun.uploads import upload_root
from tests.factories import (
    ChatConnectionFactory,
    ChatFactory,
    CollectionFactory,
    FileFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

# Each batch commits on its own and blobs go after commit: use real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

DAYS_AGO = timezone.now() - timedelta(days=3)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """A storage of this test's own (the orphan-blob sweep walks all of it)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("cleanup_orphans", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_json(*args: str) -> dict:
    out, _ = run("--json", *args)
    return json.loads(out)


def age(obj, when=DAYS_AGO, field="created_at"):
    type(obj).objects.filter(pk=obj.pk).update(**{field: when})


def age_blob(name: str, when=DAYS_AGO) -> None:
    stamp = when.timestamp()
    os.utime(default_storage.path(name), (stamp, stamp))


def old_blob(name: str, content: bytes = b"orphan") -> str:
    saved = default_storage.save(name, ContentFile(content))
    age_blob(saved)
    return saved


@pytest.fixture
def orphans(user):
    """One orphan of each kind, plus look-alikes that must stay."""
    o = {}
    # null-chats: an old one (with messages, a link, own file) and a fresh one.
    o["null_chat"] = ChatFactory(owner=user, conversation_type=None)
    age(o["null_chat"])
    MessageFactory.create_batch(2, chat=o["null_chat"])
    ProjectChatFactory(chat=o["null_chat"], project__owner=user)
    o["null_chat_file"] = FileFactory(owner=user, chat=o["null_chat"])
    o["fresh_null_chat"] = ChatFactory(owner=user, conversation_type=None)
    o["old_regular_chat"] = ChatFactory(owner=user, conversation_type=ConversationType.REGULAR)
    age(o["old_regular_chat"])
    # stale-connections
    o["stale"] = ChatConnectionFactory(chat=o["old_regular_chat"])
    age(o["stale"], field="last_seen_at")
    o["live"] = ChatConnectionFactory(chat=o["old_regular_chat"])
    # empty-collections
    o["empty"] = CollectionFactory(owner=user)
    age(o["empty"])
    o["fresh_empty"] = CollectionFactory(owner=user)
    o["with_file"] = CollectionFactory(owner=user)
    age(o["with_file"])
    FileFactory(owner=user, collection=o["with_file"])
    o["with_chat"] = CollectionFactory(owner=user)
    age(o["with_chat"])
    ChatFactory(owner=user, collection=o["with_chat"])
    o["global_empty"] = CollectionFactory(global_=True)
    age(o["global_empty"])
    # loose-files (kept unless asked)
    o["loose"] = FileFactory(owner=user)
    age(o["loose"])
    o["fresh_loose"] = FileFactory(owner=user)
    # missing-blobs
    o["missing"] = FileFactory(owner=user, chat=o["old_regular_chat"])
    age(o["missing"])
    default_storage.delete(o["missing"].blob.name)
    # orphan-blobs
    o["orphan_blob"] = old_blob(f"{upload_root()}/999/2026/01/01/gone.txt")
    o["fresh_orphan_blob"] = default_storage.save(f"{upload_root()}/999/new.txt", ContentFile(b"x"))
    o["outside_uploads"] = old_blob("elsewhere/not-ours.txt")
    for f in File.objects.exclude(pk=o["missing"].pk):
        age_blob(f.blob.name)
    return o


def test_dry_run_reports_every_kind_and_deletes_nothing(orphans):
    before = {
        model: model.objects.count() for model in (Chat, Message, File, Collection, ChatConnection)
    }
    out, _ = run()
    assert "Dry run: nothing was deleted" in out
    data = run_json()
    kinds = data["kinds"]
    assert data["dry_run"] is True and data["record_id"] is None
    assert kinds["null-chats"]["found"] == 1
    assert kinds["null-chats"]["counts"]["messages"] == 2
    assert kinds["stale-connections"]["found"] == 1
    assert kinds["empty-collections"]["found"] == 1
    assert (kinds["loose-files"]["found"], kinds["loose-files"]["kept"]) == (1, 1)
    assert (kinds["missing-blobs"]["found"], kinds["missing-blobs"]["kept"]) == (1, 1)
    assert kinds["missing-blobs"]["examples"] == [
        {"file_id": orphans["missing"].pk, "blob": orphans["missing"].blob.name}
    ]
    assert kinds["orphan-blobs"]["found"] == 1
    assert before == {
        model: model.objects.count() for model in (Chat, Message, File, Collection, ChatConnection)
    }
    assert default_storage.exists(orphans["orphan_blob"])
    assert not DeletionRecord.objects.exists()


def test_yes_removes_each_kind_and_only_orphans(orphans):
    o = orphans
    data = run_json("--yes")
    kinds = data["kinds"]
    assert data["dry_run"] is False and data["errors"] == []
    # null-chats: the old one with its messages, link, own file and blob.
    assert not Chat.objects.filter(pk=o["null_chat"].pk).exists()
    assert not File.objects.filter(pk=o["null_chat_file"].pk).exists()
    assert not default_storage.exists(o["null_chat_file"].blob.name)
    assert Chat.objects.filter(pk=o["fresh_null_chat"].pk).exists()
    assert Chat.objects.filter(pk=o["old_regular_chat"].pk).exists()
    assert kinds["null-chats"]["removed"] == 1
    assert kinds["null-chats"]["counts"] == {
        "chats": 1,
        "messages": 2,
        "links": 1,
        "files": 1,
        "blobs": 1,
    }
    # stale-connections
    assert list(ChatConnection.objects.values_list("pk", flat=True)) == [o["live"].pk]
    # empty-collections
    assert not Collection.objects.filter(pk=o["empty"].pk).exists()
    for name in ("fresh_empty", "with_file", "with_chat", "global_empty"):
        assert Collection.objects.filter(pk=o[name].pk).exists(), name
    # loose files are kept by default
    assert File.objects.filter(pk=o["loose"].pk).exists()
    assert default_storage.exists(o["loose"].blob.name)
    assert kinds["loose-files"]["kept"] == 1 and kinds["loose-files"]["removed"] == 0
    # missing blobs are reported, rows kept
    assert File.objects.filter(pk=o["missing"].pk).exists()
    assert kinds["missing-blobs"]["kept"] == 1
    # orphan blobs: only the old one under uploads/
    assert not default_storage.exists(o["orphan_blob"])
    assert default_storage.exists(o["fresh_orphan_blob"])
    assert default_storage.exists(o["outside_uploads"])
    assert kinds["orphan-blobs"]["removed"] == 1
    # one record for the run, interface "command", no actor
    record = DeletionRecord.objects.get()
    assert record.pk == data["record_id"]
    assert (record.interface, record.actor, record.actor_email) == ("command", None, "")
    assert record.endpoint.startswith("manage.py cleanup_orphans --yes")
    assert record.counts["chats"] == 1 and record.counts["collections"] == 1
    assert record.counts["connections"] == 1
    assert record.counts["blobs"] == 2  # the null chat's file and the orphan blob
    assert record.counts["orphans"]["orphan-blobs"] == 1


def test_second_run_finds_nothing(orphans):
    run("--yes")
    data = run_json("--yes")
    assert all(kind["found"] == kind["kept"] for kind in data["kinds"].values()), (
        data
    )  # only what is kept by policy is found again
    assert data["kinds"]["null-chats"]["found"] == 0
    assert data["record_id"] is None
    assert DeletionRecord.objects.count() == 1


def test_json_shape(orphans):
    data = run_json("--only", "null-chats", "--only", "orphan-blobs")
    assert set(data) == {
        "dry_run",
        "complete",
        "kinds",
        "counts",
        "by_type",
        "errors",
        "errors_omitted",
        "record_id",
    }
    assert list(data["kinds"]) == ["null-chats", "orphan-blobs"]
    for kind in data["kinds"].values():
        assert {"found", "removed", "kept", "older_than_seconds", "counts", "complete"} <= set(kind)
    assert data["kinds"]["null-chats"]["older_than_seconds"] == 86400
    assert set(data["counts"]) >= {"chats", "messages", "files", "collections", "links", "blobs"}
    assert data["by_type"]["null"] == 1
    assert data["complete"] is True


def test_grace_periods_are_honoured(user):
    chat = ChatFactory(owner=user, conversation_type=None)
    age(chat, timezone.now() - timedelta(hours=5))
    blob = default_storage.save(f"{upload_root()}/1/recent.txt", ContentFile(b"x"))
    age_blob(blob, timezone.now() - timedelta(hours=5))

    data = run_json("--yes")
    assert data["kinds"]["null-chats"]["found"] == 0
    assert data["kinds"]["orphan-blobs"]["found"] == 0
    assert Chat.objects.filter(pk=chat.pk).exists() and default_storage.exists(blob)

    data = run_json("--yes", "--older-than", "6h", "--older-than", "orphan-blobs=4h")
    assert Chat.objects.filter(pk=chat.pk).exists()  # 5 h < 6 h
    assert not default_storage.exists(blob)  # 5 h > 4 h
    assert data["kinds"]["orphan-blobs"]["older_than_seconds"] == 4 * 3600

    run("--yes", "--older-than", "4h")
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_live_connection_is_never_swept(user, settings):
    settings.CHAT_CONNECTION_TTL = 60
    live = ChatConnectionFactory(chat__owner=user)
    age(live, timezone.now() - timedelta(seconds=30), field="last_seen_at")
    data = run_json("--yes", "--older-than", "stale-connections=0s")
    assert data["kinds"]["stale-connections"]["older_than_seconds"] == 60
    assert ChatConnection.objects.filter(pk=live.pk).exists()


def test_loose_files_only_with_the_flag_and_after_grace(user):
    """Files kept by ``delete_files_and_collections=false`` stay unless asked for."""
    chat = ChatFactory(owner=user)
    kept = FileFactory(owner=user, chat=chat)
    services.conversations_delete(
        user=user,
        flags=services.ConversationFlags(delete_files_and_collections=False),
        ctx=services.DeletionContext(user, "api"),
    )
    kept.refresh_from_db()
    assert kept.chat_id is None and kept.collection_id is None
    age(kept)
    age_blob(kept.blob.name)
    fresh = FileFactory(owner=user)
    age_blob(fresh.blob.name)

    run("--yes")
    assert File.objects.filter(pk__in=[kept.pk, fresh.pk]).count() == 2
    out, _ = run("--only", "loose-files")
    assert "2 loose file(s) kept" not in out and "1 loose file(s) kept" in out

    data = run_json("--yes", "--delete-loose-files")
    assert data["kinds"]["loose-files"]["removed"] == 1
    assert not File.objects.filter(pk=kept.pk).exists()
    assert not default_storage.exists(kept.blob.name)
    assert File.objects.filter(pk=fresh.pk).exists()  # inside the grace period


def test_missing_blob_rows_only_with_the_flag(user):
    f = FileFactory(owner=user)
    age(f)
    default_storage.delete(f.blob.name)
    empty = FileFactory(owner=user, blob="")
    age(empty)
    out, _ = run("--only", "missing-blobs", "--yes")
    assert "2 file row(s) have no blob" in out
    assert File.objects.count() == 2
    data = run_json("--only", "missing-blobs", "--yes", "--delete-missing-blob-rows")
    assert data["kinds"]["missing-blobs"]["removed"] == 2
    assert not File.objects.exists()


def test_storage_failure_exits_non_zero_and_is_recorded(user, monkeypatch):
    chat = ChatFactory(owner=user, conversation_type=None)
    age(chat)
    f = FileFactory(owner=user, chat=chat)

    def refuse(name):
        raise PermissionError("storage refused")

    monkeypatch.setattr(default_storage, "delete", refuse)
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("cleanup_orphans", "--yes", "--json", "--only", "null-chats", stdout=out)
    assert exc.value.returncode == 1
    data = json.loads(out.getvalue())
    assert data["errors"][0]["blob"] == f.blob.name
    assert not Chat.objects.exists()
    assert DeletionRecord.objects.get().errors[0]["blob"] == f.blob.name
    monkeypatch.undo()
    # The blob left behind is an orphan blob now: the next run takes it.
    age_blob(f.blob.name)
    data = run_json("--yes", "--only", "orphan-blobs")
    assert data["kinds"]["orphan-blobs"]["removed"] == 1
    assert not default_storage.exists(f.blob.name)


def test_errors_are_capped_not_unbounded(monkeypatch):
    monkeypatch.setattr(cleanup, "MAX_ERRORS", 2)
    for i in range(5):
        old_blob(f"{upload_root()}/7/blob-{i}.txt")

    def refuse(name):
        raise PermissionError("storage refused")

    monkeypatch.setattr(default_storage, "delete", refuse)
    out = io.StringIO()
    with pytest.raises(CommandError, match="5 error"):
        call_command("cleanup_orphans", "--yes", "--json", "--only", "orphan-blobs", stdout=out)
    data = json.loads(out.getvalue())
    assert len(data["errors"]) == 2 and data["errors_omitted"] == 3


def test_interrupted_run_resumes_without_harm(user, monkeypatch):
    chats = ChatFactory.create_batch(5, owner=user, conversation_type=None)
    files = []
    for chat in chats:
        age(chat)
        MessageFactory.create_batch(2, chat=chat)
        files.append(FileFactory(owner=user, chat=chat))
        age_blob(files[-1].blob.name)

    real_execute = engine.execute
    calls = {"n": 0}

    def execute_then_die(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # operator pressed Ctrl-C mid-batch
        return real_execute(**kwargs)

    monkeypatch.setattr(engine, "execute", execute_then_die)
    with pytest.raises(KeyboardInterrupt):
        run("--yes", "--only", "null-chats", "--batch-size", "2")
    monkeypatch.undo()

    # The first batch committed whole; the second rolled back whole.
    assert Chat.objects.count() == 3
    assert Message.objects.count() == 6
    assert File.objects.count() == 3
    first = DeletionRecord.objects.get()
    assert first.counts["chats"] == 2 and first.counts["messages"] == 4
    assert sum(default_storage.exists(f.blob.name) for f in files) == 3

    data = run_json("--yes", "--batch-size", "2")
    assert data["kinds"]["null-chats"]["removed"] == 3
    assert not Chat.objects.exists() and not Message.objects.exists()
    assert not File.objects.exists()
    assert not any(default_storage.exists(f.blob.name) for f in files)
    assert DeletionRecord.objects.count() == 2


def test_batches_update_one_record(user):
    for _ in range(5):
        age(ChatFactory(owner=user, conversation_type=None))
    data = run_json("--yes", "--only", "null-chats", "--batch-size", "2")
    assert data["kinds"]["null-chats"]["removed"] == 5
    record = DeletionRecord.objects.get()
    assert record.counts["chats"] == 5 and record.counts["orphans"]["null-chats"] == 5


def test_plain_progress_lines_when_not_a_terminal(user):
    for _ in range(3):
        age(ChatFactory(owner=user, conversation_type=None))
    out, _ = run("--only", "null-chats", "--batch-size", "2")
    assert "null-chats: 2/3 checked" in out and "null-chats: 3/3 checked" in out
    _, err = run("--json", "--only", "null-chats", "--batch-size", "2")
    assert "null-chats: 3/3 checked" in err  # stdout keeps only the JSON
    out, _ = run("--no-progress", "--only", "null-chats")
    assert "checked" not in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(user):
    age(ChatFactory(owner=user, conversation_type=None))
    out = FakeTerminal()
    call_command("cleanup_orphans", "--only", "null-chats", stdout=out)
    text = out.getvalue()
    assert "null-chats" in text and "1/1" in text
    assert "checked" not in text  # the bar, not the plain lines


def test_bad_arguments():
    with pytest.raises(CommandError, match="invalid duration"):
        run("--older-than", "3 fortnights")
    with pytest.raises(CommandError, match="unknown kind"):
        run("--older-than", "chats=1h")
    with pytest.raises(CommandError, match="batch-size"):
        run("--batch-size", "0")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("1d12h", 129600), ("30", 30)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_memory_does_not_grow_with_the_number_of_orphans():
    user = UserFactory()

    def peak(n: int) -> int:
        Chat.objects.bulk_create(
            Chat(owner=user, conversation_type=None, created_at=DAYS_AGO) for _ in range(n)
        )
        tracemalloc.start()
        started = time.perf_counter()
        run("--yes", "--only", "null-chats", "--batch-size", "50", "--no-progress")
        del started
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not Chat.objects.exists()
        return top

    small, big = peak(100), peak(1000)
    assert big < small * 1.5 + 256 * 1024, (small, big)
