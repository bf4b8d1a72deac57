"""The type check's configuration (``[tool.mypy]`` in pyproject.toml; CI runs mypy).

The deletion engine is checked strictly. mypy has no per-module ``strict``: written
in an override it turns strict mode on for every module. So the override spells
out the flags, and this test holds it to the list mypy itself enables for
``--strict`` (a flag that only exists globally must be set globally).
"""

from __future__ import annotations

import tomllib

from mypy.main import define_options
from mypy.options import PER_MODULE_OPTIONS

from tests.servers import REPO


def _mypy_config() -> dict:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["tool"]["mypy"]


def test_deletion_engine_has_every_strict_flag():
    config = _mypy_config()
    (deletion,) = [o for o in config["overrides"] if o["module"] == ["chats.deletion.*"]]
    _, _, strict_assignments = define_options()
    assert strict_assignments
    for flag, value in strict_assignments:
        where = deletion if flag in PER_MODULE_OPTIONS else config
        assert where.get(flag) == value, flag


def test_no_override_says_strict():
    """``strict`` in an override would make every module strict, not just its own."""
    for override in _mypy_config()["overrides"]:
        assert "strict" not in override, override["module"]


def test_ci_runs_the_type_check_on_the_packages():
    config = _mypy_config()
    assert set(config["files"]) == {"neptun", "chats", "projects", "collections_app"}
    assert "/migrations/" in config["exclude"]
    assert ".venv/bin/mypy" in (REPO / ".ci" / "run").read_text()
