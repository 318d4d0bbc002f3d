"""Reading an import's files: locate the annotation files, run the format readers, and collect
every problem instead of stopping at the first.

The readers in ``deliveries.formats`` raise one ``FormatError`` and stop. To list every
problem of a file (an import is all or nothing, so the person fixing the file wants the whole
list at once), a failing record is left out and the file is read again from a filtered copy,
up to ``MAX_PROBLEMS``. Records are recognised by the item the reader names ("annotation 12",
"image 3", "annotation for image 3", "line 7"); an error about anything else (the file itself,
its category table) ends the reading of that file. Images already read are not read twice.

The user's files are never modified: filtered copies go to the run's work folder.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deliveries.formats import (
    FormatError,
    ImportedCategory,
    ImportedImage,
    coco_categories,
    png_categories,
    read_coco,
    read_coco_panoptic,
    read_png,
    safe_extract_zip,
)
from deliveries.formats.archive import DEFAULT_MAX_BYTES

# An import stops collecting problems after this many (the list is for a person to read).
MAX_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    """Why an import was refused: which file, which item in it, and what is wrong."""

    code: str
    file: str
    item: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "file": self.file, "item": self.item, "message": self.message}

    def line(self) -> str:
        return f"{self.file}: {self.item}: {self.message}"


class TooManyProblems(Exception):
    """Raised to stop reading once MAX_PROBLEMS are collected."""


class ProblemList:
    def __init__(self, *, root: Path | None = None) -> None:
        self.items: list[Problem] = []
        self.root = root

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def label(self, path: str | os.PathLike[str]) -> str:
        """A path as the user knows it: relative to the import's root, never a temp folder."""
        text = str(path)
        if self.root is not None:
            root = str(self.root)
            if text == root:
                return "."
            if text.startswith(root + os.sep):
                return text[len(root) + 1 :]
        return text

    def scrub(self, text: str) -> str:
        if self.root is None:
            return text
        return text.replace(str(self.root) + os.sep, "").replace(str(self.root), ".")

    def add(self, code: str, file: str | os.PathLike[str], item: str, message: str) -> None:
        self.items.append(Problem(code, self.label(file), item, self.scrub(message)))
        if len(self.items) >= MAX_PROBLEMS:
            self.items.append(
                Problem(
                    "too_many_problems",
                    self.label(file),
                    "import",
                    f"stopped after {MAX_PROBLEMS} problems; fix these and import again",
                )
            )
            raise TooManyProblems

    def add_format_error(self, error: FormatError) -> None:
        self.add("format", error.file, error.item, error.problem)


@dataclass(frozen=True)
class SourceImage:
    """One image read from an annotation file, with the file it came from and that file's
    category table (to compare names with the project's taxonomy)."""

    file: str
    image: ImportedImage
    categories: dict[int, ImportedCategory]


# --- locating the files --------------------------------------------------------------------------


