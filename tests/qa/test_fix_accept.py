"""Fix and accept: the reviewer's corrected revision is accepted and delivered, attributed to
the reviewer and audited; QA figures keep describing the annotator's own work."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Revision
from annotation.selectors import release_revisions, revision_index_map
from projects.models import Batch, Task
from qa.models import QualityReport, ReviewComment, ReviewDecision, ReviewItem, RevisionMeasurement
from qa.reports import batch_report
from qa.services import review_claim_next
from tests.helpers import map_png
from tests.qa.support import SEGMENTS, H, W, World, build_world, make_gold, review_snapshot, scene

GOLD = scene(horizon=10)


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    world = build_world(django_capture_on_commit_callbacks)
    # Image 0 has gold with the horizon at row 10; ann1 drew it at row 8.
    with django_capture_on_commit_callbacks(execute=True):
        make_gold(world.items[0].task.image, world.users["lead"], GOLD)
    return world


def fix(api: Any, world: World, name: str, item: ReviewItem, **fields: Any) -> Any:
    body: dict[str, Any] = {
        "index_map": SimpleUploadedFile("fix.png", map_png(GOLD), content_type="image/png"),
        "segments": json.dumps(SEGMENTS),
        "comment": "moved the horizon down to the kerb",
        "comments": json.dumps([{"text": "horizon is the kerb line", "region": [[0, 9], [23, 9], [23, 11]]}]),
    }
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    return world.client(api, name).post(f"/api/reviews/{item.id}/fix/", body, format="multipart")


def test_fix_and_accept_makes_the_reviewers_revision_the_accepted_one(api: Any, world: World) -> None:
    item = world.items[0]

    response = fix(api, world, "rev", item)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["reviewer"]) == ("fixed", "rev")
    [decision] = body["decisions"]
    assert (decision["decision"], decision["reviewer"], decision["comment"]) == (
        "fix_accept",
        "rev",
        "moved the horizon down to the kerb",
    )
    fixed = Revision.objects.get(id=decision["fixed_revision_id"])
    original = Revision.objects.get(id=item.revision_id)
    assert (fixed.author, fixed.source, fixed.status) == (world.users["rev"], "review_fix", "accepted")
    assert (fixed.task_id, fixed.parent_id, fixed.number) == (item.task_id, original.id, original.number + 1)
    assert np.array_equal(revision_index_map(revision=fixed), GOLD)
    assert (original.author, original.status) == (world.users["ann1"], "submitted")  # their work, kept
    task = Task.objects.get(id=item.task_id)
    assert (task.status, task.review_stage) == (Task.Status.ACCEPTED, "")
    # The pinned comment is feedback on the author's revision, which the author can read.
    comments = world.client(api, "ann1").get(f"/api/revisions/{original.id}/comments/").json()
    assert [(c["text"], c["region"], c["decision"]) for c in comments] == [
        ("moved the horizon down to the kerb", None, "fix_accept"),
        ("horizon is the kerb line", [[0.0, 9.0], [23.0, 9.0], [23.0, 11.0]], "fix_accept"),
    ]
    trail = world.client(api, "lead").get("/api/projects/p/audit/").json()
    entry = next(e for e in trail if e["action"] == "peer_fix_accept")
    assert (entry["actor"], entry["reason"], entry["details"]["fixed_revision"]) == (
        "rev",
        "moved the horizon down to the kerb",
        fixed.id,
    )


def test_figures_describe_the_annotators_work_and_the_release_delivers_the_fix(
    api: Any, world: World
) -> None:
    first, second = world.items
    before = batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
    ann1_iou = before["annotators"]["ann1"]["class_iou"]
    assert ann1_iou["3"] < 1.0

    assert (
        fix(
            api, world, "rev", second, index_map=SimpleUploadedFile("f.png", map_png(scene(horizon=6)))
        ).status_code
        == 200
    )
    fixed = ReviewDecision.objects.get(item=second).fixed_revision
    assert fixed is not None

    after = batch_report(project=world.project, batch=Batch.objects.get(project=world.project, name="b1"))
    assert after["annotators"] == before["annotators"]
    assert after["gold"] == before["gold"]
    assert not RevisionMeasurement.objects.filter(revision=fixed).exists()
    assert not QualityReport.objects.filter(revision=fixed).exists()
    assert not QualityReport.objects.filter(reference=fixed).exists()
    delivered = {r.task.image_id: r.id for r in release_revisions(project=world.project)}
    assert delivered[second.task.image_id] == fixed.id  # the release ships the corrected map
    assert delivered[first.task.image_id] != first.revision_id  # gold image: the gold itself
    fixes = world.client(api, "lead").get(f"/api/reviews/{second.id}/").json()["decisions"]
    assert [d["fixed_revision_id"] for d in fixes] == [fixed.id]


def test_a_fix_is_never_an_agreement_reference(
    api: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    item = world.items[1]
    assert fix(api, world, "rev", item).status_code == 200
    partner_task = Task.objects.create(
        project=world.project,
        image=item.task.image,
        taxonomy=item.task.taxonomy,
        assignee=world.users["ann1"],
    )
    from tests.qa.support import save

    with django_capture_on_commit_callbacks(execute=True):
        later = save(partner_task, world.users["ann1"], scene(horizon=9))

    report = QualityReport.objects.get(kind="agreement")
    assert (report.revision_id, report.reference_id) == (later.id, item.revision_id)


@pytest.mark.parametrize(
    ("name", "status"),
    [("ann1", 404), ("ann2", 404), ("cli", 404), ("outsider", 404), ("root", 404), ("boss", 403)],
)
def test_who_may_not_fix(api: Any, world: World, name: str, status: int) -> None:
    item = world.items[0]
    before = review_snapshot(world.project)

    response = fix(api, world, name, item)

    assert response.status_code == status
    assert review_snapshot(world.project) == before


def test_an_item_another_reviewer_holds_is_not_fixed_by_a_qa_lead(api: Any, world: World) -> None:
    claimed = review_claim_next(project=world.project, user=world.users["rev2"], stage="peer")
    assert claimed is not None
    before = review_snapshot(world.project)

    response = fix(api, world, "lead", claimed)

    assert response.status_code == 409
    assert review_snapshot(world.project) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"index_map": None}, "Send the corrected index map ('index_map') and segment table ('segments')."),
        ({"segments": "[{"}, "segments is not valid JSON"),
        ({"segments": json.dumps([{"id": 1, "category_id": 3}, {"id": 2, "category_id": 99}])}, "99"),
        (
            {"index_map": SimpleUploadedFile("f.png", map_png(np.ones((H + 1, W), np.uint16)))},
            "but the image is 16x24",
        ),
        ({"comments": json.dumps([{"text": "x", "x": W + 9, "y": 0}])}, "inside the 24x16 image"),
        ({"comments": "not json"}, "comments is not valid JSON"),
    ],
)
def test_a_bad_fix_is_refused_and_writes_nothing(
    api: Any, world: World, fields: dict[str, Any], message: str
) -> None:
    item = world.items[0]
    before = review_snapshot(world.project)
    comments = ReviewComment.objects.count()

    response = fix(api, world, "rev", item, **fields)

    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json())
    assert review_snapshot(world.project) == before
    assert ReviewComment.objects.count() == comments


def test_a_decided_item_cannot_be_fixed(api: Any, world: World) -> None:
    item = world.items[0]
    assert (
        world.client(api, "rev")
        .post(f"/api/reviews/{item.id}/decision/", {"decision": "accept"}, format="json")
        .status_code
        == 200
    )
    before = review_snapshot(world.project)

    response = fix(api, world, "rev", item)

    assert response.status_code == 409
    assert review_snapshot(world.project) == before
