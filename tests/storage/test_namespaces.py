"""Two deployments on one media root or one bucket: each writes under its own
namespace, and neither's orphan sweep removes the other's blobs.

The other deployment is real: ``manage.py`` processes on a SQLite database of their
own (default namespace, as a developer gets it), beside the suite's database
(SQLite or PostgreSQL) sharing the file system's media root or the moto bucket.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from collections_app.models import File
from neptun.settings.base import storage_namespace
from neptun.uploads import upload_root
from tests.factories import FileFactory
from tests.servers import REPO, server_env
from tests.storage.conftest import ACCESS_KEY, REGION, SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)

#: Longest one ``manage.py`` step of the other deployment may take.
STEP_TIMEOUT = 120

#: Makes a user, one file (row and blob) and one orphan blob in the other
#: deployment; prints the two blob names.
SEED = """
import json
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from neptun.uploads import upload_root
from tests.factories import FileFactory
live = FileFactory()
orphan = default_storage.save(upload_root() + "/1/2026/01/01/orphan.txt", ContentFile(b"o"))
print(json.dumps({"live": live.blob.name, "orphan": orphan, "root": upload_root()}))
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def sweep_here() -> dict:
    out = io.StringIO()
    call_command(
        "cleanup_orphans", "--yes", "--json", "--only", "orphan-blobs", "--older-than", "0s",
        stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def exists(s3, name: str) -> bool:
    return name in s3.objects() if s3 is not None else default_storage.exists(name)


@pytest.fixture(params=["filesystem", "s3"])
def shared(request, settings, tmp_path):
    """Both deployments' storage: one media root, or one bucket on the moto server."""
    env = {"MEDIA_ROOT": str(tmp_path / "media")}
    settings.MEDIA_ROOT = env["MEDIA_ROOT"]
    bucket = None
    if request.param == "s3":
        bucket = request.getfixturevalue("s3")
        env.update(
            AWS_STORAGE_BUCKET_NAME=bucket.name,
            AWS_S3_ENDPOINT_URL=bucket.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_S3_REGION_NAME=REGION,
        )
    return env, bucket


def test_two_deployments_never_sweep_each_other(shared, tmp_path, user):
    storage_env, s3 = shared
    other = server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'other.sqlite3'}", **storage_env)
    other.pop("STORAGE_NAMESPACE", None)
    manage(other, "migrate", "--no-input", "-v", "0")
    theirs = json.loads(manage(other, "shell", "-c", SEED).strip().splitlines()[-1])
    ours_live = FileFactory(owner=user)
    ours_orphan = default_storage.save(
        f"{upload_root()}/1/2026/01/01/orphan.txt", ContentFile(b"o")
    )

    # Their namespace is their database's, not ours; both under one root or bucket.
    assert theirs["root"] != upload_root()
    assert theirs["root"].startswith("sqlite-other-")
    # Neither knows the other's rows: before namespaces, each took the other's live
    # blob for an orphan.
    assert not File.objects.filter(blob=theirs["live"]).exists()

    data = sweep_here()

    assert data["kinds"]["orphan-blobs"]["removed"] == 1
    assert not exists(s3, ours_orphan)
    assert exists(s3, ours_live.blob.name)
    assert exists(s3, theirs["live"]) and exists(s3, theirs["orphan"])

    out = manage(other, "cleanup_orphans", "--yes", "--json", "--only", "orphan-blobs",
                 "--older-than", "0s")  # fmt: skip
    assert json.loads(out)["kinds"]["orphan-blobs"]["removed"] == 1
    assert not exists(s3, theirs["orphan"])
    assert exists(s3, theirs["live"]) and exists(s3, ours_live.blob.name)


def test_the_default_namespace_differs_per_database(tmp_path):
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
    other_sqlite = {**sqlite, "NAME": str(tmp_path / "elsewhere" / "db.sqlite3")}
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "neptun", "HOST": "db1", "PORT": 5432}
    pg_staging = {**pg, "HOST": "db2"}
    names = [storage_namespace(d) for d in (sqlite, other_sqlite, pg, pg_staging)]
    assert len(set(names)) == 4
    assert names[0].startswith("sqlite-db-") and names[2].startswith("postgresql-neptun-")
    assert storage_namespace(pg) == storage_namespace(dict(pg))  # stable
    assert "db1" not in names[2]
    assert all(Path(name).name == name for name in names)  # one folder, no separators
