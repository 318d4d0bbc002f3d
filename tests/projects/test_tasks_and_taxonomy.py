"""Task assignment, status transitions and taxonomy versioning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from core.exceptions import Conflict, ValidationFailed
from projects.models import Task
from projects.services import task_next_for_user, task_transition, taxonomy_parse, taxonomy_replace
from qa.services import revision_save
from tests.factories import TAXONOMY, assign, make_project
from tests.helpers import map_png


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def test_next_task_assigns_the_oldest_free_task(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=3)

    task = task_next_for_user(project=project, user=user("ann1"))

    assert task is not None
    assert task.id == project.tasks.order_by("id").first().id  # type: ignore[union-attr]
    assert task.assignee == user("ann1")
    assert task.assigned_at is not None


def test_next_task_returns_the_open_task_instead_of_hoarding(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=3)
    first = task_next_for_user(project=project, user=user("ann1"))

    again = task_next_for_user(project=project, user=user("ann1"))

    assert again == first
    assert project.tasks.filter(assignee__isnull=False).count() == 1


def test_rework_comes_before_new_work(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=3)
    tasks = list(project.tasks.order_by("id"))
    assign(tasks[0], user("ann1"))
    assign(tasks[2], user("ann1"))
    Task.objects.filter(id=tasks[2].id).update(status=Task.Status.REJECTED)

    nxt = task_next_for_user(project=project, user=user("ann1"))

    assert nxt is not None
    assert nxt.id == tasks[2].id


def test_next_task_never_gives_an_image_twice(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"], "ann2": ["annotator"]}, images=1)
    image = project.images.get()
    done = assign(project.tasks.get(), user("ann1"))
    Task.objects.filter(id=done.id).update(status=Task.Status.SUBMITTED)
    overlap = Task.objects.create(project=project, image=image, taxonomy=done.taxonomy, is_overlap=True)

    assert task_next_for_user(project=project, user=user("ann1")) is None
    assert task_next_for_user(project=project, user=user("ann2")) == overlap


def test_next_task_is_none_when_the_queue_is_empty(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=0)

    assert task_next_for_user(project=project, user=user("ann1")) is None


def test_next_task_api_returns_204_when_empty(db: Any, api: Any) -> None:
    make_project(members={"ann1": ["annotator"]}, images=0)

    response = api(user("ann1")).post("/api/projects/proj/tasks/next/")

    assert response.status_code == 204


def test_next_task_api_returns_the_task_shape(db: Any, api: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=1, size=(24, 16))

    body = api(user("ann1")).post("/api/projects/proj/tasks/next/").json()

    task = project.tasks.get()
    assert body == {
        "id": task.id,
        "project": "proj",
        "mode": "panoptic",
        "allow_void": False,
        "kind": "annotate",
        "status": "todo",
        "assignee": "ann1",
        "taxonomy": task.taxonomy_id,
        "image": {
            "id": task.image_id,
            "file_name": "img0.png",
            "width": 24,
            "height": 16,
            "url": f"/api/images/{task.image_id}/file/",
        },
        "latest_revision": None,
        "can_edit": True,
    }


@pytest.mark.parametrize(
    ("start", "end", "allowed"),
    [
        (Task.Status.TODO, Task.Status.IN_PROGRESS, True),
        (Task.Status.IN_PROGRESS, Task.Status.SUBMITTED, True),
        (Task.Status.SUBMITTED, Task.Status.IN_REVIEW, True),
        (Task.Status.IN_REVIEW, Task.Status.REJECTED, True),
        (Task.Status.REJECTED, Task.Status.IN_PROGRESS, True),
        (Task.Status.TODO, Task.Status.IN_REVIEW, False),
        (Task.Status.SUBMITTED, Task.Status.IN_PROGRESS, False),
        (Task.Status.ACCEPTED, Task.Status.TODO, False),
    ],
)
def test_task_transitions_follow_the_table(db: Any, start: str, end: str, allowed: bool) -> None:
    project = make_project(images=1)
    task = project.tasks.get()
    Task.objects.filter(id=task.id).update(status=start)
    task.refresh_from_db()

    if allowed:
        task_transition(task=task, to=end)
        task.refresh_from_db()
        assert task.status == end
    else:
        with pytest.raises(Conflict):
            task_transition(task=task, to=end)
        task.refresh_from_db()
        assert task.status == start


def test_editing_an_unfrozen_taxonomy_keeps_its_version(db: Any) -> None:
    project = make_project(images=1)
    renamed = [dict(TAXONOMY[0], name="street"), *TAXONOMY[1:]]

    version = taxonomy_replace(project=project, spec=taxonomy_parse(renamed))

    assert version.number == 1
    assert list(version.categories.values_list("name", flat=True)) == ["street", "sky", "person", "car"]


def test_editing_a_frozen_taxonomy_makes_a_new_version_and_moves_untouched_tasks(db: Any) -> None:
    project = make_project(members={"ann1": ["annotator"]}, images=2, size=(4, 2))
    started, untouched = project.tasks.order_by("id")
    assign(started, user("ann1"))
    revision_save(
        task=started,
        author=user("ann1"),
        png=map_png(np.ones((2, 4), np.uint16)),
        segments_raw=[{"id": 1, "category_id": 1}],
        parent_number=None,
        submit=False,
    )
    started.refresh_from_db()
    assert started.taxonomy.is_frozen

    version = taxonomy_replace(
        project=project, spec=taxonomy_parse([*TAXONOMY, {"id": 12, "name": "bus", "isthing": 1}])
    )

    assert version.number == 2
    started.refresh_from_db()
    untouched.refresh_from_db()
    assert started.taxonomy.number == 1  # work keeps the version it was made against
    assert untouched.taxonomy == version
    assert started.taxonomy.categories.count() == 4


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "The taxonomy needs a non-empty list of categories."),
        ([{"id": 1, "name": "a"}], "category #1 is missing isthing."),
        (
            [{"id": 0, "name": "a", "isthing": 0}],
            "category #1: id must be an integer from 1 to 65535, got 0.",
        ),
        (
            [{"id": 1, "name": "a", "isthing": 0}, {"id": 1, "name": "b", "isthing": 0}],
            "Category ids must be unique; repeated: [1].",
        ),
        (
            [{"id": 1, "name": "a", "isthing": 0, "color": "red"}],
            "category #1 (a): colour must be [r, g, b] or '#rrggbb', got 'red'.",
        ),
        (
            {
                "categories": [{"id": 1, "name": "a", "isthing": 0}],
                "conflict_rules": [{"title": "t", "rule": "r", "category_ids": [1, 2]}],
            },
            "conflict rule #1 (t) names unknown categories [2].",
        ),
    ],
)
def test_bad_taxonomy_documents_are_refused_with_the_reason(document: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        taxonomy_parse(document)

    assert caught.value.message == message


def test_taxonomy_api_shows_conflict_rules_with_their_categories(db: Any, api: Any) -> None:
    make_project(members={"ann1": ["annotator"]}, images=0)
    manager = get_user_model().objects.create_user("boss", password="pw-for-tests-1")
    from projects.models import Project
    from projects.services import membership_add

    membership_add(project=Project.objects.get(slug="proj"), user=manager, role="manager")
    document = {
        "categories": TAXONOMY,
        "conflict_rules": [{"title": "Kerb", "rule": "Kerb is road.", "category_ids": [1, 3]}],
        "edge_cases": [{"title": "Glass", "description": "Label the surface.", "category_ids": [3]}],
    }
    assert api(manager).put("/api/projects/proj/taxonomy/", document, format="json").status_code == 200

    body = api(user("ann1")).get("/api/projects/proj/taxonomy/").json()

    assert body["number"] == 1
    assert body["frozen"] is False
    assert [c["id"] for c in body["categories"]] == [1, 3, 7, 9]
    assert body["conflict_rules"] == [
        {
            "id": body["conflict_rules"][0]["id"],
            "title": "Kerb",
            "rule": "Kerb is road.",
            "category_ids": [1, 3],
            "examples": [],
            "example_ids": [],
        }
    ]
    assert body["edge_cases"][0]["category_ids"] == [3]
