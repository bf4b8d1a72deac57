"""``python -m bench s3`` at a tiny scale: it runs, and its counts say what the
benchmark is about (no time is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import REPO

pytestmark = pytest.mark.slow


def test_bench_s3_counts_one_request_per_blob_against_one_batch(tmp_path):
    out = tmp_path / "s3.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "s3", "--blobs", "25", "--files", "12", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    one_by_one, batched = report["removal"]["one call per blob"], report["removal"]["batched"]
    assert one_by_one["by_operation"] == {"DeleteObject": 25}
    assert batched["by_operation"] == {"DeleteObjects": 1}
    assert one_by_one["left_in_bucket"] == batched["left_in_bucket"] == 0
    delete = report["conversations_delete"]
    assert (delete["status"], delete["files_deleted"], delete["left_in_bucket"]) == (200, 12, 0)
    assert delete["by_operation"] == {"DeleteObjects": 1}
