"""The QA workflow's writes: submitting work and measuring it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.masks import MaskFormatError
from annotation.models import Revision
from annotation.selectors import revision_index_map
from annotation.services import SegmentIn, revision_create, revision_mark_submitted, revision_save_draft
from core.exceptions import NotFound
from projects.models import Image, Task
from projects.selectors import taxonomy_current
from projects.services import task_transition
from qa.metrics import (
    ENGINE_VERSION,
    CategoryInfo,
    LabelledMap,
    MetricsInputError,
    PairCounts,
    Segment,
    measure_pair,
)
from qa.metrics.report import dataset_figures
from qa.models import QualityReport, RevisionMeasurement


def _enqueue_measurement(revision: Revision) -> None:
    from qa.jobs import revision_measure_job

    RevisionMeasurement.objects.get_or_create(revision=revision)
    transaction.on_commit(partial(revision_measure_job.delay, revision.id))


@transaction.atomic
def revision_submit(
    *,
    task: Task,
    author: User,
    revision_number: int,
    index_map: npt.NDArray[np.uint16] | None = None,
) -> Revision:
    """Submit draft ``revision_number`` of ``task`` and enqueue its measurement on commit."""
    locked = Task.objects.select_for_update().select_related("project", "image", "taxonomy").get(id=task.id)
    revision = locked.revisions.filter(number=revision_number).first()
    if revision is None:
        raise NotFound(f"Task {task.id} has no revision {revision_number}.")
    revision = revision_mark_submitted(task=locked, revision=revision, author=author, index_map=index_map)
    _enqueue_measurement(revision)
    return revision


@transaction.atomic
def revision_save(
    *,
    task: Task,
    author: User,
    png: bytes,
    segments_raw: Any,
    parent_number: int | None,
    submit: bool,
    source: str = Revision.Source.EDITOR,
) -> Revision:
    """Save work as a new revision, and submit it in the same transaction when asked: a
    submission that fails its rules writes nothing."""
    revision, index_map = revision_save_draft(
        task=task,
        author=author,
        png=png,
        segments_raw=segments_raw,
        parent_number=parent_number,
        source=source,
    )
    if submit:
        revision = revision_submit(
            task=task, author=author, revision_number=revision.number, index_map=index_map
        )
    return revision


@transaction.atomic
def gold_set(
    *,
    image: Image,
    author: User,
    index_map: npt.NDArray[np.uint16],
    segments: Sequence[SegmentIn],
    source: str = Revision.Source.EDITOR,
) -> Revision:
    """Make this map the image's gold reference (a new accepted revision of its gold task),
    then re-measure the submissions already made on the image against it."""
    task = (
        Task.objects.select_for_update()
        .filter(image=image, kind=Task.Kind.GOLD)
        .select_related("project", "image", "taxonomy")
        .first()
    )
    if task is None:
        task = Task.objects.create(
            project=image.project,
            image=image,
            taxonomy=taxonomy_current(project=image.project),
            kind=Task.Kind.GOLD,
            assignee=author,
            status=Task.Status.IN_PROGRESS,
        )
    latest = task.revisions.order_by("-number").first()
    revision = revision_create(
        task=task,
        author=author,
        index_map=index_map,
        segments=segments,
        parent_number=latest.number if latest else None,
        source=source,
        status=Revision.Status.ACCEPTED,
    )
    task_transition(task=task, to=Task.Status.ACCEPTED)
    submitted = Revision.objects.filter(
        task__image=image,
        task__kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION],
        status__in=[Revision.Status.SUBMITTED, Revision.Status.ACCEPTED],
    )
    for measured in submitted:
        RevisionMeasurement.objects.filter(revision=measured).update(
            status=RevisionMeasurement.Status.PENDING
        )
        _enqueue_measurement(measured)
    return revision


def measurement_fail(*, revision_id: int, error: str) -> None:
    RevisionMeasurement.objects.filter(revision_id=revision_id).update(
        status=RevisionMeasurement.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


# --- measurement -----------------------------------------------------------------------------


class BadRevisionData(Exception):
    """The revision cannot be measured as stored; retrying will not help."""


def _labelled_map(revision: Revision) -> LabelledMap:
    try:
        index_map = revision_index_map(revision=revision)
    except MaskFormatError as error:
        raise BadRevisionData(f"revision {revision.id}: stored index map is unreadable ({error})") from None
    except FileNotFoundError:
        raise BadRevisionData(
            f"revision {revision.id}: stored index map {revision.map_key} is missing"
        ) from None
    segments = [
        Segment(id=s["id"], category_id=s["category_id"], iscrowd=bool(s["iscrowd"]))
        for s in revision.segments
    ]
    return LabelledMap(ids=index_map, segments=tuple(segments))


def _categories(*revisions: Revision) -> list[CategoryInfo]:
    """Categories of the revisions' taxonomy versions, by id; the first version wins on isthing."""
    found: dict[int, CategoryInfo] = {}
    for revision in revisions:
        for category in revision.task.taxonomy.categories.all():
            found.setdefault(
                category.category_id,
                CategoryInfo(id=category.category_id, isthing=category.isthing, name=category.name),
            )
    return [found[i] for i in sorted(found)]


