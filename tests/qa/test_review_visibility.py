"""Reviewers see their queue and what they handled, nothing else; nobody checks their own
decision: the peer decider, the fixer, the author and the labeller never do senior QA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from projects.models import Task
from qa.models import QualityReport, ReviewItem, RevisionMeasurement
from qa.services import review_claim_next, review_decide, review_fix_accept, revision_measure
from qa.services.review import PinIn
from tests.qa.support import SEGMENTS, World, build_world, make_gold, review_snapshot, save, scene


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    return build_world(django_capture_on_commit_callbacks)


def endpoints(item: ReviewItem) -> list[str]:
    """Everything that shows the work under review: task, maps, image, figures, comments."""
    task, revision = item.task, item.revision
    return [
        f"/api/tasks/{task.id}/",
        f"/api/tasks/{task.id}/annotation/",
        f"/api/tasks/{task.id}/revisions/",
        f"/api/revisions/{revision.id}/",
        f"/api/revisions/{revision.id}/index-map/",
        f"/api/revisions/{revision.id}/quality/",
        f"/api/revisions/{revision.id}/comments/",
        f"/api/images/{task.image_id}/file/",
        f"/api/reviews/{item.id}/",
    ]


def statuses(api: Any, world: World, name: str, item: ReviewItem) -> list[int]:
    client = world.client(api, name)
    return [client.get(url).status_code for url in endpoints(item)]


def listed_tasks(api: Any, world: World, name: str) -> list[int]:
    return sorted(t["id"] for t in world.client(api, name).get("/api/tasks/?project=p").json())


def test_an_unclaimed_item_in_the_queue_is_visible_to_every_reviewer(api: Any, world: World) -> None:
    item = world.items[0]

    assert statuses(api, world, "rev", item) == [200] * 9
    assert statuses(api, world, "rev2", item) == [200] * 9


def test_an_item_claimed_by_another_reviewer_is_invisible_everywhere(api: Any, world: World) -> None:
    claimed = review_claim_next(project=world.project, user=world.users["rev2"], stage="peer")
    assert claimed is not None
    other = next(item for item in world.items if item.id != claimed.id)

    assert statuses(api, world, "rev", claimed) == [404] * 9
    assert statuses(api, world, "rev2", claimed) == [200] * 9
    assert listed_tasks(api, world, "rev") == [other.task_id]
    assert listed_tasks(api, world, "rev2") == sorted(item.task_id for item in world.items)


def test_a_reviewer_keeps_seeing_what_they_decided_and_nobody_else_does(api: Any, world: World) -> None:
    item = world.items[0]
    review_claim_next(project=world.project, user=world.users["rev"], stage="peer")
    review_decide(item=item, reviewer=world.users["rev"], decision="reject", comment="horizon too low")
    task = Task.objects.get(id=item.task_id)
    assert (task.status, task.review_stage, task.reviewer_id) == (Task.Status.REJECTED, "", None)

    assert statuses(api, world, "rev", item) == [200] * 9
    assert statuses(api, world, "rev2", item) == [404] * 9


def test_an_accepted_task_stays_visible_to_its_reviewer_only(api: Any, world: World) -> None:
    item = world.items[1]
    review_decide(item=item, reviewer=world.users["rev2"], decision="accept")

    assert statuses(api, world, "rev2", item) == [200] * 9
    assert statuses(api, world, "rev", item) == [404] * 9


def test_the_reference_is_visible_but_its_figures_are_not(
    api: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # A second annotation of image 0 by ann2, accepted earlier: the reference of ann1's item.
    item = world.items[0]
    partner_task = Task.objects.create(
        project=world.project,
        image=item.task.image,
        taxonomy=item.task.taxonomy,
        assignee=world.users["ann2"],
        is_overlap=True,
    )
    partner = save(partner_task, world.users["ann2"], scene(horizon=9))  # its job is not run
    RevisionMeasurement.objects.filter(revision_id=item.revision_id).update(status="pending")
    revision_measure(revision_id=item.revision_id)
    assert QualityReport.objects.filter(kind="agreement").count() == 1
    rev = world.client(api, "rev")

    assert rev.get(f"/api/revisions/{partner.id}/index-map/").status_code == 200
    assert rev.get(f"/api/revisions/{partner.id}/quality/").json()["reports"] == []
    own = rev.get(f"/api/revisions/{item.revision_id}/quality/").json()["reports"]
    # Stored once, the earlier revision as the reference; it is the item's report too.
    assert [(r["kind"], r["revision_id"], r["reference_revision_id"]) for r in own] == [
        ("agreement", partner.id, item.revision_id)
    ]


def test_a_stale_claim_passes_to_the_reviewer_who_opens_the_item(client: Any, api: Any, world: World) -> None:
    item = world.items[0]
    ReviewItem.objects.filter(id=item.id).update(
        reviewer=world.users["rev2"], claimed_at=timezone.now() - timedelta(hours=3)
    )
    Task.objects.filter(id=item.task_id).update(reviewer=world.users["rev2"])
    assert world.client(api, "rev").get(f"/api/tasks/{item.task_id}/").status_code == 404

    client.force_login(world.users["rev"])
    assert client.get(f"/reviews/{item.id}/").status_code == 200

    item.refresh_from_db()
    assert item.reviewer == world.users["rev"]
    assert world.client(api, "rev").get(f"/api/tasks/{item.task_id}/").status_code == 200
    assert world.client(api, "rev2").get(f"/api/tasks/{item.task_id}/").status_code == 404


def test_opening_an_item_claims_it_for_a_reviewer_but_not_for_a_qa_lead(client: Any, world: World) -> None:
    first, second = world.items
    client.force_login(world.users["lead"])
    client.get(f"/reviews/{first.id}/")
    first.refresh_from_db()
    assert first.reviewer is None

    client.force_login(world.users["rev"])
    client.get(f"/reviews/{second.id}/")
    second.refresh_from_db()
    assert second.reviewer == world.users["rev"]
    assert second.claimed_at is not None


def test_a_live_claim_is_not_taken_over_by_opening_the_page(client: Any, world: World) -> None:
    item = world.items[0]
    review_claim_next(project=world.project, user=world.users["rev2"], stage="peer")
    before = review_snapshot(world.project)

    client.force_login(world.users["rev"])
    page = client.get(f"/reviews/{item.id}/")

    assert page.status_code == 404
    assert review_snapshot(world.project) == before


# --- independence of senior QA ----------------------------------------------------------------------


@pytest.fixture
def senior_world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    return build_world(django_capture_on_commit_callbacks, senior_qa_share=1.0)


def test_a_qa_lead_who_peer_reviewed_cannot_senior_review_the_same_work(
    api: Any, senior_world: World
) -> None:
    world = senior_world
    item = world.items[0]
    review_decide(item=item, reviewer=world.users["lead"], decision="accept")
    senior = ReviewItem.objects.get(stage="senior", revision=item.revision)
    before = review_snapshot(world.project)

    assert review_claim_next(project=world.project, user=world.users["lead"], stage="senior") is None
    assert world.client(api, "lead").post("/api/projects/p/reviews/next/?stage=senior").status_code == 204
    refused = world.client(api, "lead").post(
        f"/api/reviews/{senior.id}/decision/", {"decision": "accept"}, format="json"
    )

    assert refused.status_code == 403
    assert (
        refused.json()["detail"]
        == "You made the peer decision on this work; senior QA needs another QA lead."
    )
    assert review_snapshot(world.project) == before
    allowed = world.client(api, "lead2").post(
        f"/api/reviews/{senior.id}/decision/", {"decision": "accept"}, format="json"
    )
    assert allowed.status_code == 200
    assert Task.objects.get(id=item.task_id).status == Task.Status.ACCEPTED


def test_the_reviewer_who_fixed_the_work_cannot_senior_review_the_fix(api: Any, senior_world: World) -> None:
    world = senior_world
    item = world.items[0]
    from annotation.services import SegmentIn

    review_fix_accept(
        item=item,
        reviewer=world.users["lead"],
        index_map=scene(horizon=7),
        segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in SEGMENTS],
    )
    senior = ReviewItem.objects.get(stage="senior", task=item.task)
    assert senior.revision.author == world.users["lead"]
    before = review_snapshot(world.project)

    refused = world.client(api, "lead").post(
        f"/api/reviews/{senior.id}/decision/", {"decision": "accept"}, format="json"
    )

    assert refused.status_code == 403
    assert review_snapshot(world.project) == before
    assert review_claim_next(project=world.project, user=world.users["lead2"], stage="senior") == senior


def test_the_peer_decider_cannot_overturn_their_own_decision(api: Any, world: World) -> None:
    item = world.items[0]
    review_decide(
        item=item, reviewer=world.users["lead"], decision="reject", pins=[PinIn(text="sky", x=1, y=1)]
    )
    before = review_snapshot(world.project)

    refused = world.client(api, "lead").post(
        f"/api/reviews/{item.id}/overturn/",
        {"decision": "accept", "comment": "changed my mind"},
        format="json",
    )

    assert refused.status_code == 403
    assert review_snapshot(world.project) == before
    allowed = world.client(api, "lead2").post(
        f"/api/reviews/{item.id}/overturn/",
        {"decision": "accept", "comment": "the kerb rule allows it"},
        format="json",
    )
    assert allowed.status_code == 200


def test_a_qa_lead_who_labelled_the_image_is_kept_out_of_both_queues(api: Any, senior_world: World) -> None:
    world = senior_world
    from projects.services import membership_add

    item = world.items[0]
    membership_add(project=world.project, user=world.users["lead"], role="annotator")
    Task.objects.create(
        project=world.project,
        image=item.task.image,
        taxonomy=item.task.taxonomy,
        assignee=world.users["lead"],
    )
    before = review_snapshot(world.project)

    refused = world.client(api, "lead").post(
        f"/api/reviews/{item.id}/decision/", {"decision": "accept"}, format="json"
    )

    assert refused.status_code == 403
    assert refused.json()["detail"] == "You labelled this image yourself, so you cannot review it."
    assert review_snapshot(world.project) == before
    claimed = review_claim_next(project=world.project, user=world.users["lead"], stage="peer")
    assert claimed is not None
    assert claimed.id != item.id


def test_the_author_of_the_gold_may_still_review_work_measured_against_it(
    api: Any, senior_world: World
) -> None:
    world = senior_world
    item = world.items[0]
    make_gold(item.task.image, world.users["lead"], scene())

    decided = world.client(api, "lead").post(
        f"/api/reviews/{item.id}/decision/", {"decision": "accept"}, format="json"
    )

    assert decided.status_code == 200
