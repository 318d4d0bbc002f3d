"""Measurements of submitted revisions: the job's state and the stored counts per reference."""

from __future__ import annotations

from django.conf import settings
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
    # Why measuring failed, in words a QA lead can act on (bad data), or the last transient
    # error with its attempt number while the job is still retrying. Staff only: it can name
    # other revisions and storage keys.
    error = models.TextField(blank=True)
    # References that could not be measured although the submission could:
    # [{"reference_revision_id", "kind", "error"}]. The measurement is still done.
    reference_failures = models.JSONField(default=list, blank=True)
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


class SamplingDecision(TimeStampedModel):
    """How routing treated one submission: its stratum, the rate, the draw and the outcome.

    Kept for every routed submission, sampled or not, so sampled coverage per stratum is
    computed from records, and every draw can be re-checked from the project's seed.
    """

    class Stratum(models.TextChoices):
        DOMINANT = "dominant", "Dominant classes"
        RARE = "rare", "Rare classes"

    revision = models.OneToOneField(Revision, on_delete=models.CASCADE, related_name="sampling")
    stratum = models.CharField(max_length=16, choices=Stratum.choices)
    rare_categories = models.JSONField(default=list)
    rate = models.FloatField()
    draw = models.FloatField()
    sampled = models.BooleanField()
    # Why the submission was sent to review regardless of the draw ("gold_failed", ...).
    forced_reasons = models.JSONField(default=list)
    # What this submission added to the class statistics: {"<category id>": [pixels, instances]}.
    # A resubmission of the task replaces it, so each task counts once.
    class_counts = models.JSONField(default=dict)

    @property
    def to_review(self) -> bool:
        return self.sampled or bool(self.forced_reasons)


class ReviewItem(TimeStampedModel):
    """A submission waiting in, or decided from, one review queue."""

    class Stage(models.TextChoices):
        PEER = "peer", "Peer review"
        SENIOR = "senior", "Senior QA"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        FIXED = "fixed", "Fixed and accepted"
        OVERTURNED = "overturned", "Overturned by senior QA"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Reason(models.TextChoices):
        SAMPLED = "sampled", "Sampled"
        GOLD_FAILED = "gold_failed", "Failed gold"
        DISAGREEMENT = "disagreement", "Disagreed with overlap partner"
        REWORK = "rework", "Rework after rejection"
        SENIOR_SAMPLE = "senior_sample", "Sampled for senior QA"
        UNMEASURED = "unmeasured", "Could not be measured"
        OVERTURN = "overturn", "Senior QA revisits a peer decision"

    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="review_items")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="review_items")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    stratum = models.CharField(max_length=16, choices=SamplingDecision.Stratum.choices, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="review_items"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "stage"],
                condition=models.Q(status="pending"),
                name="review_item_one_pending_per_stage",
            )
        ]
        indexes = [models.Index(fields=["stage", "status"])]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.stage} review of {self.revision} ({self.status})"


class ReviewDecision(TimeStampedModel):
    """The audit record of one review decision: who, when, what, why. Never edited."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        FIX_ACCEPT = "fix_accept", "Fix and accept"

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_decisions"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)
    # The reviewer's own revision for fix-and-accept.
    fixed_revision = models.ForeignKey(
        Revision, null=True, blank=True, on_delete=models.PROTECT, related_name="fix_decisions"
    )
    # A senior decision that overturns a peer decision points at it.
    overturns = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="overturned_by"
    )

    class Meta:
        ordering = ["created_at", "id"]


class ReviewComment(TimeStampedModel):
    """A comment pinned to a point or a region of a revision's image."""

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="comments")
    decision = models.ForeignKey(
        ReviewDecision, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_comments"
    )
    text = models.TextField()
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    # A region as a polygon [[x, y], ...] in image pixels.
    region = models.JSONField(null=True, blank=True)
    segment_id = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class AuditEvent(TimeStampedModel):
    """Decisions outside reviews: policy changes, releases to production, batch acceptance."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class ClassStatistic(models.Model):
    """Running totals of labelled pixels and instances per category, over the latest routed
    submission of each task.

    They decide which classes are rare (stratified sampling) without rescanning every
    segment table on each submission.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="class_statistics")
    category_id = models.PositiveIntegerField()
    pixels = models.PositiveBigIntegerField(default=0)
    instances = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "category_id"], name="class_statistic_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project} category {self.category_id}: {self.pixels} px, {self.instances} instances"


class ClassThreshold(models.Model):
    """Per-class overrides of the project's QA thresholds (``None``: the project's value)."""

    FIELDS = ("calibration_threshold", "batch_iou_floor", "batch_agreement_floor")

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="class_thresholds")
    category_id = models.PositiveIntegerField()
    calibration_threshold = models.FloatField(null=True, blank=True)
    batch_iou_floor = models.FloatField(null=True, blank=True)
    batch_agreement_floor = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "category_id"], name="class_threshold_unique"),
            models.CheckConstraint(
                condition=(
                    (
                        models.Q(calibration_threshold__isnull=True)
                        | models.Q(calibration_threshold__range=(0, 1))
                    )
                    & (models.Q(batch_iou_floor__isnull=True) | models.Q(batch_iou_floor__range=(0, 1)))
                    & (
                        models.Q(batch_agreement_floor__isnull=True)
                        | models.Q(batch_agreement_floor__range=(0, 1))
                    )
                ),
                name="class_threshold_in_unit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} category {self.category_id} thresholds"
