"""Every deliveries endpoint and page × every role, own project and another one.

Project A: one member per role. "outsider" manages and annotates project B; "cli_b" is project
B's client and must never see A's releases. A has a ready release, a failed one and an import
run. 404 = not visible; 403 = visible, not allowed; 401 = not signed in (API).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from annotation.models import Revision
from core.roles import Role
from deliveries.models import ImportRun, Release, ReleaseDecision
from deliveries.services import import_run_execute, release_build, release_create, release_fail
from tests.deliveries.support import accept_work, coco_document, project_with_members, scene, user, write_json
from tests.factories import make_project

ROLES = ("manager", "ann1", "rev", "lead", "cli", "outsider", "cli_b", "anon")

# The URL route patterns (``str(p.pattern)`` of each resolver level, joined) this matrix covers;
# tests/test_api_routes_covered.py fails on an API route that no matrix lists, and
# test_covered_routes_are_the_matrix_and_every_deliveries_route below keeps this set honest.
COVERED_ROUTES: set[str] = {
    "api/projects/<slug:slug>/imports/",
    "api/imports/<int:run_id>/",
    "api/projects/<slug:slug>/releases/",
    "api/releases/<int:release_id>/",
    "api/releases/<int:release_id>/progress/",
    "api/releases/<int:release_id>/retry/",
    "api/releases/<int:release_id>/decision/",
    "api/releases/<int:release_id>/archive/",
    "api/releases/<int:release_id>/qa-report.json",
    "api/releases/<int:release_id>/qa-report.html",
    "deliveries/",
    "projects/<slug:slug>/releases/",
    "releases/<int:release_id>/",
    "projects/<slug:slug>/imports/",
    "imports/<int:run_id>/",
}


@dataclass
class World:
    ready: Release
    failed: Release
    run: ImportRun
    coco: bytes


@pytest.fixture
def world(db: Any, tmp_path: Path) -> World:
    project = project_with_members(slug="a", images=1)
    make_project(
        slug="b", members={"outsider": [Role.MANAGER, Role.ANNOTATOR], "cli_b": [Role.CLIENT]}, images=1
    )
    accept_work(project, 0, scene())
    ready = release_build(
        release_id=release_create(project=project, by=user("manager"), formats=["png"], enqueue=False).id
    )
    failed = release_create(project=project, by=user("manager"), formats=["png"], enqueue=False)
    release_fail(release_id=failed.id, error="test")
    path = write_json(tmp_path / "instances.json", coco_document([("img0.png", scene())]))
    run = import_run_execute(project=project, by=user("manager"), fmt="coco", mode="gold", source=path)
    return World(ready=ready, failed=failed, run=run, coco=path.read_bytes())


def counts() -> tuple[int, ...]:
    return (
        Release.objects.count(),
        ImportRun.objects.count(),
        ReleaseDecision.objects.count(),
        Revision.objects.count(),
        Release.objects.filter(status="pending").count(),
    )


def import_form(world: World, mode: str) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("instances.json", world.coco), "format": "coco", "mode": mode}


# (name, method, url, payload, expected status per role); payloads are built per call.
API: list[tuple[str, str, str, Any, dict[str, int]]] = [
    (
        "release list",
        "get",
        "/api/projects/a/releases/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 200,
            "ann1": 403,
            "rev": 403,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "release create",
        "post",
        "/api/projects/a/releases/",
        lambda w: {"formats": ["png"]},
        {
            "manager": 202,
            "lead": 403,
            "cli": 403,
            "ann1": 403,
            "rev": 403,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "ready release",
        "get",
        "/api/releases/{ready}/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 200,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "failed release",
        "get",
        "/api/releases/{failed}/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 404,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "progress",
        "get",
        "/api/releases/{failed}/progress/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 404,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "retry",
        "post",
        "/api/releases/{failed}/retry/",
        None,
        {
            "manager": 202,
            "lead": 403,
            "cli": 404,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "decision",
        "post",
        "/api/releases/{ready}/decision/",
        lambda w: {"decision": "accept", "comment": "fine"},
        {
            "manager": 403,
            "lead": 403,
            "cli": 201,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "archive",
        "get",
        "/api/releases/{ready}/archive/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 200,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "qa report json",
        "get",
        "/api/releases/{ready}/qa-report.json",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 200,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "qa report html",
        "get",
        "/api/releases/{ready}/qa-report.html",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 200,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "archive of a failed release",
        "get",
        "/api/releases/{failed}/archive/",
        None,
        {
            "manager": 404,
            "lead": 404,
            "cli": 404,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "import list",
        "get",
        "/api/projects/a/imports/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 403,
            "ann1": 403,
            "rev": 403,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "import gold",
        "post",
        "/api/projects/a/imports/",
        lambda w: import_form(w, "gold"),
        {
            "manager": 201,
            "lead": 201,
            "cli": 403,
            "ann1": 403,
            "rev": 403,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "import accepted",
        "post",
        "/api/projects/a/imports/",
        lambda w: import_form(w, "accepted"),
        {
            "manager": 201,
            "lead": 403,
            "cli": 403,
            "ann1": 403,
            "rev": 403,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
    (
        "import run",
        "get",
        "/api/imports/{run}/",
        None,
        {
            "manager": 200,
            "lead": 200,
            "cli": 404,
            "ann1": 404,
            "rev": 404,
            "outsider": 404,
            "cli_b": 404,
            "anon": 401,
        },
    ),
]


def url_of(template: str, world: World) -> str:
    return template.format(ready=world.ready.id, failed=world.failed.id, run=world.run.id)


@pytest.mark.parametrize(("name", "method", "url", "payload", "expected"), API, ids=[row[0] for row in API])
@pytest.mark.parametrize("role", ROLES)
def test_api_access(
    world: World,
    api: Any,
    role: str,
    name: str,
    method: str,
    url: str,
    payload: Any,
    expected: dict[str, int],
) -> None:
    before = counts()
    client = api(None if role == "anon" else user(role))

    data = payload(world) if payload else None
    response = getattr(client, method)(
        url_of(url, world), data=data, format="multipart" if name.startswith("import ") else "json"
    )

    assert response.status_code == expected[role], getattr(response, "data", None)
    if response.status_code >= 400:
        assert counts() == before  # a refused call writes nothing
        assert "detail" in json.loads(response.content)


PAGES: list[tuple[str, str, dict[str, int]]] = [
    (
        "portal",
        "/deliveries/",
        {"manager": 200, "lead": 200, "cli": 200, "ann1": 200, "rev": 200, "outsider": 200, "cli_b": 200},
    ),
    (
        "releases",
        "/projects/a/releases/",
        {"manager": 200, "lead": 200, "cli": 200, "ann1": 404, "rev": 404, "outsider": 404, "cli_b": 404},
    ),
    (
        "ready release",
        "/releases/{ready}/",
        {"manager": 200, "lead": 200, "cli": 200, "ann1": 404, "rev": 404, "outsider": 404, "cli_b": 404},
    ),
    (
        "failed release",
        "/releases/{failed}/",
        {"manager": 200, "lead": 200, "cli": 404, "ann1": 404, "rev": 404, "outsider": 404, "cli_b": 404},
    ),
    (
        "imports",
        "/projects/a/imports/",
        {"manager": 200, "lead": 200, "cli": 404, "ann1": 404, "rev": 404, "outsider": 404, "cli_b": 404},
    ),
    (
        "import run",
        "/imports/{run}/",
        {"manager": 200, "lead": 200, "cli": 404, "ann1": 404, "rev": 404, "outsider": 404, "cli_b": 404},
    ),
]


@pytest.mark.parametrize(("name", "url", "expected"), PAGES, ids=[row[0] for row in PAGES])
@pytest.mark.parametrize("role", ROLES)
def test_page_access(world: World, role: str, name: str, url: str, expected: dict[str, int]) -> None:
    client = Client()
    if role != "anon":
        client.force_login(user(role))

    response = client.get(url_of(url, world))

    if role == "anon":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected[role]


def test_a_client_of_another_project_sees_none_of_its_releases(world: World, api: Any) -> None:
    client = Client()
    client.force_login(user("cli_b"))

    assert api(user("cli_b")).get("/api/projects/b/releases/").json() == []
    portal = client.get("/deliveries/").content.decode()
    assert "Release 1" not in portal
    assert "/api/releases/" not in portal
    assert api(user("cli")).get("/api/projects/a/releases/").json()[0]["number"] == 1


def test_staff_status_grants_nothing(world: World, api: Any) -> None:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")

    assert api(root).get("/api/projects/a/releases/").status_code == 404
    assert api(root).get(f"/api/releases/{world.ready.id}/archive/").status_code == 404
    assert api(root).get("/api/projects/a/imports/").status_code == 404


def _deliveries_routes() -> set[str]:
    def walk(patterns: Any, prefix: str) -> Any:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", p.callback)
                if view.__module__.startswith("deliveries."):
                    yield prefix + str(p.pattern)

    return set(walk(get_resolver().url_patterns, ""))


def test_covered_routes_are_the_matrix_and_every_deliveries_route() -> None:
    ids = World(ready=Release(id=1), failed=Release(id=2), run=ImportRun(id=3), coco=b"")
    in_matrix = {resolve(url_of(url, ids)).route for _, _, url, _, _ in API}
    in_matrix |= {resolve(url_of(url, ids)).route for _, url, _ in PAGES}

    assert in_matrix == COVERED_ROUTES
    assert _deliveries_routes() == COVERED_ROUTES
