from django.apps import AppConfig


class NeptunConfig(AppConfig):
    name = "neptun"
    verbose_name = "Identity and audit"
