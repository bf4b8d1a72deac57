"""Uploaded files and knowledge collections.

A ``File`` row points at a blob in Django's storage. Rows are removed in SQL; the
blob is removed by the deletion service after the row's deletion commits.
``File.chat`` and ``File.collection`` are ``DB_SET_NULL``: the database never
drops a file row behind the service's back, so no blob is lost track of.

A collection is either a user's own (``owner`` set, ``tenant`` empty: its tenant is
its owner's) or global — an admin-managed knowledge base of **one tenant**
(``owner`` empty, ``tenant`` set). A global collection is listed, linked to chats,
searched and counted only for the users and keys of its tenant
(:func:`collections_app.selectors.collections_usable_by`). Both rules are database
constraints as well as model validation (the admin's form). ``Collection.tenant``
is ``DO_NOTHING``, like ``User.tenant``: the deletion service deletes a tenant's
global collections, with their files, before the tenant.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.db import models
from django.utils import timezone

from neptun.uploads import storage_file_name, upload_root

logger = logging.getLogger("collections_app")


class Collection(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DB_CASCADE,
        related_name="collections",
        help_text="Empty for a global, admin-managed knowledge base.",
    )
    is_global = models.BooleanField(default=False, db_index=True)
    tenant = models.ForeignKey(
        "neptun.Tenant",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="global_collections",
        help_text="The tenant whose users and keys see this global collection. Required "
        "for a global collection, empty for a user's own (its tenant is its owner's).",
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_global=True, owner__isnull=True)
                | models.Q(is_global=False, owner__isnull=False),
                name="collection_global_has_no_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(is_global=True, tenant__isnull=False)
                | models.Q(is_global=False, tenant__isnull=True),
                name="collection_global_has_a_tenant",
                violation_error_message="A global collection needs a tenant; a user's "
                "collection has none.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The two constraints, as form errors on the field to change."""
        super().clean()
        errors: dict[str, str] = {}
        if self.is_global:
            if self.owner_id is not None:
                errors["owner"] = "A global collection has no owner: leave it empty."
            if self.tenant_id is None:
                errors["tenant"] = (
                    "A global collection belongs to one tenant: choose the tenant whose "
                    "users may use it."
                )
        else:
            if self.owner_id is None:
                errors["owner"] = "A collection that is not global needs an owner."
            if self.tenant_id is not None:
                errors["tenant"] = (
                    "Only a global collection has a tenant; a user's collection belongs "
                    "to its owner's tenant. Leave it empty."
                )
        if errors:
            raise ValidationError(errors)


def upload_to(instance: File, filename: str) -> str:
    """``<namespace>/uploads/<owner>/<date>/<name>`` (:func:`neptun.uploads.upload_root`),
    the name cut to fit the file system even with the suffix storage adds on a
    collision (:func:`neptun.uploads.storage_file_name`)."""
    name = storage_file_name(filename)
    return f"{upload_root()}/{instance.owner_id}/{timezone.now():%Y/%m/%d}/{name}"


class File(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DB_CASCADE, related_name="files"
    )
    chat = models.ForeignKey(
        "chats.Chat",
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="files",
        help_text="The chat the file was uploaded in.",
    )
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.DB_SET_NULL, related_name="files"
    )
    name = models.CharField(max_length=255)
    # Indexed: before a blob is removed, the deletion service asks whether another
    # row still references it (a copy); without the index that is a full scan.
    blob = models.FileField(upload_to=upload_to, max_length=500, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """Save; if this save wrote the blob (an uncommitted upload, e.g. from the
        admin's form) and the row then fails, remove the blob before re-raising."""
        # FieldFile._committed (False until the upload is written) is not in the stubs.
        writes_blob = bool(self.blob) and not self.blob._committed  # type: ignore[attr-defined]
        try:
            super().save(*args, **kwargs)
        except BaseException:
            if writes_blob and self.blob._committed:  # type: ignore[attr-defined]
                remove_blob_quietly(self.blob.storage, self.blob.name)
            raise


def remove_blob_quietly(storage: Storage, name: str | None) -> None:
    """Remove the blob of a row that was not stored. A failure is logged (the blob is
    then an orphan for ``cleanup_orphans``) and never hides the error that led here.
    No name (a FieldFile that was never written) is no blob to remove."""
    if not name:
        return
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not remove the blob %s of a file that was not stored", name)
