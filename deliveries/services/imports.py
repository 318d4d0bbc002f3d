"""Importing existing annotations (COCO, COCO panoptic, Tessera PNGs) into a project.

A run reads and checks everything first - every image matched to a project image, sizes,
categories against the taxonomy, the structure of every map, the task each map goes to - and
writes nothing unless all of it is sound; then it writes in one transaction. A refused run is
recorded as a failed ``ImportRun`` listing every problem (file, item, message), and that row is
all it leaves behind. Decoded maps are spooled to a temporary folder between the two passes,
so memory does not grow with the size of the dataset.

Modes:

* ``prelabels``: a draft revision of proposed segments (``confirmed=False``, source
  ``prelabel``) on the image's annotation task, which must not have been started; the
  annotator who takes it confirms or edits each segment, and submission is refused meanwhile.
* ``gold``: the image's gold reference (``qa.services.gold_set``), authored by the importing
  manager or QA lead; submissions on the image are measured against it.
* ``author``: an annotator's submitted work, on their task for the image (their existing
  task, else an unassigned one given to them, else a new overlap task), submitted through
  ``qa.services.revision_import`` and measured like editor work.
* ``accepted``: finished annotations (a dataset migration), accepted on the image's annotation
  task, so that releases deliver them. A task an annotator is working on (in progress) is
  refused unless the run is told to supersede open work (``supersede_open_work``): the
  annotator's drafts stay on record, but the task is then accepted with the imported map.

Imported maps keep their void: the run reports the coverage it found instead of refusing it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotation.masks import CategorySpec, SegmentSpec, validate_structure
from annotation.models import Revision
from annotation.services import SegmentIn
from core.exceptions import ApplicationError, Forbidden, ValidationFailed
from core.roles import Role
from deliveries.formats import ImportedImage
from deliveries.formats.archive import DEFAULT_MAX_BYTES
from deliveries.models import ImportRun
from deliveries.services.import_reading import (
    Problem,
    ProblemList,
    SourceImage,
    TooManyProblems,
    read_source,
)
from projects.models import Category, Image, Project, Task, TaxonomyVersion
from projects.selectors import taxonomy_current, user_roles
from qa.services import gold_set, revision_import

# Imports sent through the web page or the API run inside the request (no job yet), so their
# archives are capped well below the command line's limit (deliveries.formats.archive,
# 20 GiB): a bigger dataset is imported with ``manage.py import_annotations`` on the server.
WEB_IMPORT_MAX_BYTES = 2 * 1024**3

ImportProgress = Callable[[str, int, int | None], None]
"""Called with (stage, done, total or None while the total is unknown)."""

# Statuses a task may be in to receive each kind of import.
_PRELABEL_STATUSES = frozenset({Task.Status.TODO, Task.Status.IN_PROGRESS})
_AUTHOR_STATUSES = frozenset({Task.Status.TODO, Task.Status.IN_PROGRESS, Task.Status.REJECTED})
_ACCEPTED_STATUSES = frozenset({Task.Status.TODO, Task.Status.IN_PROGRESS, Task.Status.ACCEPTED})
# ... of which these hold an annotator's open work, superseded only when the run says so.
_OPEN_WORK_STATUSES = frozenset({Task.Status.IN_PROGRESS})


class ImportRefused(ValidationFailed):
    """The run found problems and wrote nothing but its own failed record."""

    code = "import_refused"

    def __init__(self, run: ImportRun, problems: Sequence[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"{run.source_name}: import refused, {count} problem{'s' if count != 1 else ''}; nothing was written.",
            extra={"import_run": run.id, "errors": [p.as_dict() for p in problems]},
        )
        self.run = run
        self.problems = list(problems)


# --- who may import what ------------------------------------------------------------------------


def import_check_request(
    *,
    project: Project,
    by: User,
    fmt: str,
    mode: str,
    author: User | None,
    supersede_open_work: bool = False,
) -> None:
    """Refuse a request that cannot start: unknown format or mode, a caller without the role
    (manager: every mode; QA lead: gold), ``author`` missing or not an annotator,
    ``supersede_open_work`` outside mode ``accepted``."""
    if fmt not in ImportRun.Format.values:
        raise ValidationFailed(f"format must be one of {', '.join(ImportRun.Format.values)}, got {fmt!r}.")
    if mode not in ImportRun.Mode.values:
        raise ValidationFailed(f"mode must be one of {', '.join(ImportRun.Mode.values)}, got {mode!r}.")
    roles = user_roles(user=by, project=project)
    allowed = Role.MANAGER in roles or (mode == ImportRun.Mode.GOLD and Role.QA_LEAD in roles)
    if not allowed:
        raise Forbidden(
            "Importing annotations needs the manager role"
            + (
                " (or qa_lead for gold references)."
                if mode != ImportRun.Mode.GOLD
                else " or the qa_lead role."
            )
        )
    if mode == ImportRun.Mode.AUTHOR:
        if author is None:
            raise ValidationFailed("mode 'author' needs the username of the annotator whose work this is.")
        if Role.ANNOTATOR not in user_roles(user=author, project=project):
            raise ValidationFailed(f"{author.get_username()} is not an annotator of project {project.slug}.")
    elif author is not None:
        raise ValidationFailed("author is only used with mode 'author'.")
    if supersede_open_work and mode != ImportRun.Mode.ACCEPTED:
        raise ValidationFailed("supersede_open_work is only used with mode 'accepted'.")


# --- matching images ------------------------------------------------------------------------------


class ImageIndex:
    """Finds the project image an imported ``file_name`` means.

    Rule, in order: the exact name; the base name (the part after the last ``/`` or ``\\``,
    so ``train2017/x.jpg`` finds ``x.jpg``); the stem (base name without its extension, so
    ``x.png`` finds ``x.jpg``) when exactly one project image has that stem.
    """

    def __init__(self, images: Sequence[Image]) -> None:
        self.by_name = {image.file_name: image for image in images}
        self.by_stem: dict[str, list[Image]] = {}
        for image in images:
            self.by_stem.setdefault(PurePosixPath(image.file_name).stem, []).append(image)

    def find(self, file_name: str) -> Image | str:
        """The image, or why there is none."""
        if file_name in self.by_name:
            return self.by_name[file_name]
        base = PurePosixPath(file_name.replace("\\", "/")).name
        if base in self.by_name:
            return self.by_name[base]
        stem = PurePosixPath(base).stem
        found = self.by_stem.get(stem, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(sorted(image.file_name for image in found))
            return f"matches several project images by its stem {stem!r} ({names}); use the full file name"
        return "matches no image of the project (by name, base name or stem)"


# --- which task receives the map --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where an imported map goes: an existing task (``assign``: give it to the author first),
    or a new task of ``new_kind``."""

    task: Task | None
    assign: bool = False
    new_kind: str = ""
    supersedes: bool = False  # the task holds an annotator's open work (mode accepted)


