"""Writes of revisions. Every write creates a new revision; none updates a map or a table.

Submitting is not here: it is a QA workflow step (``qa.services.revision_submit``) that uses
``revision_mark_submitted`` and then enqueues the metrics job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard, cast

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.masks import (
    CategorySpec,
    MaskFormatError,
    Mode,
    SegmentSpec,
    ValidationIssue,
    decode_index_map,
    encode_index_map,
    index_map_bits,
    segment_stats,
    validate_structure,
    validate_submission,
)
from annotation.models import Revision
from annotation.selectors import revision_index_map
from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.storage import blob_store
from projects.models import Project, Task
from projects.services import task_transition, taxonomy_freeze

SEGMENT_SOURCES = ("manual", "prelabel", "import", "review_fix")
MAX_SEGMENTS = 65535


@dataclass(frozen=True)
class SegmentIn:
    id: int
    category_id: int
    iscrowd: bool = False
    # None: not stated by the client, resolved by revision_create (see _confirmation_resolved).
    confirmed: bool | None = True
    source: str = "manual"
    attributes: dict[str, Any] = field(default_factory=dict)
    # Polygons as drawn, in order: a fill ring [x1, y1, x2, y2, ...], or a hole cut into the
    # segment {"vertices": [...], "cut": True}. Provenance only.
    polygons: tuple[tuple[float, ...] | dict[str, Any], ...] = ()


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _polygon_parse(ring: Any) -> tuple[float, ...] | dict[str, Any] | None:
    """A fill ring as a tuple, a cut ring as {"vertices": [...], "cut": True}; None if malformed."""
    vertices = ring.get("vertices") if isinstance(ring, dict) else ring
    if not isinstance(vertices, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in vertices
    ):
        return None
    if isinstance(ring, dict) and (
        set(ring) - {"vertices", "cut"} or ring.get("cut", False) not in (True, False)
    ):
        return None
    values = [float(v) for v in vertices]
    return (
        {"vertices": values, "cut": True}
        if isinstance(ring, dict) and ring.get("cut") is True
        else tuple(values)
    )


def segments_parse(raw: Any) -> list[SegmentIn]:
    """Parse a segment table sent by a client; raise ValidationFailed naming the bad entry."""
    if not isinstance(raw, list):
        raise ValidationFailed("segments must be a JSON list.")
    if len(raw) > MAX_SEGMENTS:
        raise ValidationFailed(f"A revision holds at most {MAX_SEGMENTS} segments, got {len(raw)}.")
    parsed = []
    for index, item in enumerate(raw):
        where = f"segment #{index + 1}"
        if not isinstance(item, dict):
            raise ValidationFailed(f"{where} must be an object.")
        seg_id, category_id = item.get("id"), item.get("category_id")
        if not _is_int(seg_id) or not 1 <= seg_id <= MAX_SEGMENTS:
            raise ValidationFailed(
                f"{where}: id must be an integer from 1 to {MAX_SEGMENTS}, got {seg_id!r}."
            )
        if not _is_int(category_id):
            raise ValidationFailed(
                f"{where} (id {seg_id}): category_id must be an integer, got {category_id!r}."
            )
        iscrowd, confirmed = item.get("iscrowd", False), item.get("confirmed")
        if iscrowd not in (0, 1, True, False) or confirmed not in (None, 0, 1, True, False):
            raise ValidationFailed(f"{where} (id {seg_id}): iscrowd and confirmed must be booleans.")
        source = item.get("source", "manual")
        if source not in SEGMENT_SOURCES:
            raise ValidationFailed(
                f"{where} (id {seg_id}): source must be one of {', '.join(SEGMENT_SOURCES)}."
            )
        attributes = item.get("attributes", {}) or {}
        if not isinstance(attributes, dict):
            raise ValidationFailed(f"{where} (id {seg_id}): attributes must be an object.")
        polygons = item.get("polygons", []) or []
        rings = [_polygon_parse(ring) for ring in polygons] if isinstance(polygons, list) else [None]
        if any(ring is None for ring in rings):
            raise ValidationFailed(
                f"{where} (id {seg_id}): polygons must be lists of numbers"
                ' or {"vertices": [numbers], "cut": true} objects.'
            )
        parsed.append(
            SegmentIn(
                id=seg_id,
                category_id=category_id,
                iscrowd=bool(iscrowd),
                confirmed=None if confirmed is None else bool(confirmed),
                source=source,
                attributes=attributes,
                polygons=tuple(ring for ring in rings if ring is not None),
            )
        )
    return parsed


def index_map_parse(*, data: bytes, task: Task) -> npt.NDArray[np.uint16]:
    try:
        return decode_index_map(data, expected_shape=(task.image.height, task.image.width))
    except MaskFormatError as error:
        raise ValidationFailed(f"index_map: {error}") from None


def _category_specs(task: Task) -> list[CategorySpec]:
    return [
        CategorySpec(id=c.category_id, name=c.name, isthing=c.isthing, min_area=c.min_area)
        for c in task.taxonomy.categories.all()
    ]


def _segment_specs(segments: Sequence[SegmentIn]) -> list[SegmentSpec]:
    return [
        # confirmed is None only before revision_create resolves it: unstated counts as not confirmed
        SegmentSpec(id=s.id, category_id=s.category_id, iscrowd=s.iscrowd, confirmed=bool(s.confirmed))
        for s in segments
    ]


def _raise_issues(issues: Sequence[ValidationIssue], summary: str) -> None:
    if issues:
        raise ValidationFailed(
            summary,
            extra={
                "errors": [
                    {"code": issue.code, "message": issue.message, "segment_id": issue.segment_id}
                    for issue in issues
                ]
            },
        )


def submission_issues(
    *, task: Task, index_map: npt.NDArray[np.uint16], segments: Sequence[SegmentIn]
) -> list[ValidationIssue]:
    project: Project = task.project
    return validate_submission(
        index_map,
        _segment_specs(segments),
        categories=_category_specs(task),
        mode=cast(Mode, project.mode),
        allow_void=project.allow_void or project.mode != Project.Mode.PANOPTIC,
    )


def revision_content_check(
    *, task: Task, index_map: npt.NDArray[np.uint16], segments: Sequence[SegmentIn], submission: bool
) -> None:
    """Structural rules always; submission rules (coverage, min area, confirmation) on submit."""
    issues = validate_structure(
        index_map,
        _segment_specs(segments),
        categories=_category_specs(task),
        mode=cast(Mode, task.project.mode),
        expected_shape=(task.image.height, task.image.width),
    )
    _raise_issues(issues, f"The annotation is not valid: {issues[0].message}" if issues else "")
    if submission:
        issues = submission_issues(task=task, index_map=index_map, segments=segments)
        _raise_issues(
            issues, f"The annotation cannot be submitted yet: {issues[0].message}" if issues else ""
        )


def _segment_rows(index_map: npt.NDArray[np.uint16], segments: Sequence[SegmentIn]) -> list[dict[str, Any]]:
    stats = segment_stats(index_map)
    rows = []
    for segment in sorted(segments, key=lambda s: s.id):
        stat = stats[segment.id]
        row: dict[str, Any] = {
            "id": segment.id,
            "category_id": segment.category_id,
            "iscrowd": segment.iscrowd,
            "area": stat.area,
            "bbox": list(stat.bbox),
            "confirmed": segment.confirmed,
            "source": segment.source,
            "attributes": segment.attributes,
        }
        if segment.polygons:
            row["polygons"] = [list(ring) if isinstance(ring, tuple) else ring for ring in segment.polygons]
        rows.append(row)
    return rows


def _confirmation_resolved(segments: Sequence[SegmentIn], parent: Revision | None) -> list[SegmentIn]:
    """Segments whose client left ``confirmed`` out keep what their parent revision said of the
    same segment, so an API client cannot confirm a pre-label by omission; a segment new in
    this revision is confirmed unless it is itself a pre-label."""
    before = {row["id"]: bool(row.get("confirmed", True)) for row in (parent.segments if parent else [])}
    return [
        s if s.confirmed is not None else replace(s, confirmed=before.get(s.id, s.source != "prelabel"))
        for s in segments
    ]


def revision_latest(*, task: Task) -> Revision | None:
    return task.revisions.order_by("-number").first()


@transaction.atomic
def revision_create(
    *,
    task: Task,
    author: User,
    index_map: npt.NDArray[np.uint16],
    segments: Sequence[SegmentIn],
    parent_number: int | None,
    source: str = Revision.Source.EDITOR,
    status: str = Revision.Status.DRAFT,
    submission_rules: bool = False,
) -> Revision:
    """Append a revision to ``task``. ``parent_number`` must be the task's latest revision
    number (None for the first one); otherwise 409 with the current number, writing nothing."""
    locked = Task.objects.select_for_update().get(id=task.id)
    latest = locked.revisions.order_by("-number").first()
    segments = _confirmation_resolved(segments, latest)
    revision_content_check(task=task, index_map=index_map, segments=segments, submission=submission_rules)
    current = latest.number if latest is not None else None
    if parent_number != current:
        raise Conflict(
            f"Revision {current} was saved after the one this work started from ({parent_number}); "
            "reload it or save on top of it.",
            extra={"code": "stale_parent", "current_revision": current},
        )
    png = encode_index_map(index_map)
    blob = blob_store(data=png, prefix="maps", extension="png")
    number = int(locked.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = Revision.objects.create(
        task=locked,
        number=number,
        parent=latest,
        author=author,
        status=status,
        source=source,
        width=int(index_map.shape[1]),
        height=int(index_map.shape[0]),
        map_sha256=blob.sha256,
        map_key=blob.key,
        map_bits=index_map_bits(index_map),
        segments=_segment_rows(index_map, segments),
        submitted_at=timezone.now() if status == Revision.Status.SUBMITTED else None,
    )
    taxonomy_freeze(taxonomy=task.taxonomy)
    return revision


def _require_editable_by(task: Task, user: User) -> None:
    if task.assignee_id != user.pk:
        raise Forbidden(f"Task {task.id} is assigned to someone else; only its assignee saves work on it.")
    if task.status not in Task.EDITABLE_STATUSES:
        raise Conflict(
            f"Task {task.id} is {task.status}; it cannot be edited now.",
            extra={"code": "task_not_editable", "task_status": task.status},
        )


@transaction.atomic
def revision_save_draft(
    *,
    task: Task,
    author: User,
    png: bytes,
    segments_raw: Any,
    parent_number: int | None,
    source: str = Revision.Source.EDITOR,
) -> tuple[Revision, npt.NDArray[np.uint16]]:
    """Save the assignee's work as a new draft; returns it with its decoded map."""
    locked = Task.objects.select_for_update().select_related("project", "image", "taxonomy").get(id=task.id)
    _require_editable_by(locked, author)
    index_map = index_map_parse(data=png, task=locked)
    segments = segments_parse(segments_raw)
    revision = revision_create(
        task=locked,
        author=author,
        index_map=index_map,
        segments=segments,
        parent_number=parent_number,
        source=source,
    )
    if locked.status in (Task.Status.TODO, Task.Status.REJECTED):
        task_transition(task=locked, to=Task.Status.IN_PROGRESS)
    return revision, index_map


