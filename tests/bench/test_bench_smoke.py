"""Smoke test of the benchmark's generators and deletion paths at a tiny scale.

No timing is asserted here: speed is what ``python -m bench`` measures. What is
asserted is that the raw-SQL path and the Neptun service delete exactly the same
rows on identical data, that the background survives, and that blobs go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from bench import ops
from bench.data import TARGETS, Generator, Scale, make_background, model, row_counts

TINY = Scale("tiny", 0.005)  # p1: 50 messages, p2: 5 chats, p3: 10 chats, p4: 50 chats

EXPECTED_MESSAGES = {"p1": 50, "p2": 500, "p3": 1000, "p4": 500}


def _blobs(owner_id: int) -> list[Path]:
    names = model("neptun", "file").objects.filter(owner_id=owner_id).values_list("blob", flat=True)
    return [Path(settings.MEDIA_ROOT) / name for name in names]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["p1", "p2", "p3", "p4"])
def test_raw_sql_and_service_delete_the_same_rows(path, tenant, django_capture_on_commit_callbacks):
    background_gen = Generator("neptun", tenant=tenant)
    background = make_background(background_gen, TINY, messages_per_chat=3)
    background_messages = row_counts("neptun")["message"]
    assert background_messages == 2 * 50 * 3

    deleted = {}
    for op in ("raw", "neptun"):
        target = TARGETS[path](Generator("neptun", tenant=tenant), TINY, background)
        params = {k: v for k, v in target.items() if k != "email"}
        chats = model("neptun", "chat").objects.filter(owner_id=target["owner_id"])
        blobs = _blobs(target["owner_id"])
        assert all(blob.is_file() for blob in blobs)
        before = row_counts("neptun")
        with django_capture_on_commit_callbacks(execute=True):
            if path == "p4":
                ops.run(op, "p4-confirm", params)
                assert row_counts("neptun") == before  # the confirmation deletes nothing
            ops.run(op, path, params)
        after = row_counts("neptun")
        deleted[op] = {kind: before[kind] - after[kind] for kind in before}
        assert not chats.exists()
        assert after["message"] == background_messages
        gone = [blob for blob in blobs if not blob.exists()]
        assert len(gone) == deleted[op]["file"]

    assert deleted["raw"] == deleted["neptun"]
    assert deleted["raw"]["message"] == EXPECTED_MESSAGES[path]
    if path == "p3":
        assert deleted["raw"]["collection"] == 1
        assert deleted["raw"]["file"] == 5


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["p1", "p2", "p3", "p4", "p5"])
def test_direct_forms_delete_what_the_service_deletes(
    path, tenant, django_capture_on_commit_callbacks
):
    """Each minimal form of the ``direct`` method leaves the same rows as Neptun."""
    from bench import direct

    background = make_background(Generator("neptun", tenant=tenant), TINY, messages_per_chat=3)
    deleted = {}
    for way in ("neptun", *direct.forms(path)):
        target = TARGETS[path](Generator("neptun", tenant=tenant), TINY, background)
        params = {k: v for k, v in target.items() if k != "email"}
        blobs = _blobs(target["owner_id"])
        before = row_counts("neptun")
        with django_capture_on_commit_callbacks(execute=True):
            for step in ("p4-confirm", "p4") if path == "p4" else (path,):
                if way == "neptun":
                    ops.run("neptun", step, params)
                else:
                    _wall, stats = direct.run(way, step, params)
                    assert stats["queries"] >= 1
                if step == "p4-confirm":
                    assert row_counts("neptun") == before  # the confirmation deletes nothing
        after = row_counts("neptun")
        deleted[way] = {kind: before[kind] - after[kind] for kind in before}
        gone = [blob for blob in blobs if not blob.exists()]
        assert len(gone) == deleted[way]["file"]
        if path != "p5":
            assert not model("neptun", "chat").objects.filter(owner_id=target["owner_id"]).exists()

    assert direct.forms(path) == (("cascade",) if path == "p5" else ("cascade", "explicit"))
    for form in direct.forms(path):
        assert deleted[form] == deleted["neptun"], form
    assert sum(deleted["neptun"].values()) > 0


def test_direct_reports_the_faster_form_and_keeps_both():
    from bench.run import _faster_form

    def row(wall: float) -> dict:
        return {"method": "x", "wall_s": wall, "wall_runs": [wall], "queries": 2}

    rows = {
        ("neptun", "p4"): row(0.001),
        ("direct:cascade", "p4-confirm"): row(0.5),
        ("direct:explicit", "p4-confirm"): row(0.1),
        ("direct:cascade", "p4"): row(0.3),
        ("direct:explicit", "p4"): row(0.2),
    }
    p4 = _faster_form(rows, "p4")
    assert (p4["method"], p4["form"], p4["wall_s"]) == ("direct", "explicit", 0.2)
    assert set(p4["forms"]) == {"cascade", "explicit"}
    # The confirmation has one form: the explicit run's copy of it is not a choice.
    confirm = _faster_form(rows, "p4-confirm")
    assert (confirm["form"], confirm["wall_s"], list(confirm["forms"])) == (
        "cascade",
        0.5,
        ["cascade"],
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scale", "small,huge"], "--scale takes"),
        (["--scale", "xl", "--paths", "p1,p3"], "--scale xl is for p3 only"),
        (["--scale", "small", "--db", "sqlite:///x"], "runs on PostgreSQL"),
    ],
)
def test_scale_option_is_checked_before_anything_runs(argv, message, capsys):
    """``--scale`` takes one scale or several with commas (``mid`` included); a wrong
    one stops the harness before it touches a database."""
    from bench.data import SCALES
    from bench.run import main

    assert SCALES["mid"].n(200_000) == 50_000  # p3's messages at mid: the issue's size
    assert SCALES["mid"].n_background(800) == 800  # on the large background
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
