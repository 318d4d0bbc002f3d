"""Projects, their people, their taxonomy versions, images and annotation tasks."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.roles import Role

share = [MinValueValidator(0.0), MaxValueValidator(1.0)]


def random_seed() -> int:
    return secrets.randbits(62)


class Project(TimeStampedModel):
    class Mode(models.TextChoices):
        SEMANTIC = "semantic", "Semantic"
        INSTANCE = "instance", "Instance"
        PANOPTIC = "panoptic", "Panoptic"

    class Phase(models.TextChoices):
        SPECIFICATION = "specification", "Specification"
        CALIBRATION = "calibration", "Calibration"
        PRODUCTION = "production", "Production"
        DELIVERY = "delivery", "Delivery"

    # The only phase changes allowed (project_update enforces them): forward through the phases,
    # plus the ways back a real project takes — a pilot that shows the specification is unclear,
    # recalibrating when new annotators join, more work after a client rejects a release.
    # Calibration may be skipped; delivery comes only from production.
    ALLOWED_PHASE_TRANSITIONS: dict[str, frozenset[str]] = {
        Phase.SPECIFICATION: frozenset({Phase.CALIBRATION, Phase.PRODUCTION}),
        Phase.CALIBRATION: frozenset({Phase.SPECIFICATION, Phase.PRODUCTION}),
        Phase.PRODUCTION: frozenset({Phase.CALIBRATION, Phase.DELIVERY}),
        Phase.DELIVERY: frozenset({Phase.PRODUCTION}),
    }

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.SPECIFICATION)
    # Panoptic work must cover every pixel unless the project allows void explicitly.
    allow_void = models.BooleanField(default=False)
    # Delivery formats agreed with the client up front (export format names).
    delivery_formats = models.JSONField(default=list, blank=True)

    # --- QA policy (the quality workflow reads these; all have working defaults) ---
    calibration_threshold = models.FloatField(default=0.75, validators=share)
    overlap_share = models.FloatField(default=0.10, validators=share)
    gold_share = models.FloatField(default=0.05, validators=share)
    peer_review_rate_dominant = models.FloatField(default=0.15, validators=share)
    peer_review_rate_rare = models.FloatField(default=0.30, validators=share)
    # A class whose share of labelled pixels (stuff) or instances (things) is below this is "rare".
    rare_class_share = models.FloatField(default=0.05, validators=share)
    # Per-class override of the derived stratum: {"<category id>": "rare" | "dominant"}.
    stratum_overrides = models.JSONField(default=dict, blank=True)
    senior_qa_share = models.FloatField(default=0.20, validators=share)
    gold_pass_iou = models.FloatField(default=0.75, validators=share)
    overlap_agreement_threshold = models.FloatField(default=0.70, validators=share)
    batch_iou_floor = models.FloatField(default=0.75, validators=share)
    batch_agreement_floor = models.FloatField(default=0.70, validators=share)
    boundary_ratio = models.FloatField(
        default=0.02, validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)]
    )
    # Whether annotators see their own scores against gold.
    annotator_gold_feedback = models.BooleanField(default=False)
    # Seeds every sampling draw of the project, so QA sampling is reproducible and auditable.
    sampling_seed = models.BigIntegerField(default=random_seed)

    def __str__(self) -> str:
        return self.slug


class Membership(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    # Annotators start in calibration; a manager releases them to production work.
    released_to_production = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project", "role"], name="membership_unique_role")
        ]
        indexes = [models.Index(fields=["project", "role"])]

    def __str__(self) -> str:
        return f"{self.user} {self.role} in {self.project}"


class TaxonomyVersion(TimeStampedModel):
    """One numbered version of a project's taxonomy; frozen once annotation against it starts."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="taxonomy_versions")
    number = models.PositiveIntegerField()
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="taxonomy_unique_number")]
        ordering = ["project", "number"]

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    def __str__(self) -> str:
        return f"{self.project.slug} taxonomy v{self.number}"


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Colour must look like #rrggbb.")


class ExampleImage(TimeStampedModel):
    """A picture that illustrates a category, a conflict rule or an edge case.

    It belongs to the project, not to one taxonomy version, so new versions can reuse it.
    """

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="example_images")
    storage_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=50)
    caption = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.caption or self.storage_key


