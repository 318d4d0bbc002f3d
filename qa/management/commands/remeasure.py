from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import Project
from qa.services.measurement import measurements_requeue


class Command(BaseCommand):
    help = (
        "Recover measurements no job will finish: re-enqueue those pending too long (a lost job, "
        "or a worker that could not record its failure), optionally the failed ones (after the "
        "data was repaired), and route measured submissions that were never routed. Safe to run "
        "from cron: the jobs are idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="one project (default: all)")
        parser.add_argument(
            "--older-than",
            type=int,
            default=15,
            metavar="MINUTES",
            help="a pending measurement untouched this long is stuck (default 15)",
        )
        parser.add_argument("--failed", action="store_true", help="also retry failed measurements")
        parser.add_argument("--dry-run", action="store_true", help="list what would be done")

    def handle(self, *args: Any, **options: Any) -> None:
        project = None
        if options["slug"]:
            project = Project.objects.filter(slug=options["slug"]).first()
            if project is None:
                raise CommandError(f"No project '{options['slug']}'.")
        if options["older_than"] < 0:
            raise CommandError("--older-than must be 0 or more minutes.")
        done = measurements_requeue(
            project=project,
            stale_after=timedelta(minutes=options["older_than"]),
            include_failed=options["failed"],
            dry_run=options["dry_run"],
        )
        verb = "would re-enqueue" if options["dry_run"] else "re-enqueued"
        self.stdout.write(f"{verb} {len(done.pending)} stuck pending: {done.pending}")
        self.stdout.write(f"{verb} {len(done.failed)} failed: {done.failed}")
        routed = "would route" if options["dry_run"] else "routed"
        self.stdout.write(f"{routed} {len(done.routed)} unrouted: {done.routed}")
