"""The admin shows quality reports and measurements but never lets anyone type one in: every
QA figure is summed from the stored counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from projects.models import Project
from qa.models import QualityReport, RevisionMeasurement
from qa.services import revision_measure
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.qa.support import H, W, make_gold, save, scene, user


@pytest.fixture
def report(db: Any) -> QualityReport:
    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    make_gold(project.images.get(), user("lead"), scene())
    task = project.tasks.get(kind="annotate")
    assign(task, user("ann1"))
    revision = save(task, user("ann1"), scene(horizon=6))
    revision_measure(revision_id=revision.id)
    return QualityReport.objects.get(revision=revision)


def stored(project: Project) -> list[Any]:
    return sorted(QualityReport.objects.filter(revision__task__project=project).values_list())


def test_operators_read_quality_reports_in_the_admin(admin_client: Any, report: QualityReport) -> None:
    listing = admin_client.get("/admin/qa/qualityreport/")
    detail = admin_client.get(f"/admin/qa/qualityreport/{report.id}/change/")

    assert listing.status_code == 200
    assert detail.status_code == 200  # the view-only page


def test_a_quality_report_cannot_be_typed_in_or_edited(admin_client: Any, report: QualityReport) -> None:
    project = report.revision.task.project
    before = stored(project)
    fields = {
        "revision": report.revision_id,
        "reference": report.reference_id,
        "kind": "gold",
        "engine_version": report.engine_version,
        "boundary_ratio": "0.5",
        "counts": json.dumps(report.counts),
        "summary": json.dumps({**report.summary, "miou": 1.0}),
    }

    add_page = admin_client.get("/admin/qa/qualityreport/add/")
    added = admin_client.post("/admin/qa/qualityreport/add/", fields)
    changed = admin_client.post(f"/admin/qa/qualityreport/{report.id}/change/", fields)

    assert (add_page.status_code, added.status_code, changed.status_code) == (403, 403, 403)
    assert stored(project) == before


def test_a_measurement_cannot_be_added_by_hand(admin_client: Any, report: QualityReport) -> None:
    before = RevisionMeasurement.objects.count()

    response = admin_client.post("/admin/qa/revisionmeasurement/add/", {"status": "done"})

    assert response.status_code == 403
    assert RevisionMeasurement.objects.count() == before
