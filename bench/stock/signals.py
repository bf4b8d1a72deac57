"""The blob-removing receiver stock Django projects ship (runs inside the transaction)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from bench.stock.models import StockFile


@receiver(post_delete, sender=StockFile)
def remove_blob(sender, instance: StockFile, **kwargs) -> None:
    if instance.blob:
        instance.blob.delete(save=False)
