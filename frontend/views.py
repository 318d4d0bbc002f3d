"""Server-rendered pages: sign-in, the home page, the annotator's queue and the editor shell."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import NotFound
from core.http import request_user
from core.roles import Role
from projects.models import Task
from projects.selectors import (
    project_get_for_user,
    task_get_for_user,
    task_list_for_user,
    user_projects_with_roles,
    user_roles,
)
from qa import services as qa_services


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = user_projects_with_roles(user=request.user)
    return render(request, "frontend/home.html", {"projects": projects})


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The annotator's own tasks, per project, with a Next task button."""
    sections = []
    for project, roles in user_projects_with_roles(user=request.user):
        if Role.ANNOTATOR not in roles:
            continue
        tasks = task_list_for_user(user=request.user, project=project).filter(assignee_id=request.user.pk)
        sections.append(
            {
                "project": project,
                "open": [t for t in tasks if t.status in Task.EDITABLE_STATUSES],
                "done": [t for t in tasks if t.status not in Task.EDITABLE_STATUSES],
            }
        )
    return render(request, "frontend/queue.html", {"sections": sections})


@login_required
@require_POST
def task_next(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        project = project_get_for_user(user=request.user, slug=slug)
    except NotFound:
        raise Http404 from None
    if not user_roles(user=request.user, project=project) & {Role.ANNOTATOR, Role.QA_LEAD}:
        raise Http404
    task = qa_services.task_next(project=project, user=request_user(request))
    if task is None:
        messages.info(request, f"No task is waiting in {project.name} right now.")
        return redirect("queue")
    return redirect("task-editor", task_id=task.id)


def editor_config(request: HttpRequest, task: Task, **extra: Any) -> dict[str, Any]:
    editable = task.assignee_id == request.user.pk and task.status in Task.EDITABLE_STATUSES
    return {
        "taskId": task.id,
        "mode": "edit" if editable else "review",
        "apiBase": "/api/",
        "csrfToken": get_token(request),
        "username": request.user.get_username(),
        "queueUrl": "/queue/",
        "revisionId": None,
        "referenceRevisionId": None,
        **extra,
    }


@login_required
def task_editor(request: HttpRequest, task_id: int) -> HttpResponse:
    try:
        task = task_get_for_user(user=request.user, task_id=task_id)
    except NotFound:
        raise Http404 from None
    config = editor_config(request, task)
    # The author reaches the reviewers' comments (and gold scores where allowed) from the editor
    # once the work has been submitted; the feedback page itself enforces who may read it.
    feedback_link = task.assignee_id == request.user.pk and task.status not in (
        Task.Status.TODO,
        Task.Status.IN_PROGRESS,
    )
    return render(
        request,
        "frontend/editor.html",
        {"task": task, "config_json": json.dumps(config), "feedback_link": feedback_link},
    )
