"""The deletion package's boundaries: one public surface, one SQL module, one record writer.

A newcomer changing what goes with a chat edits ``chats/deletion/rules.py``; these
tests keep the rest of the layout true (see the README, "Inside the deletion package").
"""

from __future__ import annotations

import ast
from pathlib import Path

import chats.deletion
from chats import services

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chats" / "deletion"
APPLICATION = [ROOT / name for name in ("neptun", "chats", "projects", "collections_app", "bench")]


def _modules(*, outside_package: bool) -> list[Path]:
    paths = []
    for folder in APPLICATION:
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            if outside_package and PACKAGE in path.parents:
                continue
            paths.append(path)
    return paths


def _private_imports(path: Path) -> list[str]:
    """``from chats.deletion… / chats.services import _name`` and ``module._name`` uses."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            ours = node.module.startswith("chats.deletion") or node.module == "chats.services"
            for alias in node.names:
                if ours and alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name}")
                if node.module in ("chats", "chats.deletion") and alias.name in (
                    "services",
                    "api",
                    "audit",
                    "effects",
                    "engine",
                    "rules",
                    "sql",
                ):
                    aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_nothing_outside_the_package_uses_a_private_name_of_it():
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in _modules(outside_package=True)
        if (names := _private_imports(path))
    }
    assert offenders == {}


def test_the_stable_path_re_exports_the_whole_public_surface():
    assert set(chats.deletion.__all__) <= set(services.__all__)
    for name in chats.deletion.__all__:
        assert getattr(services, name) is getattr(chats.deletion, name)


def test_every_database_specific_branch_is_in_the_sql_module():
    deleting = [*PACKAGE.glob("*.py"), PACKAGE.parent / "cleanup.py"]
    holding = sorted(path.name for path in deleting if "connection.vendor" in path.read_text())
    assert holding == ["sql.py"]


def _writes_deletion_records(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    source = path.read_text()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("create", "update", "bulk_create", "get_or_create")
        ):
            receiver = ast.get_source_segment(source, node.func.value) or ""
            if receiver.startswith("DeletionRecord."):
                return True
    return False


def test_only_the_audit_module_writes_deletion_records():
    writers = sorted(
        str(path.relative_to(ROOT))
        for path in _modules(outside_package=False)
        if _writes_deletion_records(path)
    )
    assert writers == ["chats/deletion/audit.py"]
