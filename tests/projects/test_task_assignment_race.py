"""Two annotators asking for their next task at the same moment never get the same task, on
PostgreSQL (SQLite serialises every writer). The step between choosing a free task and
assigning it is slowed, so without the row lock both would choose the same one every time."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model

from projects.models import Task
from projects.services import task_next_for_user
from projects.services import tasks as task_services
from tests.factories import make_project
from tests.helpers import run_together

pytestmark = pytest.mark.usefixtures("postgres_transactions")


class SlowClock:
    """``timezone`` for the service: ``now()`` runs between choosing and assigning a task."""

    def now(self) -> Any:
        time.sleep(0.2)
        from django.utils import timezone

        return timezone.now()


@pytest.mark.parametrize("free_tasks", [1, 3])
def test_two_annotators_pulling_at_once_get_different_tasks(free_tasks: int) -> None:
    names = ("ann1", "ann2")
    project = make_project(slug="race", members={n: ["annotator"] for n in names}, images=free_tasks)
    users = [get_user_model().objects.get(username=n) for n in names]

    with mock.patch.object(task_services, "timezone", SlowClock()):
        results = run_together(*[lambda u=u: task_next_for_user(project=project, user=u) for u in users])

    assert not [r for r in results if isinstance(r, Exception)], results
    got = [r.id for r in results if r is not None]
    assert len(got) == min(free_tasks, 2)
    assert len(set(got)) == len(got)  # never the same task twice
    assigned = dict(Task.objects.filter(assignee__isnull=False).values_list("id", "assignee__username"))
    assert sorted(assigned) == sorted(got)
    for user, result in zip(users, results, strict=True):
        if result is not None:
            assert assigned[result.id] == user.username
