"""The reviewer's and the QA lead's queues in a real browser (Debian's Chromium, Playwright)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from core.roles import Role
from projects.models import Project, Task
from qa.models import ReviewDecision, ReviewItem
from qa.services import revision_save
from tests.factories import assign, make_project
from tests.helpers import map_png, sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
H, W = 48, 64
SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]


@pytest.fixture
def submitted(transactional_db: Any) -> Project:
    members = {
        "ann1": [Role.ANNOTATOR],
        "ann2": [Role.ANNOTATOR],
        "rev": [Role.REVIEWER],
        "lead": [Role.QA_LEAD],
    }
    project = make_project(slug="streets", members=members, images=2, size=(W, H))
    Project.objects.filter(id=project.id).update(
        peer_review_rate_dominant=1.0,
        peer_review_rate_rare=1.0,
        senior_qa_share=1.0,
        overlap_share=0.0,
        gold_share=0.0,
    )
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    for task, name in zip(project.tasks.order_by("id"), ("ann1", "ann2"), strict=True):
        author = get_user_model().objects.get(username=name)
        assign(task, author)
        revision_save(
            task=task,
            author=author,
            png=map_png(index_map),
            segments_raw=SEGMENTS,
            parent_number=None,
            submit=True,
        )
    assert ReviewItem.objects.filter(stage="peer", status="pending").count() == 2
    return project


@pytest.mark.browser
def test_reviewer_and_qa_lead_work_their_queues(live_server: Any, page: Any, submitted: Project) -> None:
    base = live_server.url

    # The reviewer rejects the first item with a comment and accepts the second.
    sign_in(page, base, "rev")
    page.click("text=Reviews")
    assert page.inner_text(".queue[data-stage=peer] .count") == "2"
    page.click("#review-next-streets-peer")
    page.wait_for_url("**/reviews/*/")
    page.wait_for_function("window.tesseraEditor !== undefined && window.tesseraEditor.width === 64")
    page.check("input[name=decision][value=reject]")
    page.fill("#id_comment", "The road edge is too high on the left.")
    page.click("#decision-submit")
    page.wait_for_selector("text=Recorded: reject")
    assert page.inner_text(".queue[data-stage=peer] .count") == "1"
    page.click("#review-next-streets-peer")
    page.wait_for_url("**/reviews/*/")
    page.check("input[name=decision][value=accept]")
    page.click("#decision-submit")
    page.wait_for_selector("text=Recorded: accept")
    assert page.inner_text(".queue[data-stage=peer] .count") == "0"

    rejected = ReviewDecision.objects.get(decision="reject")
    assert (rejected.reviewer.username, rejected.comment) == ("rev", "The road edge is too high on the left.")
    assert Task.objects.get(id=rejected.item.task_id).status == Task.Status.REJECTED

    # The QA lead sees the peer-accepted item in the senior queue and accepts it.
    page.click("button:has-text('Sign out')")
    sign_in(page, base, "lead")
    page.goto(f"{base}/review/")
    assert page.inner_text(".queue[data-stage=senior] .count") == "1"
    page.click("#review-next-streets-senior")
    page.wait_for_url("**/reviews/*/")
    page.check("input[name=decision][value=accept]")
    page.click("#decision-submit")
    page.wait_for_selector("text=Recorded: accept")
    senior = ReviewItem.objects.get(stage="senior")
    assert (senior.status, senior.reviewer.username) == ("accepted", "lead")  # type: ignore[union-attr]
    assert Task.objects.get(id=senior.task_id).status == Task.Status.ACCEPTED

    # The QA dashboard and the batch report render, with the threshold line on the chart.
    page.goto(f"{base}/qa/streets/")
    page.wait_for_selector("text=Recent decisions")
    assert "senior_accept" in page.inner_text("main")
    page.goto(f"{base}/qa/streets/batches/b1/")
    page.wait_for_selector("#verdict")
    assert "Sampled coverage per stratum" in page.inner_text("main")
