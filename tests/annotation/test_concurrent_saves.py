"""Two saves from the same parent at the same moment, on PostgreSQL (SQLite serialises every
writer, so the race only means something on the production database): one is stored, the
other is told which revision is now current, and the stored history loses nothing.

The step between reading the latest revision and writing the new one is slowed, so without
the task lock both requests would read the same parent every time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotation import services as annotation_services
from annotation.models import Revision
from qa.services import revision_save
from tests.factories import assign, make_project
from tests.helpers import map_png, run_together

H, W = 8, 12
SEGMENTS = [{"id": 1, "category_id": 3}, {"id": 2, "category_id": 1}]


pytestmark = pytest.mark.usefixtures("postgres_transactions")


def a_map(split: int) -> np.ndarray:
    index_map = np.ones((H, W), np.uint16)
    index_map[split:, :] = 2
    return index_map


def test_two_saves_from_the_same_parent_store_one_and_answer_409_with_the_current_number() -> None:
    project = make_project(slug="race", members={"ann1": ["annotator"]}, images=1, size=(W, H))
    author = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), author)
    first = revision_save(
        task=task,
        author=author,
        png=map_png(a_map(4)),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=False,
    )
    first_content = Revision.objects.values("map_sha256", "segments").get(id=first.id)

    def save(split: int) -> Callable[[], Any]:
        def call() -> Any:
            client = APIClient()
            client.force_authenticate(author)
            return client.post(
                f"/api/tasks/{task.id}/revisions/",
                {
                    "index_map": SimpleUploadedFile("m.png", map_png(a_map(split)), content_type="image/png"),
                    "segments": json.dumps(SEGMENTS),
                    "parent": "1",
                },
                format="multipart",
            )

        return call

    encode = annotation_services.encode_index_map

    def slow_encode(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)  # between "which revision is latest" and "write the next one"
        return encode(*args, **kwargs)

    with mock.patch.object(annotation_services, "encode_index_map", slow_encode):
        responses = run_together(save(2), save(6))

    assert not [r for r in responses if isinstance(r, Exception)], responses
    assert sorted(r.status_code for r in responses) == [201, 409]
    (won,) = [r for r in responses if r.status_code == 201]
    (lost,) = [r for r in responses if r.status_code == 409]
    assert won.json()["revision"] == 2
    assert lost.json()["code"] == "stale_parent"
    assert lost.json()["current_revision"] == 2
    assert list(Revision.objects.filter(task=task).values_list("number", "parent__number")) == [
        (1, None),
        (2, 1),
    ]
    # the first revision is untouched, and the stored second one is the winner's map
    assert Revision.objects.values("map_sha256", "segments").get(id=first.id) == first_content
    won_map = annotation_services.revision_index_map(revision=Revision.objects.get(task=task, number=2))
    assert np.array_equal(won_map, a_map(2)) or np.array_equal(won_map, a_map(6))


def test_the_loser_saves_on_top_of_the_current_revision() -> None:
    project = make_project(slug="race", members={"ann1": ["annotator"]}, images=1, size=(W, H))
    author = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), author)
    revision_save(
        task=task,
        author=author,
        png=map_png(a_map(4)),
        segments_raw=SEGMENTS,
        parent_number=None,
        submit=False,
    )

    results = run_together(
        *[
            (
                lambda split=split: revision_save(
                    task=task,
                    author=author,
                    png=map_png(a_map(split)),
                    segments_raw=SEGMENTS,
                    parent_number=1,
                    submit=False,
                )
            )
            for split in (2, 6)
        ]
    )
    conflicts = [r for r in results if not isinstance(r, Revision)]
    assert len(conflicts) == 1
    assert getattr(conflicts[0], "extra", {}).get("current_revision") == 2

    again = revision_save(
        task=task, author=author, png=map_png(a_map(3)), segments_raw=SEGMENTS, parent_number=2, submit=False
    )

    assert again.number == 3
    assert list(Revision.objects.filter(task=task).values_list("number", flat=True)) == [1, 2, 3]
