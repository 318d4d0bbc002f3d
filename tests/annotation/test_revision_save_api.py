"""Saving and submitting work through the API: the happy path, bad input and stale parents."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.masks import decode_index_map
from annotation.models import Revision
from projects.models import Project, Task
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png, png_bytes

H, W = 16, 24


def sky_over_road() -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    return index_map


SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]


@pytest.fixture
def setup(db: Any, api: Any) -> tuple[Any, Task]:
    project = make_project(slug="p", members=STANDARD_MEMBERS, images=1, size=(W, H))
    user = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), user)
    return api(user), task


def post(
    client: Any, task: Task, index_map: Any, segments: Any, parent: Any = "", submit: bool = False
) -> Any:
    data = index_map if isinstance(index_map, bytes) else map_png(index_map)
    return client.post(
        f"/api/tasks/{task.id}/revisions/",
        {
            "index_map": SimpleUploadedFile("map.png", data, content_type="image/png"),
            "segments": segments if isinstance(segments, str) else json.dumps(segments),
            "parent": "" if parent is None else str(parent),
            "submit": "true" if submit else "false",
        },
        format="multipart",
    )


def stored_files() -> list[str]:
    try:
        return sorted(default_storage.listdir("maps")[0])
    except FileNotFoundError:
        return []


def test_first_save_creates_revision_one_with_computed_areas(setup: Any) -> None:
    client, task = setup

    response = post(client, task, sky_over_road(), SEGMENTS)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["revision"] == 1
    assert body["parent"] is None
    assert body["status"] == "draft"
    assert body["author"] == "ann1"
    assert [(s["id"], s["category_id"], s["area"], s["bbox"]) for s in body["segments"]] == [
        (1, 3, W * H // 2, [0, 0, W, H // 2]),
        (2, 1, W * H // 2, [0, H // 2, W, H // 2]),
    ]
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS
    assert task.taxonomy.is_frozen


def test_saved_map_reads_back_pixel_for_pixel(setup: Any) -> None:
    client, task = setup
    original = sky_over_road()
    original[3, 5] = 2
    post(client, task, original, SEGMENTS)

    annotation = client.get(f"/api/tasks/{task.id}/annotation/").json()
    png = client.get(annotation["index_map"].replace("http://testserver", ""))

    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png["Cache-Control"] == "private, max-age=31536000, immutable"
    assert np.array_equal(decode_index_map(b"".join(png.streaming_content)), original)


def test_annotation_contract_has_the_documented_fields(setup: Any) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)

    body = client.get(f"/api/tasks/{task.id}/annotation/").json()

    assert {"revision", "status", "author", "width", "height", "segments", "index_map"} <= set(body)
    assert (body["revision"], body["status"], body["author"], body["width"], body["height"]) == (
        1,
        "draft",
        "ann1",
        W,
        H,
    )
    assert body["index_map"].endswith(f"/api/revisions/{body['revision_id']}/index-map/")
    assert body["segments"][0] == {
        "id": 1,
        "category_id": 3,
        "iscrowd": False,
        "area": W * H // 2,
        "bbox": [0, 0, W, H // 2],
        "confirmed": True,
        "source": "manual",
        "attributes": {},
    }


def test_second_save_appends_with_parent(setup: Any) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)

    response = post(client, task, sky_over_road(), SEGMENTS, parent=1)

    assert response.status_code == 201
    assert (response.json()["revision"], response.json()["parent"]) == (2, 1)
    assert list(task.revisions.values_list("number", flat=True)) == [1, 2]


def test_identical_maps_share_one_stored_png(setup: Any) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)
    post(client, task, sky_over_road(), SEGMENTS, parent=1)

    first, second = task.revisions.order_by("number")

    assert first.map_key == second.map_key
    assert len(stored_files()) == 1


def test_stale_parent_is_409_with_current_number_and_both_saves_survive(setup: Any) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)
    post(client, task, sky_over_road(), SEGMENTS, parent=1)  # another tab saved revision 2
    other = sky_over_road()
    other[0, 0] = 2

    response = post(client, task, other, SEGMENTS, parent=1)

    assert response.status_code == 409
    assert response.json()["current_revision"] == 2
    assert response.json()["code"] == "stale_parent"
    assert task.revisions.count() == 2
    retry = post(client, task, other, SEGMENTS, parent=2)
    assert retry.status_code == 201
    assert task.revisions.count() == 3


def test_first_save_against_existing_work_is_409(setup: Any) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)

    response = post(client, task, sky_over_road(), SEGMENTS, parent=None)

    assert response.status_code == 409
    assert response.json()["current_revision"] == 1


BAD_CONTENT = [
    ("id missing from table", sky_over_road(), [{"id": 1, "category_id": 3}], "missing_segment"),
    ("table id not in map", sky_over_road(), [*SEGMENTS, {"id": 5, "category_id": 7}], "empty_segment"),
    (
        "unknown category",
        sky_over_road(),
        [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 42}],
        "unknown_category",
    ),
    ("wrong size", np.ones((H + 1, W), np.uint16), [{"id": 1, "category_id": 3}], None),
]


@pytest.mark.parametrize(
    ("name", "index_map", "segments", "code"), BAD_CONTENT, ids=[b[0] for b in BAD_CONTENT]
)
def test_invalid_content_is_400_and_nothing_is_written(
    setup: Any, name: str, index_map: np.ndarray, segments: list[dict[str, Any]], code: str | None
) -> None:
    client, task = setup

    response = post(client, task, index_map, segments)

    assert response.status_code == 400, name
    body = response.json()
    assert body["detail"]
    if code is not None:
        assert code in [e["code"] for e in body["errors"]]
    assert task.revisions.count() == 0
    assert stored_files() == []
    task.refresh_from_db()
    assert task.status == Task.Status.TODO
    assert not task.taxonomy.is_frozen


def test_semantic_map_with_two_segments_of_one_category_is_400(db: Any, api: Any) -> None:
    project = make_project(
        slug="sem", mode=Project.Mode.SEMANTIC, members={"ann1": ["annotator"]}, images=1, size=(W, H)
    )
    user = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), user)

    response = post(
        api(user), task, sky_over_road(), [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 1}]
    )

    assert response.status_code == 400
    assert "semantic_duplicate_category" in [e["code"] for e in response.json()["errors"]]
    assert Revision.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("not a png", b"GIF89a not really", "index_map"),
        ("colour png", png_bytes(np.zeros((H, W, 3), np.uint8)), "index_map"),
        ("truncated png", map_png(sky_over_road())[:40], "index_map"),
    ],
)
def test_unreadable_maps_are_400(setup: Any, name: str, payload: bytes, message: str) -> None:
    client, task = setup

    response = post(client, task, payload, SEGMENTS)

    assert response.status_code == 400, name
    assert response.json()["detail"].startswith(message)
    assert task.revisions.count() == 0


@pytest.mark.parametrize(
    ("segments", "fragment"),
    [
        ("not json", "segments is not valid JSON"),
        (json.dumps({"id": 1}), "segments must be a JSON list"),
        (json.dumps([{"id": 0, "category_id": 3}]), "id must be an integer from 1"),
        (json.dumps([{"id": 1, "category_id": "sky"}]), "category_id must be an integer"),
    ],
)
def test_malformed_segment_tables_are_400(setup: Any, segments: str, fragment: str) -> None:
    client, task = setup

    response = post(client, task, sky_over_road(), segments)

    assert response.status_code == 400
    assert fragment in response.json()["detail"]
    assert task.revisions.count() == 0


def test_submit_with_void_in_panoptic_project_is_refused_naming_the_void(setup: Any) -> None:
    client, task = setup
    holey = sky_over_road()
    holey[0:2, 0:3] = 0

    response = post(client, task, holey, SEGMENTS, submit=True)

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["void_pixels"]
    assert task.revisions.count() == 0
    draft = post(client, task, holey, SEGMENTS)  # the same work still saves as a draft
    assert draft.status_code == 201


def test_submit_marks_revision_and_task_submitted(
    setup: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client, task = setup

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, task, sky_over_road(), SEGMENTS, submit=True)

    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    task.refresh_from_db()
    assert task.status == Task.Status.SUBMITTED
    assert len(callbacks) == 1  # the measurement job, enqueued on commit
    assert post(client, task, sky_over_road(), SEGMENTS, parent=1).status_code == 409


def test_unconfirmed_prelabel_blocks_submission(setup: Any) -> None:
    client, task = setup
    segments = [
        {"id": 1, "category_id": 3},
        {"id": 2, "category_id": 1, "confirmed": False, "source": "prelabel"},
    ]

    response = post(client, task, sky_over_road(), segments, submit=True)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["code"], e["segment_id"]) for e in errors] == [("unconfirmed_prelabel", 2)]


def test_submit_endpoint_submits_the_latest_draft_only(
    setup: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client, task = setup
    post(client, task, sky_over_road(), SEGMENTS)
    post(client, task, sky_over_road(), SEGMENTS, parent=1)

    stale = client.post(f"/api/tasks/{task.id}/submit/", {"revision": 1}, format="json")
    with django_capture_on_commit_callbacks():
        fresh = client.post(f"/api/tasks/{task.id}/submit/", {"revision": 2}, format="json")

    assert stale.status_code == 409
    assert stale.json()["current_revision"] == 2
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "submitted"
    assert list(task.revisions.values_list("status", flat=True)) == ["draft", "submitted"]


def test_a_prelabel_left_unstated_stays_proposed_and_a_new_segment_is_confirmed(setup: Any) -> None:
    client, task = setup
    proposed = [
        {"id": 1, "category_id": 3},
        {"id": 2, "category_id": 1, "confirmed": False, "source": "prelabel"},
    ]
    assert post(client, task, sky_over_road(), proposed).status_code == 201
    index_map = sky_over_road()
    index_map[0, :2] = 3
    index_map[1, :2] = 3
    # An API client that leaves "confirmed" out does not confirm the pre-label by omission.
    unstated = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}, {"id": 3, "category_id": 9}]

    response = post(client, task, index_map, unstated, parent=1, submit=True)

    assert response.status_code == 400
    assert [(e["code"], e["segment_id"]) for e in response.json()["errors"]] == [("unconfirmed_prelabel", 2)]
    assert task.revisions.count() == 1
    saved = post(client, task, index_map, unstated, parent=1)
    assert saved.status_code == 201
    assert {s["id"]: s["confirmed"] for s in saved.json()["segments"]} == {1: True, 2: False, 3: True}
    confirmed = [*unstated[:1], {"id": 2, "category_id": 1, "confirmed": True}, unstated[2]]
    assert post(client, task, index_map, confirmed, parent=2, submit=True).status_code == 201


def test_a_new_prelabel_without_confirmed_is_proposed(setup: Any) -> None:
    client, task = setup
    segments = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1, "source": "prelabel"}]

    response = post(client, task, sky_over_road(), segments, submit=True)

    assert response.status_code == 400
    assert [(e["code"], e["segment_id"]) for e in response.json()["errors"]] == [("unconfirmed_prelabel", 2)]