def _primary_task(image: Image, *, lock: bool) -> Task | None:
    tasks = Task.objects.filter(image=image, kind=Task.Kind.ANNOTATE, is_overlap=False).order_by("id")
    if lock:
        tasks = tasks.select_for_update()
    return tasks.first()


def import_target(
    *, mode: str, image: Image, author: User | None, lock: bool = False, supersede_open_work: bool = False
) -> Target | str:
    """The task ``mode`` puts the image's map on, or why it cannot; ``lock`` when writing."""
    if mode == ImportRun.Mode.GOLD:
        gold = Task.objects.filter(image=image, kind=Task.Kind.GOLD).first()
        return Target(task=gold, new_kind="" if gold else Task.Kind.GOLD)
    if mode == ImportRun.Mode.AUTHOR:
        assert author is not None
        tasks = Task.objects.filter(image=image)
        if lock:
            tasks = tasks.select_for_update()
        own = tasks.filter(assignee=author, kind__in=[Task.Kind.ANNOTATE, Task.Kind.CALIBRATION]).first()
        if own is not None:
            if own.status not in _AUTHOR_STATUSES:
                return (
                    f"{author.get_username()}'s task {own.id} on this image is {own.status}; "
                    "their work on it was already submitted"
                )
            return Target(task=own)
        if image.batch.is_calibration:
            return Target(task=None, new_kind=Task.Kind.CALIBRATION)
        free = (
            tasks.filter(kind=Task.Kind.ANNOTATE, assignee__isnull=True, status=Task.Status.TODO)
            # a subquery, not a join: PostgreSQL refuses FOR UPDATE on an outer join's nullable side
            .filter(~Exists(Revision.objects.filter(task_id=OuterRef("id"))))
            .order_by("is_overlap", "id")
            .first()
        )
        if free is not None:
            return Target(task=free, assign=True)
        return Target(task=None, new_kind=Task.Kind.ANNOTATE)
    if image.batch.is_calibration:
        return "the image is in a calibration batch; calibration images are labelled by every annotator, not imported"
    task = _primary_task(image, lock=lock)
    if task is None:
        return "the image has no annotation task"
    if mode == ImportRun.Mode.PRELABELS:
        if task.status not in _PRELABEL_STATUSES:
            return f"its annotation task {task.id} is {task.status}; pre-labels are for work not started"
        worked = task.revisions.exclude(source=Revision.Source.PRELABEL).order_by("number").first()
        if worked is not None:
            return (
                f"its annotation task {task.id} already has work (revision {worked.number} by "
                f"{worked.author.get_username()}); pre-labels are for work not started"
            )
        return Target(task=task)
    if task.status not in _ACCEPTED_STATUSES:
        return f"its annotation task {task.id} is {task.status}; decide the review first"
    if task.status in _OPEN_WORK_STATUSES and not supersede_open_work:
        who = task.assignee.get_username() if task.assignee else "an annotator"
        return (
            f"its annotation task {task.id} is {task.status} ({who}'s open work); importing accepted "
            "work would supersede it: let it be submitted, or import with supersede_open_work "
            "(--supersede-open-work)"
        )
    return Target(task=task, supersedes=task.status in _OPEN_WORK_STATUSES)


