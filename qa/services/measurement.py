"""Measuring submitted revisions against gold and against other annotators.

The job calls :func:`revision_measure`. Its rules:

* Every reference is measured on its own: a reference that cannot be read (a peer's missing
  map, a size or taxonomy mismatch) is recorded in ``reference_failures`` and the others are
  still measured. Only when the submission itself cannot be read does the measurement fail.
* Either way the submission is routed, in the same transaction that records the outcome, so
  a crash between the two cannot leave work measured but never routed; a submission that
  could not be measured goes to peer review (reason ``unmeasured``).
* An agreement pair is stored once, in one canonical direction: the revision saved first
  (lower id) is the reference, the later one the submission. Both annotators' jobs compute
  the same row, and the unique constraint on (revision, reference, engine, ratio) keeps one
  when they race.
* Running it again writes nothing new and re-routes idempotently.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation.masks import MaskFormatError
from annotation.models import Revision
from annotation.selectors import revision_index_map
from projects.models import Project, Task
from qa.metrics import (
    ENGINE_VERSION,
    CategoryInfo,
    LabelledMap,
    MetricsInputError,
    PairCounts,
    PreparedMap,
    Segment,
    measure_pair,
    prepare_map,
)
from qa.metrics.report import dataset_figures
from qa.models import QualityReport, RevisionMeasurement
from qa.services.routing import revision_route

logger = logging.getLogger(__name__)


class BadRevisionData(Exception):
    """The revision cannot be measured as stored; retrying will not help."""


# --- failure bookkeeping -------------------------------------------------------------------------


def measurement_fail(*, revision_id: int, error: str) -> None:
    """Mark the measurement failed (bad data, or the job gave up) and route the submission,
    which then waits in peer review as ``unmeasured``."""
    with transaction.atomic():
        RevisionMeasurement.objects.filter(revision_id=revision_id).update(
            status=RevisionMeasurement.Status.FAILED,
            error=error[:2000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        revision_route(revision_id=revision_id)


def measurement_note_retry(*, revision_id: int, attempt: int, error: str) -> None:
    """Keep the transient error of a failed attempt while the job retries. Never raises: when
    the database itself is down this cannot be written, and the log is all there is."""
    try:
        RevisionMeasurement.objects.filter(revision_id=revision_id).exclude(
            status=RevisionMeasurement.Status.DONE
        ).update(error=f"attempt {attempt} failed, retrying: {error}"[:2000], updated_at=timezone.now())
    except DatabaseError:
        logger.exception("could not record the transient error of revision %s's measurement", revision_id)


def measurement_give_up(*, revision_id: int, error: str) -> None:
    """The job stops retrying: the measurement fails with ``error`` and the submission is
    routed to review. Never raises; when even this cannot be written (database down) the row
    stays pending and ``manage.py remeasure`` re-enqueues it later."""
    try:
        measurement_fail(revision_id=revision_id, error=error)
    except Exception:
        logger.exception(
            "could not record that revision %s's measurement failed; it stays pending until "
            "`manage.py remeasure` re-enqueues it",
            revision_id,
        )


# --- reading maps --------------------------------------------------------------------------------


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
    try:
        return LabelledMap(ids=index_map, segments=tuple(segments))
    except MetricsInputError as error:
        raise BadRevisionData(f"revision {revision.id}: {error}") from None


# Prepared gold maps, per worker process: a gold image is the reference of every submission on
# it, and its bands depend on the map only. The key names the content: the revision, its
# content-addressed map and its segment table (revisions are append-only, so new gold is a new
# key; the table is in the key too so nothing can pair a map with another revision's table).
PREPARED_CACHE_SIZE = 8
_prepared_cache: OrderedDict[tuple[Any, ...], PreparedMap] = OrderedDict()
_prepared_lock = threading.Lock()


def _prepared_gold(revision: Revision, *, boundary_ratio: float) -> PreparedMap:
    table = tuple((s["id"], s["category_id"], bool(s["iscrowd"])) for s in revision.segments)
    key = (revision.id, revision.map_key, boundary_ratio, table)
    with _prepared_lock:
        cached = _prepared_cache.get(key)
        if cached is not None:
            _prepared_cache.move_to_end(key)
            return cached
    try:
        prepared = prepare_map(_labelled_map(revision), boundary_ratio=boundary_ratio)
    except MetricsInputError as error:
        raise BadRevisionData(f"revision {revision.id}: {error}") from None
    with _prepared_lock:
        _prepared_cache[key] = prepared
        while len(_prepared_cache) > PREPARED_CACHE_SIZE:
            _prepared_cache.popitem(last=False)
    return prepared


def prepared_cache_clear() -> None:
    with _prepared_lock:
        _prepared_cache.clear()


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


# --- what to measure against ---------------------------------------------------------------------


def measurement_references(*, revision: Revision) -> list[tuple[str, Revision]]:
    """What a submission is measured against: the image's gold reference, and the latest
    submitted work of every other annotator of the same image (agreement). A reviewer's fix
    is nobody's annotation work, so it is never an agreement reference."""
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
            .exclude(source=Revision.Source.REVIEW_FIX)
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


