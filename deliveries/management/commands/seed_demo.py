from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from PIL import Image as PILImage

from annotation.services import SegmentIn
from core.roles import Role
from deliveries.services import release_build, release_create
from projects.demo.scenes import street_scene
from projects.models import Membership, Project
from projects.services import images_add, membership_add, project_create, project_update, taxonomy_parse
from qa.services import gold_set

DEMO_SLUG = "demo"
DEMO_USERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("manager", (Role.MANAGER,)),
    ("annotator1", (Role.ANNOTATOR,)),
    ("annotator2", (Role.ANNOTATOR,)),
    ("annotator3", (Role.ANNOTATOR,)),
    ("reviewer", (Role.REVIEWER,)),
    ("qalead", (Role.QA_LEAD,)),
    ("client", (Role.CLIENT,)),
)
DEMO_IMAGES = 8
# The QA lead's gold reference exists for these demo images (blind honeypots for annotators).
DEMO_GOLD_IMAGES = (1, 2)
TAXONOMY_FILE = Path(settings.BASE_DIR) / "projects" / "demo" / "cityscapes_taxonomy.json"


def demo_password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo_password"


def _png(array: Any) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo project (panoptic city streets), its users and images; prints the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            help="password for every demo user (default: a random one kept in var/demo_password)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or self._stored_password()
        with transaction.atomic():
            users = self._users(password)
            project = Project.objects.filter(slug=DEMO_SLUG).first()
            project_created = project is None
            if project is None:
                project = self._project(users["manager"])
                self._gold(project, users["qalead"])
                release = release_create(project=project, by=users["manager"], enqueue=False)
                self.stdout.write(
                    f"Created project '{DEMO_SLUG}' with {DEMO_IMAGES} images, gold for {len(DEMO_GOLD_IMAGES)} of them."
                )
            else:
                self.stdout.write(f"Project '{DEMO_SLUG}' exists; users and roles checked.")
            for username, roles in DEMO_USERS:
                for role in roles:
                    membership_add(project=project, user=users[username], role=role)
            Membership.objects.filter(project=project, role=Role.ANNOTATOR).update(
                released_to_production=True
            )
        if project_created:
            # Built after the commit, as a worker would: the client has a release to look at.
            release_build(release_id=release.id)
            self.stdout.write(f"Built release {release.number} of the gold images for the client.")
        self._print_logins(password)

    def _stored_password(self) -> str:
        file = demo_password_file()
        if file.exists():
            return file.read_text().strip()
        password = secrets.token_urlsafe(9)
        file.write_text(password)
        file.chmod(0o600)
        return password

    def _users(self, password: str) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, _ in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.save(update_fields=["password"])
            users[username] = user
        users["manager"].user_permissions.add(
            Permission.objects.get(codename="add_project", content_type__app_label="projects")
        )
        return users

    def _project(self, manager: Any) -> Project:
        taxonomy = taxonomy_parse(json.loads(TAXONOMY_FILE.read_text()))
        project = project_create(
            slug=DEMO_SLUG,
            name="Demo: city streets",
            mode=Project.Mode.PANOPTIC,
            taxonomy=taxonomy,
            created_by=manager,
            description="Panoptic segmentation of street scenes with the 19 Cityscapes classes.",
        )
        project_update(
            project=project,
            changes={"phase": Project.Phase.PRODUCTION, "delivery_formats": ["coco-panoptic", "cityscapes"]},
        )
        files = [
            (f"street_{seed:03d}.png", _png(street_scene(seed, width=1024, height=512).image))
            for seed in range(1, DEMO_IMAGES + 1)
        ]
        images_add(project=project, files=files, batch_name="batch-1", uploaded_by=manager)
        return project

    def _gold(self, project: Project, lead: Any) -> None:
        """Gold for a few images, drawn from the same scenes the pictures were rendered from."""
        for seed in DEMO_GOLD_IMAGES:
            scene = street_scene(seed, width=1024, height=512)
            gold_set(
                image=project.images.get(file_name=f"street_{seed:03d}.png"),
                author=lead,
                index_map=scene.index_map,
                segments=[SegmentIn(id=s.id, category_id=s.category_id) for s in scene.segments],
            )

    def _print_logins(self, password: str) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {password})")
        for username, roles in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {', '.join(roles)}")
