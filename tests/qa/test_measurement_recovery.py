"""The measurement job when things go wrong: crashes between steps, redelivery, bad
references, transient errors, giving up, and recovering stuck measurements."""

from __future__ import annotations

import io
import logging
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import DataError, OperationalError

from annotation.models import Revision
from annotation.services import SegmentIn
from projects.models import Project, Task
from qa import jobs
from qa.models import QualityReport, ReviewItem, RevisionMeasurement, SamplingDecision
from qa.selectors import MEASUREMENT_FAILED_MESSAGE
from qa.services import gold_set, revision_measure, revision_save
from qa.services import measurement as measurement_service
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png

H, W = 40, 60
SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}, {"id": 3, "category_id": 7}]


def scene(person_grow: int = 0) -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    g = person_grow
    index_map[10 - g : 30 + g, 20 - g : 32 + g] = 3
    return index_map


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


@pytest.fixture
def project(db: Any) -> Project:
    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    # Everything that is not forced to review is accepted, so routing outcomes are visible.
    Project.objects.filter(id=project.id).update(peer_review_rate_dominant=0.0, peer_review_rate_rare=0.0)
    project.refresh_from_db()
    return project


def submit(project: Project, username: str, index_map: np.ndarray, *, new_task: bool = False) -> Revision:
    image = project.images.get()
    if new_task:
        task = Task.objects.create(
            project=project, image=image, taxonomy=image.tasks.filter(kind=Task.Kind.ANNOTATE)[0].taxonomy
        )
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


def state(revision: Revision) -> dict[str, Any]:
    """Everything measuring and routing write for a revision."""
    measurement = RevisionMeasurement.objects.get(revision=revision)
    return {
        "status": measurement.status,
        "reports": sorted(
            QualityReport.objects.filter(revision=revision).values_list("id", "reference_id", "kind")
        ),
        "decisions": SamplingDecision.objects.filter(revision=revision).count(),
        "items": list(ReviewItem.objects.filter(revision=revision).values_list("stage", "reason", "status")),
        "task": Task.objects.get(id=revision.task_id).status,
    }


# --- finding 1: routing cannot be lost ---------------------------------------------------------------


def test_a_crash_in_routing_leaves_the_measurement_pending_and_the_rerun_routes_exactly_once(
    project: Project,
) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    real_route = measurement_service.revision_route

    with (
        mock.patch.object(
            measurement_service,
            "revision_route",
            side_effect=OperationalError("server closed the connection"),
        ),
        pytest.raises(OperationalError),
    ):
        revision_measure(revision_id=revision.id)

    crashed = state(revision)
    assert crashed["status"] == RevisionMeasurement.Status.PENDING  # DONE rolled back with routing
    assert crashed["decisions"] == 0
    assert len(crashed["reports"]) == 1  # the counts are kept; the rerun will not redo them

    with mock.patch.object(measurement_service, "revision_route", wraps=real_route) as route:
        revision_measure(revision_id=revision.id)
        revision_measure(revision_id=revision.id)  # and a duplicate delivery after that

    assert route.call_count == 2
    after = state(revision)
    assert after["status"] == RevisionMeasurement.Status.DONE
    assert after["reports"] == crashed["reports"]
    assert after["decisions"] == 1
    assert after["task"] == Task.Status.ACCEPTED
    assert Revision.objects.get(id=revision.id).status == Revision.Status.ACCEPTED


