"""Submitting work: saves, submissions, imports and gold references enter the QA pipeline here."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotation.models import Revision
from annotation.services import (
    SegmentIn,
    revision_create,
    revision_mark_submitted,
    revision_save_draft,
    revision_set_status,
)
from core.exceptions import NotFound
from projects.models import Image, Task
from projects.selectors import taxonomy_current
from projects.services import task_transition
from qa.models import RevisionMeasurement
from qa.services.production import audit


def _enqueue_measurement(revision: Revision) -> None:
    RevisionMeasurement.objects.get_or_create(revision=revision)
    measurement_enqueue(revision_id=revision.id)


def measurement_enqueue(*, revision_id: int) -> None:
    """Run the measurement job once the current transaction commits (at once outside one)."""
    from qa.jobs import revision_measure_job

    transaction.on_commit(partial(revision_measure_job.delay, revision_id))


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
    if locked.kind == Task.Kind.GOLD:
        # The QA lead's own labelling is the reference itself: nothing to measure or review.
        _gold_publish(task=locked, revision=revision)
    else:
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
    # The image row serialises everyone who may create its gold task (planning, calibration).
    Image.objects.select_for_update().filter(id=image.id).values_list("id", flat=True).first()
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
        status=Revision.Status.SUBMITTED,
    )
    _gold_publish(task=task, revision=revision)
    return revision


def _gold_publish(*, task: Task, revision: Revision) -> None:
    """Make ``revision`` the image's gold and measure the image's submissions against it.
    Audited: the gold decides every score on the image."""
    previous = (
        Revision.objects.filter(
            task__image_id=task.image_id, task__kind=Task.Kind.GOLD, status=Revision.Status.ACCEPTED
        )
        .exclude(id=revision.id)
        .order_by("-id")
        .first()
    )
    revision_set_status(revision=revision, status=Revision.Status.ACCEPTED)
    audit(
        project=task.project,
        actor=revision.author,
        action="gold_set",
        target=task.image.file_name,
        revision=revision.id,
        replaces=previous.id if previous else None,
        source=revision.source,
    )
    task_transition(task=task, to=Task.Status.ACCEPTED)
    submitted = Revision.objects.filter(
        task__image_id=task.image_id,
        task__kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION],
        status__in=[Revision.Status.SUBMITTED, Revision.Status.ACCEPTED],
    )
    for measured in submitted:
        RevisionMeasurement.objects.filter(revision=measured).update(
            status=RevisionMeasurement.Status.PENDING, updated_at=timezone.now()
        )
        _enqueue_measurement(measured)


@transaction.atomic
def revision_import(
    *,
    task: Task,
    author: User,
    index_map: npt.NDArray[np.uint16],
    segments: Sequence[SegmentIn],
    status: str,
    source: str = Revision.Source.IMPORT,
) -> Revision:
    """Append imported work to ``task`` on top of whatever it holds.

    ``status`` draft (pre-labels, segments unconfirmed), submitted (an annotator's work from
    elsewhere: measured and routed like editor work) or accepted (a finished dataset).
    Imported maps keep their void: submission rules are not applied here; the importer reports
    what it found instead.
    """
    locked = Task.objects.select_for_update().select_related("project", "image", "taxonomy").get(id=task.id)
    latest = locked.revisions.order_by("-number").first()
    revision = revision_create(
        task=locked,
        author=author,
        index_map=index_map,
        segments=segments,
        parent_number=latest.number if latest else None,
        source=source,
        status=status,
    )
    if status == Revision.Status.SUBMITTED:
        task_transition(task=locked, to=Task.Status.SUBMITTED)
        _enqueue_measurement(revision)
    elif status == Revision.Status.ACCEPTED:
        task_transition(task=locked, to=Task.Status.ACCEPTED)
    return revision
