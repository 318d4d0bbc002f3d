"""Submitting through the API runs the measurement job in a separate Celery worker process,
over Redis, on PostgreSQL, and the job writes its rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.services import SegmentIn
from qa.models import QualityReport, RevisionMeasurement
from qa.services import gold_set
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png, wait_for

pytestmark = pytest.mark.integration
H, W = 64, 96


def test_submission_is_measured_by_the_worker(celery_worker: dict[str, str], api: Any) -> None:
    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    segments = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]
    gold_set(
        image=project.images.get(),
        author=get_user_model().objects.get(username="lead"),
        index_map=index_map,
        segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in segments],
    )
    annotator = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(kind="annotate"), annotator)

    response = api(annotator).post(
        f"/api/tasks/{task.id}/revisions/",
        {
            "index_map": SimpleUploadedFile("m.png", map_png(index_map), content_type="image/png"),
            "segments": json.dumps(segments),
            "submit": "true",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    revision_id = response.json()["revision_id"]
    done = wait_for(
        lambda: RevisionMeasurement.objects.filter(
            revision_id=revision_id, status=RevisionMeasurement.Status.DONE
        ).exists()
    )
    log = Path(celery_worker["log"]).read_text()
    assert done, f"the worker did not measure the revision; worker log:\n{log[-3000:]}"
    report = QualityReport.objects.get(revision_id=revision_id)
    assert report.kind == "gold"
    assert report.summary["miou"] == 1.0
    assert "revision_measure_job[" in log  # ran in the worker process, not in this one


def _submit_through_api(api: Any, project: Any, index_map: np.ndarray, segments: list[dict[str, Any]]) -> int:
    annotator = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(kind="annotate"), annotator)
    response = api(annotator).post(
        f"/api/tasks/{task.id}/revisions/",
        {
            "index_map": SimpleUploadedFile("m.png", map_png(index_map), content_type="image/png"),
            "segments": json.dumps(segments),
            "submit": "true",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return int(response.json()["revision_id"])


def _finished_jobs(log_path: str) -> int:
    """How many measurement jobs the worker has finished so far (its log says so per job)."""
    return sum(
        1
        for line in Path(log_path).read_text().splitlines()
        if "revision_measure_job[" in line and "succeeded in" in line
    )


def test_a_job_delivered_again_writes_nothing_new(celery_worker: dict[str, str], api: Any) -> None:
    from qa.jobs import revision_measure_job
    from qa.models import SamplingDecision

    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    index_map = np.ones((H, W), np.uint16)
    segments = [{"id": 1, "category_id": 3}]
    revision_id = _submit_through_api(api, project, index_map, segments)
    assert wait_for(lambda: _finished_jobs(celery_worker["log"]) >= 1)
    measured = RevisionMeasurement.objects.get(revision_id=revision_id)
    decision = SamplingDecision.objects.get(revision_id=revision_id)

    revision_measure_job.delay(revision_id)  # as a redelivery after a lost ack would
    revision_measure_job.delay(revision_id)

    log = Path(celery_worker["log"]).read_text()
    assert wait_for(lambda: _finished_jobs(celery_worker["log"]) >= 3), log[-3000:]
    again = RevisionMeasurement.objects.get(revision_id=revision_id)
    assert (again.status, again.attempts, again.finished_at) == ("done", 1, measured.finished_at)
    assert list(SamplingDecision.objects.filter(revision_id=revision_id).values_list("id", flat=True)) == [
        decision.id
    ]


def test_bad_data_ends_in_a_failed_measurement_shown_by_the_api(
    celery_worker: dict[str, str], api: Any
) -> None:
    from django.core.files.storage import default_storage

    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    index_map = np.ones((H, W), np.uint16)
    index_map[: H // 2, :] = 2
    segments = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]
    revision_id = _submit_through_api(api, project, index_map, segments)
    assert wait_for(lambda: _finished_jobs(celery_worker["log"]) >= 1)
    from annotation.models import Revision

    default_storage.delete(Revision.objects.get(id=revision_id).map_key)
    # New gold re-measures the image's submissions: the worker now finds the map missing.
    gold_set(
        image=project.images.get(),
        author=get_user_model().objects.get(username="lead"),
        index_map=np.ones((H, W), np.uint16),
        segments=[SegmentIn(id=1, category_id=3)],
    )

    assert wait_for(
        lambda: RevisionMeasurement.objects.filter(revision_id=revision_id, status="failed").exists()
    ), Path(celery_worker["log"]).read_text()[-3000:]
    lead = api(get_user_model().objects.get(username="lead")).get(f"/api/revisions/{revision_id}/quality/")
    author = api(get_user_model().objects.get(username="ann1")).get(f"/api/revisions/{revision_id}/quality/")
    assert lead.json()["measurement"]["status"] == "failed"
    assert "is missing" in lead.json()["measurement"]["error"]
    assert (
        author.json()["measurement"]["error"]
        == "This submission could not be measured; the QA lead can see why."
    )
