"""Routing a measured submission: accepted as it is, or into the peer-review queue.

A submission goes to peer review when the stratified sample draws it (a submission containing
a rare class is drawn at the rare rate), and always when it failed gold, disagreed with its
overlap partner beyond the threshold, or is rework of rejected work. Every draw is recorded
(SamplingDecision) and derived from the project's seed, so sampling can be audited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest

from annotation.models import Revision
from annotation.services import revision_set_status
from projects.models import Project, Task
from projects.services import task_transition
from qa.models import ClassStatistic, QualityReport, ReviewItem, RevisionMeasurement, SamplingDecision
from qa.selectors import class_share, class_totals, stratum_of

RARE = SamplingDecision.Stratum.RARE
DOMINANT = SamplingDecision.Stratum.DOMINANT


def sampling_draw(*, seed: int, purpose: str, key: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, purpose, key): reproducible, independent per key."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def class_counts_of(*, revision: Revision) -> dict[str, list[int]]:
    """Pixels and instances (things only) per category of a revision's segment table."""
    isthing = {c.category_id: c.isthing for c in revision.task.taxonomy.categories.all()}
    counts: dict[str, list[int]] = {}
    for segment in revision.segments:
        category = int(segment["category_id"])
        row = counts.setdefault(str(category), [0, 0])
        row[0] += int(segment["area"])
        if isthing.get(category, False):
            row[1] += 1
    return counts


def class_statistics_count(*, project: Project, task: Task, revision: Revision) -> dict[str, list[int]]:
    """Count the task's submission in the running totals once: a resubmission (rework)
    replaces the task's earlier contribution instead of adding to it. Call with the task row
    locked. Returns what this submission contributes."""
    new = class_counts_of(revision=revision)
    previous = (
        SamplingDecision.objects.filter(revision__task=task)
        .exclude(revision=revision)
        .order_by("-id")
        .first()
    )
    old: dict[str, list[int]] = previous.class_counts if previous is not None else {}
    for key in sorted(set(new) | set(old)):
        pixels = new.get(key, [0, 0])[0] - old.get(key, [0, 0])[0]
        instances = new.get(key, [0, 0])[1] - old.get(key, [0, 0])[1]
        if not pixels and not instances:
            continue
        ClassStatistic.objects.get_or_create(project=project, category_id=int(key))
        ClassStatistic.objects.filter(project=project, category_id=int(key)).update(
            pixels=Greatest(F("pixels") + pixels, Value(0)),
            instances=Greatest(F("instances") + instances, Value(0)),
        )
    return new


def rare_categories(*, project: Project, category_ids: Iterable[int], isthing: dict[int, bool]) -> list[int]:
    """Which of ``category_ids`` are rare: a share of labelled pixels (stuff) or of instances
    (things) below ``project.rare_class_share``, unless overridden per class
    (:func:`qa.selectors.class_share` and :func:`qa.selectors.stratum_of`)."""
    totals = class_totals(project=project)
    return [
        category
        for category in sorted(set(category_ids))
        if stratum_of(
            project=project,
            category_id=category,
            share=class_share(totals, category_id=category, isthing=isthing.get(category, False)),
        )
        == RARE
    ]


def forced_review_reasons(*, revision: Revision) -> list[str]:
    """Reasons to review regardless of sampling: not measurable, failed gold, disagreement,
    rework."""
    project = revision.task.project
    reasons: list[str] = []
    if RevisionMeasurement.objects.filter(
        revision=revision, status=RevisionMeasurement.Status.FAILED
    ).exists():
        reasons.append(ReviewItem.Reason.UNMEASURED)
    reports = QualityReport.objects.filter(revision=revision, boundary_ratio=project.boundary_ratio)
    for report in reports.filter(kind=QualityReport.Kind.GOLD):
        ious = [v for v in report.summary["class_iou"].values() if v is not None]
        if ious and min(ious) < project.gold_pass_iou:
            reasons.append(ReviewItem.Reason.GOLD_FAILED)
            break
    agreement = QualityReport.objects.filter(
        Q(revision=revision) | Q(reference=revision),
        kind=QualityReport.Kind.AGREEMENT,
        boundary_ratio=project.boundary_ratio,
    )
    for report in agreement:
        miou = report.summary["miou"]
        if miou is not None and miou < project.overlap_agreement_threshold:
            reasons.append(ReviewItem.Reason.DISAGREEMENT)
            break
    if ReviewItem.objects.filter(task=revision.task, status=ReviewItem.Status.REJECTED).exists():
        reasons.append(ReviewItem.Reason.REWORK)
    return reasons


