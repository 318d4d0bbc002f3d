"""Task statuses and project phases move only along their tables, each enforced in one place
(``task_transition``, ``project_update``); a refused move is a 409 naming it, changing nothing."""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Revision
from core.exceptions import Conflict
from projects.models import Project, Task
from projects.services import project_update, task_transition
from tests.factories import assign, make_project
from tests.helpers import map_png

ROOT = Path(__file__).resolve().parents[2]
STATUSES = list(Task.Status.values)
PHASES = list(Project.Phase.values)


def test_the_task_table_names_every_status_and_only_real_ones() -> None:
    assert set(Task.ALLOWED_TRANSITIONS) == set(STATUSES)
    for start, ends in Task.ALLOWED_TRANSITIONS.items():
        assert ends <= set(STATUSES)
        assert start not in ends


@pytest.mark.parametrize(("start", "end"), [p for p in itertools.product(STATUSES, STATUSES) if p[0] != p[1]])
def test_every_task_move_is_allowed_exactly_when_the_table_says(db: Any, start: str, end: str) -> None:
    task = make_project(images=1).tasks.get()
    Task.objects.filter(id=task.id).update(status=start)
    task.refresh_from_db()

    if end in Task.ALLOWED_TRANSITIONS[start]:
        task_transition(task=task, to=end)
        assert Task.objects.get(id=task.id).status == end
    else:
        with pytest.raises(Conflict) as refused:
            task_transition(task=task, to=end)
        assert refused.value.message == f"Task {task.id} cannot go from {start} to {end}."
        assert Task.objects.get(id=task.id).status == start


def test_the_phase_table_names_every_phase_and_only_real_ones() -> None:
    assert set(Project.ALLOWED_PHASE_TRANSITIONS) == set(PHASES)
    for start, ends in Project.ALLOWED_PHASE_TRANSITIONS.items():
        assert ends <= set(PHASES)
        assert start not in ends


@pytest.mark.parametrize(("start", "end"), [p for p in itertools.product(PHASES, PHASES) if p[0] != p[1]])
def test_every_phase_move_is_allowed_exactly_when_the_table_says(db: Any, start: str, end: str) -> None:
    project = make_project(images=0)
    Project.objects.filter(id=project.id).update(phase=start)
    project.refresh_from_db()
    allowed = Project.ALLOWED_PHASE_TRANSITIONS[start]

    if end in allowed:
        project_update(project=project, changes={"phase": end})
        assert Project.objects.get(id=project.id).phase == end
    else:
        with pytest.raises(Conflict) as refused:
            project_update(project=project, changes={"phase": end, "name": "Renamed"})
        assert refused.value.message == (
            f"Project {project.slug} cannot go from {start} to {end}; "
            f"from {start} it may go to {', '.join(sorted(allowed))}."
        )
        stored = Project.objects.get(id=project.id)
        assert (stored.phase, stored.name) == (start, project.name)


def test_a_phase_move_is_checked_against_the_stored_phase_not_a_stale_copy(db: Any) -> None:
    project = make_project(images=0)
    stale = Project.objects.get(id=project.id)  # still says specification
    project_update(project=project, changes={"phase": Project.Phase.PRODUCTION})
    project_update(project=project, changes={"phase": Project.Phase.DELIVERY})

    with pytest.raises(Conflict, match="cannot go from delivery to calibration"):
        project_update(project=stale, changes={"phase": Project.Phase.CALIBRATION})
    assert Project.objects.get(id=project.id).phase == Project.Phase.DELIVERY


def test_the_api_refuses_a_phase_jump_with_409_and_changes_nothing(db: Any, api: Any) -> None:
    project = make_project(slug="p", members={"boss": ["manager"]}, images=0)
    client = api(get_user_model().objects.get(username="boss"))

    refused = client.patch("/api/projects/p/", {"phase": "delivery", "name": "New"}, format="json")

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Project p cannot go from specification to delivery; "
        "from specification it may go to calibration, production.",
        "code": "phase_transition",
        "phase": "specification",
        "allowed": ["calibration", "production"],
    }
    stored = Project.objects.get(id=project.id)
    assert (stored.phase, stored.name) == ("specification", "P")

    moved = client.patch("/api/projects/p/", {"phase": "production"}, format="json")

    assert moved.status_code == 200
    assert moved.json()["phase"] == "production"


def test_saving_on_a_task_that_is_not_editable_is_409_and_writes_nothing(db: Any, api: Any) -> None:
    project = make_project(slug="p", members={"ann1": ["annotator"]}, images=1, size=(4, 2))
    author = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), author)
    Task.objects.filter(id=task.id).update(status=Task.Status.SUBMITTED)

    response = api(author).post(
        f"/api/tasks/{task.id}/revisions/",
        {
            "index_map": SimpleUploadedFile(
                "m.png", map_png(np.ones((2, 4), np.uint16)), content_type="image/png"
            ),
            "segments": json.dumps([{"id": 1, "category_id": 1}]),
        },
        format="multipart",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Task {task.id} is submitted; it cannot be edited now.",
        "code": "task_not_editable",
        "task_status": "submitted",
    }
    assert not Revision.objects.exists()
    assert Task.objects.get(id=task.id).status == Task.Status.SUBMITTED


# --- one place -------------------------------------------------------------------------------

TASK_NAME = re.compile(r"task", re.IGNORECASE)
STATUS_KEEPER = "projects/services/tasks.py"


def _task_status_writes(tree: ast.AST) -> list[int]:
    """Lines that set a task's status other than through ``task_transition``: on a name that
    says task, or on a name bound to a Task query (``locked = Task.objects...get()``)."""
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and "Task.objects" in ast.unparse(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if not (isinstance(target, ast.Attribute) and target.attr == "status"):
                    continue
                owner = ast.unparse(target.value)
                if TASK_NAME.search(owner) or owner in bound:
                    lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
            and re.search(r"\bTask\b|tasks", ast.unparse(node.func.value))
            and any(k.arg == "status" for k in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_task_services_set_a_task_status() -> None:
    offenders = []
    for app in ("core", "projects", "annotation", "qa", "deliveries", "frontend", "config"):
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "migrations" in path.parts or relative == STATUS_KEEPER:
                continue
            source = path.read_text()
            offenders += [f"{relative}:{line}" for line in _task_status_writes(ast.parse(source))]

    assert offenders == []


@pytest.mark.parametrize(
    "snippet",
    [
        "task.status = 'accepted'",
        "self.task.status = x",
        "locked = Task.objects.select_for_update().get(id=1)\nlocked.status = x",
        "Task.objects.filter(id=1).update(status='todo')",
        "project.tasks.filter(id=1).update(status='todo')",
    ],
)
def test_the_scan_finds_direct_status_writes(snippet: str) -> None:
    assert _task_status_writes(ast.parse(snippet))


@pytest.mark.parametrize(
    "snippet",
    ["item.status = 'accepted'", "batch.status = s", "Task.objects.filter(id=1).update(assignee=None)"],
)
def test_the_scan_leaves_other_status_fields_alone(snippet: str) -> None:
    assert _task_status_writes(ast.parse(snippet)) == []