# --- checking one image -------------------------------------------------------------------------------


@dataclass
class Planned:
    """One checked image, ready to write; its map is spooled to ``maps/<index>.npy``."""

    index: int
    image: Image
    file: str
    segments: list[SegmentIn]


@dataclass
class _Context:
    project: Project
    mode: str
    author: User | None
    problems: ProblemList
    index: ImageIndex
    spool: Path
    taxonomies: dict[int, dict[int, Category]] = field(default_factory=dict)
    matched: dict[int, str] = field(default_factory=dict)
    name_checked: set[tuple[str, int]] = field(default_factory=set)
    planned: list[Planned] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    current_taxonomy: TaxonomyVersion | None = None
    supersede_open_work: bool = False
    superseded: list[int] = field(default_factory=list)  # task ids

    def categories(self, taxonomy_id: int) -> dict[int, Category]:
        if taxonomy_id not in self.taxonomies:
            self.taxonomies[taxonomy_id] = {
                c.category_id: c for c in Category.objects.filter(taxonomy_id=taxonomy_id)
            }
        return self.taxonomies[taxonomy_id]

    def taxonomy_of(self, target: Target) -> int:
        if target.task is not None:
            return target.task.taxonomy_id
        if self.current_taxonomy is None:
            self.current_taxonomy = taxonomy_current(project=self.project)
        return self.current_taxonomy.id


def _normalised(
    imported: ImportedImage, *, mode: str, categories: dict[int, Category]
) -> tuple[npt.NDArray[np.uint16], list[tuple[int, int, bool]], list[str]]:
    """The map and (id, category, crowd) rows in the project's mode: semantic work has one
    segment per category and no crowd, panoptic work one segment per stuff category, so
    segments the file splits further are merged (and said so in the notes)."""
    notes: list[str] = []
    keys: dict[Any, int] = {}
    rows: list[tuple[int, int, bool]] = []
    lut = np.zeros(max((s.id for s in imported.segments), default=0) + 1, dtype=np.uint16)
    merged = 0
    crowd_dropped = 0
    for segment in imported.segments:
        isthing = categories[segment.category_id].isthing
        if mode == Project.Mode.SEMANTIC or (mode == Project.Mode.PANOPTIC and not isthing):
            key: Any = ("category", segment.category_id)
        else:
            key = ("segment", segment.id)
        crowd = segment.iscrowd
        if mode == Project.Mode.SEMANTIC and crowd:
            crowd, crowd_dropped = False, crowd_dropped + 1
        if key in keys:
            merged += 1
            new_id = keys[key]
            row = rows[new_id - 1]
            rows[new_id - 1] = (row[0], row[1], row[2] or crowd)
        else:
            new_id = keys[key] = len(rows) + 1
            rows.append((new_id, segment.category_id, crowd))
        lut[segment.id] = new_id
    if merged:
        what = "category" if mode == Project.Mode.SEMANTIC else "stuff category"
        notes.append(f"{merged} segments merged: {mode} annotation has one segment per {what}")
    if crowd_dropped:
        notes.append(f"{crowd_dropped} crowd flags dropped: semantic annotation has no crowd regions")
    index_map: npt.NDArray[np.uint16] = lut[imported.index_map] if len(lut) > 1 else imported.index_map
    return index_map, rows, notes


