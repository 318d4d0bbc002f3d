"""Review decisions: peer review, senior QA, rework, fix-and-accept, overturning.

Every decision writes a ReviewDecision (who, when, what, why) and never edits an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import Revision
from annotation.services import SegmentIn, revision_create, revision_set_status
from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.roles import STAFF_ROLES, Role
from projects.models import Project, Task
from projects.selectors import user_roles
from projects.services import task_transition
from qa.models import ReviewComment, ReviewDecision, ReviewItem
from qa.selectors import CLAIM_TIMEOUT, LABELLING_KINDS, review_queue
from qa.services.routing import review_item_open, sampling_draw, work_accept


@dataclass(frozen=True)
class PinIn:
    """A comment pinned to a point (x, y) or to a region (polygon of [x, y] points)."""

    text: str
    x: float | None = None
    y: float | None = None
    region: tuple[tuple[float, float], ...] | None = None
    segment_id: int | None = None


def pins_parse(raw: Any, *, width: int, height: int) -> list[PinIn]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationFailed("comments must be a list.")
    pins = []
    for index, item in enumerate(raw):
        where = f"comment #{index + 1}"
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            raise ValidationFailed(f"{where} needs a text.")
        x, y, region = item.get("x"), item.get("y"), item.get("region")
        if region is not None:
            if (
                not isinstance(region, list)
                or len(region) < 3
                or not all(
                    isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(v, int | float) for v in p)
                    for p in region
                )
            ):
                raise ValidationFailed(f"{where}: region must be a polygon of at least three [x, y] points.")
            points = tuple((float(p[0]), float(p[1])) for p in region)
            if any(not (0 <= px <= width and 0 <= py <= height) for px, py in points):
                raise ValidationFailed(f"{where}: region lies outside the {width}x{height} image.")
            pins.append(
                PinIn(text=str(item["text"]).strip(), region=points, segment_id=item.get("segment_id"))
            )
            continue
        if x is None and y is None:
            pins.append(PinIn(text=str(item["text"]).strip(), segment_id=item.get("segment_id")))
            continue
        if (
            not isinstance(x, int | float)
            or not isinstance(y, int | float)
            or not (0 <= x <= width and 0 <= y <= height)
        ):
            raise ValidationFailed(f"{where}: x and y must be a point inside the {width}x{height} image.")
        pins.append(
            PinIn(text=str(item["text"]).strip(), x=float(x), y=float(y), segment_id=item.get("segment_id"))
        )
    return pins


def _comments_add(
    *, revision: Revision, decision: ReviewDecision, author: User, pins: Sequence[PinIn]
) -> None:
    ReviewComment.objects.bulk_create(
        [
            ReviewComment(
                revision=revision,
                decision=decision,
                author=author,
                text=pin.text,
                x=pin.x,
                y=pin.y,
                region=[list(p) for p in pin.region] if pin.region else None,
                segment_id=pin.segment_id,
            )
            for pin in pins
        ]
    )


def _with_comment(comment: str, pins: Sequence[PinIn]) -> list[PinIn]:
    """The decision's written comment, unpinned, before its pins: the author reads the why
    with the comments on their work (``GET /api/revisions/{id}/comments/``)."""
    text = comment.strip()
    return ([PinIn(text=text)] if text else []) + list(pins)


def _require_reviewer(*, item: ReviewItem, user: User) -> None:
    """Who may decide an item. Peer items: a reviewer or QA lead; senior items: a QA lead.
    Never the work's author or the task's assignee, never someone who labelled the image, and
    for senior QA never the one whose peer decision (or fix) is being checked."""
    roles = user_roles(user=user, project=item.task.project)
    if item.stage == ReviewItem.Stage.SENIOR:
        if Role.QA_LEAD not in roles:
            raise Forbidden("Senior QA decisions need the qa_lead role.")
    elif not roles & {Role.REVIEWER, Role.QA_LEAD}:
        raise Forbidden("Peer review needs the reviewer or qa_lead role.")
    if item.revision.author_id == user.pk or item.task.assignee_id == user.pk:
        raise Forbidden("Nobody reviews their own work.")
    if Task.objects.filter(
        image_id=item.task.image_id, assignee_id=user.pk, kind__in=LABELLING_KINDS
    ).exists():
        raise Forbidden("You labelled this image yourself, so you cannot review it.")
    if item.stage == ReviewItem.Stage.SENIOR and _peer_decided_by(item=item, user=user):
        raise Forbidden("You made the peer decision on this work; senior QA needs another QA lead.")


def _peer_decided_by(*, item: ReviewItem, user: User) -> bool:
    return (
        ReviewDecision.objects.filter(item__task_id=item.task_id, item__stage=ReviewItem.Stage.PEER)
        .filter(Q(item__revision_id=item.revision_id) | Q(fixed_revision_id=item.revision_id))
        .filter(reviewer_id=user.pk)
        .exists()
    )


def review_check_decider(*, item: ReviewItem, user: User) -> None:
    """Raise unless ``user`` may decide ``item`` now (role, independence, pending, claim); lets
    a view refuse before it parses a large upload. The deciding services check it again."""
    _require_reviewer(item=item, user=user)
    if item.status != ReviewItem.Status.PENDING:
        raise Conflict(f"Review item {item.id} is already {item.status}.")
    _require_claim(item=item, user=user)


def _require_claim(*, item: ReviewItem, user: User) -> None:
    """Another reviewer's live claim keeps everyone else from deciding the item."""
    if (
        item.reviewer_id not in (None, user.pk)
        and item.claimed_at
        and item.claimed_at > timezone.now() - CLAIM_TIMEOUT
    ):
        raise Conflict(f"Review item {item.id} is being reviewed by {item.reviewer}.")


