"""``import_annotations SLUG --format F PATH (--prelabels | --gold | --author U | --accepted)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import ApplicationError
from core.roles import Role
from deliveries.models import ImportRun
from deliveries.services import ImportRefused, import_run_execute
from projects.models import Membership, Project


def _importer(project: Project, username: str | None) -> User:
    """``--by``, or the project's first manager (the earliest to join)."""
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--by: no user '{username}'.")
        return user
    first = (
        Membership.objects.filter(project=project, role=Role.MANAGER)
        .select_related("user")
        .order_by("created_at", "id")
        .first()
    )
    if first is None:
        raise CommandError(f"Project {project.slug} has no manager; name the importing user with --by.")
    return first.user


class Command(BaseCommand):
    help = (
        "Import annotations (COCO, COCO panoptic or Tessera PNGs; a JSON file, a folder or a zip) "
        "all or nothing: every problem is listed and nothing is written unless there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("path", help="a JSON file (COCO), an export folder or a zip of it")
        parser.add_argument("--format", required=True, choices=ImportRun.Format.values, dest="fmt")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--prelabels", action="store_true", help="proposed segments to confirm in the editor"
        )
        mode.add_argument("--gold", action="store_true", help="gold references of their images")
        mode.add_argument("--author", metavar="USERNAME", help="this annotator's submitted work (measured)")
        mode.add_argument(
            "--accepted", action="store_true", help="finished annotations that releases deliver"
        )
        parser.add_argument(
            "--supersede-open-work",
            action="store_true",
            help="with --accepted: also import onto tasks an annotator is working on (their drafts are "
            "kept, the task becomes accepted); without it such images are refused",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="who imports (a manager; a qa_lead may import gold); default: the project's first manager",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"No project '{options['slug']}'.")
        by = _importer(project, options["by"])
        if options["supersede_open_work"] and not options["accepted"]:
            raise CommandError("--supersede-open-work is only used with --accepted.")
        author = None
        if options["author"]:
            mode = ImportRun.Mode.AUTHOR
            author = User.objects.filter(username=options["author"]).first()
            if author is None:
                raise CommandError(f"--author: no user '{options['author']}'.")
        elif options["gold"]:
            mode = ImportRun.Mode.GOLD
        elif options["prelabels"]:
            mode = ImportRun.Mode.PRELABELS
        else:
            mode = ImportRun.Mode.ACCEPTED
        path = Path(options["path"])
        last: dict[str, int] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            step = 100 if total is None else max(total // 10, 1)
            if (done % step == 0 or done == total) and last.get(stage) != done:
                last[stage] = done
                self.stdout.write(f"{stage}: {done}" + (f"/{total}" if total else " images"))

        try:
            run = import_run_execute(
                project=project,
                by=by,
                fmt=options["fmt"],
                mode=mode,
                source=path,
                source_name=str(path),
                author=author,
                progress=progress,
                supersede_open_work=options["supersede_open_work"],
            )
        except ImportRefused as refused:
            lines = [refused.message, *(problem.line() for problem in refused.problems)]
            raise CommandError("\n".join(lines)) from None
        except ApplicationError as error:
            raise CommandError(f"{path}: {error.message}") from None
        counts, overall = run.counts, run.coverage.get("overall", {})
        self.stdout.write(
            f"Imported {counts['images']} images ({counts['segments']} segments) into {project.slug} "
            f"as {mode}: import run {run.id}."
        )
        coverage = overall.get("coverage")
        self.stdout.write(
            "Coverage: "
            + (f"{coverage:.2%} of pixels labelled" if coverage is not None else "no pixels")
            + f"; {overall.get('images_with_void', 0)} of {overall.get('images', 0)} images have void pixels; "
            + f"{overall.get('overlap_pixels', 0)} overlapping pixels resolved."
        )
        for row in run.coverage.get("images", []):
            if row["void_pixels"] or row["notes"]:
                notes = "; ".join(row["notes"])
                self.stdout.write(
                    f"  {row['file_name']}: {row['coverage']:.2%} labelled" + (f" ({notes})" if notes else "")
                )
        for note in run.notes:
            self.stdout.write(f"Note: {note}")
