"""Reads of imports and releases, with the access rules of each role.

Releases: managers see every release of their projects (building and failed ones too); QA
leads see them all read-only; clients see the ready releases of their own projects and
nothing else; annotators and reviewers see none (403 on a project they belong to). A release
the caller may not see answers 404. Import runs: managers and QA leads.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.exceptions import Forbidden, NotFound
from core.roles import STAFF_ROLES, Role
from deliveries.models import ImportRun, Release, ReleaseDecision
from projects.models import Project
from projects.selectors import UserLike, user_projects_with_roles, user_roles

RELEASE_ROLES = frozenset({*STAFF_ROLES, Role.CLIENT})


def _with_decisions(queryset: QuerySet[Release]) -> QuerySet[Release]:
    return queryset.select_related("project", "created_by").prefetch_related(
        Prefetch(
            "decisions",
            queryset=ReleaseDecision.objects.select_related("client").order_by("created_at", "id"),
        )
    )


def _visible(queryset: QuerySet[Release], roles: frozenset[str]) -> QuerySet[Release]:
    if roles & STAFF_ROLES:
        return queryset
    if Role.CLIENT in roles:
        return queryset.filter(status=Release.Status.READY)
    return queryset.none()


def release_list_for_user(*, user: UserLike, project: Project) -> QuerySet[Release]:
    """Call with a project the user may see (``project_get_for_user``)."""
    roles = user_roles(user=user, project=project)
    if not roles & RELEASE_ROLES:
        raise Forbidden("Releases are for the project's managers, QA leads and clients.")
    return _with_decisions(_visible(Release.objects.filter(project=project), roles)).order_by("-number")


def release_get_for_user(*, user: UserLike, release_id: int) -> Release:
    release = Release.objects.filter(id=release_id).select_related("project").first()
    if release is None:
        raise NotFound(f"No release {release_id}.")
    roles = user_roles(user=user, project=release.project)
    found = _with_decisions(_visible(Release.objects.filter(id=release.id), roles)).first()
    if found is None:
        raise NotFound(f"No release {release_id}.")
    return found


def release_current_decision(release: Release) -> ReleaseDecision | None:
    """The latest verdict (call on a release loaded with its decisions)."""
    decisions = list(release.decisions.all())
    return decisions[-1] if decisions else None


def releases_by_project_for_user(*, user: UserLike) -> list[tuple[Project, frozenset[str], list[Release]]]:
    """For the portal: each project where the user may see releases, with those releases."""
    found = []
    for project, roles in user_projects_with_roles(user=user):
        held = frozenset(roles)
        if held & RELEASE_ROLES:
            releases = list(
                _with_decisions(_visible(Release.objects.filter(project=project), held)).order_by("-number")
            )
            found.append((project, held, releases))
    return found


def import_run_list_for_user(*, user: UserLike, project: Project) -> QuerySet[ImportRun]:
    """Call with a project the user may see."""
    if not user_roles(user=user, project=project) & STAFF_ROLES:
        raise Forbidden("Import runs are for the project's managers and QA leads.")
    return (
        ImportRun.objects.filter(project=project)
        .select_related("project", "created_by", "author")
        .order_by("-created_at", "-id")
    )


def import_run_get_for_user(*, user: UserLike, run_id: int) -> ImportRun:
    run = ImportRun.objects.filter(id=run_id).select_related("project", "created_by", "author").first()
    if run is None or not user_roles(user=user, project=run.project) & STAFF_ROLES:
        raise NotFound(f"No import run {run_id}.")
    return run