def _check_categories(ctx: _Context, source: SourceImage, categories: dict[int, Category], item: str) -> bool:
    """Every category used must be the project's, under the same name; False if not."""
    used: dict[int, int] = {}
    for segment in source.image.segments:
        used[segment.category_id] = used.get(segment.category_id, 0) + 1
    sound = True
    for category_id, count in sorted(used.items()):
        named = source.categories.get(category_id)
        label = f"category {category_id}" + (f" ({named.name!r})" if named else "")
        if category_id not in categories:
            ctx.problems.add(
                "unknown_category",
                source.file,
                item,
                f"{count} segment{'s use' if count != 1 else ' uses'} {label}, which is not in the project's taxonomy",
            )
            sound = False
            continue
        if named is None or named.name == str(category_id) or (source.file, category_id) in ctx.name_checked:
            continue
        ctx.name_checked.add((source.file, category_id))
        ours = categories[category_id].name
        if named.name.strip().lower() != ours.strip().lower():
            ctx.problems.add(
                "category_name_mismatch",
                source.file,
                f"category {category_id}",
                f"is {named.name!r} in the file but {ours!r} in the project's taxonomy; "
                "an id must mean the same class in both",
            )
            sound = False
    return sound


def _check_image(ctx: _Context, source: SourceImage) -> None:
    imported = source.image
    item = f"image {imported.file_name!r}"
    found = ctx.index.find(imported.file_name)
    if isinstance(found, str):
        ctx.problems.add("no_matching_image", source.file, item, found)
        return
    image = found
    if image.id in ctx.matched:
        ctx.problems.add(
            "duplicate_image",
            source.file,
            item,
            f"is project image {image.file_name!r} again (already read from {ctx.matched[image.id]})",
        )
        return
    ctx.matched[image.id] = source.file
    if (imported.width, imported.height) != (image.width, image.height):
        ctx.problems.add(
            "size_mismatch",
            source.file,
            item,
            f"the annotation is {imported.width}x{imported.height} but project image "
            f"{image.file_name!r} is {image.width}x{image.height}",
        )
        return
    target = import_target(
        mode=ctx.mode, image=image, author=ctx.author, supersede_open_work=ctx.supersede_open_work
    )
    if isinstance(target, str):
        ctx.problems.add("task_unavailable", source.file, item, target)
        return
    categories = ctx.categories(ctx.taxonomy_of(target))
    if not _check_categories(ctx, source, categories, item):
        return
    index_map, rows, notes = _normalised(imported, mode=ctx.project.mode, categories=categories)
    issues = validate_structure(
        index_map,
        [SegmentSpec(id=i, category_id=c, iscrowd=crowd) for i, c, crowd in rows],
        categories=[
            CategorySpec(id=c.category_id, name=c.name, isthing=c.isthing, min_area=c.min_area)
            for c in categories.values()
        ],
        mode=cast(Any, ctx.project.mode),
        expected_shape=(image.height, image.width),
    )
    for issue in issues:
        ctx.problems.add(issue.code, source.file, item, issue.message)
    if issues:
        return
    pixels = int(index_map.size)
    void = int(np.count_nonzero(index_map == 0))
    ctx.coverage.append(
        {
            "file_name": imported.file_name,
            "image": image.file_name,
            "image_id": image.id,
            "pixels": pixels,
            "void_pixels": void,
            "coverage": (pixels - void) / pixels,
            "overlap_pixels": imported.overlap_pixels,
            "notes": [*imported.notes, *notes],
        }
    )
    prelabel = ctx.mode == ImportRun.Mode.PRELABELS
    segments = [
        SegmentIn(
            id=i,
            category_id=c,
            iscrowd=crowd,
            confirmed=not prelabel,
            source="prelabel" if prelabel else "import",
        )
        for i, c, crowd in rows
    ]
    index = len(ctx.planned)
    np.save(ctx.spool / f"{index}.npy", index_map, allow_pickle=False)
    ctx.planned.append(Planned(index=index, image=image, file=source.file, segments=segments))


