"""``export_release SLUG [--format F ...] --out DIR``: make a release and copy it out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.commands import command_errors
from deliveries.formats import FORMATS
from deliveries.models import Release
from deliveries.services import release_build, release_create
from projects.models import Project


class Command(BaseCommand):
    help = (
        "Make a new release of a project's accepted annotations (default formats: the project's "
        "locked delivery formats), build it here with a progress line, and copy the archive and "
        "its QA report into --out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", action="append", dest="formats", choices=list(FORMATS), default=[])
        parser.add_argument("--out", required=True, help="folder to copy the release into")
        parser.add_argument("--with-images", action="store_true", help="include the source images")
        parser.add_argument(
            "--polygons", action="store_true", help="COCO masks as traced polygons with holes instead of RLE"
        )
        parser.add_argument(
            "--val-share",
            type=float,
            default=0.0,
            help="share of images in val, drawn from each image's sha256 (stable across releases)",
        )
        parser.add_argument("--test-share", type=float, default=0.0, help="share of images in test")
        parser.add_argument(
            "--split",
            action="append",
            default=[],
            metavar="SPLIT=BATCH",
            help="put every image of BATCH in SPLIT (train, val or test); repeatable",
        )
        parser.add_argument("--by", metavar="USERNAME", help="the manager making the release (recorded)")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"No project '{options['slug']}'.")
        by = None
        if options["by"]:
            by = User.objects.filter(username=options["by"]).first()
            if by is None:
                raise CommandError(f"--by: no user '{options['by']}'.")
        batches: dict[str, str] = {}
        for item in options["split"]:
            split, sep, batch = item.partition("=")
            if not sep or not batch:
                raise CommandError(f"--split {item!r}: expected SPLIT=BATCH, e.g. val=batch-7.")
            batches[batch] = split
        out = Path(options["out"])
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out}: not a folder.")
        with command_errors():
            release = release_create(
                project=project,
                by=by,
                formats=options["formats"] or None,
                include_images=options["with_images"],
                coco_polygons=options["polygons"],
                val_share=options["val_share"],
                test_share=options["test_share"],
                split_batches=batches,
                enqueue=False,
            )
        self.stdout.write(f"Release {release.number} of {project.slug}: {', '.join(release.formats)}.")
        counts = {s: release.splits.count(s) for s in ("train", "val", "test") if s in release.splits}
        self.stdout.write("Splits: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".")
        for change in release.snapshot.get("class_table_changes", []):
            self.stdout.write(f"Class table changed: {change}")
        shown: dict[str, Any] = {"stage": "", "percent": -1}

        def progress(done: int, total: int, stage: str) -> None:
            percent = done * 100 // max(total, 1)
            if stage != shown["stage"] or percent >= int(shown["percent"]) + 10 or done == total:
                shown.update(stage=stage, percent=percent)
                bar = "#" * (percent // 5)
                self.stdout.write(f"[{bar:<20}] {percent:3d}% {stage} ({done}/{total})")

        release = release_build(release_id=release.id, progress=progress)
        if release.status != Release.Status.READY:
            raise CommandError(f"Release {release.number} failed: {release.error}")
        out.mkdir(parents=True, exist_ok=True)
        targets = [
            (release.archive_key, out / release.archive_name),
            (release.report_json_key, out / f"{project.slug}-release-{release.number}-qa_report.json"),
            (release.report_html_key, out / f"{project.slug}-release-{release.number}-qa_report.html"),
        ]
        for key, target in targets:
            if target.exists():
                raise CommandError(
                    f"{target} exists already; the release is stored, copy it from the web page."
                )
            with default_storage.open(key, "rb") as source, open(target, "xb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
        self.stdout.write(
            f"Wrote {targets[0][1]} ({release.archive_size} bytes, sha256 {release.archive_sha256})."
        )
        self.stdout.write(f"QA report: {targets[2][1]} and {targets[1][1]}.")
