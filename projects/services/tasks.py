"""Tasks: transitions, assignment, reassignment and operators' edits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from core.exceptions import Conflict, ValidationFailed
from core.roles import Role
from projects.models import (
    Membership,
    Project,
    Task,
)

# --- tasks ---------------------------------------------------------------------------------------


def task_transition(*, task: Task, to: str) -> Task:
    """Move a task along one of its allowed transitions; call with the task row locked."""
    if task.status == to:
        return task
    if not task.can_move_to(to):
        raise Conflict(f"Task {task.id} cannot go from {task.status} to {to}.")
    task.status = to
    task.save(update_fields=["status", "updated_at"])
    return task


def task_next_for_user(*, project: Project, user: User, kinds: Iterable[str] | None = None) -> Task | None:
    """The annotator's next task: their open one if any, else a new one assigned to them.

    Never an image the annotator already has a task on. Uses SKIP LOCKED so concurrent
    annotators pulling at the same moment get different tasks.
    """
    kinds = list(kinds or [Task.Kind.ANNOTATE])
    with transaction.atomic():
        # Rework first: a rejected task is waiting on this annotator and blocks its batch.
        open_task = (
            Task.objects.filter(
                project=project, assignee_id=user.pk, kind__in=kinds, status__in=Task.EDITABLE_STATUSES
            )
            .annotate(
                rework=Case(
                    When(status=Task.Status.REJECTED, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("rework", "assigned_at", "id")
            .first()
        )
        if open_task is not None:
            return open_task
        own_images = Task.objects.filter(project=project, assignee_id=user.pk).values("image_id")
        candidate = (
            Task.objects.select_for_update(skip_locked=True)
            .filter(project=project, assignee__isnull=True, status=Task.Status.TODO, kind__in=kinds)
            .exclude(image_id__in=own_images)
            .order_by("id")
            .first()
        )
        if candidate is None:
            return None
        candidate.assignee_id = user.pk
        candidate.assigned_at = timezone.now()
        candidate.save(update_fields=["assignee", "assigned_at", "updated_at"])
        return candidate


# Fields that tie a task to the work saved on it: once it holds a revision they never change,
# or the saved maps would describe another image, be checked against another taxonomy, or be
# shown to another person.
TASK_WORK_FIELDS = ("project", "image", "taxonomy", "kind", "assignee")


def _role_for_task(task: Task) -> str:
    return Role.QA_LEAD if task.kind == Task.Kind.GOLD else Role.ANNOTATOR


def task_reassign_check(*, task: Task, assignee: User | None) -> None:
    """Raise unless ``task`` may be given to ``assignee`` (None: back to the pool).

    A task that holds work someone else saved is never handed on: the new assignee would see
    that work, which breaks blind agreement (and the work belongs to its author). Give the
    image to someone else as a new task instead (an overlap task); the saved work stays put.
    """
    others = task.revisions.all() if assignee is None else task.revisions.exclude(author_id=assignee.pk)
    if others.exists():
        authors = sorted(set(others.values_list("author__username", flat=True)))
        raise Conflict(
            f"Task {task.id} holds work saved by {', '.join(authors)}; it stays with its author. "
            "Give the image to someone else as a new task instead.",
            extra={"code": "task_holds_work"},
        )
    if task.status not in (Task.Status.TODO, Task.Status.IN_PROGRESS):
        raise Conflict(f"Task {task.id} is {task.status}; only open tasks are reassigned.")
    if assignee is None:
        return
    role = _role_for_task(task)
    if not Membership.objects.filter(project_id=task.project_id, user_id=assignee.pk, role=role).exists():
        raise ValidationFailed(
            f"{assignee.get_username()} is not {role} in this project; a {task.kind} task needs one."
        )
    if (
        task.kind != Task.Kind.GOLD
        and Task.objects.filter(
            image_id=task.image_id,
            assignee_id=assignee.pk,
            kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION],
        )
        .exclude(id=task.id)
        .exists()
    ):
        raise Conflict(f"{assignee.get_username()} already has a task on this image.")


@transaction.atomic
def task_reassign(*, task: Task, assignee: User | None) -> Task:
    """Give an open task without other people's work to ``assignee``, or back to the pool."""
    locked = Task.objects.select_for_update().get(id=task.id)
    task_reassign_check(task=locked, assignee=assignee)
    if assignee is not None and locked.assignee_id == assignee.pk:
        return locked
    locked.assignee = assignee
    locked.assigned_at = timezone.now() if assignee is not None else None
    locked.status = Task.Status.TODO
    locked.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
    return locked


def task_update_check(*, task: Task, changes: dict[str, Any]) -> None:
    """Raise unless an operator may make ``changes`` (field name → new value) to ``task``."""
    bound = sorted(set(changes) & (set(TASK_WORK_FIELDS) - {"assignee"}))
    if bound and task.revisions.exists():
        raise Conflict(
            f"Task {task.id} holds saved work; its {', '.join(bound)} cannot change.",
            extra={"code": "task_holds_work"},
        )
    project_id = changes["project"].id if "project" in changes else task.project_id
    image = changes.get("image", task.image)
    taxonomy = changes.get("taxonomy", task.taxonomy)
    if image.project_id != project_id or taxonomy.project_id != project_id:
        raise ValidationFailed("A task's image and taxonomy version belong to the task's project.")
    if "assignee" in changes:
        task_reassign_check(task=task, assignee=changes["assignee"])


@transaction.atomic
def task_update(*, task: Task, changes: dict[str, Any]) -> Task:
    """An operator's edit of a task (the admin site): work-bound fields only while it holds no
    revision, the assignee only through the reassignment rules. Status never changes here."""
    locked = Task.objects.select_for_update().select_related("image", "taxonomy").get(id=task.id)
    assignee_changes = {"assignee": changes["assignee"]} if "assignee" in changes else {}
    other = {name: value for name, value in changes.items() if name != "assignee"}
    task_update_check(task=locked, changes=changes)
    if other:
        for name, value in other.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["assignee"])
        locked.save(update_fields=[*other, "updated_at"])
    if assignee_changes:
        locked = task_reassign(task=locked, assignee=assignee_changes["assignee"])
    return locked
