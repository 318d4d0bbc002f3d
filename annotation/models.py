"""Revisions: the append-only history of a task's annotation.

A revision is one segment-index map (stored as a lossless PNG, content-addressed) plus its
segment table. The map and the table never change after the row is written; saving,
submitting and reworking always create a new revision with a parent.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel
from projects.models import Task

# Fields that make up a revision's content; written once at creation, never updated.
IMMUTABLE_FIELDS = frozenset(
    {
        "task",
        "task_id",
        "number",
        "parent",
        "parent_id",
        "author",
        "author_id",
        "width",
        "height",
        "map_sha256",
        "map_key",
        "map_bits",
        "segments",
        "source",
        "created_at",
    }
)


class ImmutableContentError(Exception):
    """Raised when code tries to update a revision's content in place."""


class RevisionQuerySet(models.QuerySet["Revision"]):
    def update(self, **kwargs: Any) -> int:
        touched = IMMUTABLE_FIELDS.intersection(kwargs)
        if touched:
            raise ImmutableContentError(
                f"revision content is append-only; refused update of {sorted(touched)}"
            )
        return super().update(**kwargs)


class Revision(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        EDITOR = "editor", "Editor"
        API = "api", "API"
        IMPORT = "import", "Import"
        PRELABEL = "prelabel", "Pre-label import"
        REVIEW_FIX = "review_fix", "Reviewer fix"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="revisions")
    # 1, 2, 3… within the task; clients send the number they started from as `parent`.
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="revisions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.EDITOR)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # sha256 of the canonical PNG; the PNG lives in storage under map_key and is shared by
    # every revision with the same content.
    map_sha256 = models.CharField(max_length=64, db_index=True)
    map_key = models.CharField(max_length=200)
    map_bits = models.PositiveSmallIntegerField()
    # [{"id", "category_id", "iscrowd", "area", "bbox", "source", "confirmed", "attributes"}]
    segments = models.JSONField(default=list)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["task", "number"]
        constraints = [models.UniqueConstraint(fields=["task", "number"], name="revision_unique_number")]
        indexes = [models.Index(fields=["task", "status"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Existing rows may change status only; content is written once, at creation.
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or IMMUTABLE_FIELDS.intersection(update_fields):
                raise ImmutableContentError(
                    "revision content is append-only; save(update_fields=[...]) with status fields only"
                )
        super().save(*args, **kwargs)

    @property
    def segment_ids(self) -> list[int]:
        return [int(s["id"]) for s in self.segments]

    def __str__(self) -> str:
        return f"task {self.task_id} r{self.number} ({self.status})"
