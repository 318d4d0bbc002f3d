"""Measuring submissions: against gold, against other annotators, idempotent, failing clearly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage

from annotation.models import Revision
from annotation.services import SegmentIn
from projects.models import Project, Task
from qa.metrics import ENGINE_VERSION
from qa.models import QualityReport, RevisionMeasurement
from qa.services import gold_set, revision_measure, revision_save
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png

H, W = 40, 60
SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}, {"id": 3, "category_id": 7}]


def scene(person_grow: int = 0) -> np.ndarray:
    """Sky over road with a person square; ``person_grow`` dilates the person by that many px."""
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    g = person_grow
    index_map[10 - g : 30 + g, 20 - g : 32 + g] = 3
    return index_map


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


@pytest.fixture
def project(db: Any) -> Project:
    return make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))


def submit(project: Project, username: str, index_map: np.ndarray, *, new_task: bool = False) -> Revision:
    image = project.images.get()
    if new_task:
        task = Task.objects.create(project=project, image=image, taxonomy=image.tasks.get().taxonomy)
    else:
        task = project.tasks.filter(kind=Task.Kind.ANNOTATE).order_by("id")[0]
    assign(task, user(username))
    return revision_save(
        task=task,
        author=user(username),
        png=map_png(index_map),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=True,
    )


def make_gold(project: Project) -> Revision:
    return gold_set(
        image=project.images.get(),
        author=user("lead"),
        index_map=scene(),
        segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in SEGMENTS],
    )


def test_identical_submission_scores_one_against_gold(project: Project) -> None:
    gold = make_gold(project)
    revision = submit(project, "ann1", scene())

    measurement = revision_measure(revision_id=revision.id)

    assert measurement.status == RevisionMeasurement.Status.DONE
    assert measurement.engine_version == ENGINE_VERSION
    report = QualityReport.objects.get(revision=revision)
    assert (report.kind, report.reference_id) == ("gold", gold.id)
    assert report.summary["miou"] == 1.0
    assert report.summary["pq"]["all"]["pq"] == 1.0
    assert report.summary["boundary_drift"]["7"] == 0.0


def test_a_dilated_person_shows_positive_drift_and_lower_iou(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene(person_grow=3))

    revision_measure(revision_id=revision.id)

    summary = QualityReport.objects.get(revision=revision).summary
    assert summary["boundary_drift"]["7"] == pytest.approx(3.0, abs=0.35)
    expected_iou = (20 * 12) / (26 * 18)
    assert summary["class_iou"]["7"] == pytest.approx(expected_iou)
    assert summary["class_iou"]["1"] < 1.0


def test_measuring_twice_writes_nothing_new(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    revision_measure(revision_id=revision.id)
    before = list(QualityReport.objects.values_list("id", "counts"))

    RevisionMeasurement.objects.filter(revision=revision).update(status=RevisionMeasurement.Status.PENDING)
    revision_measure(revision_id=revision.id)

    assert list(QualityReport.objects.values_list("id", "counts")) == before


def test_second_annotator_is_measured_against_the_first(project: Project) -> None:
    first = submit(project, "ann1", scene())
    revision_measure(revision_id=first.id)
    second = submit(project, "ann2", scene(person_grow=1), new_task=True)

    revision_measure(revision_id=second.id)

    assert not QualityReport.objects.filter(revision=first).exists()
    report = QualityReport.objects.get(revision=second)
    assert (report.kind, report.reference_id) == ("agreement", first.id)
    assert 0.5 < report.summary["class_iou"]["7"] < 1.0


def test_an_agreement_pair_is_measured_once_whichever_job_runs_last(project: Project) -> None:
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(person_grow=1), new_task=True)

    revision_measure(revision_id=second.id)
    revision_measure(revision_id=first.id)

    assert QualityReport.objects.count() == 1


def test_gold_set_later_remeasures_earlier_submissions(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    revision = submit(project, "ann1", scene())
    revision_measure(revision_id=revision.id)
    assert not QualityReport.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        make_gold(project)

    assert QualityReport.objects.get(revision=revision).kind == "gold"


def test_missing_map_fails_the_measurement_with_the_reason(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene(person_grow=2))
    default_storage.delete(revision.map_key)

    measurement = revision_measure(revision_id=revision.id)

    assert measurement.status == RevisionMeasurement.Status.FAILED
    assert f"revision {revision.id}: stored index map {revision.map_key} is missing" in measurement.error
    assert not QualityReport.objects.exists()


def test_drafts_are_not_measured(project: Project) -> None:
    task = assign(project.tasks.get(), user("ann1"))
    draft = revision_save(
        task=task,
        author=user("ann1"),
        png=map_png(scene()),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=False,
    )

    measurement = revision_measure(revision_id=draft.id)

    assert measurement.status == RevisionMeasurement.Status.FAILED
    assert "draft" in measurement.error


def quality(api: Any, username: str, revision: Revision) -> Any:
    return api(user(username)).get(f"/api/revisions/{revision.id}/quality/")


def test_quality_api_shows_staff_everything(project: Project, api: Any) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    revision_measure(revision_id=revision.id)

    body = quality(api, "lead", revision).json()

    assert body["measurement"]["status"] == "done"
    assert [r["kind"] for r in body["reports"]] == ["gold"]
    assert body["reports"][0]["summary"]["miou"] == 1.0


def test_author_sees_gold_scores_only_when_the_project_allows(project: Project, api: Any) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    revision_measure(revision_id=revision.id)

    hidden = quality(api, "ann1", revision).json()
    Project.objects.filter(id=project.id).update(annotator_gold_feedback=True)
    shown = quality(api, "ann1", revision).json()

    assert hidden["measurement"]["status"] == "done"
    assert hidden["reports"] == []
    assert [r["kind"] for r in shown["reports"]] == ["gold"]


def test_author_never_sees_agreement_reports(project: Project, api: Any) -> None:
    Project.objects.filter(id=project.id).update(annotator_gold_feedback=True)
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(), new_task=True)
    revision_measure(revision_id=second.id)

    assert QualityReport.objects.filter(revision=second).count() == 1
    assert quality(api, "ann2", second).json()["reports"] == []
    assert quality(api, "ann2", first).status_code == 404
