from django.apps import AppConfig


class NeptunConfig(AppConfig):
    name = "neptun"
    verbose_name = "Identity and audit"

    def ready(self) -> None:
        from neptun import schema  # noqa: F401 - registers the OpenAPI auth extensions