@transaction.atomic
def revision_mark_submitted(
    *,
    task: Task,
    revision: Revision,
    author: User,
    index_map: npt.NDArray[np.uint16] | None = None,
) -> Revision:
    """Submit a draft: the latest revision of ``task``, by its assignee, passing the submission
    rules. Call with the task row locked; the QA workflow enqueues the measurement."""
    _require_editable_by(task, author)
    latest = revision_latest(task=task)
    if latest is None or latest.id != revision.id:
        raise Conflict(
            f"Only the latest revision ({latest.number if latest else None}) of task {task.id} can be submitted.",
            extra={"code": "stale_parent", "current_revision": latest.number if latest else None},
        )
    if revision.status != Revision.Status.DRAFT:
        raise Conflict(f"Revision {revision.number} is already {revision.status}.")
    if index_map is None:
        index_map = revision_index_map(revision=revision)
    segments = [
        SegmentIn(id=s["id"], category_id=s["category_id"], iscrowd=s["iscrowd"], confirmed=s["confirmed"])
        for s in revision.segments
    ]
    issues = submission_issues(task=task, index_map=index_map, segments=segments)
    _raise_issues(issues, f"The annotation cannot be submitted yet: {issues[0].message}" if issues else "")
    revision.status = Revision.Status.SUBMITTED
    revision.submitted_at = timezone.now()
    revision.save(update_fields=["status", "submitted_at", "updated_at"])
    task_transition(task=task, to=Task.Status.SUBMITTED)
    return revision


def revision_set_status(*, revision: Revision, status: str) -> Revision:
    revision.status = status
    revision.save(update_fields=["status", "updated_at"])
    return revision
