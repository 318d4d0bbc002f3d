"""What the server-rendered pages of every app share."""

from __future__ import annotations

from collections.abc import Collection

from django.http import Http404, HttpRequest

from core.exceptions import NotFound
from projects.models import Project
from projects.selectors import project_get_for_user, user_roles


def project_for_page(
    request: HttpRequest, slug: str, roles: Collection[str]
) -> tuple[Project, frozenset[str]]:
    """The project and the user's roles in it if they hold one of ``roles``; 404 otherwise
    (a page does not tell a project it hides from one that does not exist)."""
    try:
        project = project_get_for_user(user=request.user, slug=slug)
    except NotFound:
        raise Http404 from None
    held = user_roles(user=request.user, project=project)
    if not held & set(roles):
        raise Http404
    return project, held
