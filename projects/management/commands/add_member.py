from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.commands import command_errors
from core.roles import Role
from projects.models import Project
from projects.services import membership_add, user_get_or_create


class Command(BaseCommand):
    help = "Give a user a role in a project (optionally creating the user)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--create", action="store_true", help="create the user if missing")
        parser.add_argument("--password", help="password for a user created with --create")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"No project '{options['slug']}'.")
        with command_errors():
            user = user_get_or_create(
                username=options["username"], password=options["password"], create=options["create"]
            )
            membership_add(project=project, user=user, role=options["role"])
        self.stdout.write(f"{options['username']} is {options['role']} in {project.slug}.")