def agreement_direction(first: Revision, second: Revision) -> tuple[Revision, Revision]:
    """(reference, submission) of an agreement pair: the revision saved first is the reference."""
    return (first, second) if first.id < second.id else (second, first)


def _report_exists(*, kind: str, reference: Revision, submission: Revision, boundary_ratio: float) -> bool:
    same = Q(engine_version=ENGINE_VERSION, boundary_ratio=boundary_ratio)
    pair = Q(revision=submission, reference=reference)
    if kind == QualityReport.Kind.AGREEMENT:
        # A row stored the other way round (before the canonical rule) is the same pair.
        pair |= Q(revision=reference, reference=submission)
    return QualityReport.objects.filter(same & pair).exists()


def _measure_one(
    *,
    kind: str,
    reference: Revision,
    submission: Revision,
    reference_map: LabelledMap | PreparedMap,
    submission_map: LabelledMap,
    ratio: float,
) -> None:
    try:
        counts = measure_pair(
            reference_map,
            submission_map,
            categories=_categories(submission, reference),
            boundary_ratio=ratio,
            drift=True,
        )
    except MetricsInputError as error:
        raise BadRevisionData(f"revision {submission.id} against {reference.id}: {error}") from None
    QualityReport.objects.get_or_create(
        revision=submission,
        reference=reference,
        engine_version=ENGINE_VERSION,
        boundary_ratio=ratio,
        defaults={"kind": kind, "counts": counts.to_json(), "summary": pair_summary(counts)},
    )


