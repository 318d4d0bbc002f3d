from __future__ import annotations

import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.commands import command_errors
from core.exceptions import ValidationFailed
from projects.models import Project
from projects.services import ImageSource, images_add

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def _file_source(path: Path) -> ImageSource:
    """A file on disk: sized by stat, read only when the import gets to it."""

    def read() -> bytes:
        try:
            return path.read_bytes()
        except OSError as error:
            raise ValidationFailed(f"{path}: cannot be read ({error.strerror}).") from None

    return ImageSource(file_name=path.name, size=path.stat().st_size, read=read)


def _zip_entry_source(path: Path, entry: zipfile.ZipInfo, name: str) -> ImageSource:
    """A zip entry: sized by its header (uncompressed), read only when the import gets to it.
    The archive is opened per read, so no entry stays in memory longer than its own import."""

    def read() -> bytes:
        try:
            with zipfile.ZipFile(path) as archive:
                return archive.read(entry.filename)
        except (zipfile.BadZipFile, zlib.error, OSError) as error:
            raise ValidationFailed(f"{path}: entry {entry.filename!r} cannot be read ({error}).") from None

    return ImageSource(file_name=name, size=entry.file_size, read=read)


def _zip_images(path: Path) -> list[ImageSource]:
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
            files.append(_zip_entry_source(path, entry, name.name))
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
                _file_source(p)
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
