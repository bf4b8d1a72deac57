import os

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps

#: Connection pools a forked child inherited from its parent (see
#: :func:`forget_inherited_pools`): kept referenced so they are never closed or
#: collected in the child.
_INHERITED_POOLS: list[object] = []


def forget_inherited_pools() -> None:
    """In a forked child (RQ runs each job in one), drop the parent's connection pools.

    Their connections' sockets are the parent's: a child using one would interleave
    its statements with the parent's on the same server session. The child builds a
    pool of its own on first use. The inherited pools are kept, not closed: closing
    would talk to the server on the parent's sockets (psycopg itself never closes a
    connection in a process other than the one that opened it).
    """
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    # Django keeps the pools by alias on the class (not in django-stubs' types).
    pools: dict[str, object] = getattr(DatabaseWrapper, "_connection_pools")  # noqa: B009
    _INHERITED_POOLS.extend(pools.values())
    pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.settings_dict.get("OPTIONS", {}).get("pool"):
            connection.connection = None  # the parent's: a new one comes from the new pool


class NeptunConfig(AppConfig):
    name = "neptun"
    verbose_name = "Identity and audit"

    def ready(self) -> None:
        from django.conf import settings

        from neptun import schema  # noqa: F401 - registers the OpenAPI auth extensions

        if any(db.get("OPTIONS", {}).get("pool") for db in settings.DATABASES.values()):
            os.register_at_fork(after_in_child=forget_inherited_pools)


class NeptunAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with :class:`neptun.admin_site.NeptunAdminSite` as ``admin.site``
    (its login is throttled per client address)."""

    default_site = "neptun.admin_site.NeptunAdminSite"
    # Named in INSTALLED_APPS; never the configuration of the ``neptun`` entry.
    default = False
