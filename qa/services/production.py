"""Calibration and production: who gets which task, and the blind overlap and gold samples.

Annotators start in calibration when the project has calibration images: they label every
calibration image, are measured against gold, and work on production only once a manager
releases them. In production a share of images is labelled twice (agreement) and a share
carries a gold reference labelled by the QA lead; annotators cannot tell these apart.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.roles import Role
from projects.models import Batch, Image, Membership, Project, Task
from projects.selectors import taxonomy_current, user_roles
from projects.services import project_update, task_next_for_user
from qa.models import AuditEvent
from qa.services.routing import sampling_draw


def audit(
    *,
    project: Project,
    actor: User | None,
    action: str,
    target: str = "",
    reason: str = "",
    **details: object,
) -> AuditEvent:
    return AuditEvent.objects.create(
        project=project, actor=actor, action=action, target=target, reason=reason, details=details
    )


def has_calibration(project: Project) -> bool:
    return project.batches.filter(is_calibration=True, images__isnull=False).exists()


def is_released(*, project: Project, user: User) -> bool:
    return Membership.objects.filter(
        project=project, user=user, role=Role.ANNOTATOR, released_to_production=True
    ).exists()


@transaction.atomic
def calibration_start(*, project: Project, batch: Batch, by: User) -> int:
    """Make ``batch`` the calibration set: every annotator gets every image, the QA lead a
    gold task per image without gold. Returns the number of tasks created."""
    if batch.project_id != project.id:
        raise ValidationFailed(f"Batch {batch.name} is not in project {project.slug}.")
    batch = Batch.objects.select_for_update().get(id=batch.id)
    # Lock the batch's images and tasks before looking for work on them: saving a revision
    # locks its task, so nobody can start work between this check and the deletion below.
    list(Image.objects.select_for_update().filter(batch=batch).values_list("id", flat=True))
    list(Task.objects.select_for_update().filter(image__batch=batch).values_list("id", flat=True))
    if (
        project.tasks.filter(image__batch=batch)
        .exclude(kind=Task.Kind.GOLD)
        .filter(revisions__isnull=False)
        .exists()
    ):
        raise Conflict(f"Batch {batch.name} already has annotation work; calibration needs fresh images.")
    batch.is_calibration = True
    batch.save(update_fields=["is_calibration", "updated_at"])
    # The plain annotation tasks made at upload become calibration tasks for the annotators.
    project.tasks.filter(image__batch=batch, kind=Task.Kind.ANNOTATE).delete()
    annotators = User.objects.filter(
        memberships__project=project, memberships__role=Role.ANNOTATOR
    ).distinct()
    created = sum(calibration_assign(project=project, user=user) for user in annotators)
    taxonomy = taxonomy_current(project=project)
    for image in batch.images.all():
        if not image.tasks.filter(kind=Task.Kind.GOLD).exists():
            Task.objects.create(project=project, image=image, taxonomy=taxonomy, kind=Task.Kind.GOLD)
            created += 1
    if project.phase == Project.Phase.SPECIFICATION:
        project_update(project=project, changes={"phase": Project.Phase.CALIBRATION})
    audit(project=project, actor=by, action="calibration_start", target=batch.name, tasks=created)
    return created


@transaction.atomic
def calibration_assign(*, project: Project, user: User) -> int:
    """Give ``user`` a calibration task for each calibration image they do not have yet."""
    # One assignment at a time per annotator (two tabs pulling at once): lock their membership.
    list(
        Membership.objects.select_for_update()
        .filter(project=project, user=user, role=Role.ANNOTATOR)
        .values_list("id", flat=True)
    )
    taxonomy = taxonomy_current(project=project)
    have = set(
        Task.objects.filter(project=project, assignee=user, kind=Task.Kind.CALIBRATION).values_list(
            "image_id", flat=True
        )
    )
    images = Image.objects.filter(project=project, batch__is_calibration=True).exclude(id__in=have)
    tasks = [
        Task(
            project=project,
            image=image,
            taxonomy=taxonomy,
            kind=Task.Kind.CALIBRATION,
            assignee=user,
            assigned_at=timezone.now(),
        )
        for image in images
    ]
    Task.objects.bulk_create(tasks)
    return len(tasks)


@transaction.atomic
def annotator_release(
    *, project: Project, user: User, by: User, released: bool = True, reason: str = ""
) -> Membership:
    """The manager releases an annotator to production work (or takes them back to calibration)."""
    if Role.MANAGER not in user_roles(user=by, project=project):
        raise Forbidden("Releasing annotators needs the manager role.")
    membership = Membership.objects.filter(project=project, user=user, role=Role.ANNOTATOR).first()
    if membership is None:
        raise ValidationFailed(f"{user.get_username()} is not an annotator of {project.slug}.")
    membership.released_to_production = released
    membership.save(update_fields=["released_to_production", "updated_at"])
    audit(
        project=project,
        actor=by,
        action="annotator_released" if released else "annotator_recalled",
        target=user.get_username(),
        reason=reason,
    )
    return membership


@transaction.atomic
def images_plan(*, project: Project) -> int:
    """Plan new production images once: draw the overlap and gold samples, add the second
    annotation task and the QA lead's gold task. Returns the number of images planned.

    Concurrent callers (annotators pressing *Next task* at once) plan disjoint images: the
    rows still to plan are locked, and rows another caller holds are skipped.
    """
    pending = list(
        Image.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(project=project, planned_at__isnull=True)
        .exclude(batch__is_calibration=True)
        .order_by("id")
    )
    if not pending:
        return 0
    taxonomy = taxonomy_current(project=project)
    now = timezone.now()
    with_gold = set(
        Task.objects.filter(image__in=pending, kind=Task.Kind.GOLD).values_list("image_id", flat=True)
    )
    new_tasks = []
    for image in pending:
        image.is_overlap_sample = (
            sampling_draw(seed=project.sampling_seed, purpose="overlap", key=image.id) < project.overlap_share
        )
        image.is_gold_sample = (
            sampling_draw(seed=project.sampling_seed, purpose="gold", key=image.id) < project.gold_share
        )
        image.planned_at = now
        if image.is_overlap_sample:
            new_tasks.append(
                Task(
                    project=project, image=image, taxonomy=taxonomy, kind=Task.Kind.ANNOTATE, is_overlap=True
                )
            )
        if image.is_gold_sample and image.id not in with_gold:
            new_tasks.append(Task(project=project, image=image, taxonomy=taxonomy, kind=Task.Kind.GOLD))
    Image.objects.bulk_update(pending, ["is_overlap_sample", "is_gold_sample", "planned_at"])
    Task.objects.bulk_create(new_tasks)
    return len(pending)


@transaction.atomic
def task_next(*, project: Project, user: User) -> Task | None:
    """The next task for the caller: annotators get calibration work until released, then
    production work (overlap and gold images mixed in unseen); QA leads get gold tasks."""
    roles = user_roles(user=user, project=project)
    if Role.ANNOTATOR in roles:
        if has_calibration(project):
            calibration_assign(project=project, user=user)
            task = task_next_for_user(project=project, user=user, kinds=[Task.Kind.CALIBRATION])
            if task is not None or not is_released(project=project, user=user):
                return task
        images_plan(project=project)
        return task_next_for_user(project=project, user=user, kinds=[Task.Kind.ANNOTATE])
    if Role.QA_LEAD in roles:
        images_plan(project=project)
        return task_next_for_user(project=project, user=user, kinds=[Task.Kind.GOLD])
    raise Forbidden("Only annotators (and QA leads, for gold) take tasks.")
