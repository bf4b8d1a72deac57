"""Migration 0005: existing global collections get their tenant; links across tenants go.

The database is taken back to 0004 (the column exists, nothing fills it), rows are
written as before the change, and the migrations run forward again.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("collections_app", "0004_collection_tenant")]


@pytest.fixture
def old_apps():
    """The app registry as of 0004; the database migrated forward again afterwards."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    try:
        yield MigrationExecutor(connection).loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)


def migrate_forward() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _world(apps):
    Tenant = apps.get_model("neptun", "Tenant")
    User = apps.get_model("neptun", "User")
    Collection = apps.get_model("collections_app", "Collection")
    File = apps.get_model("collections_app", "File")
    Chat = apps.get_model("chats", "Chat")
    demo, other = Tenant.objects.create(name="demo"), Tenant.objects.create(name="other")

    def user(email, tenant):
        return User.objects.create(email=email, password="!", tenant=tenant)

    admin, alice = user("admin@demo", demo), user("alice@demo", demo)
    eve, nobody = user("eve@other", other), user("nobody@x", None)
    handbook = Collection.objects.create(name="handbook", is_global=True)
    File.objects.create(owner=admin, collection=handbook, name="h.txt", blob="uploads/h.txt")
    for who in (alice, eve, nobody):
        Chat.objects.create(owner=who, title=who.email, collection=handbook)
    faq = Collection.objects.create(name="faq", is_global=True)  # no file: its chats decide
    Chat.objects.create(owner=eve, title="faq", collection=faq)
    return {"demo": demo, "other": other, "handbook": handbook, "faq": faq}


def test_each_global_collection_gets_its_tenant_and_foreign_links_go(old_apps):
    ids = _world(old_apps)
    migrate_forward()

    from chats.models import Chat
    from collections_app.models import Collection

    assert Collection.objects.get(pk=ids["handbook"].pk).tenant_id == ids["demo"].pk
    assert Collection.objects.get(pk=ids["faq"].pk).tenant_id == ids["other"].pk
    links = dict(Chat.objects.values_list("title", "collection_id"))
    assert links == {
        "alice@demo": ids["handbook"].pk,  # same tenant: kept
        "eve@other": None,  # another tenant: cut, the chat stays
        "nobody@x": None,  # no tenant: cut
        "faq": ids["faq"].pk,
    }
    assert Chat.objects.count() == 4


def test_a_global_collection_without_an_answer_stops_the_migration(old_apps):
    ids = _world(old_apps)
    Collection = old_apps.get_model("collections_app", "Collection")
    orphan = Collection.objects.create(name="who owns me", is_global=True)

    with pytest.raises(RuntimeError, match=rf"{orphan.pk} \('who owns me'\)"):
        migrate_forward()

    # Nothing was changed: no tenant given, no link cut.
    rows = Collection.objects.order_by("pk").values_list("pk", "tenant_id")
    assert list(rows) == [(ids["handbook"].pk, None), (ids["faq"].pk, None), (orphan.pk, None)]
    Chat = old_apps.get_model("chats", "Chat")
    assert Chat.objects.filter(collection__isnull=True).count() == 0
    Collection.objects.filter(pk=orphan.pk).delete()  # so the fixture can migrate forward
