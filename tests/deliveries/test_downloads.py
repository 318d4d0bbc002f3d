"""Downloading a release: whole files, byte ranges (partial, suffix, open-ended, unsatisfiable),
conditional requests, and the release API's answers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.storage import default_storage

from deliveries.models import Release
from deliveries.ranges import Unsatisfiable, parse_range
from deliveries.services import release_build, release_create
from tests.deliveries.support import accept_work, project_with_members, scene, user


@pytest.fixture
def release(db: Any) -> Release:
    project = project_with_members(images=1)
    accept_work(project, 0, scene())
    created = release_create(project=project, by=user("manager"), formats=["png", "coco"], enqueue=False)
    return release_build(release_id=created.id)


def content(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def archive_bytes(release: Release) -> bytes:
    with default_storage.open(release.archive_key, "rb") as handle:
        data: bytes = handle.read()
    return data


def test_the_whole_archive(release: Release, api: Any) -> None:
    response = api(user("cli")).get(f"/api/releases/{release.id}/archive/")

    body = content(response)
    assert response.status_code == 200
    assert hashlib.sha256(body).hexdigest() == release.archive_sha256
    assert response["Content-Length"] == str(release.archive_size)
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{release.archive_sha256}"'
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="proj-release-1.zip"'


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-10", 10, 10)],
)
def test_ranges(release: Release, api: Any, header: str, first: int, last: int | None) -> None:
    data = archive_bytes(release)
    size = len(data)
    start = first if first >= 0 else size + first
    end = size - 1 if last is None else last

    response = api(user("cli")).get(f"/api/releases/{release.id}/archive/", HTTP_RANGE=header)

    assert response.status_code == 206
    assert content(response) == data[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["ETag"] == f'"{release.archive_sha256}"'


def test_a_range_past_the_end_is_unsatisfiable(release: Release, api: Any) -> None:
    size = release.archive_size
    assert size is not None

    response = api(user("cli")).get(f"/api/releases/{release.id}/archive/", HTTP_RANGE=f"bytes={size}-")

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert content(response) == b""


def test_a_range_reaching_past_the_end_is_cut_at_the_end(release: Release, api: Any) -> None:
    size = release.archive_size
    assert size is not None

    response = api(user("cli")).get(
        f"/api/releases/{release.id}/archive/", HTTP_RANGE=f"bytes={size - 5}-{size + 100}"
    )

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"
    assert content(response) == archive_bytes(release)[-5:]


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=x-"])
def test_headers_that_are_not_one_range_get_the_whole_file(release: Release, api: Any, header: str) -> None:
    response = api(user("cli")).get(f"/api/releases/{release.id}/archive/", HTTP_RANGE=header)

    assert response.status_code == 200
    assert content(response) == archive_bytes(release)


def test_if_range_with_another_etag_sends_the_whole_file(release: Release, api: Any) -> None:
    client = api(user("cli"))
    url = f"/api/releases/{release.id}/archive/"

    stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"something-else"')
    current = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{release.archive_sha256}"')

    assert stale.status_code == 200
    assert current.status_code == 206


def test_a_cached_copy_is_confirmed_with_304(release: Release, api: Any) -> None:
    response = api(user("cli")).get(
        f"/api/releases/{release.id}/archive/", HTTP_IF_NONE_MATCH=f'"{release.archive_sha256}"'
    )

    assert response.status_code == 304
    assert response["ETag"] == f'"{release.archive_sha256}"'


def test_the_qa_report_downloads_run_no_script(release: Release, api: Any) -> None:
    html = api(user("cli")).get(f"/api/releases/{release.id}/qa-report.html")
    report = api(user("cli")).get(f"/api/releases/{release.id}/qa-report.json")

    assert html.status_code == 200
    assert html["Content-Type"] == "text/html; charset=utf-8"
    assert html["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert hashlib.sha256(content(html)).hexdigest() == release.report_html_sha256
    assert report.status_code == 200
    assert hashlib.sha256(content(report)).hexdigest() == release.report_json_sha256
    assert report["ETag"] == f'"{release.report_json_sha256}"'


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=-100", 10, (0, 9)),
        (" bytes = 2 - 4 ", 10, (2, 4)),
        ("bytes=-", 10, None),
        ("", 10, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=-0", 10), ("bytes=10-", 10), ("bytes=0-", 0)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_the_release_api_answers_the_whole_release(release: Release, api: Any) -> None:
    body = api(user("cli")).get(f"/api/releases/{release.id}/").json()

    assert body == {
        "id": release.id,
        "project": "proj",
        "number": 1,
        "status": "ready",
        "formats": ["png", "coco"],
        "include_images": False,
        "coco_polygons": False,
        "images": 1,
        "splits": {"options": {"val_share": 0.0, "test_share": 0.0, "batches": {}}, "images": {"train": 1}},
        "class_table_changes": [],
        "created_by": "manager",
        "created_at": body["created_at"],
        "finished_at": body["finished_at"],
        "progress": {
            "status": "ready",
            "done": release.progress_total,
            "total": release.progress_total,
            "stage": "ready",
            "error": "",
        },
        "files": {
            "archive": {
                "url": f"/api/releases/{release.id}/archive/",
                "name": "proj-release-1.zip",
                "sha256": release.archive_sha256,
                "size": release.archive_size,
            },
            "qa_report_json": {
                "url": f"/api/releases/{release.id}/qa-report.json",
                "name": "qa_report.json",
                "sha256": release.report_json_sha256,
                "size": release.report_json_size,
            },
            "qa_report_html": {
                "url": f"/api/releases/{release.id}/qa-report.html",
                "name": "qa_report.html",
                "sha256": release.report_html_sha256,
                "size": release.report_html_size,
            },
        },
        "manifest": release.manifest,
        "decision": None,
        "decisions": [],
    }
    assert body["finished_at"] is not None
    assert release.progress_total == 1 + 3  # one pass over 1 image, report, archive, storage


def test_the_release_list_costs_a_fixed_number_of_queries(
    release: Release, api: Any, django_assert_max_num_queries: Any
) -> None:
    project = release.project
    for _ in range(3):
        release_build(
            release_id=release_create(project=project, by=user("manager"), formats=["png"], enqueue=False).id
        )
    client = api(user("manager"))

    with django_assert_max_num_queries(4):
        response = client.get("/api/projects/proj/releases/")

    assert [r["number"] for r in response.json()] == [4, 3, 2, 1]


def test_asking_for_a_release_enqueues_its_build_on_commit(
    db: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    project = project_with_members(images=1)
    accept_work(project, 0, scene())
    client = api(user("manager"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/projects/proj/releases/", {"formats": ["png"]}, format="json")

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["files"], response.json()["progress"]["done"]) == (
        "pending",
        None,
        0,
    )
    assert len(callbacks) == 1
    release_id = response.json()["id"]
    callbacks[0]()  # the job, run eagerly
    progress = client.get(f"/api/releases/{release_id}/progress/").json()
    assert progress == {"status": "ready", "done": 4, "total": 4, "stage": "ready", "error": ""}
