"""Reads of measurements and quality reports, with who may see which figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation.models import Revision
from annotation.selectors import revision_list_for_user
from core.exceptions import NotFound
from core.roles import STAFF_ROLES, Role
from projects.models import Project, Task
from projects.selectors import UserLike, task_get_for_user, user_roles
from qa.metrics import ENGINE_VERSION
from qa.models import (
    AuditEvent,
    ClassStatistic,
    ClassThreshold,
    QualityReport,
    ReviewComment,
    ReviewDecision,
    ReviewItem,
    RevisionMeasurement,
    SamplingDecision,
)


def quality_reports_for_user(*, user: UserLike, revision: Revision) -> QuerySet[QualityReport]:
    """Reports of a revision the user may see; call with a revision the user may see.

    Its gold reports, and the agreement reports of every pair it is in (as the submission or,
    when it was saved first, as the reference). manager and qa_lead: all. Reviewers: all of
    a revision under a review item they may see (their queue, or one they claimed or
    decided): the numbers back their decision; not of the other revisions they see only as
    a reference. The author: scores against gold only,
    and only when the project lets annotators see them; never agreement, which would tell
    them a peer labelled the same image. Everyone else: none.
    """
    # An agreement pair is stored once, the earlier revision as its reference: it is the
    # pair's report for both revisions.
    reports = (
        QualityReport.objects.filter(
            Q(revision=revision) | Q(reference=revision, kind=QualityReport.Kind.AGREEMENT)
        )
        .select_related("reference")
        .order_by("kind", "revision_id", "reference_id")
    )
    project = revision.task.project
    roles = user_roles(user=user, project=project)
    if roles & STAFF_ROLES:
        return reports
    if (
        Role.REVIEWER in roles
        and revision.author_id != user.pk
        and review_items_for_user(project=project, user=user).filter(revision=revision).exists()
    ):
        return reports
    if revision.author_id == user.pk and project.annotator_gold_feedback:
        return reports.filter(kind=QualityReport.Kind.GOLD)
    return reports.none()


def measurement_of(*, revision: Revision) -> RevisionMeasurement | None:
    return RevisionMeasurement.objects.filter(revision=revision).first()


# What everyone but staff reads when a measurement failed: the stored reason can name other
# annotators' revisions and storage keys.
MEASUREMENT_FAILED_MESSAGE = "This submission could not be measured; the QA lead can see why."


@dataclass(frozen=True)
class MeasurementView:
    """A measurement as one user may see it (``error`` and reference failures are staff only)."""

    status: str
    error: str
    attempts: int
    engine_version: str
    finished_at: datetime | None
    reference_failures: list[dict[str, Any]]


def measurement_for_user(*, user: UserLike, revision: Revision) -> MeasurementView | None:
    """The measurement of a revision the user may see; call with such a revision."""
    measurement = measurement_of(revision=revision)
    if measurement is None:
        return None
    if user_roles(user=user, project=revision.task.project) & STAFF_ROLES:
        error, failures = measurement.error, list(measurement.reference_failures)
    else:
        failed = measurement.status == RevisionMeasurement.Status.FAILED
        error, failures = (MEASUREMENT_FAILED_MESSAGE if failed else ""), []
    return MeasurementView(
        status=measurement.status,
        error=error,
        attempts=measurement.attempts,
        engine_version=measurement.engine_version,
        finished_at=measurement.finished_at,
        reference_failures=failures,
    )


# --- review queues -------------------------------------------------------------------------------

# A claim older than this is stale: another reviewer may take the item.
CLAIM_TIMEOUT = timedelta(hours=2)


# Work that makes someone the labeller of an image (gold is the reference, not work reviewed).
LABELLING_KINDS = (Task.Kind.ANNOTATE, Task.Kind.CALIBRATION)


def labelled_image_ids(*, project: Project, user: UserLike) -> QuerySet[Task, Any]:
    """``image_id`` values of the images ``user`` labels or labelled in ``project``."""
    return Task.objects.filter(project=project, assignee_id=user.pk, kind__in=LABELLING_KINDS).values(
        "image_id"
    )


def peer_decisions_behind(*, user: UserLike) -> QuerySet[ReviewDecision]:
    """The user's peer decisions on the work of ``OuterRef`` review item (its task and its
    revision, or the fix that revision is): who made those may not be its senior QA."""
    return ReviewDecision.objects.filter(
        item__task_id=OuterRef("task_id"), item__stage=ReviewItem.Stage.PEER, reviewer_id=user.pk
    ).filter(Q(item__revision_id=OuterRef("revision_id")) | Q(fixed_revision_id=OuterRef("revision_id")))


def review_queue(*, project: Project, user: UserLike, stage: str) -> QuerySet[ReviewItem]:
    """Pending items of ``stage`` that ``user`` may decide, oldest first: never their own work
    (as its author or the task's assignee) or an image they labelled; for senior QA, never
    work whose peer decision (or fix) was theirs; never an item someone else has claimed
    (until the claim goes stale)."""
    items = (
        ReviewItem.objects.filter(task__project=project, stage=stage, status=ReviewItem.Status.PENDING)
        .exclude(revision__author_id=user.pk)
        .exclude(task__assignee_id=user.pk)
        .exclude(task__image_id__in=labelled_image_ids(project=project, user=user))
    )
    if stage == ReviewItem.Stage.SENIOR:
        items = items.exclude(Exists(peer_decisions_behind(user=user)))
    stale = timezone.now() - CLAIM_TIMEOUT
    items = items.filter(Q(reviewer__isnull=True) | Q(reviewer_id=user.pk) | Q(claimed_at__lt=stale))
    return items.select_related("task__image", "revision__author", "reviewer").order_by("created_at", "id")


def review_items_for_user(
    *, project: Project, user: UserLike, stage: str | None = None
) -> QuerySet[ReviewItem]:
    """Review items the user may see: QA leads and managers all of the project; reviewers the
    peer items in their queue and the ones they claimed or decided; nobody else any."""
    roles = user_roles(user=user, project=project)
    items = ReviewItem.objects.filter(task__project=project)
    if stage:
        items = items.filter(stage=stage)
    if not roles & STAFF_ROLES:
        if Role.REVIEWER not in roles:
            return items.none()
        queue = review_queue(project=project, user=user, stage=ReviewItem.Stage.PEER).values("id")
        items = items.filter(Q(id__in=queue) | Q(reviewer_id=user.pk))
    return items.select_related("task__image", "revision__author", "reviewer").order_by("-created_at", "-id")


def review_item_get_for_user(*, user: UserLike, item_id: int) -> ReviewItem:
    item = ReviewItem.objects.filter(id=item_id).select_related("task__project").first()
    if (
        item is None
        or not review_items_for_user(project=item.task.project, user=user).filter(id=item.id).exists()
    ):
        raise NotFound(f"No review item {item_id}.")
    return (
        ReviewItem.objects.select_related("task__project", "task__image", "revision__author", "reviewer")
        .prefetch_related("decisions__reviewer", "decisions__fixed_revision")
        .get(id=item.id)
    )


def review_reference(*, item: ReviewItem) -> Revision | None:
    """What the reviewer compares against: the image's gold, else the other annotator's work."""
    gold = (
        Revision.objects.filter(
            task__image_id=item.task.image_id, task__kind=Task.Kind.GOLD, status=Revision.Status.ACCEPTED
        )
        .order_by("-id")
        .first()
    )
    if gold is not None:
        return gold
    return (
        Revision.objects.filter(
            task__image_id=item.task.image_id,
            task__kind=Task.Kind.ANNOTATE,
            status__in=[Revision.Status.SUBMITTED, Revision.Status.ACCEPTED],
        )
        .exclude(task_id=item.task_id)
        .order_by("-id")
        .first()
    )


def comments_for_revision(*, revision: Revision) -> QuerySet[ReviewComment]:
    """Comments on a revision and on the earlier revisions of its task (call with a revision
    the user may see): rework shows what the reviewer asked for."""
    return (
        ReviewComment.objects.filter(
            revision__task_id=revision.task_id, revision__number__lte=revision.number
        )
        .select_related("author", "decision")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class RevisionFeedback:
    """What the author of a submission learns about it: the reviewers' comments and, where
    the project allows it, the scores against gold (``gold`` None otherwise)."""

    revision: Revision
    comments: list[ReviewComment]
    gold: QualityReport | None


def task_feedback_for_user(*, user: UserLike, task_id: int) -> tuple[Task, list[RevisionFeedback]]:
    """Feedback on a task's submissions, newest first, for its assignee (their own work) and
    for managers and QA leads; nobody else, not even a reviewer of it. Gold scores follow
    :func:`quality_reports_for_user`: the author sees them only when the policy allows."""
    task = task_get_for_user(user=user, task_id=task_id)
    if task.assignee_id != user.pk and not user_roles(user=user, project=task.project) & STAFF_ROLES:
        raise NotFound(f"No task {task_id}.")
    revisions = (
        revision_list_for_user(user=user, task=task)
        .exclude(status=Revision.Status.DRAFT)
        .select_related("task__project", "task__image")
        .order_by("-number")
    )
    feedback = []
    for revision in revisions:
        comments = list(
            ReviewComment.objects.filter(revision=revision)
            .select_related("author")
            .order_by("created_at", "id")
        )
        gold = (
            quality_reports_for_user(user=user, revision=revision)
            .filter(kind=QualityReport.Kind.GOLD, engine_version=ENGINE_VERSION)
            .select_related("revision__task")
            .order_by("-reference_id")
            .first()
        )
        feedback.append(RevisionFeedback(revision=revision, comments=comments, gold=gold))
    return task, feedback


def audit_trail(*, project: Project, limit: int = 500) -> list[dict[str, object]]:
    """Review decisions and QA decisions of a project, newest first: who, when, what, why."""
    events: list[dict[str, object]] = [
        {
            "at": d.created_at.isoformat(),
            "actor": d.reviewer.get_username(),
            "action": f"{d.item.stage}_{d.decision}" + ("_overturn" if d.overturns_id else ""),
            "target": f"task {d.item.task_id} revision {d.item.revision.number}",
            "reason": d.comment,
            "details": {
                "review_item": d.item_id,
                "fixed_revision": d.fixed_revision_id,
                "overturns": d.overturns_id,
            },
        }
        for d in ReviewDecision.objects.filter(item__task__project=project)
        .select_related("reviewer", "item__revision")
        .order_by("-created_at", "-id")[:limit]
    ]
    events += [
        {
            "at": e.created_at.isoformat(),
            "actor": e.actor.get_username() if e.actor else None,
            "action": e.action,
            "target": e.target,
            "reason": e.reason,
            "details": e.details,
        }
        for e in AuditEvent.objects.filter(project=project)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    ]
    events.sort(key=lambda event: str(event["at"]), reverse=True)
    return events[:limit]


def failed_measurements(*, project: Project) -> QuerySet[RevisionMeasurement]:
    """Submissions that could not be measured (bad data), or not against every reference,
    newest first, for the QA lead."""
    return (
        RevisionMeasurement.objects.filter(revision__task__project=project)
        .filter(Q(status=RevisionMeasurement.Status.FAILED) | Q(reference_failures__0__isnull=False))
        .select_related("revision__task", "revision__author")
        .order_by("-updated_at", "-id")
    )


# --- class strata (stratified sampling) -------------------------------------------------------------


@dataclass(frozen=True)
class ClassTotals:
    """Labelled pixels and instances per category over each task's latest routed submission."""

    pixels: dict[int, int]
    instances: dict[int, int]

    @property
    def total_pixels(self) -> int:
        return sum(self.pixels.values())

    @property
    def total_instances(self) -> int:
        return sum(self.instances.values())


def class_totals(*, project: Project) -> ClassTotals:
    rows = ClassStatistic.objects.filter(project=project)
    return ClassTotals(
        pixels={r.category_id: r.pixels for r in rows}, instances={r.category_id: r.instances for r in rows}
    )


def class_share(totals: ClassTotals, *, category_id: int, isthing: bool) -> float:
    """A thing's share of all instances, a stuff class's share of all labelled pixels; 0.0
    before anything is counted (an unseen class is rare until shown otherwise)."""
    if isthing:
        total = totals.total_instances
        return totals.instances.get(category_id, 0) / total if total else 0.0
    total = totals.total_pixels
    return totals.pixels.get(category_id, 0) / total if total else 0.0


def stratum_of(*, project: Project, category_id: int, share: float) -> str:
    """The stratum a class samples in: its override when set, else rare below the share."""
    override = project.stratum_overrides.get(str(category_id))
    if override in SamplingDecision.Stratum.values:
        return str(override)
    if share < project.rare_class_share:
        return SamplingDecision.Stratum.RARE
    return SamplingDecision.Stratum.DOMINANT


def class_strata(*, project: Project) -> list[dict[str, Any]]:
    """Per category of the current taxonomy: counts, share, derived and effective stratum,
    for the manager to see which classes are rare right now."""
    totals = class_totals(project=project)
    taxonomy = project.taxonomy_versions.order_by("-number").first()
    categories = list(taxonomy.categories.order_by("category_id")) if taxonomy else []
    rows = []
    for category in categories:
        share = class_share(totals, category_id=category.category_id, isthing=category.isthing)
        derived = (
            SamplingDecision.Stratum.RARE
            if share < project.rare_class_share
            else SamplingDecision.Stratum.DOMINANT
        )
        rows.append(
            {
                "category_id": category.category_id,
                "name": category.name,
                "isthing": category.isthing,
                "pixels": totals.pixels.get(category.category_id, 0),
                "instances": totals.instances.get(category.category_id, 0),
                "share": share,
                "derived": str(derived),
                "override": project.stratum_overrides.get(str(category.category_id)),
                "stratum": stratum_of(project=project, category_id=category.category_id, share=share),
            }
        )
    return rows


# --- per-class thresholds ------------------------------------------------------------------------


def class_thresholds(*, project: Project) -> dict[str, dict[str, float]]:
    """Per-class threshold overrides: {"<category id>": {field: value}} (set values only)."""
    result: dict[str, dict[str, float]] = {}
    for row in ClassThreshold.objects.filter(project=project).order_by("category_id"):
        values = {
            name: getattr(row, name) for name in ClassThreshold.FIELDS if getattr(row, name) is not None
        }
        if values:
            result[str(row.category_id)] = values
    return result


def threshold_for(
    project: Project, overrides: dict[str, dict[str, float]], *, category_id: int | str, field: str
) -> float:
    """The threshold ``field`` that applies to a class: its override, else the project's."""
    value = overrides.get(str(category_id), {}).get(field)
    return float(getattr(project, field)) if value is None else value
