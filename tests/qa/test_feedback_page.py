"""The author's feedback page: the reviewer's comments pinned on the image after a rejection,
and the scores against gold only where the project lets annotators see them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.utils import timezone

from projects.models import Project
from qa import reports
from qa.models import QualityReport, ReviewComment
from qa.services import review_decide
from qa.services.review import PinIn
from tests.qa.support import World, build_world, make_gold, scene

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world(db: Any, django_capture_on_commit_callbacks: Any) -> World:
    world = build_world(django_capture_on_commit_callbacks)
    first = world.items[0]
    with django_capture_on_commit_callbacks(execute=True):
        make_gold(first.task.image, world.users["lead"], scene(horizon=6))
    review_decide(
        item=first,
        reviewer=world.users["rev"],
        decision="reject",
        comment="The horizon is too low",
        pins=[
            PinIn(text="Sky here", x=5, y=7),
            PinIn(text="All of this is sky", region=((1.0, 1.0), (10.0, 1.0), (10.0, 7.0))),
        ],
    )
    return world


def page(client: Any, world: World, name: str) -> Any:
    client.force_login(world.users[name])
    return client.get(f"/tasks/{world.items[0].task_id}/feedback/")


def test_the_author_sees_the_reviewers_comments_pinned_on_the_image(client: Any, world: World) -> None:
    response = page(client, world, "ann1")

    assert response.status_code == 200
    html = response.content.decode()
    assert [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li value.*?</li>", html, re.S)] == [
        f'<li value="1"><strong>rev</strong> · {date(world)}: The horizon is too low</li>',
        f'<li value="2"><strong>rev</strong> · {date(world)}: Sky here <span class="meta">(at 5, 7)</span></li>',
        f'<li value="3"><strong>rev</strong> · {date(world)}: All of this is sky <span class="meta">(region)</span></li>',
    ]
    [svg] = [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", html, flags=re.S)]
    [image] = svg.findall(f"{SVG}image")
    assert image.get("href") == f"/api/images/{world.items[0].task.image_id}/file/"
    [point] = svg.findall(f"{SVG}circle")
    assert (point.get("cx"), point.get("cy"), point.get("data-pin")) == ("5", "7", "2")
    [region] = svg.findall(f"{SVG}polygon")
    assert (region.get("points"), region.get("data-pin")) == ("1,1 10,1 10,7", "3")


def date(world: World) -> str:
    """When the comments were written, as the page prints it."""
    comment = ReviewComment.objects.filter(revision_id=world.items[0].revision_id).first()
    assert comment is not None
    return timezone.localtime(comment.created_at).strftime("%Y-%m-%d %H:%M")


def test_gold_scores_are_hidden_from_the_author_unless_the_policy_allows(client: Any, world: World) -> None:
    report = QualityReport.objects.get(revision_id=world.items[0].revision_id, kind="gold")
    found = reports.figures([report])
    assert found is not None

    hidden = page(client, world, "ann1").content.decode()
    Project.objects.filter(id=world.project.id).update(annotator_gold_feedback=True)
    shown = page(client, world, "ann1").content.decode()

    assert "Against gold" not in hidden
    assert 'id="gold-1"' not in hidden
    table = re.search(r'<table class="tasks numbers" id="gold-1">.*?</table>', shown, re.S)
    assert table is not None
    cells = re.findall(r"<tr><td>(\w+)</td><td>([\d.–]+)</td>", table.group(0))
    assert cells == [
        ("road", f"{found['class_iou']['1']:.3f}"),
        ("sky", f"{found['class_iou']['3']:.3f}"),
        ("mean", f"{found['miou']:.3f}"),
    ]
    assert found["class_iou"]["3"] < 1.0  # the horizon moved: not a typed-in 1.0


def test_staff_see_the_feedback_with_gold_whatever_the_policy(client: Any, world: World) -> None:
    for name in ("boss", "lead"):
        response = page(client, world, name)
        assert response.status_code == 200
        assert 'id="gold-1"' in response.content.decode()


@pytest.mark.parametrize("name", ["ann2", "rev", "rev2", "cli", "outsider", "root"])
def test_nobody_else_sees_an_authors_feedback(client: Any, world: World, name: str) -> None:
    assert page(client, world, name).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client: Any, world: World) -> None:
    response = client.get(f"/tasks/{world.items[0].task_id}/feedback/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_author_reaches_the_comments_from_the_queue_and_the_editor(client: Any, world: World) -> None:
    task_id = world.items[0].task_id
    link = f'href="/tasks/{task_id}/feedback/"'
    client.force_login(world.users["ann1"])

    queue = client.get("/queue/").content.decode()
    editor = client.get(f"/tasks/{task_id}/").content.decode()

    [row] = [r for r in re.findall(r"<tr.*?</tr>", queue, re.S) if f">#{task_id}<" in r]
    assert link in row
    assert "read the reviewer's comments" in row
    [nav_link] = re.findall(r'<a id="task-feedback-link".*?</a>', editor, re.S)
    assert link in nav_link
    assert "sent back" in nav_link
    client.force_login(world.users["rev"])  # a reviewer opens the task, but the comments are the author's
    assert 'id="task-feedback-link"' not in client.get(f"/tasks/{task_id}/").content.decode()