def measurement_references(*, revision: Revision) -> list[tuple[str, Revision]]:
    """What a submission is measured against: the image's gold reference, and the latest
    submitted work of every other annotator of the same image (agreement)."""
    task = revision.task
    references: list[tuple[str, Revision]] = []
    if task.kind == Task.Kind.GOLD:
        return references
    gold = (
        Revision.objects.filter(
            task__image_id=task.image_id, task__kind=Task.Kind.GOLD, status=Revision.Status.ACCEPTED
        )
        .select_related("task__taxonomy")
        .order_by("-number", "-id")
        .first()
    )
    if gold is not None:
        references.append((QualityReport.Kind.GOLD, gold))
    partners = (
        Task.objects.filter(image_id=task.image_id, kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION])
        .exclude(id=task.id)
        .exclude(assignee_id=revision.author_id)
    )
    for partner in partners:
        latest = (
            partner.revisions.filter(status__in=[Revision.Status.SUBMITTED, Revision.Status.ACCEPTED])
            .exclude(author_id=revision.author_id)
            .select_related("task__taxonomy")
            .order_by("-number")
            .first()
        )
        if latest is not None:
            references.append((QualityReport.Kind.AGREEMENT, latest))
    return references


def pair_summary(counts: PairCounts) -> dict[str, Any]:
    """Figures of one measured pair, derived from its counts (kept beside them for listings)."""
    return dataset_figures(counts)


def revision_measure(*, revision_id: int) -> RevisionMeasurement:
    """Measure a submitted revision against its references; safe to run twice.

    Reports already stored for this engine version are kept, never rewritten; bad data ends
    in a failed measurement with the reason, transient errors propagate for the job to retry.
    """
    revision = Revision.objects.select_related("task__project", "task__image", "task__taxonomy").get(
        id=revision_id
    )
    measurement, _ = RevisionMeasurement.objects.get_or_create(revision=revision)
    if measurement.status == RevisionMeasurement.Status.DONE and measurement.engine_version == ENGINE_VERSION:
        return measurement
    RevisionMeasurement.objects.filter(id=measurement.id).update(attempts=F("attempts") + 1)
    project = revision.task.project
    try:
        if revision.status == Revision.Status.DRAFT:
            raise BadRevisionData(f"revision {revision.id} is a draft; only submitted work is measured")
        submission = _labelled_map(revision)
        for kind, reference in measurement_references(revision=revision):
            same = {"engine_version": ENGINE_VERSION, "boundary_ratio": project.boundary_ratio}
            done = QualityReport.objects.filter(revision=revision, reference=reference, **same).exists()
            # Agreement is measured once per pair: the later submission against the earlier.
            mirrored = (
                kind == QualityReport.Kind.AGREEMENT
                and QualityReport.objects.filter(revision=reference, reference=revision, **same).exists()
            )
            if done or mirrored:
                continue
            try:
                counts = measure_pair(
                    _labelled_map(reference),
                    submission,
                    categories=_categories(revision, reference),
                    boundary_ratio=project.boundary_ratio,
                    drift=True,
                )
            except MetricsInputError as error:
                raise BadRevisionData(f"revision {revision.id} against {reference.id}: {error}") from None
            QualityReport.objects.get_or_create(
                revision=revision,
                reference=reference,
                engine_version=ENGINE_VERSION,
                boundary_ratio=project.boundary_ratio,
                defaults={"kind": kind, "counts": counts.to_json(), "summary": pair_summary(counts)},
            )
    except BadRevisionData as error:
        measurement_fail(revision_id=revision.id, error=str(error))
        measurement.refresh_from_db()
        return measurement
    RevisionMeasurement.objects.filter(id=measurement.id).update(
        status=RevisionMeasurement.Status.DONE,
        error="",
        engine_version=ENGINE_VERSION,
        finished_at=timezone.now(),
    )
    measurement.refresh_from_db()
    return measurement