def _coverage_report(ctx: _Context) -> dict[str, Any]:
    pixels = sum(row["pixels"] for row in ctx.coverage)
    void = sum(row["void_pixels"] for row in ctx.coverage)
    return {
        "overall": {
            "images": len(ctx.coverage),
            "pixels": pixels,
            "void_pixels": void,
            "coverage": (pixels - void) / pixels if pixels else None,
            "images_with_void": sum(1 for row in ctx.coverage if row["void_pixels"]),
            "overlap_pixels": sum(row["overlap_pixels"] for row in ctx.coverage),
        },
        "images": ctx.coverage,
    }


# --- the run ------------------------------------------------------------------------------------------


def _fail(run: ImportRun, problems: Sequence[Problem], coverage: dict[str, Any] | None = None) -> None:
    run.status = ImportRun.Status.FAILED
    run.problems = [p.as_dict() for p in problems]
    run.coverage = coverage or {}
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "problems", "coverage", "finished_at", "updated_at"])


class _WriteConflict(Exception):
    """Something changed between checking and writing (a task was taken meanwhile)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.line())
        self.problem = problem


def _write(*, run: ImportRun, ctx: _Context, by: User, progress: ImportProgress | None) -> None:
    """Write every planned map; call inside a transaction (all or nothing)."""
    mode = ctx.mode
    statuses: dict[str, str] = {
        ImportRun.Mode.PRELABELS: Revision.Status.DRAFT,
        ImportRun.Mode.AUTHOR: Revision.Status.SUBMITTED,
        ImportRun.Mode.ACCEPTED: Revision.Status.ACCEPTED,
    }
    status = statuses.get(mode, "")
    writer = ctx.author if mode == ImportRun.Mode.AUTHOR else by
    assert writer is not None
    source = Revision.Source.PRELABEL if mode == ImportRun.Mode.PRELABELS else Revision.Source.IMPORT
    created = assigned = 0
    revision_ids = []
    total = len(ctx.planned)
    for done, planned in enumerate(ctx.planned, start=1):
        index_map = np.load(ctx.spool / f"{planned.index}.npy", allow_pickle=False)
        image = planned.image
        if mode == ImportRun.Mode.GOLD:
            revision = gold_set(
                image=image, author=by, index_map=index_map, segments=planned.segments, source=source
            )
        else:
            target = import_target(
                mode=mode,
                image=image,
                author=ctx.author,
                lock=True,
                supersede_open_work=ctx.supersede_open_work,
            )
            if isinstance(target, str):
                raise _WriteConflict(
                    Problem("task_unavailable", planned.file, f"image {image.file_name!r}", target)
                )
            task = target.task
            if target.supersedes and task is not None:
                ctx.superseded.append(task.id)
            if task is None:
                task = Task.objects.create(
                    project=ctx.project,
                    image=image,
                    taxonomy=taxonomy_current(project=ctx.project),
                    kind=target.new_kind,
                    is_overlap=target.new_kind == Task.Kind.ANNOTATE,
                    assignee=ctx.author,
                    assigned_at=timezone.now(),
                )
                created += 1
            elif target.assign:
                task.assignee = ctx.author
                task.assigned_at = timezone.now()
                task.save(update_fields=["assignee", "assigned_at", "updated_at"])
                assigned += 1
            revision = revision_import(
                task=task,
                author=writer,
                index_map=index_map,
                segments=planned.segments,
                status=status,
                source=source,
            )
        revision_ids.append(revision.id)
        if progress is not None:
            progress("writing", done, total)
    run.status = ImportRun.Status.DONE
    run.counts = {
        "images": total,
        "segments": sum(len(p.segments) for p in ctx.planned),
        "revisions": len(revision_ids),
        "tasks_created": created,
        "tasks_assigned": assigned,
    }
    run.revision_ids = revision_ids
    run.coverage = _coverage_report(ctx)
    if ctx.superseded:
        ctx.notes.append(
            f"{len(ctx.superseded)} tasks in progress were superseded (their drafts are kept): "
            + ", ".join(str(i) for i in ctx.superseded[:50])
        )
    run.notes = ctx.notes
    run.finished_at = timezone.now()
    run.save(
        update_fields=[
            "status",
            "counts",
            "revision_ids",
            "coverage",
            "notes",
            "finished_at",
            "updated_at",
        ]
    )


def import_run_execute(
    *,
    project: Project,
    by: User,
    fmt: str,
    mode: str,
    source: Path,
    source_name: str = "",
    author: User | None = None,
    progress: ImportProgress | None = None,
    supersede_open_work: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportRun:
    """Import the annotations at ``source`` (a JSON file, a folder or a zip) all or nothing.

    Returns the finished run; raises ``ImportRefused`` (400, listing every problem) after
    recording the run as failed when anything is wrong, and writes nothing else then.
    Not atomic as a whole on purpose: the failed run must outlive the rolled-back writes.
    """
    import_check_request(
        project=project,
        by=by,
        fmt=fmt,
        mode=mode,
        author=author,
        supersede_open_work=supersede_open_work,
    )
    run = ImportRun.objects.create(
        project=project,
        created_by=by,
        format=fmt,
        mode=mode,
        author=author,
        supersede_open_work=supersede_open_work,
        source_name=(source_name or source.name)[:500],
    )
    images = list(Image.objects.filter(project=project).select_related("batch").order_by("id"))
    with tempfile.TemporaryDirectory(prefix="tessera-import-") as tmp:
        workdir = Path(tmp)
        spool = workdir / "maps"
        spool.mkdir()
        problems = ProblemList()
        ctx = _Context(
            project=project,
            mode=mode,
            author=author,
            problems=problems,
            index=ImageIndex(images),
            spool=spool,
            supersede_open_work=supersede_open_work,
        )
        read = 0
        try:
            for item in read_source(
                fmt=fmt, source=source, workdir=workdir, problems=problems, max_bytes=max_bytes
            ):
                _check_image(ctx, item)
                read += 1
                if progress is not None:
                    progress("reading", read, None)
        except TooManyProblems:
            pass
        if not problems and not ctx.planned:
            problems.add("empty", run.source_name, "import", "no annotated image found")
        if problems:
            _fail(run, problems.items, _coverage_report(ctx))
            raise ImportRefused(run, problems.items)
        calibration = sum(1 for p in ctx.planned if p.image.batch.is_calibration)
        if calibration and mode == ImportRun.Mode.GOLD:
            ctx.notes.append(f"{calibration} gold references are on calibration images")
        try:
            with transaction.atomic():
                _write(run=run, ctx=ctx, by=by, progress=progress)
        except _WriteConflict as conflict:
            _fail(run, [conflict.problem], _coverage_report(ctx))
            raise ImportRefused(run, [conflict.problem]) from None
        except ApplicationError as error:
            problem = Problem(error.code, run.source_name, "import", error.message)
            _fail(run, [problem], _coverage_report(ctx))
            raise ImportRefused(run, [problem]) from None
    run.refresh_from_db()
    return run


def import_run_from_upload(
    *,
    project: Project,
    by: User,
    fmt: str,
    mode: str,
    upload: UploadedFile,
    author: User | None = None,
    supersede_open_work: bool = False,
) -> ImportRun:
    """``import_run_execute`` on an uploaded file (a zip or a JSON), spooled to a temporary
    folder under its base name so that error messages name the file the user sent."""
    import_check_request(
        project=project,
        by=by,
        fmt=fmt,
        mode=mode,
        author=author,
        supersede_open_work=supersede_open_work,
    )
    name = PurePosixPath((upload.name or "upload").replace("\\", "/")).name or "upload"
    with tempfile.TemporaryDirectory(prefix="tessera-upload-") as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        return import_run_execute(
            project=project,
            by=by,
            fmt=fmt,
            mode=mode,
            source=path,
            source_name=name,
            author=author,
            supersede_open_work=supersede_open_work,
            max_bytes=WEB_IMPORT_MAX_BYTES,
        )
