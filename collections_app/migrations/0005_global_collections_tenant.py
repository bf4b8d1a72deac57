"""Give each existing global collection its tenant, and cut links across tenants.

Until this migration a global collection had no tenant and every user of every
tenant could list it and link chats to it. Each one now gets the tenant it was made
for, found in this order:

1. the tenant of the users who uploaded its files (admins upload a knowledge
   base's files), when they are all of one tenant;
2. otherwise, when it has no such file, the tenant of the users whose chats link
   to it, when they are all of one tenant;
3. otherwise the only tenant, when there is exactly one.

Chats of users of any other tenant (or of none) that link to it lose the link, as
when a collection is deleted: they stay, with their messages and type. Nothing is
deleted.

A global collection left without an answer (its files' or chats' users belong to
several tenants, or it has neither and there are several tenants) stops the
migration, which then changes nothing and names the collections: give each one a
file uploaded by an account of its tenant (the admin can change a file's owner), or
delete it, and migrate again.
"""

from django.db import migrations


def _single(values) -> int | None:
    found = {v for v in values if v is not None}
    return found.pop() if len(found) == 1 else None


def assign_tenants(apps, schema_editor):
    Collection = apps.get_model("collections_app", "Collection")
    File = apps.get_model("collections_app", "File")
    Chat = apps.get_model("chats", "Chat")
    Tenant = apps.get_model("neptun", "Tenant")
    tenants = list(Tenant.objects.order_by("id").values_list("id", flat=True)[:2])
    only_tenant = tenants[0] if len(tenants) == 1 else None
    unresolved = []
    pending = Collection.objects.filter(is_global=True, tenant__isnull=True).order_by("id")
    for collection_id, name in pending.values_list("id", "name"):
        uploaders = set(
            File.objects.filter(collection_id=collection_id, owner__tenant__isnull=False)
            .values_list("owner__tenant_id", flat=True)
            .distinct()[:2]
        )
        if uploaders:
            tenant_id = _single(uploaders)
        else:
            users = set(
                Chat.objects.filter(collection_id=collection_id, owner__tenant__isnull=False)
                .values_list("owner__tenant_id", flat=True)
                .distinct()[:2]
            )
            tenant_id = _single(users) if users else only_tenant
        if tenant_id is None:
            unresolved.append(f"{collection_id} ({name!r})")
            continue
        Collection.objects.filter(pk=collection_id).update(tenant_id=tenant_id)
        Chat.objects.filter(collection_id=collection_id).exclude(
            owner__tenant_id=tenant_id
        ).update(collection_id=None)
    if unresolved:
        raise RuntimeError(
            "These global collections cannot be given a tenant (their files or chats "
            "belong to users of several tenants, or they have neither and there are "
            "several tenants): "
            + ", ".join(unresolved)
            + ". Give each one a file uploaded by an account of its tenant (the admin "
            "can change a file's owner), or delete it, then migrate again. Nothing was "
            "changed."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0004_collection_tenant"),
        ("chats", "0003_initial"),
    ]

    operations = [migrations.RunPython(assign_tenants, migrations.RunPython.noop)]
