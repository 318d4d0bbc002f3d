"""Imports of existing annotations, and releases: what a client receives, and their verdict."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel
from projects.models import Project


class ImportRun(TimeStampedModel):
    """One run of ``import_annotations`` (command line or API): who, what, and what came of it.

    A run is all or nothing: every item is read and checked before anything is written, and
    the writes happen in one transaction. A run with a problem is kept as ``failed`` with the
    problems listed and is the only row the run leaves behind.
    """

    class Format(models.TextChoices):
        COCO = "coco", "COCO instances"
        COCO_PANOPTIC = "coco-panoptic", "COCO panoptic"
        PNG = "png", "Tessera index PNGs"

    class Mode(models.TextChoices):
        PRELABELS = "prelabels", "Pre-labels (proposed, to confirm in the editor)"
        GOLD = "gold", "Gold references"
        AUTHOR = "author", "An annotator's submitted work"
        ACCEPTED = "accepted", "Accepted annotations (dataset migration)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="import_runs"
    )
    format = models.CharField(max_length=16, choices=Format.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # The annotator whose work is imported (mode "author").
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Mode "accepted" only: tasks in progress may be superseded (else they are refused).
    supersede_open_work = models.BooleanField(default=False)
    # Where the data came from: the uploaded file's name or the command line's path.
    source_name = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # {"images", "segments", "revisions", "tasks_created", "tasks_assigned"}
    counts = models.JSONField(default=dict)
    # {"overall": {"pixels", "void_pixels", "coverage"}, "images": [{"file_name", "image_id",
    #  "pixels", "void_pixels", "coverage", "overlap_pixels", "notes"}]}
    coverage = models.JSONField(default=dict)
    # [{"file", "item", "reason"}]: why nothing was written.
    problems = models.JSONField(default=list)
    notes = models.JSONField(default=list)
    # The revisions the run wrote, in image order.
    revision_ids = models.JSONField(default=list)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"import {self.id} into {self.project} ({self.format}, {self.mode}, {self.status})"


class Release(TimeStampedModel):
    """An immutable, numbered delivery of a project's accepted annotations.

    The snapshot (``revision_ids``) is taken when the release is asked for; the build job then
    writes the archive and the QA report to storage and only then marks the release ``ready``.
    Clients see ready releases only, and nothing about a ready release ever changes.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    # 1, 2, 3… per project; never reused (a failed build keeps its number and can be retried).
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="releases"
    )
    formats = models.JSONField()
    include_images = models.BooleanField(default=False)
    # COCO masks as traced polygons (with holes) instead of RLE
    coco_polygons = models.BooleanField(default=False)
    # The accepted revision delivered for each image, in image order, fixed at creation.
    revision_ids = models.JSONField()
    # The split ("train", "val", "test") of each delivered image, aligned with revision_ids, and
    # the options that chose them ({"val_share", "test_share", "batches": {name: split}}).
    splits = models.JSONField(default=list, blank=True)
    split_options = models.JSONField(default=dict, blank=True)
    # Everything else the build reads, frozen at creation so that a retry builds the same bytes
    # whatever changed since: project header, QA thresholds and figures, the class table (every
    # category the project ever had, in stable order) and how it differs from the last release.
    snapshot = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress of the build: steps done of steps in total, and what is being done.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_stage = models.CharField(max_length=200, blank=True)
    # Files in storage (set together, when the build succeeds).
    archive_key = models.CharField(max_length=300, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    archive_size = models.PositiveBigIntegerField(null=True, blank=True)
    report_json_key = models.CharField(max_length=300, blank=True)
    report_json_sha256 = models.CharField(max_length=64, blank=True)
    report_json_size = models.PositiveBigIntegerField(null=True, blank=True)
    report_html_key = models.CharField(max_length=300, blank=True)
    report_html_sha256 = models.CharField(max_length=64, blank=True)
    report_html_size = models.PositiveBigIntegerField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="release_unique_number")]
        indexes = [models.Index(fields=["project", "status"])]

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def archive_name(self) -> str:
        return f"{self.project.slug}-release-{self.number}.zip"

    def __str__(self) -> str:
        return f"{self.project.slug} release {self.number} ({self.status})"


class ReleaseDecision(TimeStampedModel):
    """A client's verdict on a release. Never edited: a change of mind is a new row, so the
    manager sees the whole history; the latest row is the current decision."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accepted"
        REJECT = "reject", "Rejected"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="decisions")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.decision} of {self.release} by {self.client}"