def revision_measure(*, revision_id: int) -> RevisionMeasurement:
    """Measure a submitted revision against its references and route it; safe to run twice.

    Reports already stored for this engine version are kept, never rewritten; bad data ends
    in a failed measurement (the submission) or a recorded reference failure (a reference);
    transient errors propagate for the job to retry, with nothing half-recorded.
    """
    revision = Revision.objects.select_related("task__project", "task__image", "task__taxonomy").get(
        id=revision_id
    )
    measurement, _ = RevisionMeasurement.objects.get_or_create(revision=revision)
    if measurement.status == RevisionMeasurement.Status.DONE and measurement.engine_version == ENGINE_VERSION:
        # A redelivered job: the reports are there. Routing is idempotent; calling it again
        # covers a run that was stopped after recording DONE by an earlier version of this code.
        with transaction.atomic():
            _route_with_partners(revision)
        measurement.refresh_from_db()
        return measurement
    RevisionMeasurement.objects.filter(id=measurement.id).update(
        attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    ratio = revision.task.project.boundary_ratio
    try:
        if revision.status == Revision.Status.DRAFT:
            raise BadRevisionData(f"revision {revision.id} is a draft; only submitted work is measured")
        own_map = _labelled_map(revision)
    except BadRevisionData as error:
        measurement_fail(revision_id=revision.id, error=str(error))
        measurement.refresh_from_db()
        return measurement

    failures: list[dict[str, Any]] = []
    for kind, other in measurement_references(revision=revision):
        if kind == QualityReport.Kind.AGREEMENT:
            reference, submission = agreement_direction(other, revision)
        else:
            reference, submission = other, revision
        if _report_exists(kind=kind, reference=reference, submission=submission, boundary_ratio=ratio):
            continue
        try:
            reference_map: LabelledMap | PreparedMap
            if kind == QualityReport.Kind.GOLD:
                reference_map, submission_map = _prepared_gold(reference, boundary_ratio=ratio), own_map
            elif reference.id == revision.id:
                reference_map, submission_map = own_map, _labelled_map(submission)
            else:
                reference_map, submission_map = _labelled_map(reference), own_map
            _measure_one(
                kind=kind,
                reference=reference,
                submission=submission,
                reference_map=reference_map,
                submission_map=submission_map,
                ratio=ratio,
            )
        except BadRevisionData as error:
            failures.append({"reference_revision_id": other.id, "kind": kind, "error": str(error)[:500]})

    with transaction.atomic():
        RevisionMeasurement.objects.filter(id=measurement.id).update(
            status=RevisionMeasurement.Status.DONE,
            error="",
            reference_failures=failures,
            engine_version=ENGINE_VERSION,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        _route_with_partners(revision)
    measurement.refresh_from_db()
    return measurement


def _route_with_partners(revision: Revision) -> None:
    """Route ``revision``, then re-route the overlap partners it was measured against.

    A pair's agreement report is written when the second of the two submissions is measured;
    by then the first one was routed (usually accepted unsampled). Disagreement is evidence
    against both, so the first is routed again: routing adds the forced reason and reopens it
    for peer review unless a person already decided on its task (``_reopen_if_forced``).
    Partners still being measured are left to their own job, which sees the report. Call
    inside a transaction; the tasks are locked in id order so two jobs cannot deadlock.
    """
    partner_ids = sorted(
        set(
            QualityReport.objects.filter(
                Q(revision=revision) | Q(reference=revision),
                kind=QualityReport.Kind.AGREEMENT,
                reference__measurement__status=RevisionMeasurement.Status.DONE,
                revision__measurement__status=RevisionMeasurement.Status.DONE,
            ).values_list("revision_id", "reference_id")
        )
    )
    partners = sorted({i for pair in partner_ids for i in pair} - {revision.id})
    task_ids = set(Revision.objects.filter(id__in=[revision.id, *partners]).values_list("task_id", flat=True))
    list(Task.objects.select_for_update().filter(id__in=task_ids).order_by("id").values_list("id", flat=True))
    revision_route(revision_id=revision.id)
    for partner_id in partners:
        revision_route(revision_id=partner_id)


# --- recovery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requeued:
    """What :func:`measurements_requeue` did (or would do, on a dry run), by revision id."""

    pending: list[int]
    failed: list[int]
    routed: list[int]


def measurements_requeue(
    *,
    project: Project | None = None,
    stale_after: timedelta = timedelta(minutes=15),
    include_failed: bool = False,
    dry_run: bool = False,
) -> Requeued:
    """Recover measurements that no job will finish by itself.

    * pending for longer than ``stale_after``: the job was lost, or gave up while the
      database was down and could not record it; enqueued again;
    * failed, when ``include_failed``: after the bad data was repaired; reset and enqueued;
    * done but never routed (a submission still waiting with no sampling decision): routed.

    Jobs are idempotent, so enqueueing one that is in fact still running costs a duplicate
    run, never a duplicate row.
    """
    from qa.services.submission import measurement_enqueue

    rows = RevisionMeasurement.objects.select_related("revision__task")
    if project is not None:
        rows = rows.filter(revision__task__project=project)
    cutoff = timezone.now() - stale_after
    pending = list(
        rows.filter(status=RevisionMeasurement.Status.PENDING, updated_at__lt=cutoff)
        .order_by("id")
        .values_list("revision_id", flat=True)
    )
    failed = (
        list(
            rows.filter(status=RevisionMeasurement.Status.FAILED)
            .exclude(revision__status=Revision.Status.DRAFT)
            .order_by("id")
            .values_list("revision_id", flat=True)
        )
        if include_failed
        else []
    )
    unrouted = list(
        rows.filter(
            status=RevisionMeasurement.Status.DONE,
            revision__status=Revision.Status.SUBMITTED,
            revision__task__status=Task.Status.SUBMITTED,
            revision__sampling__isnull=True,
        )
        .exclude(revision__task__kind=Task.Kind.GOLD)
        .order_by("id")
        .values_list("revision_id", flat=True)
    )
    if not dry_run:
        for revision_id in failed:
            RevisionMeasurement.objects.filter(revision_id=revision_id).update(
                status=RevisionMeasurement.Status.PENDING, updated_at=timezone.now()
            )
        for revision_id in [*pending, *failed]:
            measurement_enqueue(revision_id=revision_id)
        for revision_id in unrouted:
            revision_route(revision_id=revision_id)
    return Requeued(pending=pending, failed=failed, routed=unrouted)
