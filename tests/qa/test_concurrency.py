"""Races between concurrent requests, on PostgreSQL (SQLite serialises every writer, so these
only mean something on the production database). Each test widens the race window by slowing
the step between reading and writing, so without the locks the race happens every time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest

from annotation.services import SegmentIn
from core.roles import Role
from projects.models import Image, Project, Task
from projects.services import images_add
from qa.services import gold_set, task_next
from qa.services import production as production_service
from qa.services import submission as submission_service
from tests.factories import make_project
from tests.helpers import png_bytes, run_together
from tests.qa.support import user

H, W = 8, 12


pytestmark = pytest.mark.usefixtures("postgres_transactions")


def slowed(function: Callable[..., Any], seconds: float = 0.05) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return function(*args, **kwargs)

    return wrapper


@pytest.fixture
def project() -> Project:
    members = {"ann1": [Role.ANNOTATOR], "ann2": [Role.ANNOTATOR], "lead": [Role.QA_LEAD]}
    project = make_project(slug="race", members=members, images=0, size=(W, H))
    Project.objects.filter(id=project.id).update(overlap_share=1.0, gold_share=1.0)
    project.refresh_from_db()
    images_add(
        project=project,
        files=[(f"i{n}.png", png_bytes(np.zeros((H, W, 3), np.uint8))) for n in range(6)],
        batch_name="b1",
    )
    return project


def test_two_annotators_pulling_at_once_plan_every_image_exactly_once(project: Project) -> None:
    with mock.patch.object(
        production_service, "sampling_draw", side_effect=slowed(production_service.sampling_draw, 0.02)
    ):
        results = run_together(
            lambda: task_next(project=project, user=user("ann1")),
            lambda: task_next(project=project, user=user("ann2")),
        )

    assert not [r for r in results if isinstance(r, Exception)], results
    for image in Image.objects.filter(project=project):
        kinds = sorted(image.tasks.values_list("kind", flat=True))
        assert kinds == ["annotate", "annotate", "gold"], (image.file_name, kinds)
    assert {r.assignee.username for r in results} == {"ann1", "ann2"}
    assert results[0].id != results[1].id


def test_gold_set_twice_at_once_makes_one_gold_task(project: Project) -> None:
    image = Image.objects.filter(project=project).order_by("id")[0]
    index_map = np.ones((H, W), np.uint16)

    def set_gold() -> Any:
        return gold_set(
            image=image, author=user("lead"), index_map=index_map, segments=[SegmentIn(id=1, category_id=3)]
        )

    with mock.patch.object(
        submission_service, "taxonomy_current", side_effect=slowed(submission_service.taxonomy_current)
    ):
        results = run_together(set_gold, set_gold)

    assert not [r for r in results if isinstance(r, Exception)], results
    gold = Task.objects.filter(image=image, kind=Task.Kind.GOLD)
    assert gold.count() == 1
    assert sorted(gold.get().revisions.values_list("number", flat=True)) == [1, 2]