def review_item_open(
    *, task: Task, revision: Revision, stage: str, reason: str, stratum: str = ""
) -> ReviewItem:
    """Put ``revision`` in a review queue; the task waits there (visible to that queue)."""
    item, _ = ReviewItem.objects.get_or_create(
        revision=revision,
        stage=stage,
        status=ReviewItem.Status.PENDING,
        defaults={"task": task, "reason": reason, "stratum": stratum},
    )
    if task.status != Task.Status.IN_REVIEW:
        task_transition(task=task, to=Task.Status.IN_REVIEW)
    task.review_stage = stage
    task.reviewer = None
    task.save(update_fields=["review_stage", "reviewer", "updated_at"])
    return item


def work_accept(*, task: Task, revision: Revision) -> None:
    """Final acceptance: the revision becomes what releases deliver for its task."""
    revision_set_status(revision=revision, status=Revision.Status.ACCEPTED)
    task_transition(task=task, to=Task.Status.ACCEPTED)
    task.review_stage = ""
    task.save(update_fields=["review_stage", "updated_at"])


@transaction.atomic
def revision_route(*, revision_id: int) -> SamplingDecision | None:
    """Route a measured submission; call after its measurement. Safe to call again: the
    sampling draw is made once, and a later measurement (gold that arrived late) can only add
    forced reasons, which reopen auto-accepted work for review."""
    revision = Revision.objects.select_related("task__project", "task__taxonomy").get(id=revision_id)
    task = Task.objects.select_for_update().select_related("project", "taxonomy").get(id=revision.task_id)
    project = task.project
    if task.kind == Task.Kind.GOLD:
        return None
    if task.kind == Task.Kind.CALIBRATION:
        # Calibration work is measured, not reviewed: it is done once submitted.
        if revision.status == Revision.Status.SUBMITTED:
            work_accept(task=task, revision=revision)
        return None
    latest = task.revisions.order_by("-number").first()
    if latest is None or latest.id != revision.id or revision.status != Revision.Status.SUBMITTED:
        # Superseded or already decided: routing concerns the task's current submission.
        existing = SamplingDecision.objects.filter(revision=revision).first()
        return _reopen_if_forced(existing, task, revision)
    existing = SamplingDecision.objects.filter(revision=revision).first()
    if existing is not None:
        return existing
    class_counts = class_statistics_count(project=project, task=task, revision=revision)
    isthing = {c.category_id: c.isthing for c in task.taxonomy.categories.all()}
    present = {int(s["category_id"]) for s in revision.segments}
    rare = rare_categories(project=project, category_ids=present, isthing=isthing)
    stratum = RARE if rare else DOMINANT
    rate = project.peer_review_rate_rare if rare else project.peer_review_rate_dominant
    draw = sampling_draw(seed=project.sampling_seed, purpose="peer", key=revision.id)
    forced = forced_review_reasons(revision=revision)
    decision = SamplingDecision.objects.create(
        revision=revision,
        stratum=stratum,
        rare_categories=rare,
        rate=rate,
        draw=draw,
        sampled=draw < rate,
        forced_reasons=forced,
        class_counts=class_counts,
    )
    if decision.to_review:
        reason = forced[0] if forced else ReviewItem.Reason.SAMPLED
        review_item_open(
            task=task, revision=revision, stage=ReviewItem.Stage.PEER, reason=reason, stratum=stratum
        )
    else:
        work_accept(task=task, revision=revision)
    return decision


def _reopen_if_forced(
    decision: SamplingDecision | None, task: Task, revision: Revision
) -> SamplingDecision | None:
    """Late evidence (gold labelled after the submission was auto-accepted) reopens it."""
    if decision is None or decision.to_review or revision.status != Revision.Status.ACCEPTED:
        return decision
    if task.review_items.exists():
        return decision  # a person already decided on this task; their decision stands
    forced = forced_review_reasons(revision=revision)
    if not forced:
        return decision
    decision.forced_reasons = forced
    decision.save(update_fields=["forced_reasons", "updated_at"])
    revision_set_status(revision=revision, status=Revision.Status.SUBMITTED)
    review_item_open(
        task=task, revision=revision, stage=ReviewItem.Stage.PEER, reason=forced[0], stratum=decision.stratum
    )
    return decision
