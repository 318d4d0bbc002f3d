"""Reads of projects, taxonomy, images and tasks, with the access rules of each role.

Access is decided by project membership only: Django's staff and superuser flags grant
nothing here (they are for the admin site). Objects the caller may not see raise NotFound,
so callers cannot probe what exists in other projects.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Permission
from django.db.models import Q, QuerySet

from core.exceptions import Forbidden, NotFound
from core.roles import STAFF_ROLES, TEAM_ROLES, Role
from projects.models import Batch, ExampleImage, Image, Membership, Project, Task, TaxonomyVersion

UserLike = AbstractBaseUser | AnonymousUser


def user_roles(*, user: UserLike, project: Project) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    return frozenset(
        Membership.objects.filter(user_id=user.pk, project=project).values_list("role", flat=True)
    )


def require_role(*, user: UserLike, project: Project, roles: Collection[str]) -> frozenset[str]:
    """Raise Forbidden unless the user holds one of ``roles``; call after a visibility check."""
    held = user_roles(user=user, project=project)
    if not held & set(roles):
        raise Forbidden(f"This needs one of the roles {', '.join(sorted(roles))} in project {project.slug}.")
    return held


# --- projects ----------------------------------------------------------------------------------


def project_list_for_user(*, user: UserLike) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user_id=user.pk).distinct().order_by("slug")


def user_may_create_projects(*, user: UserLike) -> bool:
    """Whether ``user`` may create projects through the API: an active user to whom an operator
    granted ``projects.add_project`` (on the user or one of their groups, in the admin).

    Superuser status alone does not count: ``has_perm`` would say yes to every superuser, and
    staff are no back door through the API. Operators create projects with ``create_project``.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    return (
        Permission.objects.filter(content_type__app_label="projects", codename="add_project")
        .filter(Q(user__id=user.pk) | Q(group__user__id=user.pk))
        .exists()
    )


def project_get_for_user(*, user: UserLike, slug: str) -> Project:
    project = project_list_for_user(user=user).filter(slug=slug).first()
    if project is None:
        raise NotFound(f"No project '{slug}'.")
    return project


def project_memberships(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username", "role")


def user_projects_with_roles(*, user: UserLike) -> list[tuple[Project, list[str]]]:
    rows: dict[int, tuple[Project, list[str]]] = {}
    if not user.is_authenticated:
        return []
    for membership in (
        Membership.objects.filter(user_id=user.pk).select_related("project").order_by("project__slug", "role")
    ):
        rows.setdefault(membership.project_id, (membership.project, []))[1].append(membership.role)
    return list(rows.values())


# --- taxonomy ----------------------------------------------------------------------------------


def taxonomy_current(*, project: Project) -> TaxonomyVersion:
    taxonomy = project.taxonomy_versions.order_by("-number").first()
    if taxonomy is None:
        raise NotFound(f"Project {project.slug} has no taxonomy yet.")
    return taxonomy


def taxonomy_with_contents(taxonomy_id: int) -> TaxonomyVersion:
    return TaxonomyVersion.objects.prefetch_related(
        "categories__examples",
        "conflict_rules__categories",
        "conflict_rules__examples",
        "edge_cases__categories",
        "edge_cases__examples",
    ).get(id=taxonomy_id)


def taxonomy_get_for_user(*, user: UserLike, taxonomy_id: int) -> TaxonomyVersion:
    taxonomy = TaxonomyVersion.objects.filter(id=taxonomy_id).select_related("project").first()
    if taxonomy is None or not user_roles(user=user, project=taxonomy.project) & TEAM_ROLES:
        raise NotFound(f"No taxonomy {taxonomy_id}.")
    return taxonomy_with_contents(taxonomy.id)


def example_image_get_for_user(*, user: UserLike, example_id: int) -> ExampleImage:
    example = ExampleImage.objects.filter(id=example_id).select_related("project").first()
    if example is None or not user_roles(user=user, project=example.project) & TEAM_ROLES:
        raise NotFound(f"No example image {example_id}.")
    return example


# --- images and batches --------------------------------------------------------------------------


def image_list(*, project: Project) -> QuerySet[Image]:
    return project.images.select_related("batch").order_by("id")


def batch_list(*, project: Project) -> QuerySet[Batch]:
    return project.batches.order_by("created_at", "id")


def image_get_for_user(*, user: UserLike, image_id: int) -> Image:
    """An image is visible to whoever may see one of its tasks."""
    image = Image.objects.filter(id=image_id).select_related("project").first()
    if (
        image is None
        or not task_visibility_filter(user=user, project=image.project, queryset=image.tasks.all()).exists()
    ):
        raise NotFound(f"No image {image_id}.")
    return image


# --- tasks ---------------------------------------------------------------------------------------


def task_visibility_filter(*, user: UserLike, project: Project, queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Narrow ``queryset`` (tasks of ``project``) to what ``user`` may see in that project.

    manager and qa_lead: every task. annotator: tasks assigned to them. reviewer: the tasks of
    their peer queue (waiting at the peer stage, unclaimed or claimed by them), the tasks
    whose review they claimed or decided, and the other tasks on those images, so the
    reference (gold, or the other annotator's work) can be shown; never a task on an image
    they labelled, and never a task claimed by another reviewer unless one of those reasons
    holds. The QA workflow keeps ``review_stage`` and ``reviewer`` current and records every
    review against its task (``review_items``, whose ``reviewer`` claimed or decided it).
    client: none.
    """
    roles = user_roles(user=user, project=project)
    if roles & STAFF_ROLES:
        return queryset
    visible = Q(pk__in=[])
    if Role.ANNOTATOR in roles:
        visible |= Q(assignee_id=user.pk)
    if Role.REVIEWER in roles:
        waiting = Q(review_stage=Task.ReviewStage.PEER) & (Q(reviewer__isnull=True) | Q(reviewer_id=user.pk))
        handled = Q(reviewer_id=user.pk) | Q(review_items__reviewer_id=user.pk)
        reviewable = Task.objects.filter(project=project).filter(waiting | handled).values("image_id")
        own_images = Task.objects.filter(project=project, assignee_id=user.pk).values("image_id")
        visible |= Q(image_id__in=reviewable) & ~Q(image_id__in=own_images)
    return queryset.filter(visible)


def task_list_for_user(*, user: UserLike, project: Project | None = None) -> QuerySet[Task]:
    if not user.is_authenticated:
        return Task.objects.none()
    projects = [project] if project is not None else list(project_list_for_user(user=user))
    result = Task.objects.none()
    for item in projects:
        result = result | task_visibility_filter(user=user, project=item, queryset=item.tasks.all())
    return result.select_related("image", "assignee", "project").order_by("id")


def task_get_for_user(*, user: UserLike, task_id: int) -> Task:
    task = Task.objects.filter(id=task_id).select_related("project", "image", "assignee", "taxonomy").first()
    if (
        task is None
        or not task_visibility_filter(
            user=user, project=task.project, queryset=Task.objects.filter(id=task.id)
        ).exists()
    ):
        raise NotFound(f"No task {task_id}.")
    return task
