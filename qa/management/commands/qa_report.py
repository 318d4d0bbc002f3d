from __future__ import annotations

import csv
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import Project
from qa import reports


class Command(BaseCommand):
    help = "Print a project's QA report per batch (JSON or CSV), recomputed from the stored counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--batch", help="one batch (default: every production batch)")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"No project '{options['slug']}'.")
        batches = project.batches.filter(is_calibration=False).order_by("created_at", "id")
        if options["batch"]:
            batches = batches.filter(name=options["batch"])
            if not batches.exists():
                raise CommandError(f"No production batch '{options['batch']}' in {project.slug}.")
        batch_reports = [reports.batch_report(project=project, batch=batch) for batch in batches]
        if options["format"] == "csv":
            writer = csv.writer(self.stdout)
            for index, report in enumerate(batch_reports):
                rows = reports.batch_report_rows(report)
                for row in rows[1:] if index else rows:
                    writer.writerow(
                        [
                            "batch" if row[0] == "section" else report["batch"],
                            *["" if v is None else v for v in row],
                        ]
                    )
            return
        payload: Any = (
            batch_reports[0]
            if options["batch"]
            else {
                "project": project.slug,
                "batches": batch_reports,
                "calibration": reports.calibration_report(project=project),
                "agreement_over_batches": reports.agreement_over_batches(project=project),
            }
        )
        self.stdout.write(json.dumps(payload, indent=1, sort_keys=False))
        if not batch_reports and not options["batch"]:
            sys.stderr.write("(no production batches yet)\n")
