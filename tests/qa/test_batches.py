"""Batch acceptance: only finished work, a reason for failing batches and for rejections,
QA leads only, everything audited."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from projects.models import Batch, Task
from projects.services import images_add
from qa.models import AuditEvent
from qa.reports import batch_report
from qa.services import review_decide
from tests.helpers import png_bytes
from tests.qa.support import H, W, World, build_world, make_gold, review_snapshot, scene

ZERO = {"unfinished": 0, "measuring": 0, "peer_review": 0, "senior_qa": 0, "rework": 0, "gold_missing": 0}


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    world = build_world(django_capture_on_commit_callbacks)
    for item in world.items:
        with django_capture_on_commit_callbacks(execute=True):  # re-measures the submissions
            make_gold(item.task.image, world.users["lead"], scene())
    return world


def decide(api: Any, world: World, name: str, **body: Any) -> Any:
    return world.client(api, name).post("/api/projects/p/batches/b1/decision/", body, format="json")


def accept_all(world: World) -> None:
    for item in world.items:
        review_decide(item=item, reviewer=world.users["rev"], decision="accept")


def test_a_batch_with_items_in_review_cannot_be_accepted(api: Any, world: World) -> None:
    before = review_snapshot(world.project)

    response = decide(api, world, "lead", accept=True, reason="looks fine")

    assert response.status_code == 409
    assert response.json()["detail"] == "Batch b1 still has open work: 2 items waiting in peer review."
    assert response.json()["open_work"] == {**ZERO, "peer_review": 2}
    assert review_snapshot(world.project) == before


def test_a_finished_passing_batch_is_accepted_without_a_reason_and_audited(api: Any, world: World) -> None:
    accept_all(world)
    report = batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
    assert (report["complete"], report["passed"], report["open_work"]) == (True, True, ZERO)

    response = decide(api, world, "lead", accept=True)

    assert response.status_code == 200
    assert response.json() == {"batch": "b1", "status": "accepted", "passed": True, "complete": True}
    event = AuditEvent.objects.get(action="batch_accepted")
    assert (event.actor, event.target, event.reason) == (world.users["lead"], "b1", "")
    assert event.details == {"passed": True, "failures": [], "open_work": ZERO}


def test_rework_unfinished_tasks_and_missing_gold_are_open_work(
    api: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = world.items
    review_decide(item=first, reviewer=world.users["rev"], decision="reject", comment="horizon")
    review_decide(item=second, reviewer=world.users["rev"], decision="accept")
    images_add(
        project=world.project, files=[("late.png", png_bytes(np.zeros((H, W, 3), np.uint8)))], batch_name="b1"
    )
    late = world.project.images.get(file_name="late.png")
    Task.objects.create(project=world.project, image=late, taxonomy=first.task.taxonomy, kind=Task.Kind.GOLD)
    before = review_snapshot(world.project)

    response = decide(api, world, "lead", accept=True, reason="ship it")

    assert response.status_code == 409
    assert response.json()["open_work"] == {**ZERO, "unfinished": 1, "rework": 1, "gold_missing": 1}
    assert review_snapshot(world.project) == before


def test_accepting_a_failing_batch_needs_a_reason(
    api: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    second = world.items[1]
    # ann2's sky reaches far too low on gold: the batch fails its class IoU floor.
    with django_capture_on_commit_callbacks(execute=True):
        make_gold(second.task.image, world.users["lead"], scene(horizon=2))
    accept_all(world)
    report = batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
    assert (report["complete"], report["passed"]) == (True, False)
    before = review_snapshot(world.project)

    refused = decide(api, world, "lead", accept=True, reason="   ")

    assert refused.status_code == 400
    assert refused.json()["detail"] == "This batch fails its thresholds; accepting it anyway needs a reason."
    assert review_snapshot(world.project) == before
    accepted = decide(api, world, "lead", accept=True, reason="client accepts the sky rule change")
    assert accepted.status_code == 200
    assert accepted.json()["passed"] is False
    event = AuditEvent.objects.get(action="batch_accepted")
    assert event.reason == "client accepts the sky rule change"
    assert event.details["failures"] == report["failures"]


def test_rejecting_a_batch_needs_a_reason(api: Any, world: World) -> None:
    before = review_snapshot(world.project)

    refused = decide(api, world, "lead", accept=False)

    assert refused.status_code == 400
    assert refused.json()["detail"] == "Rejecting a batch needs a reason saying what is wrong with it."
    assert review_snapshot(world.project) == before
    rejected = decide(api, world, "lead", accept=False, reason="kerbs labelled as road throughout")
    assert rejected.status_code == 200
    assert Batch.objects.get(project=world.project, name="b1").status == Batch.Status.REJECTED
    assert AuditEvent.objects.get(action="batch_rejected").reason == "kerbs labelled as road throughout"


@pytest.mark.parametrize(
    ("name", "status"),
    [("boss", 403), ("rev", 403), ("ann1", 403), ("cli", 403), ("outsider", 404), ("root", 404)],
)
def test_only_qa_leads_decide_batches(api: Any, world: World, name: str, status: int) -> None:
    accept_all(world)
    before = review_snapshot(world.project)

    response = decide(api, world, name, accept=True)

    assert response.status_code == status
    assert review_snapshot(world.project) == before


def test_the_calibration_set_is_not_accepted_as_a_batch(api: Any, world: World) -> None:
    Batch.objects.filter(project=world.project, name="b1").update(is_calibration=True)
    before = review_snapshot(world.project)

    response = decide(api, world, "lead", accept=True, reason="x")

    assert response.status_code == 409
    assert review_snapshot(world.project) == before


def test_the_batch_page_shows_open_work_and_holds_back_the_accept_button(client: Any, world: World) -> None:
    client.force_login(world.users["lead"])

    page = client.get("/qa/p/batches/b1/").content.decode()

    assert "2 items waiting in peer review." in page
    assert 'value="accept" class="primary" disabled' in page
    posted = client.post("/qa/p/batches/b1/", {"decision": "accept", "reason": "now"}, follow=True)
    assert "still has open work" in posted.content.decode()
    assert Batch.objects.get(project=world.project, name="b1").status == Batch.Status.OPEN
