from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class NeptunConfig(AppConfig):
    name = "neptun"
    verbose_name = "Identity and audit"

    def ready(self) -> None:
        from neptun import schema  # noqa: F401 - registers the OpenAPI auth extensions


class NeptunAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with :class:`neptun.admin_site.NeptunAdminSite` as ``admin.site``
    (its login is throttled per client address)."""

    default_site = "neptun.admin_site.NeptunAdminSite"
    # Named in INSTALLED_APPS; never the configuration of the ``neptun`` entry.
    default = False
