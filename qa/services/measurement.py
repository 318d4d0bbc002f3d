"""Measuring submitted revisions against gold and against other annotators."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from annotation.masks import MaskFormatError
from annotation.models import Revision
from annotation.selectors import revision_index_map
from projects.models import Task
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
from qa.services.routing import revision_route


def measurement_fail(*, revision_id: int, error: str) -> None:
    RevisionMeasurement.objects.filter(revision_id=revision_id).update(
        status=RevisionMeasurement.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


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
    revision_route(revision_id=revision.id)
    measurement.refresh_from_db()
    return measurement
