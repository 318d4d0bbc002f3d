"""Every API endpoint × every role × own / foreign project.

Project A has one member per role; "outsider" manages and annotates project B only, and
"root" is a Django superuser with no membership (staff are no back door through the API).
Task t1 is ann1's, with one draft revision; ann2 has no task on t1's image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from annotation.models import Revision
from core.roles import Role
from projects.models import Project, Task
from qa.services import revision_save
from tests.factories import STANDARD_MEMBERS, TAXONOMY, assign, make_project
from tests.helpers import map_png, png_bytes

ROLES = ("manager", "ann1", "ann2", "rev", "lead", "cli", "outsider", "root", "anon")
H, W = 16, 24


def full_map() -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    return index_map


SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]


@dataclass
class World:
    project: Project
    task: Task
    revision: Revision
    users: dict[str, Any]


@pytest.fixture
def world(db: Any) -> World:
    project = make_project(slug="a", members=STANDARD_MEMBERS, images=2, size=(W, H))
    Project.objects.filter(id=project.id).update(gold_share=0.0)  # no gold task for the QA lead to pull
    other = make_project(
        slug="b", members={"outsider": [Role.MANAGER, Role.ANNOTATOR]}, images=1, size=(W, H)
    )
    assert other.slug == "b"
    users = {name: get_user_model().objects.get(username=name) for name in (*STANDARD_MEMBERS, "outsider")}
    users["root"] = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    task = assign(project.tasks.order_by("id").first(), users["ann1"])  # type: ignore[arg-type]
    revision = revision_save(
        task=task,
        author=users["ann1"],
        png=map_png(full_map()),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=False,
    )
    return World(project=project, task=task, revision=revision, users=users)


def call(
    api: Any, world: World, role: str, method: str, url: str, data: Any = None, fmt: str | None = None
) -> int:
    client = api(None if role == "anon" else world.users[role])
    response = getattr(client, method)(url, data=data, format=fmt)
    return int(response.status_code)


def save_payload() -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "index_map": SimpleUploadedFile("map.png", map_png(full_map()), content_type="image/png"),
        "segments": json.dumps(SEGMENTS),
        "parent": "1",
    }


def upload_payload() -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "file": SimpleUploadedFile(
            "new.png", png_bytes(np.zeros((4, 4, 3), np.uint8)), content_type="image/png"
        )
    }


NOT_AUTHENTICATED = 401
# Expected status per role, for each endpoint. 404 = not visible; 403 = visible, not allowed.
MATRIX: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("me", "get", "/api/me/", None, dict.fromkeys(ROLES[:-1], 200)),
    ("project list", "get", "/api/projects/", None, dict.fromkeys(ROLES[:-1], 200)),
    (
        "project detail",
        "get",
        "/api/projects/a/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 200,
            "rev": 200,
            "lead": 200,
            "cli": 200,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "project edit",
        "patch",
        "/api/projects/a/",
        {"name": "A2"},
        {
            "manager": 200,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 403,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "members list",
        "get",
        "/api/projects/a/members/",
        None,
        {
            "manager": 200,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 200,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "member add",
        "post",
        "/api/projects/a/members/",
        {"username": "outsider", "role": "reviewer"},
        {
            "manager": 201,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 403,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "taxonomy read",
        "get",
        "/api/projects/a/taxonomy/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 200,
            "rev": 200,
            "lead": 200,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "taxonomy replace",
        "put",
        "/api/projects/a/taxonomy/",
        {"categories": TAXONOMY},
        {
            "manager": 200,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 403,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "taxonomy version",
        "get",
        "/api/taxonomies/{taxonomy}/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 200,
            "rev": 200,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "example image upload",
        "post",
        "/api/projects/a/example-images/",
        "upload",
        {
            "manager": 201,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 403,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "image list",
        "get",
        "/api/projects/a/images/",
        None,
        {
            "manager": 200,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 200,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "image upload",
        "post",
        "/api/projects/a/images/",
        "upload",
        {
            "manager": 201,
            "ann1": 403,
            "ann2": 403,
            "rev": 403,
            "lead": 403,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "image file",
        "get",
        "/api/images/{image}/file/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "next task",
        "post",
        "/api/projects/a/tasks/next/",
        None,
        {
            "manager": 403,
            "ann1": 200,
            "ann2": 200,
            "rev": 403,
            "lead": 204,
            "cli": 403,
            "outsider": 404,
            "root": 404,
        },
    ),
    ("task list", "get", "/api/tasks/", None, dict.fromkeys(ROLES[:-1], 200)),
    (
        "task detail",
        "get",
        "/api/tasks/{task}/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "annotation contract",
        "get",
        "/api/tasks/{task}/annotation/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "revision list",
        "get",
        "/api/tasks/{task}/revisions/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "revision save",
        "post",
        "/api/tasks/{task}/revisions/",
        "save",
        {
            "manager": 403,
            "ann1": 201,
            "ann2": 404,
            "rev": 404,
            "lead": 403,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "submit",
        "post",
        "/api/tasks/{task}/submit/",
        {"revision": 1},
        {
            "manager": 403,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 403,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "revision detail",
        "get",
        "/api/revisions/{revision}/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
    (
        "revision map",
        "get",
        "/api/revisions/{revision}/index-map/",
        None,
        {
            "manager": 200,
            "ann1": 200,
            "ann2": 404,
            "rev": 404,
            "lead": 200,
            "cli": 404,
            "outsider": 404,
            "root": 404,
        },
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "data", "expected"), MATRIX, ids=[row[0] for row in MATRIX]
)
def test_permission_matrix(
    api: Any, world: World, role: str, name: str, method: str, url: str, data: Any, expected: dict[str, int]
) -> None:
    url = url.format(
        task=world.task.id,
        revision=world.revision.id,
        image=world.task.image_id,
        taxonomy=world.task.taxonomy_id,
    )
    payload: Any = (
        {"save": save_payload, "upload": upload_payload}.get(data, lambda: data)()
        if isinstance(data, str)
        else data
    )
    fmt = "multipart" if isinstance(data, str) else ("json" if data is not None else None)
    status = call(api, world, role, method, url, payload, fmt)
    assert status == expected.get(role, NOT_AUTHENTICATED), f"{name} as {role}: {status}"


def test_annotators_list_only_their_own_tasks(api: Any, world: World) -> None:
    other_task = world.project.tasks.exclude(id=world.task.id).get()
    assign(other_task, world.users["ann2"])

    ann1_ids = [t["id"] for t in api(world.users["ann1"]).get("/api/tasks/").json()]
    ann2_ids = [t["id"] for t in api(world.users["ann2"]).get("/api/tasks/").json()]
    lead_ids = [t["id"] for t in api(world.users["lead"]).get("/api/tasks/").json()]

    assert ann1_ids == [world.task.id]
    assert ann2_ids == [other_task.id]
    assert sorted(lead_ids) == sorted([world.task.id, other_task.id])


def test_clients_and_outsiders_list_no_tasks(api: Any, world: World) -> None:
    assert api(world.users["cli"]).get("/api/tasks/").json() == []
    assert [t["project"] for t in api(world.users["outsider"]).get("/api/tasks/").json()] == ["b"]


def test_reviewer_sees_submitted_work_once_it_is_in_their_queue(api: Any, world: World) -> None:
    client = api(world.users["rev"])
    assert client.get(f"/api/tasks/{world.task.id}/annotation/").status_code == 404

    Task.objects.filter(id=world.task.id).update(
        review_stage=Task.ReviewStage.PEER, status=Task.Status.IN_REVIEW
    )
    Revision.objects.filter(id=world.revision.id).update(status=Revision.Status.SUBMITTED)

    response = client.get(f"/api/tasks/{world.task.id}/annotation/")
    assert response.status_code == 200
    assert response.json()["revision_id"] == world.revision.id


def test_reviewer_never_sees_drafts(api: Any, world: World) -> None:
    Task.objects.filter(id=world.task.id).update(review_stage=Task.ReviewStage.PEER)

    response = api(world.users["rev"]).get(f"/api/tasks/{world.task.id}/annotation/")

    assert response.status_code == 404


def test_reviewer_does_not_review_an_image_they_annotated(api: Any, world: World) -> None:
    membership_user = world.users["rev"]
    from projects.services import membership_add

    membership_add(project=world.project, user=membership_user, role=Role.ANNOTATOR)
    second = Task.objects.create(
        project=world.project, image=world.task.image, taxonomy=world.task.taxonomy, assignee=membership_user
    )
    assert second.id
    Task.objects.filter(id=world.task.id).update(review_stage=Task.ReviewStage.PEER)
    Revision.objects.filter(id=world.revision.id).update(status=Revision.Status.SUBMITTED)

    response = api(membership_user).get(f"/api/tasks/{world.task.id}/annotation/")

    assert response.status_code == 404


def test_task_list_query_count_does_not_grow_with_tasks(
    api: Any, world: World, django_assert_max_num_queries: Any
) -> None:
    lead = api(world.users["lead"])
    with django_assert_max_num_queries(6):
        small = lead.get("/api/tasks/?project=a")
    from projects.services import images_add

    images_add(
        project=world.project,
        files=[(f"more{i}.png", png_bytes(np.zeros((H, W, 3), np.uint8))) for i in range(10)],
        batch_name="b2",
    )
    with django_assert_max_num_queries(6):
        large = lead.get("/api/tasks/?project=a")

    assert len(small.json()) == 2
    assert len(large.json()) == 12