class Category(models.Model):
    taxonomy = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="categories")
    # The id annotations and exports use; unique within its taxonomy version, never 0.
    category_id = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, validators=[hex_colour])
    isthing = models.BooleanField()
    definition = models.TextField(blank=True)
    min_area = models.PositiveIntegerField(default=0)
    hotkey = models.CharField(max_length=1, blank=True)
    # Extra per-format metadata, e.g. {"cityscapes_label_id": 24}.
    export_ids = models.JSONField(default=dict, blank=True)
    examples = models.ManyToManyField(ExampleImage, blank=True, related_name="categories")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "category_id"], name="category_unique_id"),
            models.UniqueConstraint(fields=["taxonomy", "name"], name="category_unique_name"),
            models.UniqueConstraint(
                fields=["taxonomy", "hotkey"], condition=~Q(hotkey=""), name="category_unique_hotkey"
            ),
        ]
        ordering = ["taxonomy", "category_id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.category_id}:{self.name}"


class ConflictRule(models.Model):
    """How to decide between categories that are easily confused ("kerb: road or sidewalk?")."""

    taxonomy = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="conflict_rules")
    title = models.CharField(max_length=200)
    rule = models.TextField()
    categories = models.ManyToManyField(Category, related_name="conflict_rules")
    examples = models.ManyToManyField(ExampleImage, blank=True, related_name="conflict_rules")

    def __str__(self) -> str:
        return self.title


class EdgeCase(models.Model):
    taxonomy = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="edge_cases")
    title = models.CharField(max_length=200)
    description = models.TextField()
    categories = models.ManyToManyField(Category, blank=True, related_name="edge_cases")
    examples = models.ManyToManyField(ExampleImage, blank=True, related_name="edge_cases")

    def __str__(self) -> str:
        return self.title


class Batch(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    is_calibration = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="batch_unique_name")]
        ordering = ["project", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"


class Image(TimeStampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="images")
    file_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_key = models.CharField(max_length=300)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Set by the QA workflow when the image enters production: labelled twice for agreement,
    # and/or a blind gold honeypot. Annotators never see these flags.
    planned_at = models.DateTimeField(null=True, blank=True)
    is_overlap_sample = models.BooleanField(default=False)
    is_gold_sample = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "file_name"], name="image_unique_file_name")
        ]
        ordering = ["project", "id"]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.file_name}"


class Task(TimeStampedModel):
    """The unit of annotation work: one image, one kind of work, at most one assignee."""

    class Kind(models.TextChoices):
        ANNOTATE = "annotate", "Annotate"
        CALIBRATION = "calibration", "Calibration"
        GOLD = "gold", "Gold reference"

    class Status(models.TextChoices):
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        REJECTED = "rejected", "Rejected (rework)"
        ACCEPTED = "accepted", "Accepted"

    # The only status changes a service may make; anything else is a bug or a race.
    ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
        Status.TODO: frozenset({Status.IN_PROGRESS, Status.SUBMITTED, Status.ACCEPTED}),
        Status.IN_PROGRESS: frozenset({Status.SUBMITTED, Status.TODO, Status.ACCEPTED}),
        Status.SUBMITTED: frozenset({Status.IN_REVIEW, Status.ACCEPTED, Status.REJECTED}),
        Status.IN_REVIEW: frozenset({Status.ACCEPTED, Status.REJECTED}),
        Status.REJECTED: frozenset({Status.IN_PROGRESS, Status.SUBMITTED}),
        Status.ACCEPTED: frozenset({Status.IN_REVIEW, Status.REJECTED}),
    }

    class ReviewStage(models.TextChoices):
        PEER = "peer", "Peer review"
        SENIOR = "senior", "Senior QA"

    # Statuses in which the assignee may save drafts.
    EDITABLE_STATUSES = frozenset({Status.TODO, Status.IN_PROGRESS, Status.REJECTED})

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tasks")
    taxonomy = models.ForeignKey(TaxonomyVersion, on_delete=models.PROTECT, related_name="tasks")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANNOTATE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TODO)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Set when the task exists to measure agreement (a second annotator on the same image).
    is_overlap = models.BooleanField(default=False)
    # Which review queue the task waits in (set by the QA workflow), and who claimed it.
    review_stage = models.CharField(max_length=16, choices=ReviewStage.choices, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_tasks",
    )

    class Meta:
        ordering = ["project", "id"]
        indexes = [
            models.Index(fields=["project", "status", "kind"]),
            models.Index(fields=["assignee", "status"]),
        ]
        constraints = [
            # The same person never annotates the same image twice (blind agreement needs it).
            models.UniqueConstraint(
                fields=["image", "assignee"],
                condition=Q(kind__in=["annotate", "calibration"]) & Q(assignee__isnull=False),
                name="task_one_per_image_and_annotator",
            ),
        ]

    def can_move_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS[self.status]

    def __str__(self) -> str:
        return f"task {self.id} ({self.kind}, {self.status})"
