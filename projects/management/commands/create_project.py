from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.commands import command_errors, read_json_file
from projects.models import Project
from projects.services import project_create, taxonomy_parse


class Command(BaseCommand):
    help = "Create a project from a taxonomy file (a COCO-panoptic categories list)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--mode", required=True, choices=Project.Mode.values)
        parser.add_argument("--taxonomy", required=True, metavar="CATEGORIES.json")
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        data = read_json_file(options["taxonomy"])
        with command_errors(source=options["taxonomy"]):
            taxonomy = taxonomy_parse(data)
        with command_errors():
            project = project_create(
                slug=options["slug"],
                name=options["name"] or options["slug"],
                mode=options["mode"],
                taxonomy=taxonomy,
            )
        self.stdout.write(
            f"Created project {project.slug} ({project.mode}) with {len(taxonomy.categories)} categories."
        )
