"""Who sees and decides what in the quality workflow: each rule, the allowed and the denied side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from core.roles import Role
from projects.models import Project, Task
from qa.models import ReviewItem
from qa.services import review_claim_next, review_decide, revision_save
from qa.services.review import PinIn
from tests.factories import assign, make_project
from tests.helpers import map_png

H, W = 16, 24
SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]


def scene() -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    return index_map


@dataclass
class World:
    project: Project
    items: list[ReviewItem]
    users: dict[str, User]


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    members = {
        "boss": [Role.MANAGER],
        "ann1": [Role.ANNOTATOR],
        "ann2": [Role.ANNOTATOR],
        "rev": [Role.REVIEWER],
        "rev2": [Role.REVIEWER],
        "lead": [Role.QA_LEAD],
        "cli": [Role.CLIENT],
    }
    project = make_project(slug="p", members=members, images=2, size=(W, H))
    make_project(slug="other", members={"outsider": [Role.MANAGER, Role.QA_LEAD, Role.REVIEWER]}, images=0)
    Project.objects.filter(id=project.id).update(
        peer_review_rate_dominant=1.0, peer_review_rate_rare=1.0, overlap_share=0.0, gold_share=0.0
    )
    users = {name: get_user_model().objects.get(username=name) for name in [*members, "outsider"]}
    items = []
    for task, name in zip(project.tasks.order_by("id"), ("ann1", "ann2"), strict=True):
        assign(task, users[name])
        with django_capture_on_commit_callbacks(execute=True):
            revision = revision_save(
                task=task,
                author=users[name],
                png=map_png(scene()),
                segments_raw=SEGMENTS,
                parent_number=None,
                submit=True,
            )
        items.append(ReviewItem.objects.get(revision=revision))
    return World(project=project, items=items, users=users)


def listed(api: Any, world: World, name: str, query: str = "") -> list[int]:
    response = api(world.users[name]).get(f"/api/projects/p/reviews/{query}")
    assert response.status_code == 200
    return sorted(item["id"] for item in response.json())


def test_submissions_wait_in_the_peer_queue(world: World) -> None:
    assert [item.stage for item in world.items] == ["peer", "peer"]
    assert all(Task.objects.get(id=item.task_id).status == Task.Status.IN_REVIEW for item in world.items)


def test_reviewers_see_the_pending_peer_queue(api: Any, world: World) -> None:
    assert listed(api, world, "rev") == sorted(item.id for item in world.items)


def test_an_item_claimed_by_another_reviewer_leaves_the_queue(api: Any, world: World) -> None:
    claimed = review_claim_next(project=world.project, user=world.users["rev2"], stage="peer")
    assert claimed is not None

    assert claimed.id not in listed(api, world, "rev")
    assert api(world.users["rev"]).get(f"/api/reviews/{claimed.id}/").status_code == 404
    assert api(world.users["rev2"]).get(f"/api/reviews/{claimed.id}/").status_code == 200


def test_a_reviewer_keeps_seeing_items_they_decided(api: Any, world: World) -> None:
    item = world.items[0]
    review_decide(item=item, reviewer=world.users["rev"], decision="reject", comment="sky too low")

    assert item.id in listed(api, world, "rev")
    assert item.id not in listed(api, world, "rev2")


def test_qa_leads_and_managers_see_every_item(api: Any, world: World) -> None:
    claimed = review_claim_next(project=world.project, user=world.users["rev2"], stage="peer")
    assert claimed is not None

    assert listed(api, world, "lead") == sorted(item.id for item in world.items)
    assert listed(api, world, "boss") == sorted(item.id for item in world.items)


@pytest.mark.parametrize("name", ["ann1", "ann2", "cli", "outsider"])
def test_annotators_clients_and_outsiders_see_no_review_items(api: Any, world: World, name: str) -> None:
    response = api(world.users[name]).get("/api/projects/p/reviews/")
    detail = api(world.users[name]).get(f"/api/reviews/{world.items[0].id}/")

    assert response.status_code == (404 if name == "outsider" else 200)
    if name != "outsider":
        assert response.json() == []
    assert detail.status_code == 404


@pytest.mark.parametrize(("name", "status"), [("ann1", 404), ("cli", 404), ("boss", 403), ("rev", 200)])
def test_only_reviewers_decide_peer_items(api: Any, world: World, name: str, status: int) -> None:
    item = world.items[1]

    response = api(world.users[name]).post(
        f"/api/reviews/{item.id}/decision/", {"decision": "accept"}, format="json"
    )

    assert response.status_code == status, response.content
    item.refresh_from_db()
    assert item.status == ("accepted" if status == 200 else "pending")


def test_nobody_reviews_their_own_work(api: Any, world: World) -> None:
    from projects.services import membership_add

    membership_add(project=world.project, user=world.users["ann1"], role=Role.REVIEWER)
    own = world.items[0]

    assert own.id not in listed(api, world, "ann1")
    response = api(world.users["ann1"]).post(
        f"/api/reviews/{own.id}/decision/", {"decision": "accept"}, format="json"
    )
    assert response.status_code == 404
    own.refresh_from_db()
    assert own.status == "pending"


def test_rejection_needs_a_reason(api: Any, world: World) -> None:
    item = world.items[0]

    response = api(world.users["rev"]).post(
        f"/api/reviews/{item.id}/decision/", {"decision": "reject"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "A rejection needs a comment or a pinned comment saying what to fix."
    item.refresh_from_db()
    assert item.status == "pending"


def test_pins_outside_the_image_are_refused(api: Any, world: World) -> None:
    item = world.items[0]

    response = api(world.users["rev"]).post(
        f"/api/reviews/{item.id}/decision/",
        {"decision": "reject", "comments": [{"text": "here", "x": W + 5, "y": 1}]},
        format="json",
    )

    assert response.status_code == 400
    assert "inside the 24x16 image" in response.json()["detail"]


def test_author_sees_comments_on_own_work_and_nobody_else_does(api: Any, world: World) -> None:
    item = world.items[0]
    review_decide(
        item=item, reviewer=world.users["rev"], decision="reject", pins=[PinIn(text="fix the kerb", x=3, y=8)]
    )

    own = api(world.users["ann1"]).get(f"/api/revisions/{item.revision_id}/comments/")
    other = api(world.users["ann2"]).get(f"/api/revisions/{item.revision_id}/comments/")
    client = api(world.users["cli"]).get(f"/api/revisions/{item.revision_id}/comments/")

    assert own.status_code == 200
    assert [(c["text"], c["x"], c["y"], c["decision"]) for c in own.json()] == [
        ("fix the kerb", 3.0, 8.0, "reject")
    ]
    assert other.status_code == 404
    assert client.status_code == 404


def test_senior_queue_is_for_qa_leads(api: Any, world: World) -> None:
    Project.objects.filter(id=world.project.id).update(senior_qa_share=1.0)
    review_decide(item=world.items[0], reviewer=world.users["rev"], decision="accept")
    senior = ReviewItem.objects.get(stage="senior")

    assert api(world.users["rev"]).post("/api/projects/p/reviews/next/?stage=senior").status_code == 403
    assert api(world.users["rev"]).get(f"/api/reviews/{senior.id}/").status_code == 404
    claimed = api(world.users["lead"]).post("/api/projects/p/reviews/next/?stage=senior")
    assert claimed.status_code == 200
    assert claimed.json()["id"] == senior.id
    decided = api(world.users["lead"]).post(
        f"/api/reviews/{senior.id}/decision/", {"decision": "accept"}, format="json"
    )
    assert decided.status_code == 200
    assert Task.objects.get(id=senior.task_id).status == Task.Status.ACCEPTED


def test_senior_qa_overturns_a_peer_rejection_with_a_reason(api: Any, world: World) -> None:
    item = world.items[0]
    review_decide(item=item, reviewer=world.users["rev"], decision="reject", comment="sky too low")

    denied = api(world.users["rev"]).post(
        f"/api/reviews/{item.id}/overturn/", {"decision": "accept", "comment": "fine"}, format="json"
    )
    no_reason = api(world.users["lead"]).post(
        f"/api/reviews/{item.id}/overturn/", {"decision": "accept"}, format="json"
    )
    done = api(world.users["lead"]).post(
        f"/api/reviews/{item.id}/overturn/",
        {"decision": "accept", "comment": "within the kerb rule"},
        format="json",
    )

    assert denied.status_code == 403
    assert no_reason.status_code == 400
    assert done.status_code == 200
    item.refresh_from_db()
    assert item.status == "overturned"
    task = Task.objects.get(id=item.task_id)
    assert task.status == Task.Status.ACCEPTED
    overturning = ReviewItem.objects.get(task=task, stage="senior")
    decision = overturning.decisions.get()
    assert decision.overturns is not None
    assert (decision.decision, decision.comment, decision.overturns.decision) == (
        "accept",
        "within the kerb rule",
        "reject",
    )


@pytest.mark.parametrize(
    ("name", "status"),
    [("boss", 200), ("lead", 200), ("rev", 403), ("ann1", 403), ("cli", 403), ("outsider", 404)],
)
def test_batch_reports_are_for_managers_and_qa_leads(api: Any, world: World, name: str, status: int) -> None:
    json_report = api(world.users[name]).get("/api/projects/p/batches/b1/report/")
    csv_report = api(world.users[name]).get("/api/projects/p/batches/b1/report/?format=csv")

    assert json_report.status_code == status
    assert csv_report.status_code == status
    if status == 200:
        assert json_report.json()["batch"] == "b1"
        assert csv_report["Content-Type"].startswith("text/csv")
        assert (
            csv_report.content.decode().splitlines()[0]
            == "section,annotator,category_id,category,metric,value"
        )


@pytest.mark.parametrize(
    ("name", "status"), [("boss", 200), ("lead", 403), ("rev", 403), ("cli", 403), ("outsider", 404)]
)
def test_only_managers_change_the_policy(api: Any, world: World, name: str, status: int) -> None:
    response = api(world.users[name]).patch(
        "/api/projects/p/qa-policy/", {"peer_review_rate_rare": 0.4}, format="json"
    )

    assert response.status_code == status
    world.project.refresh_from_db()
    assert world.project.peer_review_rate_rare == (0.4 if status == 200 else 1.0)


def test_policy_change_is_audited_with_old_and_new_values(api: Any, world: World) -> None:
    api(world.users["boss"]).patch("/api/projects/p/qa-policy/", {"senior_qa_share": 0.5}, format="json")

    trail = api(world.users["lead"]).get("/api/projects/p/audit/").json()

    change = next(e for e in trail if e["action"] == "policy_changed")
    assert change["actor"] == "boss"
    assert change["details"] == {"before": {"senior_qa_share": 0.2}, "after": {"senior_qa_share": 0.5}}


def test_bad_policy_values_are_refused(api: Any, world: World) -> None:
    response = api(world.users["boss"]).patch(
        "/api/projects/p/qa-policy/", {"gold_share": 1.5}, format="json"
    )

    assert response.status_code == 400
    world.project.refresh_from_db()
    assert world.project.gold_share == 0.0


@pytest.mark.parametrize(("name", "status"), [("boss", 200), ("lead", 403), ("ann1", 403), ("outsider", 404)])
def test_only_managers_release_annotators(api: Any, world: World, name: str, status: int) -> None:
    response = api(world.users[name]).post(
        "/api/projects/p/members/ann2/release/", {"released": True}, format="json"
    )

    assert response.status_code == status


def test_review_pages_follow_the_same_rules(client: Any, world: World) -> None:
    client.force_login(world.users["rev"])
    queue = client.get("/review/")
    page = client.get(f"/reviews/{world.items[0].id}/")
    dashboard = client.get("/qa/p/")

    assert queue.status_code == 200
    assert f"/reviews/{world.items[0].id}/" in queue.content.decode()
    assert page.status_code == 200
    assert b'id="decision-form"' in page.content
    assert dashboard.status_code == 404
    client.force_login(world.users["ann2"])
    assert client.get(f"/reviews/{world.items[0].id}/").status_code == 404
    client.force_login(world.users["lead"])
    assert client.get("/qa/p/").status_code == 200
    report_page = client.get("/qa/p/batches/b1/")
    assert report_page.status_code == 200
    assert client.get("/qa/p/calibration/").status_code == 200
    assert client.get("/qa/p/policy/").status_code == 200
