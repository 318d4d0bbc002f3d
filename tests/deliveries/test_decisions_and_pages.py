"""The client's verdict (API and page), what the manager sees of it, and the manager's pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from deliveries.models import ImportRun, Release, ReleaseDecision
from deliveries.services import release_build, release_create
from tests.deliveries.support import accept_work, coco_document, project_with_members, scene, user, write_json


@pytest.fixture
def release(db: Any) -> Release:
    project = project_with_members(images=1)
    accept_work(project, 0, scene())
    return release_build(
        release_id=release_create(project=project, by=user("manager"), formats=["coco"], enqueue=False).id
    )


def signed_in(name: str) -> Client:
    client = Client()
    client.force_login(user(name))
    return client


def test_the_client_accepts_and_the_manager_sees_it(release: Release, api: Any) -> None:
    response = api(user("cli")).post(
        f"/api/releases/{release.id}/decision/",
        {"decision": "accept", "comment": "Looks right."},
        format="json",
    )

    assert response.status_code == 201
    decision = ReleaseDecision.objects.get()
    expected = {
        "decision": "accept",
        "comment": "Looks right.",
        "client": "cli",
        "created_at": response.json()["created_at"],
    }
    assert response.json() == expected
    seen = api(user("manager")).get(f"/api/releases/{release.id}/").json()
    assert (seen["decision"], seen["decisions"]) == (expected, [expected])
    assert decision.release_id == release.id


def test_a_change_of_mind_keeps_the_history(release: Release, api: Any) -> None:
    client = api(user("cli"))
    client.post(f"/api/releases/{release.id}/decision/", {"decision": "accept"}, format="json")
    client.post(
        f"/api/releases/{release.id}/decision/",
        {"decision": "reject", "comment": "Kerbs are road."},
        format="json",
    )

    seen = api(user("manager")).get("/api/projects/proj/releases/").json()[0]

    assert [(d["decision"], d["comment"]) for d in seen["decisions"]] == [
        ("accept", ""),
        ("reject", "Kerbs are road."),
    ]
    assert seen["decision"]["decision"] == "reject"


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        (
            {"decision": "reject", "comment": "  "},
            400,
            "Say why the release is rejected: a comment is required.",
        ),
        ({"decision": "maybe"}, 400, None),
    ],
)
def test_bad_decisions_write_nothing(
    release: Release, api: Any, payload: dict[str, str], status: int, detail: str | None
) -> None:
    response = api(user("cli")).post(f"/api/releases/{release.id}/decision/", payload, format="json")

    assert response.status_code == status
    if detail:
        assert response.json() == {"detail": detail, "code": "validation_failed"}
    assert ReleaseDecision.objects.count() == 0


def test_the_client_rejects_on_the_page_and_the_managers_page_shows_it(release: Release) -> None:
    client = signed_in("cli")

    page = client.get(f"/releases/{release.id}/").content.decode()
    response = client.post(
        f"/releases/{release.id}/", {"action": "decide", "decision": "reject", "comment": "Sky is cut off."}
    )

    assert 'id="reject-release"' in page
    assert f"/api/releases/{release.id}/archive/" in page
    assert response.status_code == 302
    decision = ReleaseDecision.objects.get()
    assert (decision.decision, decision.comment, decision.client.username) == (
        "reject",
        "Sky is cut off.",
        "cli",
    )
    managers = signed_in("manager").get("/projects/proj/releases/").content.decode()
    assert "Rejected</span> by cli: “Sky is cut off.”" in managers
    detail = signed_in("manager").get(f"/releases/{release.id}/").content.decode()
    assert "Sky is cut off." in detail
    assert 'id="reject-release"' not in detail


def test_a_rejection_without_comment_is_refused_on_the_page(release: Release) -> None:
    response = signed_in("cli").post(
        f"/releases/{release.id}/", {"action": "decide", "decision": "reject"}, follow=True
    )

    assert "Say why the release is rejected" in response.content.decode()
    assert ReleaseDecision.objects.count() == 0


def test_only_the_client_decides_and_only_the_manager_retries_on_the_page(release: Release) -> None:
    assert (
        signed_in("manager")
        .post(f"/releases/{release.id}/", {"action": "decide", "decision": "accept"})
        .status_code
        == 404
    )
    assert signed_in("cli").post(f"/releases/{release.id}/", {"action": "retry"}).status_code == 404
    assert ReleaseDecision.objects.count() == 0


def test_the_manager_asks_for_a_release_and_watches_it_build(
    release: Release, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in("manager")

    form = client.get("/projects/proj/releases/").content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/projects/proj/releases/", {"formats": ["png", "coco"], "include_images": "on"}
        )
    listing = client.get("/projects/proj/releases/").content.decode()

    assert 'id="new-release"' in form
    assert 'value="yolo"' in form
    assert response.status_code == 302
    pending = Release.objects.get(number=2)
    assert (pending.formats, pending.include_images, pending.status) == (["png", "coco"], True, "pending")
    assert f'data-progress-url="/api/releases/{pending.id}/progress/"' in listing
    assert "<progress" in listing
    assert len(callbacks) == 1
    callbacks[0]()
    pending.refresh_from_db()
    assert pending.status == "ready"
    names = {entry["path"].split("/")[0] for entry in pending.manifest["files"]}
    assert names == {"png", "coco", "images.csv", "qa_report.json", "qa_report.html", "README.md"}
    assert any(entry["path"] == "coco/images/train/img0.png" for entry in pending.manifest["files"])


def test_locked_formats_are_the_only_choices(release: Release) -> None:
    release.project.delivery_formats = ["coco"]
    release.project.save(update_fields=["delivery_formats"])

    form = signed_in("manager").get("/projects/proj/releases/").content.decode()

    assert 'value="coco"' in form
    assert 'value="png"' not in form


def test_the_import_page_imports_and_lists_problems(db: Any, tmp_path: Path) -> None:
    project_with_members(images=1)
    client = signed_in("manager")
    good = write_json(tmp_path / "good.json", coco_document([("img0.png", scene())]))
    bad = write_json(tmp_path / "bad.json", coco_document([("other.png", scene())]))

    done = client.post(
        "/projects/proj/imports/",
        {"file": SimpleUploadedFile("good.json", good.read_bytes()), "format": "coco", "mode": "gold"},
    )
    refused = client.post(
        "/projects/proj/imports/",
        {"file": SimpleUploadedFile("bad.json", bad.read_bytes()), "format": "coco", "mode": "gold"},
    )

    run = ImportRun.objects.get(status="done")
    assert done.status_code == 302
    assert done["Location"] == f"/imports/{run.id}/"
    page = refused.content.decode()
    assert "bad.json: import refused, 1 problem; nothing was written." in page
    assert "image &#x27;other.png&#x27;" in page
    assert "matches no image of the project" in page
    assert "Failed" in page
    assert "Done" in page
    report = client.get(f"/imports/{run.id}/").content.decode()
    assert "img0.png" in report
    assert "Coverage" in report


def test_the_portal_lists_each_project_with_its_releases(release: Release) -> None:
    page = signed_in("cli").get("/deliveries/").content.decode()

    assert "Proj" in page
    assert "Release 1" in page
    assert f'href="/api/releases/{release.id}/archive/"' in page
    assert "awaiting the client" in page