def _visible(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(part.startswith(".") or part == "__MACOSX" for part in parts)


def unpack(
    source: Path, workdir: Path, problems: ProblemList, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Path | None:
    """The folder holding the import's data: a zip is extracted (safely) into ``workdir``;
    a folder is used as it is; a JSON file's folder is its root."""
    if source.is_dir():
        return source
    if not source.is_file():
        problems.add("not_found", source, "file", "no such file or folder")
        return None
    if zipfile.is_zipfile(source):
        target = workdir / "data"
        target.mkdir()
        problems.root = target
        try:
            safe_extract_zip(source, target, max_bytes=max_bytes)
        except FormatError as error:
            problem = error.problem
            if max_bytes < DEFAULT_MAX_BYTES and "exceeds the limit" in problem:
                problem += "; larger imports run on the server: manage.py import_annotations"
            problems.add("archive", source.name, error.item, problem)
            return None
        return target
    return source.parent


def annotation_files(fmt: str, source: Path, root: Path, problems: ProblemList) -> list[Path]:
    """The annotation files to read: the JSON file itself, or the files of the format's layout
    found under ``root`` (``instances_*.json``, ``panoptic_*.json``, folders with
    ``classes.json`` + ``index.jsonl``)."""
    if source.is_file() and not zipfile.is_zipfile(source):
        if fmt == "png":
            problems.add(
                "layout",
                source.name,
                "file",
                "png imports need the export folder (or a zip of it) with classes.json and index.jsonl",
            )
            return []
        return [source]
    if fmt == "png":
        found = sorted(
            p.parent
            for p in root.rglob("classes.json")
            if _visible(p, root) and (p.parent / "index.jsonl").is_file()
        )
        if not found:
            problems.add("layout", root, "layout", "no folder with classes.json and index.jsonl found")
        return found
    prefix = "instances_" if fmt == "coco" else "panoptic_"
    candidates = sorted(p for p in root.rglob("*.json") if _visible(p, root) and p.is_file())
    named = [p for p in candidates if p.name.startswith(prefix)]
    if named:
        return named
    if len(candidates) == 1:
        return candidates
    if not candidates:
        problems.add("layout", root, "layout", f"no {fmt} JSON file found")
    else:
        problems.add(
            "layout",
            root,
            "layout",
            f"{len(candidates)} JSON files found and none is named {prefix}<split>.json; "
            "name them so, or import one file",
        )
    return []


# --- reading with every problem collected -----------------------------------------------------


def _matches(item: str, prefix: str) -> bool:
    """``item`` names the record ``prefix`` (a reader may add " (detail)" after it)."""
    return item == prefix or item.startswith(prefix + " (")


def _drop_json_record(data: dict[str, Any], fmt: str, item: str) -> bool:
    """Remove the record a COCO reader complained about; False when it is not a record."""
    images = data.get("images")
    annotations = data.get("annotations")
    categories = data.get("categories")
    if not (isinstance(images, list) and isinstance(annotations, list) and isinstance(categories, list)):
        return False
    for key, records, id_key in (
        ("annotation for image", annotations, "image_id"),
        ("annotation", annotations, "id"),
        ("image", images, "id"),
        ("category", categories, "id"),
    ):
        if fmt == "coco-panoptic" and key == "annotation":
            continue
        if fmt == "coco" and key == "annotation for image":
            continue
        for index, record in enumerate(records):
            if isinstance(record, dict) and _matches(item, f"{key} {record.get(id_key)!r}"):
                del records[index]
                if key == "image":
                    image_id = record.get("id")
                    data["annotations"] = [
                        a for a in annotations if not (isinstance(a, dict) and a.get("image_id") == image_id)
                    ]
                return True
    return False


def _resilient(
    read: Callable[[Path], Iterator[ImportedImage]],
    original: Path,
    problems: ProblemList,
    drop: Callable[[Path, str, int], Path | None],
    *,
    listed_as: Path | None = None,
) -> Iterator[ImportedImage]:
    """Yield the images of ``read(original)``; on a FormatError, note it, ask ``drop`` for a
    filtered copy without the failing record and go on from there. Errors about a filtered
    copy name the user's file (``listed_as``, default ``original``), never the copy."""
    yielded: Counter[str] = Counter()
    current = original
    attempt = 0
    copies: set[str] = set()
    user_file = str(listed_as or original)
    while True:
        seen: Counter[str] = Counter()
        try:
            for image in read(current):
                seen[image.file_name] += 1
                if seen[image.file_name] <= yielded[image.file_name]:
                    continue  # read before a failing record was left out
                yielded[image.file_name] += 1
                yield image
            return
        except FormatError as error:
            if error.file in copies:
                error = FormatError(user_file, error.item, error.problem)
            problems.add_format_error(error)
            attempt += 1
            filtered = drop(current, error.item, attempt)
            if filtered is None:
                return
            copies.add(str(filtered))
            current = filtered


def _read_coco_json(fmt: str, path: Path, workdir: Path, problems: ProblemList) -> Iterator[ImportedImage]:
    png_dir = path.with_suffix("")
    data: dict[str, Any] | None = None

    def read(current: Path) -> Iterator[ImportedImage]:
        if fmt == "coco":
            return read_coco(current)
        return read_coco_panoptic(current, png_dir=png_dir)

    def drop(current: Path, item: str, attempt: int) -> Path | None:
        nonlocal data
        if data is None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if not isinstance(loaded, dict):
                return None
            data = loaded
        if not _drop_json_record(data, fmt, item):
            return None
        copy = workdir / f"filtered-{attempt}-{path.name}"
        copy.write_text(json.dumps(data), encoding="utf-8")
        return copy

    return _resilient(read, path, problems, drop)


def _read_png_folder(root: Path, workdir: Path, problems: ProblemList) -> Iterator[ImportedImage]:
    lines: list[str] | None = None

    def drop(current: Path, item: str, attempt: int) -> Path | None:
        nonlocal lines
        if not item.startswith("line "):
            return None
        number_text = item[5:].split(" ", 1)[0]
        if not number_text.isdigit():
            return None
        if lines is None:
            lines = (root / "index.jsonl").read_text(encoding="utf-8").split("\n")
        number = int(number_text)
        if not 1 <= number <= len(lines) or not lines[number - 1].strip():
            return None
        lines[number - 1] = ""  # blank lines are skipped, so line numbers stay the same
        # The filtered index beside the run's files; PNG paths stay relative to the original.
        filtered = workdir / f"filtered-{attempt}-index.jsonl"
        filtered.write_text("\n".join(lines), encoding="utf-8")
        return filtered

    def read(current: Path) -> Iterator[ImportedImage]:
        return read_png(root, index_file=None if current == root else current)

    return _resilient(read, root, problems, drop, listed_as=root / "index.jsonl")


def _categories(fmt: str, path: Path) -> dict[int, ImportedCategory]:
    table = png_categories(path) if fmt == "png" else coco_categories(path)
    return {category.id: category for category in table}


def read_source(
    *, fmt: str, source: Path, workdir: Path, problems: ProblemList, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[SourceImage]:
    """Every image of the import, from every annotation file found; problems are collected in
    ``problems`` (reading goes on past them, so that all are reported)."""
    root = unpack(source, workdir, problems, max_bytes=max_bytes)
    if root is None:
        return
    if problems.root is None:
        problems.root = root
    for path in annotation_files(fmt, source, root, problems):
        label = problems.label(path)
        try:
            categories = _categories(fmt, path)
        except FormatError as error:
            problems.add_format_error(error)
            continue
        if fmt == "png":
            images = _read_png_folder(path, workdir, problems)
        else:
            images = _read_coco_json(fmt, path, workdir, problems)
        for image in images:
            yield SourceImage(file=label, image=image, categories=categories)