def test_a_measurement_done_without_routing_is_routed_when_the_job_is_redelivered(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    with mock.patch.object(measurement_service, "revision_route"):
        revision_measure(revision_id=revision.id)  # as an older build did: DONE, never routed
    assert state(revision)["decisions"] == 0

    revision_measure(revision_id=revision.id)

    after = state(revision)
    assert (after["status"], after["decisions"], after["task"]) == ("done", 1, Task.Status.ACCEPTED)
    assert RevisionMeasurement.objects.get(revision=revision).attempts == 1  # not measured again


def test_a_duplicate_delivery_of_the_job_writes_nothing_new(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    jobs.revision_measure_job.apply(args=(revision.id,))
    before = state(revision)

    jobs.revision_measure_job.apply(args=(revision.id,))

    assert state(revision) == before
    assert RevisionMeasurement.objects.get(revision=revision).attempts == 1


# --- finding 2: one bad reference does not fail a good submission ---------------------------------


def test_a_partner_with_a_missing_map_is_a_reference_failure_and_the_submission_is_still_measured(
    project: Project,
) -> None:
    gold = make_gold(project)
    partner = submit(project, "ann1", scene(person_grow=3))  # not gold's content: maps are stored by content
    default_storage.delete(partner.map_key)
    revision = submit(project, "ann2", scene(person_grow=1), new_task=True)

    measurement = revision_measure(revision_id=revision.id)

    assert measurement.status == RevisionMeasurement.Status.DONE
    assert measurement.error == ""
    assert measurement.reference_failures == [
        {
            "reference_revision_id": partner.id,
            "kind": "agreement",
            "error": f"revision {partner.id}: stored index map {partner.map_key} is missing",
        }
    ]
    assert list(QualityReport.objects.values_list("revision_id", "reference_id", "kind")) == [
        (revision.id, gold.id, "gold")
    ]
    assert state(revision)["decisions"] == 1  # routed like any other submission


def test_a_submission_that_cannot_be_read_fails_and_waits_in_peer_review(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    default_storage.delete(revision.map_key)

    measurement = revision_measure(revision_id=revision.id)

    assert measurement.status == RevisionMeasurement.Status.FAILED
    after = state(revision)
    assert after["reports"] == []
    assert after["items"] == [("peer", "unmeasured", "pending")]
    assert after["task"] == Task.Status.IN_REVIEW
    assert SamplingDecision.objects.get(revision=revision).forced_reasons == ["unmeasured"]


def test_only_staff_read_why_a_measurement_failed(project: Project, api: Any) -> None:
    partner = submit(project, "ann1", scene())
    revision = submit(project, "ann2", scene(person_grow=1), new_task=True)  # maps are stored by content
    default_storage.delete(partner.map_key)
    revision_measure(revision_id=partner.id)  # fails: its own map is gone
    revision_measure(revision_id=revision.id)  # done, with a reference failure
    Project.objects.filter(id=project.id).update(annotator_gold_feedback=True)

    lead = api(user("lead")).get(f"/api/revisions/{partner.id}/quality/").json()["measurement"]
    author = api(user("ann1")).get(f"/api/revisions/{partner.id}/quality/").json()["measurement"]
    reviewer = api(user("rev")).get(f"/api/revisions/{partner.id}/quality/").json()["measurement"]
    other_lead = api(user("lead")).get(f"/api/revisions/{revision.id}/quality/").json()["measurement"]
    other_author = api(user("ann2")).get(f"/api/revisions/{revision.id}/quality/").json()["measurement"]

    assert lead["status"] == "failed"
    assert partner.map_key in lead["error"]
    for hidden in (author, reviewer):
        assert (hidden["status"], hidden["error"], hidden["reference_failures"]) == (
            "failed",
            MEASUREMENT_FAILED_MESSAGE,
            [],
        )
    assert [f["reference_revision_id"] for f in other_lead["reference_failures"]] == [partner.id]
    # The other annotator learns nothing about a peer on their image.
    assert (other_author["status"], other_author["error"], other_author["reference_failures"]) == (
        "done",
        "",
        [],
    )


# --- finding 3: the job's retries ----------------------------------------------------------------


def test_a_transient_error_is_retried_and_each_attempt_leaves_its_error(project: Project) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    seen: list[str] = []
    calls = {"n": 0}

    def flaky(*, revision_id: int) -> Any:
        seen.append(RevisionMeasurement.objects.get(revision_id=revision_id).error)
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError(f"connection refused #{calls['n']}")
        return revision_measure(revision_id=revision_id)

    with mock.patch.object(jobs, "revision_measure", side_effect=flaky):
        jobs.revision_measure_job.apply(args=(revision.id,))

    assert seen == [
        "",
        "attempt 1 failed, retrying: OperationalError: connection refused #1",
        "attempt 2 failed, retrying: OperationalError: connection refused #2",
    ]
    measurement = RevisionMeasurement.objects.get(revision=revision)
    assert (measurement.status, measurement.error) == ("done", "")
    assert state(revision)["decisions"] == 1


def test_when_retries_run_out_the_measurement_fails_visibly_and_goes_to_review(
    project: Project, api: Any
) -> None:
    revision = submit(project, "ann1", scene())

    with mock.patch.object(jobs, "revision_measure", side_effect=OperationalError("db is down")) as measure:
        jobs.revision_measure_job.apply(args=(revision.id,))

    assert measure.call_count == jobs.MAX_RETRIES + 1
    body = api(user("lead")).get(f"/api/revisions/{revision.id}/quality/").json()
    assert body["measurement"]["status"] == "failed"
    assert body["measurement"]["error"] == (
        f"gave up after {jobs.MAX_RETRIES + 1} attempts; last error: OperationalError: db is down"
    )
    assert state(revision)["items"] == [("peer", "unmeasured", "pending")]


@pytest.mark.parametrize("error", [DataError("value too long"), ValueError("a bug")])
def test_errors_that_are_not_transient_are_not_retried(project: Project, error: Exception) -> None:
    revision = submit(project, "ann1", scene())

    with mock.patch.object(jobs, "revision_measure", side_effect=error) as measure:
        jobs.revision_measure_job.apply(args=(revision.id,))

    assert measure.call_count == 1
    measurement = RevisionMeasurement.objects.get(revision=revision)
    assert measurement.status == "failed"
    assert measurement.error == f"internal error while measuring: {type(error).__name__}: {error}"
    assert state(revision)["items"] == [("peer", "unmeasured", "pending")]


def test_the_job_is_acked_late_and_retries_only_connection_errors() -> None:
    assert jobs.revision_measure_job.acks_late is True
    assert jobs.revision_measure_job.max_retries == jobs.MAX_RETRIES
    retried: Any = jobs.revision_measure_job
    assert set(retried.autoretry_for) == set(jobs.TRANSIENT_ERRORS)
    assert not any(issubclass(DataError, kind) for kind in jobs.TRANSIENT_ERRORS)


def test_when_the_database_is_down_to_the_end_the_row_stays_pending_and_remeasure_recovers_it(
    project: Project, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    down = OperationalError("db is down")

    with (
        mock.patch.object(jobs, "revision_measure", side_effect=down),
        mock.patch.object(measurement_service, "measurement_fail", side_effect=down),
        mock.patch.object(measurement_service.RevisionMeasurement.objects, "filter", side_effect=down),
        caplog.at_level(logging.ERROR, logger="qa.services.measurement"),
    ):
        jobs.revision_measure_job.apply(args=(revision.id,))

    assert "stays pending until `manage.py remeasure`" in caplog.text
    assert state(revision)["status"] == "pending"
    out = io.StringIO()
    call_command("remeasure", "--dry-run", stdout=out)  # not stale yet: left alone
    assert "would re-enqueue 0 stuck pending" in out.getvalue()

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("remeasure", "proj", "--older-than", "0", stdout=out)

    assert f"re-enqueued 1 stuck pending: [{revision.id}]" in out.getvalue()
    after = state(revision)
    assert (after["status"], after["decisions"], len(after["reports"])) == ("done", 1, 1)


def test_remeasure_retries_failed_measurements_only_when_asked(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    make_gold(project)
    revision = submit(project, "ann1", scene())
    png = map_png(scene())
    default_storage.delete(revision.map_key)
    revision_measure(revision_id=revision.id)
    before = state(revision)
    assert before["status"] == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        call_command("remeasure", "--older-than", "0", stdout=io.StringIO())
    assert state(revision) == before  # without --failed nothing changes
    with django_capture_on_commit_callbacks(execute=True):
        call_command("remeasure", "--failed", "--dry-run", stdout=io.StringIO())
    assert state(revision) == before
    from django.core.files.base import ContentFile

    default_storage.save(revision.map_key, ContentFile(png))  # the operator restores the map
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("remeasure", "--failed", stdout=out)

    assert f"re-enqueued 1 failed: [{revision.id}]" in out.getvalue()
    after = state(revision)
    assert after["status"] == "done"
    assert len(after["reports"]) == 1
    assert after["items"] == before["items"]  # still waiting in review, now with numbers
    assert after["decisions"] == 1


def test_remeasure_routes_measured_submissions_that_were_never_routed(project: Project) -> None:
    revision = submit(project, "ann1", scene())
    with mock.patch.object(measurement_service, "revision_route"):
        revision_measure(revision_id=revision.id)

    out = io.StringIO()
    call_command("remeasure", stdout=out)

    assert f"routed 1 unrouted: [{revision.id}]" in out.getvalue()
    assert state(revision)["decisions"] == 1


def test_remeasure_of_an_unknown_project_is_an_error(project: Project) -> None:
    with pytest.raises(CommandError, match="No project 'nope'"):
        call_command("remeasure", "nope")


# --- findings 4 and 5: agreement pairs ------------------------------------------------------------


def test_two_jobs_racing_on_one_pair_store_it_once_in_the_canonical_direction(project: Project) -> None:
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(person_grow=1), new_task=True)

    # Both jobs read "not measured yet" before either writes, as two workers can.
    with mock.patch.object(measurement_service, "_report_exists", return_value=False):
        revision_measure(revision_id=first.id)
        revision_measure(revision_id=second.id)

    assert list(QualityReport.objects.values_list("revision_id", "reference_id", "kind")) == [
        (second.id, first.id, "agreement")
    ]


def test_the_earlier_revision_is_the_reference_whichever_job_runs_first(project: Project) -> None:
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(person_grow=2), new_task=True)

    revision_measure(revision_id=first.id)  # sees the later revision as its partner

    report = QualityReport.objects.get()
    assert (report.revision_id, report.reference_id) == (second.id, first.id)
    assert report.summary["boundary_drift"]["7"] > 0  # the later one is the wider one: positive


# --- finding 6: prepared gold is reused -------------------------------------------------------------


def test_gold_is_read_and_prepared_once_for_many_submissions(project: Project) -> None:
    gold = make_gold(project)
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(person_grow=1), new_task=True)
    real = measurement_service.revision_index_map

    with mock.patch.object(measurement_service, "revision_index_map", wraps=real) as read:
        revision_measure(revision_id=first.id)
        revision_measure(revision_id=second.id)

    read_ids = [call.kwargs["revision"].id for call in read.call_args_list]
    assert read_ids.count(gold.id) == 1
    summaries = {r.revision_id: r.summary for r in QualityReport.objects.filter(kind="gold")}
    assert summaries[first.id]["miou"] == 1.0
    assert summaries[second.id]["class_iou"]["7"] == pytest.approx((20 * 12) / (22 * 14))


def test_the_qa_dashboard_lists_failed_and_incomplete_measurements(project: Project, client: Any) -> None:
    partner = submit(project, "ann1", scene())
    revision = submit(project, "ann2", scene(person_grow=1), new_task=True)
    clean = submit(project, "rev", scene(person_grow=2), new_task=True)
    default_storage.delete(partner.map_key)
    for measured in (partner, revision):
        revision_measure(revision_id=measured.id)
    RevisionMeasurement.objects.filter(revision=clean).update(status="done")

    from qa.selectors import failed_measurements

    client.force_login(user("lead"))
    page = client.get("/qa/proj/").content.decode()

    assert [m.revision_id for m in failed_measurements(project=project)] == [revision.id, partner.id]
    assert f"stored index map {partner.map_key} is missing" in page
    assert f"measured, but not against agreement revision {partner.id}" in page


def test_a_pair_stored_both_ways_by_an_older_build_counts_once_in_figures(project: Project) -> None:
    from qa.reports import batch_report

    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(person_grow=1), new_task=True)
    revision_measure(revision_id=second.id)
    canonical = QualityReport.objects.get()
    QualityReport.objects.create(  # the old, job-order direction beside the canonical row
        revision=first,
        reference=second,
        kind="agreement",
        engine_version=canonical.engine_version,
        boundary_ratio=canonical.boundary_ratio,
        counts=canonical.counts,
        summary=canonical.summary,
    )

    report = batch_report(project=project, batch=project.batches.get(name="b1"))

    assert report["agreement"]["images"] == 1
    assert report["agreement"]["class_iou"] == canonical.summary["class_iou"]
    assert [p["images"] for p in report["agreement_pairs"]] == [1]
