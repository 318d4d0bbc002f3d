from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.commands import command_errors
from projects.models import Project
from projects.services import images_add

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def _zip_images(path: Path) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CommandError(f"{path}: not a zip archive.") from None
    files = []
    with archive:
        for entry in archive.infolist():
            name = PurePosixPath(entry.filename)
            if entry.is_dir() or name.suffix.lower() not in IMAGE_SUFFIXES or name.name.startswith("."):
                continue
            # Only the base name is used, so entries cannot escape anywhere; still refuse
            # archives that try, since they are not what the user meant to send.
            if name.is_absolute() or ".." in name.parts:
                raise CommandError(f"{path}: entry {entry.filename!r} points outside the archive.")
            files.append((name.name, archive.read(entry)))
    return files


class Command(BaseCommand):
    help = "Import images (PNG, JPEG, TIFF) from a folder or a zip file; all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--batch", default=None, help="batch name (default: batch-YYYYMMDD)")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"No project '{options['slug']}'.")
        path = Path(options["path"])
        if path.is_dir():
            files = [
                (p.name, p.read_bytes())
                for p in sorted(path.iterdir())
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            ]
        elif path.is_file() and path.suffix.lower() == ".zip":
            files = _zip_images(path)
        elif path.exists():
            raise CommandError(f"{path}: expected a folder or a .zip file.")
        else:
            raise CommandError(f"{path}: no such file or folder.")
        if not files:
            raise CommandError(f"{path}: no PNG, JPEG or TIFF images found.")
        with command_errors():
            images = images_add(project=project, files=files, batch_name=options["batch"])
        self.stdout.write(f"Imported {len(images)} images into {project.slug}.")
