"""Projects and the people in them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from core.exceptions import Conflict, NotFound, ValidationFailed
from core.roles import Role
from projects.models import (
    Membership,
    Project,
    TaxonomyVersion,
)
from projects.services.taxonomy import TaxonomyIn, _taxonomy_fill

# --- projects and people ---------------------------------------------------------------------------


@transaction.atomic
def project_create(
    *,
    slug: str,
    name: str,
    mode: str,
    taxonomy: TaxonomyIn,
    created_by: User | None = None,
    description: str = "",
) -> Project:
    if mode not in Project.Mode.values:
        raise ValidationFailed(f"Mode must be one of {', '.join(Project.Mode.values)}, got {mode!r}.")
    if not slug or slugify(slug) != slug:
        raise ValidationFailed(f"Slug {slug!r} must be lowercase letters, digits and hyphens.")
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug '{slug}' already exists.")
    if mode == Project.Mode.INSTANCE and not any(c.isthing for c in taxonomy.categories):
        raise ValidationFailed("An instance project needs at least one thing category (isthing = 1).")
    project = Project.objects.create(slug=slug, name=name or slug, mode=mode, description=description)
    version = TaxonomyVersion.objects.create(project=project, number=1, created_by=created_by, note="initial")
    _taxonomy_fill(taxonomy=version, spec=taxonomy)
    if created_by is not None:
        Membership.objects.create(user=created_by, project=project, role=Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, changes: dict[str, Any]) -> Project:
    """Update editable project fields (name, description, phase, QA policy); a phase change
    must be one of ``Project.ALLOWED_PHASE_TRANSITIONS``."""
    if "phase" in changes:
        # Read the phase under a row lock: two managers moving the project at once must each
        # be checked against the phase the other left, not the one they loaded.
        current = Project.objects.select_for_update().values_list("phase", flat=True).get(id=project.id)
        wanted = changes["phase"]
        if wanted != current and wanted in Project.Phase.values:
            allowed = Project.ALLOWED_PHASE_TRANSITIONS[current]
            if wanted not in allowed:
                raise Conflict(
                    f"Project {project.slug} cannot go from {current} to {wanted}; "
                    f"from {current} it may go to {', '.join(sorted(allowed))}.",
                    extra={"code": "phase_transition", "phase": current, "allowed": sorted(allowed)},
                )
    for key, value in changes.items():
        setattr(project, key, value)
    project.full_clean(exclude=["slug"])
    project.save(update_fields=[*changes.keys(), "updated_at"])
    return project


def membership_add(*, project: Project, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(f"Role must be one of {', '.join(Role.values)}, got {role!r}.")
    membership, _ = Membership.objects.get_or_create(user=user, project=project, role=role)
    return membership


def user_get_or_create(*, username: str, password: str | None = None, create: bool = False) -> User:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None:
        return user
    if not create:
        raise NotFound(f"No user '{username}'.")
    if not password:
        raise ValidationFailed("Creating a user needs a password.")
    return user_model.objects.create_user(username=username, password=password)
