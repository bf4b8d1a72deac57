from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "bench.stock"
    label = "stock"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bench.stock import signals  # noqa: F401
