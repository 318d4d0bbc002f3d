"""Reads of revisions and their maps, with the access rules of each role."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from django.db.models import Q, QuerySet

from annotation.masks import decode_index_map
from annotation.models import Revision
from core.exceptions import NotFound
from core.roles import STAFF_ROLES, Role
from core.storage import blob_read
from projects.models import Project, Task
from projects.selectors import UserLike, task_visibility_filter, user_roles

# Revisions someone else wrote that the assignee of the task sees as part of their own work.
ASSIGNEE_VISIBLE_SOURCES = (Revision.Source.PRELABEL, Revision.Source.IMPORT, Revision.Source.REVIEW_FIX)


def revision_visibility_filter(
    *, user: UserLike, task: Task, queryset: QuerySet[Revision]
) -> QuerySet[Revision]:
    """Revisions of a task the user can already see, narrowed by role.

    manager and qa_lead: all. The task's assignee: their own revisions, and what the project
    put on their task for them (pre-labels, imports, a reviewer's fix, which is feedback on
    their work), never another person's editor or API work: blind agreement depends on it, even
    if a task that holds someone's work were handed on (the services refuse that). A reviewer:
    submitted work only, never someone's draft.
    """
    roles = user_roles(user=user, project=task.project)
    if roles & STAFF_ROLES:
        return queryset
    if Role.ANNOTATOR in roles and task.assignee_id == user.pk:
        return queryset.filter(Q(author_id=user.pk) | Q(source__in=ASSIGNEE_VISIBLE_SOURCES))
    if Role.REVIEWER in roles:
        return queryset.exclude(status=Revision.Status.DRAFT)
    return queryset.none()


def revision_list_for_user(*, user: UserLike, task: Task) -> QuerySet[Revision]:
    """Call with a task the user may see (``task_get_for_user``)."""
    queryset = task.revisions.select_related("author", "parent").order_by("number")
    return revision_visibility_filter(user=user, task=task, queryset=queryset)


def revision_latest_for_user(*, user: UserLike, task: Task) -> Revision:
    revision = revision_list_for_user(user=user, task=task).order_by("-number").first()
    if revision is None:
        raise NotFound(f"Task {task.id} has no annotation yet.")
    return revision


def revision_get_for_user(*, user: UserLike, revision_id: int) -> Revision:
    revision = (
        Revision.objects.filter(id=revision_id).select_related("task__project", "author", "parent").first()
    )
    if revision is None:
        raise NotFound(f"No revision {revision_id}.")
    task = revision.task
    task_visible = task_visibility_filter(
        user=user, project=task.project, queryset=Task.objects.filter(id=task.id)
    )
    if (
        not task_visible.exists()
        or not revision_visibility_filter(
            user=user, task=task, queryset=Revision.objects.filter(id=revision.id)
        ).exists()
    ):
        raise NotFound(f"No revision {revision_id}.")
    return revision


def revision_map_png(*, revision: Revision) -> bytes:
    return blob_read(revision.map_key)


def revision_index_map(*, revision: Revision) -> npt.NDArray[np.uint16]:
    return decode_index_map(
        revision_map_png(revision=revision), expected_shape=(revision.height, revision.width)
    )


def release_revisions(*, project: Project) -> list[Revision]:
    """The revision a release delivers for each image, in image order.

    Per image: its gold reference when there is one (the QA lead's own labelling), otherwise
    the latest accepted revision of its annotation tasks. Images of calibration batches and
    images without accepted work are left out.
    """
    accepted = (
        Revision.objects.filter(task__project=project, status=Revision.Status.ACCEPTED)
        .exclude(task__image__batch__is_calibration=True)
        .exclude(task__kind=Task.Kind.CALIBRATION)
        .select_related("task__image", "task__taxonomy", "author")
        .order_by("task__image_id", "id")
    )
    chosen: dict[int, Revision] = {}
    for revision in accepted:  # by id: a later accepted revision replaces an earlier one
        current = chosen.get(revision.task.image_id)
        if (
            current is not None
            and current.task.kind == Task.Kind.GOLD
            and revision.task.kind != Task.Kind.GOLD
        ):
            continue
        chosen[revision.task.image_id] = revision
    return [chosen[i] for i in sorted(chosen)]
