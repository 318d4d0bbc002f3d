"""Measurements of submitted revisions: the job's state and the stored counts per reference."""

from __future__ import annotations

from django.db import models

from annotation.models import Revision
from core.models import TimeStampedModel


class RevisionMeasurement(TimeStampedModel):
    """The state of measuring one submitted revision; one row per revision."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    revision = models.OneToOneField(Revision, on_delete=models.CASCADE, related_name="measurement")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why measuring failed, in words a QA lead can act on (bad data), or the last transient error.
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    engine_version = models.CharField(max_length=32, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"measurement of {self.revision} ({self.status})"


class QualityReport(TimeStampedModel):
    """Counts of one submitted revision measured against one reference revision.

    ``counts`` holds the engine's per-pair counts (summable over images), so every figure
    shown anywhere is recomputed from them; ``summary`` is derived from ``counts`` when the
    row is written, for listing without recomputation.
    """

    class Kind(models.TextChoices):
        GOLD = "gold", "Against gold"
        AGREEMENT = "agreement", "Agreement with another annotator"

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="quality_reports")
    reference = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="reference_reports")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    engine_version = models.CharField(max_length=32)
    boundary_ratio = models.FloatField()
    counts = models.JSONField()
    summary = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "reference", "engine_version", "boundary_ratio"],
                name="quality_report_unique",
            )
        ]
        indexes = [models.Index(fields=["revision", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} report of {self.revision} vs {self.reference}"
