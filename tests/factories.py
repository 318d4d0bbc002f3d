"""Builders for tests. Projects and images go through the services, so tests see real data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from core.roles import Role
from projects.models import Project, Task
from projects.services import images_add, membership_add, project_create, taxonomy_parse
from tests.helpers import USER_PASSWORD, png_bytes

# Four categories: two stuff, two things; ids chosen non-contiguous on purpose.
TAXONOMY: list[dict[str, Any]] = [
    {"id": 1, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 3, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
    {"id": 7, "name": "person", "isthing": 1, "color": [220, 20, 60], "min_area": 4},
    {"id": 9, "name": "car", "isthing": 1, "color": [0, 0, 142]},
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")

    @factory.post_generation
    def password(user: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        user.set_password(extracted or USER_PASSWORD)
        if create:
            user.save(update_fields=["password"])


def make_project(
    *,
    slug: str = "proj",
    mode: str = Project.Mode.PANOPTIC,
    categories: Sequence[dict[str, Any]] = TAXONOMY,
    members: Mapping[str, Sequence[str]] | None = None,
    images: int = 2,
    size: tuple[int, int] = (24, 16),
    allow_void: bool = False,
) -> Project:
    """A project with a taxonomy, ``images`` blank images of ``size`` (w, h) and one annotate
    task each; ``members`` maps usernames to roles."""
    project = project_create(
        slug=slug, name=slug.title(), mode=mode, taxonomy=taxonomy_parse(list(categories))
    )
    if allow_void:
        project.allow_void = True
        project.save(update_fields=["allow_void"])
    for username, roles in (members or {}).items():
        user = cast(User, UserFactory(username=username))
        for role in roles:
            membership_add(project=project, user=user, role=role)
    width, height = size
    files = [
        (f"img{i}.png", png_bytes(np.full((height, width, 3), 40 * i % 255, np.uint8))) for i in range(images)
    ]
    if files:
        images_add(project=project, files=files, batch_name="b1")
    return project


def assign(task: Task, user: Any) -> Task:
    task.assignee = user
    task.save(update_fields=["assignee"])
    return task


STANDARD_MEMBERS: dict[str, list[str]] = {
    "manager": [Role.MANAGER],
    "ann1": [Role.ANNOTATOR],
    "ann2": [Role.ANNOTATOR],
    "rev": [Role.REVIEWER],
    "lead": [Role.QA_LEAD],
    "cli": [Role.CLIENT],
}
