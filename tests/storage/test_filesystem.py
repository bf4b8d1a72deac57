"""The file-system backend behind the batched storage interface."""

from __future__ import annotations

import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from chats.deletion import storage
from neptun.uploads import upload_root


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def save(name: str) -> str:
    return default_storage.save(name, ContentFile(b"blob"))


def test_remove_reports_only_the_names_that_failed(monkeypatch):
    names = [save(f"{upload_root()}/1/{i}.txt") for i in range(3)]
    real_delete = default_storage.delete

    def refuse_one(name):
        if name == names[1]:
            raise PermissionError("read-only")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", refuse_one)
    missing = f"{upload_root()}/1/never-there.txt"

    failed = storage.blobs_remove(names=[*names, missing, ""])

    assert failed == {names[1]: "PermissionError: read-only"}
    assert [default_storage.exists(n) for n in names] == [False, True, False]


def test_the_walk_stays_under_its_folder_with_each_blob_age():
    ours = {save(f"{upload_root()}/1/2026/01/01/a.txt"), save(f"{upload_root()}/2/b.txt")}
    save(f"{upload_root()}x/1/c.txt")
    save("uploads/1/legacy.txt")
    save("other-ns/uploads/1/d.txt")
    errors: list = []

    found = list(storage.blobs_under(root=upload_root(), errors=errors))

    assert {blob.name for blob in found} == ours and not errors
    for blob in found:
        assert blob.modified.timestamp() == pytest.approx(
            os.path.getmtime(default_storage.path(blob.name))
        )


def test_an_unreadable_folder_is_an_error_not_a_stop(monkeypatch):
    save(f"{upload_root()}/1/a.txt")
    kept = save(f"{upload_root()}/2/b.txt")
    real_listdir = default_storage.listdir

    def listdir(path):
        if path.endswith("/1"):
            raise PermissionError("no access")
        return real_listdir(path)

    monkeypatch.setattr(default_storage, "listdir", listdir)
    errors: list = []
    found = [blob.name for blob in storage.blobs_under(root=upload_root(), errors=errors)]
    assert found == [kept]
    assert errors == [
        {"kind": "storage", "path": f"{upload_root()}/1", "error": "PermissionError: no access"}
    ]
