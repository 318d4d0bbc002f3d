"""Revisions: the append-only history of a task's annotation.

A revision is one segment-index map (stored as a lossless PNG, content-addressed) plus its
segment table. The map and the table never change after the row is written; saving,
submitting and reworking always create a new revision with a parent. Revisions are never
deleted either, and neither is a task that holds one (``on_delete=PROTECT``): the model and
queryset refuse, and on PostgreSQL triggers refuse raw SQL too (migrations 0002 and 0003).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

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
    """Raised when code tries to update a revision's content in place, or delete a revision."""


_deletion_allowed: ContextVar[bool] = ContextVar("revision_deletion_allowed", default=False)
# Read by the PostgreSQL delete trigger (migration 0003); set only for one transaction.
DELETION_SETTING = "tessera.revision_delete"


@contextmanager
def revision_deletion_allowed() -> Iterator[None]:
    """The one deliberate way to delete revisions (an operator purging a project's history, a
    test cleaning up after itself). Runs in a transaction; outside it, every delete is refused
    by the model and, on PostgreSQL, by the database."""
    token = _deletion_allowed.set(True)
    try:
        with transaction.atomic():
            _set_database_permission("allowed")
            yield
            # SET LOCAL would last to the end of an enclosing transaction: close it again now.
            _set_database_permission("")
    finally:
        _deletion_allowed.reset(token)


def _set_database_permission(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [DELETION_SETTING, value])


def _refuse_deletion() -> None:
    if not _deletion_allowed.get():
        raise ImmutableContentError(
            "revisions are append-only history and are never deleted; "
            "use annotation.models.revision_deletion_allowed() for a deliberate purge"
        )


class RevisionQuerySet(models.QuerySet["Revision"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        _refuse_deletion()
        return super().delete()

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

    # PROTECT: deleting a task (or its image or project) must not take saved work with it.
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="revisions")
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

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        _refuse_deletion()
        return super().delete(*args, **kwargs)

    @property
    def segment_ids(self) -> list[int]:
        return [int(s["id"]) for s in self.segments]

    def __str__(self) -> str:
        return f"task {self.task_id} r{self.number} ({self.status})"
