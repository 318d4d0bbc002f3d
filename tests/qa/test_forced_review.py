"""Submissions that go to peer review whatever the draw: failed gold, and disagreement with
the overlap partner beyond the threshold (both partners, whichever was measured first)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from annotation.models import Revision
from annotation.services import SegmentIn
from projects.models import Project, Task
from qa.models import ReviewItem, SamplingDecision
from qa.services import gold_set, review_claim_next, review_decide, revision_measure, revision_save
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png
from tests.qa.support import SEGMENTS, user

H, W = 40, 60  # this file's own scene (support's is 16 × 24)


def scene(horizon: int = H // 2) -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[horizon:, :] = 2
    return index_map


@pytest.fixture
def project(db: Any) -> Project:
    project = make_project(members=STANDARD_MEMBERS, images=1, size=(W, H))
    # Nothing is sampled: whatever reaches the peer queue was forced there.
    Project.objects.filter(id=project.id).update(
        peer_review_rate_dominant=0.0, peer_review_rate_rare=0.0, senior_qa_share=0.0
    )
    project.refresh_from_db()
    return project


def submit(project: Project, username: str, index_map: np.ndarray, *, new_task: bool = False) -> Revision:
    image = project.images.get()
    if new_task:
        task = Task.objects.create(
            project=project,
            image=image,
            taxonomy=image.tasks.filter(kind=Task.Kind.ANNOTATE)[0].taxonomy,
            is_overlap=True,
        )
    else:
        task = project.tasks.filter(kind=Task.Kind.ANNOTATE).order_by("id")[0]
    assign(task, user(username))
    revision = revision_save(
        task=task,
        author=user(username),
        png=map_png(index_map),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=True,
    )
    revision_measure(revision_id=revision.id)
    return revision


def routed(revision: Revision) -> dict[str, Any]:
    revision.refresh_from_db()
    decision = SamplingDecision.objects.get(revision=revision)
    return {
        "sampled": decision.sampled,
        "forced": decision.forced_reasons,
        "revision": revision.status,
        "task": Task.objects.get(id=revision.task_id).status,
        "items": list(ReviewItem.objects.filter(revision=revision).values_list("stage", "reason", "status")),
    }


def make_gold(project: Project, index_map: np.ndarray) -> Revision:
    return gold_set(
        image=project.images.get(),
        author=user("lead"),
        index_map=index_map,
        segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in SEGMENTS],
    )


def test_a_submission_under_the_gold_pass_iou_goes_to_peer_review(project: Project) -> None:
    make_gold(project, scene())

    # Sky IoU 12/20 = 0.6 against gold, under gold_pass_iou 0.75.
    revision = submit(project, "ann1", scene(horizon=12))

    assert routed(revision) == {
        "sampled": False,
        "forced": ["gold_failed"],
        "revision": "submitted",
        "task": "in_review",
        "items": [("peer", "gold_failed", "pending")],
    }


def test_a_submission_that_passes_gold_is_accepted_unsampled(project: Project) -> None:
    make_gold(project, scene())

    # Sky IoU 19/20, road 20/21: above 0.75.
    revision = submit(project, "ann1", scene(horizon=19))

    assert routed(revision) == {
        "sampled": False,
        "forced": [],
        "revision": "accepted",
        "task": "accepted",
        "items": [],
    }


def test_disagreeing_overlap_partners_both_go_to_peer_review(project: Project) -> None:
    first = submit(project, "ann1", scene())
    assert routed(first)["revision"] == "accepted"  # nothing to compare with yet

    # mIoU of the pair (5/20 + 20/35) / 2 = 0.41, under overlap_agreement_threshold 0.70.
    second = submit(project, "ann2", scene(horizon=5), new_task=True)

    for revision in (first, second):
        assert routed(revision) == {
            "sampled": False,
            "forced": ["disagreement"],
            "revision": "submitted",
            "task": "in_review",
            "items": [("peer", "disagreement", "pending")],
        }


def test_agreeing_overlap_partners_are_both_accepted(project: Project) -> None:
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(horizon=19), new_task=True)

    for revision in (first, second):
        assert routed(revision) == {
            "sampled": False,
            "forced": [],
            "revision": "accepted",
            "task": "accepted",
            "items": [],
        }


def test_a_partner_a_reviewer_already_accepted_is_not_reopened(project: Project) -> None:
    Project.objects.filter(id=project.id).update(peer_review_rate_dominant=1.0)
    first = submit(project, "ann1", scene())
    item = review_claim_next(project=project, user=user("rev"), stage=ReviewItem.Stage.PEER)
    assert item is not None
    review_decide(item=item, reviewer=user("rev"), decision="accept")
    Project.objects.filter(id=project.id).update(peer_review_rate_dominant=0.0)

    second = submit(project, "ann2", scene(horizon=5), new_task=True)

    assert routed(first)["items"] == [("peer", "sampled", "accepted")]
    assert routed(first)["revision"] == "accepted"
    assert routed(second)["items"] == [("peer", "disagreement", "pending")]


def test_measuring_the_second_partner_again_reopens_nothing_twice(project: Project) -> None:
    first = submit(project, "ann1", scene())
    second = submit(project, "ann2", scene(horizon=5), new_task=True)

    revision_measure(revision_id=second.id)
    revision_measure(revision_id=first.id)

    assert ReviewItem.objects.filter(revision__in=[first, second]).count() == 2
