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
