"""The editor's polygon provenance through the API: saved, returned, and kept by the next save.

Fill rings are plain ``[x1, y1, ...]`` lists (the original contract); holes cut into a
segment are ``{"vertices": [...], "cut": true}``. Malformed entries are a 400 that writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Revision
from projects.models import Task
from tests.factories import STANDARD_MEMBERS, assign, make_project
from tests.helpers import map_png

H, W = 16, 24
FILL = [1.0, 1.0, 20.0, 1.0, 20.0, 7.5]
CUT = {"vertices": [4.0, 2.0, 8.0, 2.0, 8.0, 5.0], "cut": True}


def sky_over_road() -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    return index_map


@pytest.fixture
def setup(db: Any, api: Any) -> tuple[Any, Task]:
    project = make_project(slug="p", members=STANDARD_MEMBERS, images=1, size=(W, H))
    user = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), user)
    return api(user), task


def post(client: Any, task: Task, segments: Any, parent: Any = "") -> Any:
    return client.post(
        f"/api/tasks/{task.id}/revisions/",
        {
            "index_map": SimpleUploadedFile("map.png", map_png(sky_over_road()), content_type="image/png"),
            "segments": json.dumps(segments),
            "parent": "" if parent is None else str(parent),
        },
        format="multipart",
    )


def test_fill_and_cut_polygons_are_stored_and_returned_in_order(setup: Any) -> None:
    client, task = setup
    segments = [
        {"id": 1, "category_id": 3, "polygons": [FILL, CUT]},
        {"id": 2, "category_id": 1},
    ]

    response = post(client, task, segments)

    assert response.status_code == 201, response.json()
    body = client.get(f"/api/tasks/{task.id}/annotation/").json()
    by_id = {s["id"]: s for s in body["segments"]}
    assert by_id[1]["polygons"] == [FILL, CUT]
    # Segments without recorded polygons keep the original shape of the contract.
    assert "polygons" not in by_id[2]
    # The revision endpoint returns the same segments.
    assert client.get(f"/api/revisions/{body['revision_id']}/").json()["segments"] == body["segments"]


def test_a_next_save_that_sends_the_polygons_back_keeps_them(setup: Any) -> None:
    client, task = setup
    post(client, task, [{"id": 1, "category_id": 3, "polygons": [FILL]}, {"id": 2, "category_id": 1}])
    first = client.get(f"/api/tasks/{task.id}/annotation/").json()

    # What the editor does: read the segments, send them back with the next save.
    again = [{k: s[k] for k in ("id", "category_id", "polygons") if k in s} for s in first["segments"]]
    again[0]["polygons"].append(CUT)
    assert post(client, task, again, parent=1).status_code == 201

    latest = client.get(f"/api/tasks/{task.id}/annotation/").json()
    assert latest["revision"] == 2
    assert latest["segments"][0]["polygons"] == [FILL, CUT]


@pytest.mark.parametrize(
    "bad",
    [
        [[1, 2, "x"]],
        [{"vertices": [1, 2, 3], "cut": "yes"}],
        [{"vertices": "1,2,3", "cut": True}],
        [{"vertices": [1, 2, 3], "cut": True, "colour": "red"}],
        [[True, 2, 3]],
        "not a list",
    ],
)
def test_malformed_polygons_are_refused_and_nothing_is_written(setup: Any, bad: Any) -> None:
    client, task = setup

    response = post(client, task, [{"id": 1, "category_id": 3, "polygons": bad}, {"id": 2, "category_id": 1}])

    assert response.status_code == 400
    assert "polygons must be lists of numbers" in response.json()["detail"]
    assert Revision.objects.filter(task=task).count() == 0
