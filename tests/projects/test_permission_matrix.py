"""Every API endpoint × every role × own / foreign project.

Project A has one member per role; "outsider" manages and annotates project B only; "root"
is a Django superuser and "staff" a staff user with every model permission, neither with a
membership (staff are no back door through the API). Task t1 is ann1's, with one draft
revision; ann2 has no task on t1's image. The manager was granted ``projects.add_project``.

``COVERED_ROUTES`` lists the API route patterns of the foundation apps (projects, annotation,
auth) this file covers; tests/test_api_routes_covered.py requires every API route in some
matrix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authtoken.models import Token

from annotation.models import Revision
from core.roles import Role
from projects.models import Category, ExampleImage, Image, Membership, Project, Task, TaxonomyVersion
from projects.services import ImageSource, example_image_add
from qa.services import revision_save
from tests.factories import STANDARD_MEMBERS, TAXONOMY, assign, make_project
from tests.helpers import map_png, png_bytes

ROLES = ("manager", "ann1", "ann2", "rev", "lead", "cli", "outsider", "root", "staff", "anon")
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
    example_id: int


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
    users["staff"] = get_user_model().objects.create_user("staff", password="pw-for-tests-1", is_staff=True)
    users["staff"].user_permissions.set(Permission.objects.exclude(codename="add_project"))
    users["manager"].user_permissions.add(
        Permission.objects.get(content_type__app_label="projects", codename="add_project")
    )
    task = assign(project.tasks.order_by("id").first(), users["ann1"])  # type: ignore[arg-type]
    revision = revision_save(
        task=task,
        author=users["ann1"],
        png=map_png(full_map()),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=False,
    )
    example = example_image_add(
        project=project, source=ImageSource.of_bytes("kerb.png", png_bytes(np.zeros((4, 4, 3), np.uint8)))
    )
    return World(project=project, task=task, revision=revision, users=users, example_id=example.id)


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


def create_payload() -> dict[str, Any]:
    return {"slug": "fresh", "name": "Fresh", "mode": "panoptic", "categories": TAXONOMY}


NOT_AUTHENTICATED = 401
# Expected status per role, for each endpoint. 404 = not visible; 403 = visible, not allowed.
MATRIX: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("me", "get", "/api/me/", None, dict.fromkeys(ROLES[:-1], 200)),
    ("project list", "get", "/api/projects/", None, dict.fromkeys(ROLES[:-1], 200)),
    (
        "project create",
        "post",
        "/api/projects/",
        "create",
        {**dict.fromkeys(ROLES[:-1], 403), "manager": 201},
    ),
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
        },
    ),
    (
        "example image file",
        "get",
        "/api/example-images/{example}/file/",
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
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
            "staff": 404,
        },
    ),
]


def snapshot(world: World) -> dict[str, Any]:
    """What a refused call must leave as it was."""
    project = Project.objects.get(id=world.project.id)
    return {
        "projects": sorted(Project.objects.values_list("slug", "name")),
        "project": (project.name, project.description, project.phase),
        "members": sorted(Membership.objects.values_list("project__slug", "user__username", "role")),
        "taxonomies": sorted(TaxonomyVersion.objects.values_list("project__slug", "number")),
        "categories": Category.objects.count(),
        "images": sorted(Image.objects.values_list("project__slug", "file_name")),
        "examples": ExampleImage.objects.count(),
        "tasks": sorted(Task.objects.values_list("id", "status", "assignee_id")),
        "revisions": sorted(Revision.objects.values_list("id", "task_id", "number", "status")),
    }


def matrix_url(url: str, world: World) -> str:
    return url.format(
        task=world.task.id,
        revision=world.revision.id,
        image=world.task.image_id,
        taxonomy=world.task.taxonomy_id,
        example=world.example_id,
    )


PAYLOADS = {"save": save_payload, "upload": upload_payload, "create": create_payload}
MULTIPART = {"save", "upload"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "data", "expected"), MATRIX, ids=[row[0] for row in MATRIX]
)
def test_permission_matrix(
    api: Any, world: World, role: str, name: str, method: str, url: str, data: Any, expected: dict[str, int]
) -> None:
    payload: Any = PAYLOADS[data]() if isinstance(data, str) else data
    fmt = (
        "multipart" if isinstance(data, str) and data in MULTIPART else ("json" if data is not None else None)
    )
    before = snapshot(world)

    status = call(api, world, role, method, matrix_url(url, world), payload, fmt)

    assert status == expected.get(role, NOT_AUTHENTICATED), f"{name} as {role}: {status}"
    if status >= 400 or method == "get":
        assert snapshot(world) == before, f"{name} as {role} changed something"


# The token route is open to anyone by design (it is how scripts sign in); its own tests are
# below and in tests/test_platform.py (throttling).
TOKEN_ROUTE = "api/auth/token/"
COVERED_ROUTES: set[str] = {
    "api/me/",
    "api/projects/",
    "api/projects/<slug:slug>/",
    "api/projects/<slug:slug>/members/",
    "api/projects/<slug:slug>/taxonomy/",
    "api/projects/<slug:slug>/example-images/",
    "api/projects/<slug:slug>/images/",
    "api/taxonomies/<int:taxonomy_id>/",
    "api/example-images/<int:example_id>/file/",
    "api/images/<int:image_id>/file/",
    "api/tasks/",
    "api/tasks/<int:task_id>/",
    "api/tasks/<int:task_id>/annotation/",
    "api/revisions/<int:revision_id>/",
    "api/revisions/<int:revision_id>/index-map/",
    # served by qa (save, submit, next task) and also in tests/qa/test_permission_matrix.py;
    # here for the foundation's own rules (annotators' blindness, staff no back door)
    "api/projects/<slug:slug>/tasks/next/",
    "api/tasks/<int:task_id>/revisions/",
    "api/tasks/<int:task_id>/submit/",
    TOKEN_ROUTE,
}


def _foundation_routes() -> set[str]:
    """API routes whose views live in the foundation apps (projects, annotation, core) or are
    the token sign-in."""

    def walk(patterns: Any, prefix: str) -> Any:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", p.callback)
                if view.__module__.split(".")[0] in {"projects", "annotation", "core", "rest_framework"}:
                    yield prefix + str(p.pattern)

    return {route for route in walk(get_resolver().url_patterns, "") if route.startswith("api/")}


def test_covered_routes_are_the_matrix_and_every_foundation_route(world: World) -> None:
    in_matrix = {resolve(matrix_url(url, world)).route for _, _, url, _, _ in MATRIX}

    assert in_matrix | {TOKEN_ROUTE} == COVERED_ROUTES
    assert _foundation_routes() <= COVERED_ROUTES


@pytest.mark.parametrize("role", ROLES)
def test_token_route_gives_a_token_only_for_right_credentials(api: Any, world: World, role: str) -> None:
    user = get_user_model().objects.create_user("scripted", password="right-pass-1")
    client = api(None if role == "anon" else world.users[role])

    wrong = client.post("/api/auth/token/", {"username": "scripted", "password": "nope"})
    right = client.post("/api/auth/token/", {"username": "scripted", "password": "right-pass-1"})

    assert wrong.status_code == 400
    assert "token" not in wrong.json()
    assert right.status_code == 200
    assert right.json() == {"token": Token.objects.get(user=user).key}


def test_superuser_and_staff_see_no_project_through_the_api(api: Any, world: World) -> None:
    for name in ("root", "staff"):
        client = api(world.users[name])

        assert client.get("/api/projects/").json() == []
        assert client.get("/api/me/").json()["projects"] == []
        assert client.get("/api/tasks/").json() == []


def test_project_creation_needs_the_granted_permission_not_superuser_status(api: Any, world: World) -> None:
    refused = api(world.users["root"]).post("/api/projects/", create_payload(), format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Creating projects needs the 'projects.add_project' permission, granted to you "
        "or one of your groups (superuser status alone does not count)."
    )
    assert not Project.objects.filter(slug="fresh").exists()

    creators = Group.objects.create(name="project creators")
    creators.permissions.add(
        Permission.objects.get(content_type__app_label="projects", codename="add_project")
    )
    world.users["root"].groups.add(creators)
    created = api(world.users["root"]).post("/api/projects/", create_payload(), format="json")

    assert created.status_code == 201
    assert created.json()["roles"] == ["manager"]
    assert list(Membership.objects.filter(project__slug="fresh").values_list("user__username", "role")) == [
        ("root", "manager")
    ]


def test_an_inactive_user_with_the_grant_cannot_create(world: World) -> None:
    from projects.selectors import user_may_create_projects

    manager = world.users["manager"]
    assert user_may_create_projects(user=manager)
    manager.is_active = False

    assert not user_may_create_projects(user=manager)


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
