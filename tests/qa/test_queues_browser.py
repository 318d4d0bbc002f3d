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


@pytest.mark.browser
def test_reviewer_pins_points_and_regions_then_fixes_and_accepts(
    live_server: Any, page: Any, submitted: Project
) -> None:
    from qa.models import ReviewComment
    from tests.frontend.support import (
        client_point,
        hook,
        labels,
        open_editor,
        require_bundle,
        stored_map,
        stroke,
    )

    require_bundle()
    Project.objects.filter(id=submitted.id).update(senior_qa_share=0.0)
    base = live_server.url
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1400, "height": 820})
    sign_in(page, base, "rev")

    # A point pin (a click) and a region pin (corners, Enter), each with its comment, then reject.
    page.goto(f"{base}/review/")
    page.click("#review-next-streets-peer")
    page.wait_for_url("**/reviews/*/")
    open_editor(page, mode="review")
    page.mouse.click(*client_point(page, 20.5, 10.5))
    page.wait_for_function("document.activeElement.classList.contains('pin-text')")  # its text field
    page.keyboard.type("The sky edge is too low here.")
    page.click("[data-pin-mode=region]")
    for x, y in [(5, 30), (30, 30), (30, 44)]:
        page.mouse.click(*client_point(page, x, y))  # clicks on the image give it the keys again
    page.keyboard.press("Enter")
    assert page.locator("#pin-list li").count() == 2
    page.locator("#pin-list li").nth(1).locator("input").fill("Road, not sky, in this corner.")
    assert page.locator("[data-testid=pin-layer] .pin-region").count() == 1
    page.check("input[name=decision][value=reject]")
    page.click("#decision-submit")
    page.wait_for_selector("text=Recorded: reject")

    point, region = ReviewComment.objects.order_by("id")
    assert point.text == "The sky edge is too low here."
    assert (point.x, point.y, point.segment_id) == (
        pytest.approx(20.5, abs=0.3),
        pytest.approx(10.5, abs=0.3),
        1,
    )
    assert region.region is not None
    assert [[round(v) for v in p] for p in region.region] == [[5, 30], [30, 30], [30, 44]]
    assert region.text == "Road, not sky, in this corner."

    # The pins of the decided item are drawn when it is opened again.
    page.goto(f"{base}/reviews/{point.decision.item_id}/")  # type: ignore[union-attr]
    open_editor(page, mode="review")
    page.wait_for_selector("[data-testid=pin-layer] .pin-existing.pin-region", state="attached")
    assert page.locator("[data-testid=pin-layer] .pin-existing.pin-point").count() == 1

    # Fix and accept the other item: edit a copy of the submission, submit the fix.
    page.goto(f"{base}/review/")
    page.click("#review-next-streets-peer")
    page.wait_for_url("**/reviews/*/")
    open_editor(page, mode="review")
    item_id = int(page.url.rstrip("/").split("/")[-1])
    page.click("#fix-start")
    open_editor(page, mode="fix")
    assert not page.locator("#decision-submit").is_visible()
    page.keyboard.press("1")  # road
    stroke(page, (4, 20), (60, 20))
    assert hook(page, "getLabelAt(30, 20)") == 2
    page.fill("#id_comment", "Moved the road edge up.")
    page.locator("[data-testid=stage]").focus()
    fixed_map = labels(page, W, H)
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/review/", timeout=15000)

    item = ReviewItem.objects.get(id=item_id)
    assert item.status == ReviewItem.Status.FIXED
    decision = ReviewDecision.objects.get(item=item)
    assert decision.decision == ReviewDecision.Decision.FIX_ACCEPT
    assert decision.comment == "Moved the road edge up."
    fixed = decision.fixed_revision
    assert fixed is not None
    assert (fixed.author.username, fixed.source) == ("rev", "review_fix")
    assert Task.objects.get(id=item.task_id).status == Task.Status.ACCEPTED
    body = page.request.get(f"{base}/api/revisions/{fixed.id}/").json()
    assert (stored_map(page, body["index_map"]) == fixed_map).all()
    assert errors == []
