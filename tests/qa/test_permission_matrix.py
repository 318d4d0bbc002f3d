"""Every QA API endpoint and page × every role, in the own and a foreign project.

Project "p": ann1's submission (item A) waits unclaimed in the peer queue; ann2's (item B) was
rejected by rev2; ann1 also holds a draft on a fresh image; a "calib" batch is untouched.
"outsider" holds every role in project "other" only, "root" is a superuser without
membership (staff flags grant nothing), "anon" is signed out. 404 = not visible, 403 =
visible but not allowed, 401 = not signed in. A refused request changes nothing.

``COVERED_ROUTES`` lists the API route patterns this matrix covers (checked against the URL
resolver below); tests/test_api_routes_covered.py requires every API route in some matrix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve

from projects.services import images_add
from qa.models import ReviewItem
from qa.services import review_decide
from tests.helpers import map_png, png_bytes
from tests.qa.support import SEGMENTS, H, W, World, build_world, review_snapshot, save, scene

ROLES = ("boss", "ann1", "ann2", "rev", "rev2", "lead", "cli", "outsider", "root", "anon")

COVERED_ROUTES: set[str] = {
    "api/projects/<slug:slug>/tasks/next/",
    "api/tasks/<int:task_id>/revisions/",
    "api/tasks/<int:task_id>/submit/",
    "api/revisions/<int:revision_id>/quality/",
    "api/revisions/<int:revision_id>/comments/",
    "api/projects/<slug:slug>/reviews/",
    "api/projects/<slug:slug>/reviews/next/",
    "api/reviews/<int:item_id>/",
    "api/reviews/<int:item_id>/decision/",
    "api/reviews/<int:item_id>/fix/",
    "api/reviews/<int:item_id>/overturn/",
    "api/projects/<slug:slug>/calibration/",
    "api/projects/<slug:slug>/members/<str:username>/release/",
    "api/projects/<slug:slug>/qa-policy/",
    "api/projects/<slug:slug>/batches/",
    "api/projects/<slug:slug>/batches/<str:batch_name>/report/",
    "api/projects/<slug:slug>/batches/<str:batch_name>/decision/",
    "api/projects/<slug:slug>/audit/",
}


@dataclass
class Matrix:
    world: World
    item_a: ReviewItem
    item_b: ReviewItem
    draft_task_id: int


@pytest.fixture
def matrix(db: Any, django_capture_on_commit_callbacks: Any) -> Matrix:
    world = build_world(django_capture_on_commit_callbacks)
    item_a, item_b = world.items
    review_decide(item=item_b, reviewer=world.users["rev2"], decision="reject", comment="sky too low")
    blank = png_bytes(np.zeros((H, W, 3), np.uint8))
    images_add(project=world.project, files=[("fresh.png", blank)], batch_name="fresh")
    images_add(project=world.project, files=[("calib.png", blank)], batch_name="calib")
    draft_task = world.project.tasks.get(image__file_name="fresh.png")
    draft_task.assignee = world.users["ann1"]
    draft_task.save(update_fields=["assignee"])
    save(draft_task, world.users["ann1"], scene(), submit=False)
    return Matrix(world=world, item_a=item_a, item_b=item_b, draft_task_id=draft_task.id)


def only(
    allowed: dict[str, int], *, visible_denied: tuple[str, ...] = (), denied: int = 403
) -> dict[str, int]:
    """Status per role: ``allowed`` as given, ``visible_denied`` get ``denied``, everyone else
    404 (anon 401)."""
    expected = dict.fromkeys(ROLES, 404)
    expected["anon"] = 401
    expected.update(dict.fromkeys(visible_denied, denied))
    expected.update(allowed)
    return expected


TEAM_BUT_STAFF = ("rev", "rev2", "ann1", "ann2", "cli")
STAFF_PAGES = only({"boss": 200, "lead": 200})
STAFF_API = only({"boss": 200, "lead": 200}, visible_denied=TEAM_BUT_STAFF)


def fix_body() -> dict[str, Any]:
    return {
        "index_map": SimpleUploadedFile("fix.png", map_png(scene(horizon=7)), content_type="image/png"),
        "segments": json.dumps(SEGMENTS),
    }


def save_body() -> dict[str, Any]:
    return {
        "index_map": SimpleUploadedFile("map.png", map_png(scene(horizon=9)), content_type="image/png"),
        "segments": json.dumps(SEGMENTS),
        "parent": "1",
    }


# name, method, url, body (a callable for multipart), expected status per role, roles that write
API: list[tuple[str, str, str, Any, dict[str, int], set[str]]] = [
    (
        "task next",
        "post",
        "/api/projects/p/tasks/next/",
        None,
        only({"ann1": 200, "ann2": 200, "lead": 204}, visible_denied=("boss", "rev", "rev2", "cli")),
        {"ann1", "ann2", "lead"},
    ),
    (
        "revisions list",
        "get",
        "/api/tasks/{draft}/revisions/",
        None,
        only({"ann1": 200, "boss": 200, "lead": 200}),
        set(),
    ),
    (
        "revision save",
        "post",
        "/api/tasks/{draft}/revisions/",
        save_body,
        only({"ann1": 201}, visible_denied=("boss", "lead")),
        {"ann1"},
    ),
    (
        "task submit",
        "post",
        "/api/tasks/{draft}/submit/",
        {"revision": 1},
        only({"ann1": 200}, visible_denied=("boss", "lead")),
        {"ann1"},
    ),
    (
        "revision quality",
        "get",
        "/api/revisions/{a_rev}/quality/",
        None,
        only({"boss": 200, "lead": 200, "rev": 200, "rev2": 200, "ann1": 200}),
        set(),
    ),
    (
        "revision comments",
        "get",
        "/api/revisions/{a_rev}/comments/",
        None,
        only({"boss": 200, "lead": 200, "rev": 200, "rev2": 200, "ann1": 200}),
        set(),
    ),
    (
        "review list",
        "get",
        "/api/projects/p/reviews/",
        None,
        only(dict.fromkeys(("boss", "lead", "rev", "rev2", "ann1", "ann2", "cli"), 200)),
        set(),
    ),
    (
        "review next",
        "post",
        "/api/projects/p/reviews/next/",
        None,
        only({"rev": 200, "rev2": 200, "lead": 200}, visible_denied=("boss", "ann1", "ann2", "cli")),
        {"rev", "rev2", "lead"},
    ),
    (
        "review detail",
        "get",
        "/api/reviews/{a}/",
        None,
        only({"boss": 200, "lead": 200, "rev": 200, "rev2": 200}),
        set(),
    ),
    (
        "review decision",
        "post",
        "/api/reviews/{a}/decision/",
        {"decision": "accept"},
        only({"rev": 200, "rev2": 200, "lead": 200}, visible_denied=("boss",)),
        {"rev", "rev2", "lead"},
    ),
    (
        "review fix",
        "post",
        "/api/reviews/{a}/fix/",
        fix_body,
        only({"rev": 200, "rev2": 200, "lead": 200}, visible_denied=("boss",)),
        {"rev", "rev2", "lead"},
    ),
    (
        "review overturn",
        "post",
        "/api/reviews/{b}/overturn/",
        {"decision": "accept", "comment": "within the kerb rule"},
        only({"lead": 200}, visible_denied=("boss", "rev2")),
        {"lead"},
    ),
    ("calibration report", "get", "/api/projects/p/calibration/", None, STAFF_API, set()),
    (
        "calibration start",
        "post",
        "/api/projects/p/calibration/",
        {"batch": "calib"},
        STAFF_API,
        {"boss", "lead"},
    ),
    (
        "annotator release",
        "post",
        "/api/projects/p/members/ann2/release/",
        {"released": True},
        only({"boss": 200}, visible_denied=("lead", *TEAM_BUT_STAFF)),
        {"boss"},
    ),
    ("policy", "get", "/api/projects/p/qa-policy/", None, STAFF_API, set()),
    (
        "policy change",
        "patch",
        "/api/projects/p/qa-policy/",
        {"senior_qa_share": 0.5},
        only({"boss": 200}, visible_denied=("lead", *TEAM_BUT_STAFF)),
        {"boss"},
    ),
    ("batches", "get", "/api/projects/p/batches/", None, STAFF_API, set()),
    ("batch report", "get", "/api/projects/p/batches/b1/report/", None, STAFF_API, set()),
    ("batch report csv", "get", "/api/projects/p/batches/b1/report/?format=csv", None, STAFF_API, set()),
    (
        "batch decision",
        "post",
        "/api/projects/p/batches/b1/decision/",
        {"accept": False, "reason": "kerbs labelled as road"},
        only({"lead": 200}, visible_denied=("boss", *TEAM_BUT_STAFF)),
        {"lead"},
    ),
    ("audit", "get", "/api/projects/p/audit/", None, STAFF_API, set()),
]


def resolve_url(url: str, matrix: Matrix) -> str:
    return url.format(
        a=matrix.item_a.id,
        b=matrix.item_b.id,
        b_task=matrix.item_b.task_id,
        a_rev=matrix.item_a.revision_id,
        draft=matrix.draft_task_id,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "expected", "writers"), API, ids=[row[0] for row in API]
)
def test_api_matrix(
    api: Any,
    matrix: Matrix,
    role: str,
    name: str,
    method: str,
    url: str,
    body: Any,
    expected: dict[str, int],
    writers: set[str],
) -> None:
    world = matrix.world
    before = review_snapshot(world.project)
    payload = body() if callable(body) else body
    fmt = "multipart" if callable(body) else ("json" if body is not None else None)

    response = getattr(world.client(api, role), method)(resolve_url(url, matrix), data=payload, format=fmt)

    assert response.status_code == expected[role], (
        f"{name} as {role}: {response.status_code} {response.content[:300]!r}"
    )
    if role not in writers or response.status_code >= 400:
        assert review_snapshot(world.project) == before, f"{name} as {role} changed something"


def test_covered_routes_are_the_routes_of_the_matrix(matrix: Matrix) -> None:
    routes = {resolve(resolve_url(url, matrix).split("?")[0]).route for _, _, url, *_ in API}
    assert routes == COVERED_ROUTES
    from qa import urls

    assert {f"api/{p.pattern}" for p in urls.urlpatterns} == COVERED_ROUTES  # every QA route


# name, method, url, form data, expected status per role, roles that write
PAGES: list[tuple[str, str, str, Any, dict[str, int], set[str]]] = [
    ("review queues", "get", "/review/", None, {**dict.fromkeys(ROLES, 200), "anon": 302}, set()),
    (
        "review next",
        "post",
        "/review/p/next/",
        {"stage": "peer"},
        {**only({"rev": 302, "rev2": 302, "lead": 302}), "anon": 302},
        {"rev", "rev2", "lead"},
    ),
    (
        "review senior next",
        "post",
        "/review/p/next/",
        {"stage": "senior"},
        {**only({"lead": 302}), "anon": 302},
        {"lead"},
    ),
    (
        "review item",
        "get",
        "/reviews/{a}/",
        None,
        {**only({"boss": 200, "lead": 200, "rev": 200, "rev2": 200}), "anon": 302},
        {"rev", "rev2"},  # opening claims it
    ),
    (
        "review item decision",
        "post",
        "/reviews/{a}/",
        {"decision": "accept"},
        {**only({"lead": 302, "rev": 302, "rev2": 302, "boss": 200}), "anon": 302},
        {"lead", "rev", "rev2"},  # the manager sees the page again with the refusal
    ),
    (
        "task feedback",
        "get",
        "/tasks/{b_task}/feedback/",
        None,
        {**only({"ann2": 200, "boss": 200, "lead": 200}), "anon": 302},
        set(),
    ),
    ("qa dashboard", "get", "/qa/p/", None, {**STAFF_PAGES, "anon": 302}, set()),
    ("calibration page", "get", "/qa/p/calibration/", None, {**STAFF_PAGES, "anon": 302}, set()),
    (
        "calibration start page",
        "post",
        "/qa/p/calibration/",
        {"start": "1", "batch": "calib"},
        {**only({"boss": 302, "lead": 302}), "anon": 302},
        {"boss", "lead"},
    ),
    (
        "calibration release page",
        "post",
        "/qa/p/calibration/",
        {"release": "1", "username": "ann2"},
        {**only({"boss": 302, "lead": 302}), "anon": 302},
        {"boss"},  # the QA lead is told it needs the manager
    ),
    ("batch page", "get", "/qa/p/batches/b1/", None, {**STAFF_PAGES, "anon": 302}, set()),
    ("batch page json", "get", "/qa/p/batches/b1/?format=json", None, {**STAFF_PAGES, "anon": 302}, set()),
    (
        "batch decision page",
        "post",
        "/qa/p/batches/b1/",
        {"decision": "reject", "reason": "kerbs"},
        {**only({"boss": 302, "lead": 302}), "anon": 302},
        {"lead"},  # the manager is told it needs the QA lead
    ),
    ("policy page", "get", "/qa/p/policy/", None, {**STAFF_PAGES, "anon": 302}, set()),
    (
        "policy page save",
        "post",
        "/qa/p/policy/",
        {"senior_qa_share": "0.5"},
        {**only({"boss": 200, "lead": 404}), "anon": 302},
        {"boss"},
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "data", "expected", "writers"), PAGES, ids=[row[0] for row in PAGES]
)
def test_page_matrix(
    client: Any,
    matrix: Matrix,
    role: str,
    name: str,
    method: str,
    url: str,
    data: Any,
    expected: dict[str, int],
    writers: set[str],
) -> None:
    world = matrix.world
    if role != "anon":
        client.force_login(world.users[role])
    before = review_snapshot(world.project)

    response = getattr(client, method)(resolve_url(url, matrix), data=data or {})

    assert response.status_code == expected[role], f"{name} as {role}: {response.status_code}"
    if role == "anon" and response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
    if role not in writers:
        assert review_snapshot(world.project) == before, f"{name} as {role} changed something"


def test_senior_qa_overturns_a_peer_acceptance_into_a_rejection(api: Any, matrix: Matrix) -> None:
    world = matrix.world
    from projects.models import Project, Task

    Project.objects.filter(id=world.project.id).update(senior_qa_share=1.0)
    review_decide(item=matrix.item_a, reviewer=world.users["rev"], decision="accept")
    senior = ReviewItem.objects.get(stage="senior", revision=matrix.item_a.revision)

    response = world.client(api, "lead").post(
        f"/api/reviews/{senior.id}/decision/",
        {"decision": "reject", "comment": "person cut at the knee"},
        format="json",
    )

    assert response.status_code == 200
    task = Task.objects.get(id=matrix.item_a.task_id)
    assert task.status == Task.Status.REJECTED
    decision = senior.decisions.get()
    assert decision.overturns is not None
    assert decision.overturns.item_id == matrix.item_a.id
    trail = world.client(api, "lead").get("/api/projects/p/audit/").json()
    entry = next(e for e in trail if e["action"] == "senior_reject_overturn")
    assert (entry["actor"], entry["reason"], entry["details"]["overturns"]) == (
        "lead",
        "person cut at the knee",
        decision.overturns_id,
    )
    comments = world.client(api, "ann1").get(f"/api/revisions/{matrix.item_a.revision_id}/comments/").json()
    assert [(c["text"], c["x"], c["decision"]) for c in comments] == [
        ("person cut at the knee", None, "reject")
    ]
    assert world.client(api, "ann1").get(f"/api/tasks/{task.id}/").status_code == 200
