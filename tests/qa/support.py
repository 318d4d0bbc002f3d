"""Builders shared by the QA workflow tests: small maps, submissions, a project with a review
queue, and a snapshot of everything review decisions write (for "nothing changed")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from annotation.models import Revision
from annotation.services import SegmentIn
from core.roles import Role
from projects.models import Batch, Image, Membership, Project, Task
from qa.models import AuditEvent, ClassThreshold, ReviewComment, ReviewDecision, ReviewItem
from qa.services import gold_set, revision_save
from tests.factories import assign, make_project
from tests.helpers import map_png

H, W = 16, 24
SKY, ROAD = 3, 1
SEGMENTS = [{"id": 1, "category_id": SKY}, {"id": 2, "category_id": ROAD}]


def scene(horizon: int = H // 2) -> np.ndarray:
    """Sky over road, the horizon at row ``horizon``."""
    index_map = np.ones((H, W), np.uint16)
    index_map[horizon:, :] = 2
    return index_map


def user(name: str) -> User:
    return get_user_model().objects.get(username=name)


def save(task: Task, author: User, index_map: np.ndarray, *, submit: bool = True) -> Revision:
    latest = task.revisions.order_by("-number").first()
    return revision_save(
        task=task,
        author=author,
        png=map_png(index_map),
        segments_raw=SEGMENTS,
        parent_number=latest.number if latest else None,
        submit=submit,
    )


def make_gold(image: Image, author: User, index_map: np.ndarray) -> Revision:
    return gold_set(
        image=image,
        author=author,
        index_map=index_map,
        segments=[SegmentIn(id=s["id"], category_id=s["category_id"]) for s in SEGMENTS],
    )


@dataclass
class World:
    """Project "p": ann1 and ann2 each submitted one image, both waiting in the peer queue.
    Project "other" has "outsider" in every role; "root" is a superuser without membership."""

    project: Project
    items: list[ReviewItem]
    users: dict[str, User]

    def client(self, api: Any, name: str) -> Any:
        return api(None if name == "anon" else self.users[name])


MEMBERS: dict[str, list[str]] = {
    "boss": [Role.MANAGER],
    "ann1": [Role.ANNOTATOR],
    "ann2": [Role.ANNOTATOR],
    "rev": [Role.REVIEWER],
    "rev2": [Role.REVIEWER],
    "lead": [Role.QA_LEAD],
    "lead2": [Role.QA_LEAD],
    "cli": [Role.CLIENT],
}


def build_world(hooks: Any, *, senior_qa_share: float = 0.0) -> World:
    """``hooks`` is pytest-django's ``django_capture_on_commit_callbacks`` (jobs run eagerly)."""
    project = make_project(slug="p", members=MEMBERS, images=2, size=(W, H))
    make_project(
        slug="other",
        members={"outsider": [Role.MANAGER, Role.QA_LEAD, Role.REVIEWER, Role.ANNOTATOR, Role.CLIENT]},
        images=1,
        size=(W, H),
    )
    Project.objects.filter(id=project.id).update(
        peer_review_rate_dominant=1.0,
        peer_review_rate_rare=1.0,
        overlap_share=0.0,
        gold_share=0.0,
        senior_qa_share=senior_qa_share,
    )
    project.refresh_from_db()
    users = {name: user(name) for name in [*MEMBERS, "outsider"]}
    users["root"] = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    items = []
    for task, name in zip(project.tasks.order_by("id"), ("ann1", "ann2"), strict=True):
        assign(task, users[name])
        with hooks(execute=True):
            revision = save(task, users[name], scene())
        items.append(ReviewItem.objects.get(revision=revision))
    return World(project=project, items=items, users=users)


def review_snapshot(project: Project) -> dict[str, Any]:
    """Every row review decisions write, for asserting that a refused request changed nothing."""
    return {
        "items": sorted(
            ReviewItem.objects.filter(task__project=project).values_list(
                "id", "stage", "status", "reviewer_id", "revision_id"
            )
        ),
        "decisions": ReviewDecision.objects.filter(item__task__project=project).count(),
        "comments": ReviewComment.objects.filter(revision__task__project=project).count(),
        "tasks": sorted(
            Task.objects.filter(project=project).values_list(
                "id", "kind", "status", "review_stage", "reviewer_id", "assignee_id"
            )
        ),
        "memberships": sorted(
            Membership.objects.filter(project=project).values_list(
                "user_id", "role", "released_to_production"
            )
        ),
        "revisions": sorted(
            Revision.objects.filter(task__project=project).values_list("id", "status", "author_id")
        ),
        "audit": AuditEvent.objects.filter(project=project).count(),
        "batches": sorted(Batch.objects.filter(project=project).values_list("id", "status")),
        "policy": Project.objects.filter(id=project.id).values().get(),
        "class_thresholds": sorted(ClassThreshold.objects.filter(project=project).values_list()),
    }