@transaction.atomic
def review_claim_next(*, project: Project, user: User, stage: str) -> ReviewItem | None:
    """Claim the oldest item of the queue (the user's own claim first)."""
    mine = review_queue(project=project, user=user, stage=stage).filter(reviewer_id=user.pk).first()
    if mine is not None:
        return mine
    item = (
        review_queue(project=project, user=user, stage=stage)
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if item is None:
        return None
    review_claim(item=item, user=user)
    return item


@transaction.atomic
def review_open(*, item: ReviewItem, user: User) -> ReviewItem:
    """Opening a pending item claims it for the viewer (for ``CLAIM_TIMEOUT``) when they may
    decide it and nobody else holds a live claim; otherwise nothing changes. Managers and QA
    leads look at peer items without claiming them: they see every item, and a look must not
    lock reviewers out."""
    item = ReviewItem.objects.select_for_update().select_related("revision", "task__project").get(id=item.id)
    if item.status != ReviewItem.Status.PENDING:
        return item
    if item.stage == ReviewItem.Stage.PEER and user_roles(user=user, project=item.task.project) & STAFF_ROLES:
        return item
    stale = item.claimed_at is None or item.claimed_at < timezone.now() - CLAIM_TIMEOUT
    if item.reviewer_id not in (None, user.pk) and not stale:
        return item
    try:
        return review_claim(item=item, user=user)
    except Forbidden:
        return item


def review_claim(*, item: ReviewItem, user: User) -> ReviewItem:
    _require_reviewer(item=item, user=user)
    stale = item.claimed_at is not None and item.claimed_at < timezone.now() - CLAIM_TIMEOUT
    if item.reviewer_id not in (None, user.pk) and not stale:
        raise Conflict(f"Review item {item.id} is being reviewed by {item.reviewer}.")
    item.reviewer = user
    item.claimed_at = timezone.now()
    item.save(update_fields=["reviewer", "claimed_at", "updated_at"])
    Task.objects.filter(id=item.task_id).update(reviewer=user)
    return item


def _locked(item: ReviewItem) -> tuple[ReviewItem, Task]:
    locked = (
        ReviewItem.objects.select_for_update().select_related("revision", "task__project").get(id=item.id)
    )
    task = (
        Task.objects.select_for_update().select_related("project", "image", "taxonomy").get(id=locked.task_id)
    )
    return locked, task


def _after_acceptance(*, item: ReviewItem, task: Task, revision: Revision) -> None:
    """A peer acceptance is sampled into senior QA; otherwise (and after senior QA) it is final."""
    project = task.project
    if item.stage == ReviewItem.Stage.PEER:
        draw = sampling_draw(seed=project.sampling_seed, purpose="senior", key=revision.id)
        if draw < project.senior_qa_share:
            review_item_open(
                task=task,
                revision=revision,
                stage=ReviewItem.Stage.SENIOR,
                reason=ReviewItem.Reason.SENIOR_SAMPLE,
                stratum=item.stratum,
            )
            return
    work_accept(task=task, revision=revision)


def _send_back(*, task: Task, revision: Revision) -> None:
    """Rejection: the author reworks the task; their next submission is reviewed again."""
    revision_set_status(revision=revision, status=Revision.Status.REJECTED)
    task_transition(task=task, to=Task.Status.REJECTED)
    task.review_stage = ""
    task.reviewer = None
    task.save(update_fields=["review_stage", "reviewer", "updated_at"])


@transaction.atomic
def review_decide(
    *, item: ReviewItem, reviewer: User, decision: str, comment: str = "", pins: Sequence[PinIn] = ()
) -> ReviewDecision:
    """Accept or reject a pending item. A rejection needs a reason: a comment or a pin."""
    item, task = _locked(item)
    _require_reviewer(item=item, user=reviewer)
    if item.status != ReviewItem.Status.PENDING:
        raise Conflict(f"Review item {item.id} is already {item.status}.")
    _require_claim(item=item, user=reviewer)
    if decision not in (ReviewDecision.Decision.ACCEPT, ReviewDecision.Decision.REJECT):
        raise ValidationFailed("decision must be accept or reject (use the fix endpoint to fix and accept).")
    if decision == ReviewDecision.Decision.REJECT and not comment.strip() and not pins:
        raise ValidationFailed("A rejection needs a comment or a pinned comment saying what to fix.")
    # Senior QA rejecting peer-accepted work overturns the peer decision; record which one.
    overturns = None
    if item.stage == ReviewItem.Stage.SENIOR and decision == ReviewDecision.Decision.REJECT:
        overturns = (
            ReviewDecision.objects.filter(item__task=task, item__stage=ReviewItem.Stage.PEER)
            .order_by("-created_at", "-id")
            .first()
        )
    record = ReviewDecision.objects.create(
        item=item, reviewer=reviewer, decision=decision, comment=comment.strip(), overturns=overturns
    )
    _comments_add(revision=item.revision, decision=record, author=reviewer, pins=_with_comment(comment, pins))
    item.reviewer = reviewer
    item.decided_at = timezone.now()
    if decision == ReviewDecision.Decision.ACCEPT:
        item.status = ReviewItem.Status.ACCEPTED
        item.save(update_fields=["status", "reviewer", "decided_at", "updated_at"])
        _after_acceptance(item=item, task=task, revision=item.revision)
    else:
        item.status = ReviewItem.Status.REJECTED
        item.save(update_fields=["status", "reviewer", "decided_at", "updated_at"])
        _send_back(task=task, revision=item.revision)
    return record


@transaction.atomic
def review_fix_accept(
    *,
    item: ReviewItem,
    reviewer: User,
    index_map: npt.NDArray[np.uint16],
    segments: Sequence[SegmentIn],
    comment: str = "",
    pins: Sequence[PinIn] = (),
) -> ReviewDecision:
    """The reviewer corrects the work and accepts the correction: a new revision on the task,
    attributed to the reviewer (source ``review_fix``), becomes the accepted one. Pinned
    comments go on the author's revision: they tell the author what was corrected.

    The fix is not measured and is never an agreement reference: QA figures describe the
    annotators' own submissions (docs/quality.md, "Fix and accept")."""
    item, task = _locked(item)
    _require_reviewer(item=item, user=reviewer)
    if item.status != ReviewItem.Status.PENDING:
        raise Conflict(f"Review item {item.id} is already {item.status}.")
    _require_claim(item=item, user=reviewer)
    latest = task.revisions.order_by("-number").first()
    fixed = revision_create(
        task=task,
        author=reviewer,
        index_map=index_map,
        segments=segments,
        parent_number=latest.number if latest else None,
        source=Revision.Source.REVIEW_FIX,
        status=Revision.Status.SUBMITTED,
        submission_rules=True,
    )
    record = ReviewDecision.objects.create(
        item=item,
        reviewer=reviewer,
        decision=ReviewDecision.Decision.FIX_ACCEPT,
        comment=comment.strip(),
        fixed_revision=fixed,
    )
    _comments_add(revision=item.revision, decision=record, author=reviewer, pins=_with_comment(comment, pins))
    item.status = ReviewItem.Status.FIXED
    item.reviewer = reviewer
    item.decided_at = timezone.now()
    item.save(update_fields=["status", "reviewer", "decided_at", "updated_at"])
    _after_acceptance(item=item, task=task, revision=fixed)
    return record


@transaction.atomic
def review_overturn(
    *, item: ReviewItem, lead: User, decision: str, comment: str, pins: Sequence[PinIn] = ()
) -> ReviewDecision:
    """Senior QA overturns a peer decision (accepted ↔ rejected); the reason is required."""
    item, task = _locked(item)
    if Role.QA_LEAD not in user_roles(user=lead, project=task.project):
        raise Forbidden("Overturning a peer decision needs the qa_lead role.")
    if item.decisions.filter(reviewer_id=lead.pk).exists():
        raise Forbidden("You made this peer decision; overturning it needs another QA lead.")
    if (
        item.revision.author_id == lead.pk
        or task.assignee_id == lead.pk
        or Task.objects.filter(image_id=task.image_id, assignee_id=lead.pk, kind__in=LABELLING_KINDS).exists()
    ):
        raise Forbidden("Nobody overturns decisions on their own work.")
    if item.stage != ReviewItem.Stage.PEER or item.status not in (
        ReviewItem.Status.ACCEPTED,
        ReviewItem.Status.REJECTED,
        ReviewItem.Status.FIXED,
    ):
        raise Conflict(
            f"Only a decided peer review can be overturned; item {item.id} is {item.stage} {item.status}."
        )
    if not comment.strip():
        raise ValidationFailed("Overturning a decision needs a comment saying why.")
    peer_accepted = item.status in (ReviewItem.Status.ACCEPTED, ReviewItem.Status.FIXED)
    if decision == ReviewDecision.Decision.ACCEPT and peer_accepted:
        raise Conflict("The peer review already accepted this work.")
    if decision == ReviewDecision.Decision.REJECT and not peer_accepted:
        raise Conflict("The peer review already rejected this work.")
    if (
        task.revisions.filter(number__gt=item.revision.number)
        .exclude(source=Revision.Source.REVIEW_FIX)
        .exists()
    ):
        raise Conflict("The author has saved newer work since; review that submission instead.")
    previous = item.decisions.order_by("-created_at", "-id").first()
    senior = ReviewItem.objects.filter(
        task=task, stage=ReviewItem.Stage.SENIOR, status=ReviewItem.Status.PENDING
    ).first()
    if senior is None:
        senior = ReviewItem.objects.create(
            task=task,
            revision=item.revision,
            stage=ReviewItem.Stage.SENIOR,
            reason=ReviewItem.Reason.OVERTURN,
            stratum=item.stratum,
        )
    record = ReviewDecision.objects.create(
        item=senior, reviewer=lead, decision=decision, comment=comment.strip(), overturns=previous
    )
    _comments_add(revision=item.revision, decision=record, author=lead, pins=_with_comment(comment, pins))
    now = timezone.now()
    item.status = ReviewItem.Status.OVERTURNED
    item.save(update_fields=["status", "updated_at"])
    senior.status = (
        ReviewItem.Status.ACCEPTED
        if decision == ReviewDecision.Decision.ACCEPT
        else ReviewItem.Status.REJECTED
    )
    senior.reviewer = lead
    senior.decided_at = now
    senior.save(update_fields=["status", "reviewer", "decided_at", "updated_at"])
    # The work the peer decided on: for a fix, the fix revision; otherwise the submission.
    target = previous.fixed_revision if previous and previous.fixed_revision else item.revision
    if decision == ReviewDecision.Decision.ACCEPT:
        if task.status == Task.Status.REJECTED:
            task_transition(task=task, to=Task.Status.SUBMITTED)
        work_accept(task=task, revision=target)
    else:
        if task.status == Task.Status.ACCEPTED:
            task_transition(task=task, to=Task.Status.IN_REVIEW)
        _send_back(task=task, revision=target)
    return record
