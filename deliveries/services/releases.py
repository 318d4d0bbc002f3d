"""Releases: asking for one, building it (the job's service), and the client's verdict.

Layout of a release archive (``<slug>-release-<n>.zip``, one top folder of the same name)::

    manifest.json        every other file with its sha256 and size, counts, taxonomy
                         version(s), formats and their versions, Tessera version, number
    qa_report.json       class distribution (from the delivered maps) and the QA figures
    qa_report.html       the same, readable, with SVG charts
    images.csv           stem in the exports -> project file name, image sha256, revision
    <format>/...         one folder per format, in that format's standard layout

The build is deterministic (sorted entries, fixed timestamps), so building the same release
twice gives the same bytes. Files are stored under ``releases/<slug>/<number>/<sha256>/``,
content-addressed, and the release row points at them only once all are stored: a failed or
interrupted build leaves nothing a client can see.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.masks import MaskFormatError
from annotation.models import Revision
from annotation.selectors import release_revisions, revision_index_map
from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.roles import Role
from core.storage import blob_read
from deliveries.formats import (
    FORMATS,
    CocoExporter,
    ExportCategory,
    ExportError,
    ExportImage,
    ExportSegment,
    ExportSummary,
    Taxonomy,
    export_formats,
    format_versions,
)
from deliveries.models import Release, ReleaseDecision
from deliveries.services.release_readme import release_readme
from deliveries.services.release_report import Distribution, qa_report_document, qa_report_html
from deliveries.services.release_snapshot import (
    SPLITS,
    project_categories,
    release_snapshot,
    release_split_options,
    release_splits,
    taxonomy_of,
)
from projects.models import Category, Project, Task
from projects.selectors import user_roles

DateTime = tuple[int, int, int, int, int, int]
ReleaseProgress = Callable[[int, int, str], None]
"""Called with (steps done, steps in total, what is being done)."""

# Build errors that retrying cannot fix: the release is marked failed with the reason.
# FileExistsError: two files of one export with one name, which a second attempt repeats.
BAD_DATA_ERRORS = (ExportError, MaskFormatError, FileNotFoundError, FileExistsError, ValueError, KeyError)
# Formats whose files are compressed already: stored, not deflated again.
_STORED_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".zip", ".gz"}
_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_PROGRESS_INTERVAL = 0.5  # seconds between progress writes to the database


# --- asking for a release --------------------------------------------------------------------------


def release_formats(*, project: Project, formats: Sequence[str] | None) -> list[str]:
    """The formats to build: the project's locked ``delivery_formats`` by default; others are
    refused while formats are locked; unknown names are refused."""
    locked = [str(f) for f in project.delivery_formats or []]
    wanted = list(dict.fromkeys(formats or locked))
    if not wanted:
        raise ValidationFailed(
            f"Project {project.slug} has no delivery formats locked; choose one or more of {', '.join(FORMATS)}."
        )
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValidationFailed(f"Unknown formats {unknown}; known: {', '.join(FORMATS)}.")
    if locked:
        outside = [f for f in wanted if f not in locked]
        if outside:
            raise ValidationFailed(
                f"The project's delivery formats are locked to {', '.join(locked)}; {', '.join(outside)} refused."
            )
    return wanted


def _steps(images: int, formats: int) -> int:
    # one pass over the images writing every format + report + archive + storage
    return images + 3


@transaction.atomic
def release_create(
    *,
    project: Project,
    by: User | None,
    formats: Sequence[str] | None = None,
    include_images: bool = False,
    coco_polygons: bool = False,
    val_share: float = 0.0,
    test_share: float = 0.0,
    split_batches: Mapping[str, str] | None = None,
    enqueue: bool = True,
) -> Release:
    """Number a new release of the accepted work as it is now, and enqueue its build on commit
    (``enqueue=False``: the caller runs ``release_build`` itself, as the command line does).

    Everything the build reads is frozen here (see ``release_snapshot``): the revisions, each
    image's split, the class table and the QA figures."""
    if by is not None and Role.MANAGER not in user_roles(user=by, project=project):
        raise Forbidden("Making a release needs the manager role.")
    chosen = release_formats(project=project, formats=formats)
    revisions = release_revisions(project=project)
    if not revisions:
        raise ValidationFailed(f"Project {project.slug} has no accepted annotation to deliver yet.")
    options = release_split_options(
        project=project, val_share=val_share, test_share=test_share, batches=split_batches
    )
    categories = project_categories(project)
    taxonomy = taxonomy_of(categories)
    # Refuse now, not in the job, what a format cannot carry (e.g. Cityscapes without label ids).
    for name in chosen:
        try:
            FORMATS[name].check_taxonomy(taxonomy)
        except ExportError as error:
            raise ValidationFailed(f"{name}: {error}") from None
    # Lock the project row so two releases asked for at once get different numbers.
    Project.objects.select_for_update().filter(id=project.id).first()
    number = int(Release.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    release = Release.objects.create(
        project=project,
        number=number,
        created_by=by,
        formats=chosen,
        include_images=include_images,
        coco_polygons=coco_polygons,
        revision_ids=[r.id for r in revisions],
        splits=release_splits(revisions, options),
        split_options=options,
        snapshot=release_snapshot(
            project=project, revisions=revisions, formats=chosen, categories=categories
        ),
        progress_total=_steps(len(revisions), len(chosen)),
    )
    if enqueue:
        _enqueue(release)
    return release


def _enqueue(release: Release) -> None:
    from deliveries.jobs import release_build_job

    transaction.on_commit(partial(release_build_job.delay, release.id))


@transaction.atomic
def release_retry(*, release: Release, by: User) -> Release:
    """Build a failed release again (same number, same snapshot)."""
    if Role.MANAGER not in user_roles(user=by, project=release.project):
        raise Forbidden("Retrying a release needs the manager role.")
    locked = Release.objects.select_for_update().get(id=release.id)
    if locked.status != Release.Status.FAILED:
        raise Conflict(f"Release {locked.number} is {locked.status}; only a failed release is built again.")
    locked.status = Release.Status.PENDING
    locked.error = ""
    locked.progress_done = 0
    locked.progress_stage = ""
    locked.save(update_fields=["status", "error", "progress_done", "progress_stage", "updated_at"])
    _enqueue(locked)
    return locked


# --- the client's verdict -------------------------------------------------------------------------------


@transaction.atomic
def release_decide(*, release: Release, client: User, decision: str, comment: str = "") -> ReleaseDecision:
    """Record a client's acceptance or rejection of a ready release (a rejection says why).
    A client may change their mind: each decision is a new row, the latest one counts."""
    if Role.CLIENT not in user_roles(user=client, project=release.project):
        raise Forbidden("Only the project's client accepts or rejects a release.")
    if release.status != Release.Status.READY:
        raise Conflict(f"Release {release.number} is {release.status}; only a ready release can be decided.")
    if decision not in ReleaseDecision.Decision.values:
        raise ValidationFailed(f"decision must be 'accept' or 'reject', got {decision!r}.")
    comment = comment.strip()
    if decision == ReleaseDecision.Decision.REJECT and not comment:
        raise ValidationFailed("Say why the release is rejected: a comment is required.")
    return ReleaseDecision.objects.create(release=release, client=client, decision=decision, comment=comment)


# --- building -------------------------------------------------------------------------------------------


class _Progress:
    """Counts build steps; writes them to the release row at most every half second (the page
    polls it) and passes each to the caller's callback (the command line prints it)."""

    def __init__(self, release: Release, callback: ReleaseProgress | None) -> None:
        self.release_id = release.id
        self.total = release.progress_total
        self.done = 0
        self.stage = ""
        self.callback = callback
        self.written = 0.0

    def step(self, stage: str, count: int = 1) -> None:
        self.done = min(self.done + count, self.total)
        changed = stage != self.stage
        self.stage = stage
        now = time.monotonic()
        if changed or now - self.written >= _PROGRESS_INTERVAL or self.done == self.total:
            Release.objects.filter(id=self.release_id).update(
                progress_done=self.done, progress_stage=stage[:200]
            )
            self.written = now
        if self.callback is not None:
            self.callback(self.done, self.total, stage)


def _ordered_revisions(release: Release) -> list[Revision]:
    found = Revision.objects.filter(id__in=release.revision_ids).select_related(
        "task__image__batch", "task__taxonomy"
    )
    by_id = {r.id: r for r in found}
    missing = [i for i in release.revision_ids if i not in by_id]
    if missing:
        raise ValueError(f"revisions {missing[:10]} of the snapshot no longer exist")
    return [by_id[i] for i in release.revision_ids]


def _export_taxonomy(revisions: Sequence[Revision]) -> tuple[Taxonomy, list[dict[str, int]], dict[int, bool]]:
    """The categories of every taxonomy version the revisions were made against (the newest
    version's definition of an id wins), ordered by id; and those versions."""
    versions = sorted({r.task.taxonomy for r in revisions}, key=lambda t: t.number, reverse=True)
    chosen: dict[int, Category] = {}
    for version in versions:
        for category in version.categories.all():
            chosen.setdefault(category.category_id, category)
    categories = tuple(
        ExportCategory(
            id=c.category_id,
            name=c.name,
            color=c.color,
            isthing=c.isthing,
            export_ids={
                k: v
                for k, v in (c.export_ids or {}).items()
                if isinstance(v, int) and not isinstance(v, bool)
            },
        )
        for c in (chosen[i] for i in sorted(chosen))
    )
    return (
        Taxonomy(categories),
        [{"id": v.id, "number": v.number} for v in sorted(versions, key=lambda t: t.number)],
        {c.id: c.isthing for c in categories},
    )


_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif"}


@dataclass(frozen=True)
class _Named:
    revision: Revision
    stem: str
    file_name: str
    split: str = "train"


def _unique_stem(stem: str, image_id: int, used: set[str]) -> str:
    """``stem``, else ``stem-<image id>``, else ``stem-<image id>-2``, ``-3``...: the first one
    not taken (case-insensitively). Deterministic for a given order of images."""
    if stem.lower() not in used:
        return stem
    candidate = f"{stem}-{image_id}"
    n = 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}-{image_id}-{n}"
    return candidate


def _export_names(revisions: Sequence[Revision], splits: Sequence[str] = ()) -> list[_Named]:
    """A stem every format accepts ([A-Za-z0-9._-], starting with a letter or digit), unique
    case-insensitively; the project's file name is kept in images.csv."""
    used: set[str] = set()
    named: list[_Named] = []
    for revision in revisions:
        image = revision.task.image
        original = PurePosixPath(image.file_name)
        stem = _NAME.sub("_", original.stem).strip("._-") or "image"
        if not stem[0].isalnum():
            stem = f"i{stem}"
        stem = _unique_stem(stem, image.id, used)
        used.add(stem.lower())
        suffix = original.suffix.lower() if re.fullmatch(r"\.[a-z0-9]{1,5}", original.suffix.lower()) else ""
        split = splits[len(named)] if splits else "train"
        named.append(
            _Named(revision, stem, stem + (suffix or _EXTENSIONS.get(image.content_type, ".png")), split)
        )
    return named


def _export_images(named: Sequence[_Named], *, include_images: bool) -> Iterator[ExportImage]:
    """The images to export, maps loaded only when the exporter asks for them."""
    for item in named:
        revision = item.revision
        image = revision.task.image
        yield ExportImage(
            stem=item.stem,
            width=revision.width,
            height=revision.height,
            index_map=partial(revision_index_map, revision=revision),
            segments=tuple(
                ExportSegment(id=int(s["id"]), category_id=int(s["category_id"]), iscrowd=bool(s["iscrowd"]))
                for s in revision.segments
            ),
            split=item.split,
            file_name=item.file_name,
            image=partial(blob_read, image.storage_key) if include_images else None,
        )


def _summary_json(summary: ExportSummary) -> dict[str, Any]:
    return {
        "images": summary.images,
        "objects": summary.segments,
        "files": summary.files,
        "splits": dict(summary.splits),
        "skipped": dict(summary.skipped),
        "source_images": summary.source_images,
        "notes": list(summary.notes),
    }


def _copy_hashing(source: IO[bytes], target: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def _zip_folder(root: Path, archive: Path, *, manifest: dict[str, Any], when: DateTime) -> dict[str, Any]:
    """Zip ``root`` (as a top folder of its name) deterministically, listing every file with
    its sha256 and size in ``manifest["files"]``, then add ``manifest.json`` last."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    listed = []
    with zipfile.ZipFile(archive, "w", allowZip64=True) as zf:
        for path in files:
            rel = path.relative_to(root).as_posix()
            size = path.stat().st_size
            info = zipfile.ZipInfo(f"{root.name}/{rel}", date_time=when)
            info.external_attr = 0o644 << 16
            info.compress_type = (
                zipfile.ZIP_STORED if path.suffix.lower() in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            )
            with open(path, "rb") as source, zf.open(info, "w", force_zip64=size > (1 << 31)) as target:
                sha256 = _copy_hashing(source, target)
            listed.append({"path": rel, "size": size, "sha256": sha256})
        manifest = {**manifest, "files": listed}
        info = zipfile.ZipInfo(f"{root.name}/manifest.json", date_time=when)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return manifest


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _store(path: Path, *, prefix: str, name: str) -> tuple[str, str, int]:
    """Put a finished file in storage under ``<prefix>/<sha256>/<name>``; a complete copy
    already there (an earlier attempt) is kept, an incomplete one replaced."""
    sha256 = _sha256_of(path)
    size = path.stat().st_size
    key = f"{prefix}/{sha256}/{name}"
    if default_storage.exists(key):
        if default_storage.size(key) == size:
            return key, sha256, size
        default_storage.delete(key)  # a partial upload of an unfinished release
    with open(path, "rb") as handle:
        key = default_storage.save(key, File(handle, name=name))
    return key, sha256, size


def _legacy_snapshot(release: Release, revisions: Sequence[Revision]) -> dict[str, Any]:
    """For a release asked for before snapshots existed: its categories and QA figures as the
    build used to read them (live)."""
    taxonomy, _, _ = _export_taxonomy(revisions)
    categories = [
        {"id": c.id, "name": c.name, "color": c.color, "isthing": c.isthing, "export_ids": dict(c.export_ids)}
        for c in taxonomy.categories
    ]
    return release_snapshot(
        project=release.project, revisions=revisions, formats=release.formats, categories=categories
    )


def _build(release: Release, workdir: Path, progress: _Progress) -> dict[str, Any]:
    project = release.project
    revisions = _ordered_revisions(release)
    snapshot = release.snapshot or _legacy_snapshot(release, revisions)
    taxonomy = taxonomy_of(snapshot["categories"])
    isthing = {c.id: c.isthing for c in taxonomy.categories}
    splits = list(release.splits) or ["train"] * len(revisions)
    named = _export_names(revisions, splits)
    root = workdir / release.archive_name.removesuffix(".zip")
    root.mkdir()

    segments = instances = crowd = 0
    for item in named:
        revision = item.revision
        segments += len(revision.segments)
        for s in revision.segments:
            if isthing.get(int(s["category_id"]), False):
                crowd += int(bool(s["iscrowd"]))
                instances += int(not s["iscrowd"])

    # One pass: each stored map is decoded once and written in every format; the class
    # distribution is counted from the same pass.
    distribution = Distribution(isthing=isthing)
    targets = {}
    for fmt in release.formats:
        exporter = FORMATS[fmt]
        if fmt == "coco" and release.coco_polygons:
            exporter = CocoExporter(polygons=True)
        targets[fmt] = (exporter, root / fmt)
    stage = f"exporting {', '.join(release.formats)}"
    summaries = export_formats(
        _export_images(named, include_images=release.include_images),
        taxonomy,
        targets,  # type: ignore[arg-type]
        progress=lambda done, stem: progress.step(stage),
        observe=distribution.add_stats,
    )
    exports = {fmt: _summary_json(summary) for fmt, summary in summaries.items()}

    with open(root / "images.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["stem", "file_name", "image_sha256", "width", "height", "split", "revision_id", "source"]
        )
        for item in named:
            revision = item.revision
            image = revision.task.image
            source = "gold" if revision.task.kind == Task.Kind.GOLD else "annotation"
            writer.writerow(
                [
                    item.stem,
                    image.file_name,
                    image.sha256,
                    image.width,
                    image.height,
                    item.split,
                    revision.id,
                    source,
                ]
            )

    header = {
        "tessera_version": settings.TESSERA_VERSION,
        "release": release.number,
        "project": dict(snapshot["project"]),
        "created_at": release.created_at.isoformat(),
        "formats": list(release.formats),
    }
    names = {c.id: c.name for c in taxonomy.categories}
    report = qa_report_document(
        header={**header, "segments": segments, "instances": instances},
        distribution=distribution,
        names=names,
        quality=snapshot["quality"],
        thresholds=snapshot["thresholds"],
    )
    report_json = json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    (root / "qa_report.json").write_text(report_json, encoding="utf-8")
    (root / "qa_report.html").write_text(qa_report_html(report), encoding="utf-8")
    progress.step("writing the QA report")

    versions_of = format_versions()
    manifest = {
        **header,
        "formats": {fmt: versions_of[fmt] for fmt in release.formats},
        "taxonomy_versions": snapshot["taxonomy_versions"],
        "categories": [
            {"id": c["id"], "name": c["name"], "isthing": c["isthing"], "color": c["color"]}
            | ({"retired": True} if c.get("retired") else {})
            for c in snapshot["categories"]
        ],
        "class_tables": snapshot["class_tables"],
        "class_table_changes": snapshot["class_table_changes"],
        "previous_release": snapshot["previous_release"],
        "splits": {
            "options": dict(release.split_options) or {"val_share": 0.0, "test_share": 0.0, "batches": {}},
            "images": {split: splits.count(split) for split in SPLITS if split in splits},
        },
        "counts": {
            "images": len(revisions),
            "segments": segments,
            "instances": instances,
            "crowd_regions": crowd,
            "gold_images": sum(1 for r in revisions if r.task.kind == Task.Kind.GOLD),
        },
        "exports": exports,
        "include_images": release.include_images,
        "options": {"coco": {"polygons": release.coco_polygons}} if "coco" in release.formats else {},
        "files_note": "every file of the archive except manifest.json itself; paths relative to the top folder",
    }
    (root / "README.md").write_text(release_readme(manifest, named), encoding="utf-8")
    archive = workdir / release.archive_name
    t = release.created_at.astimezone(UTC)
    when = (t.year, t.month, t.day, t.hour, t.minute, t.second)
    manifest = _zip_folder(root, archive, manifest=manifest, when=when)
    progress.step("writing the archive")

    prefix = f"releases/{project.slug}/{release.number}"
    stored = {
        "archive": _store(archive, prefix=prefix, name=release.archive_name),
        "json": _store(root / "qa_report.json", prefix=prefix, name="qa_report.json"),
        "html": _store(root / "qa_report.html", prefix=prefix, name="qa_report.html"),
    }
    progress.step("storing")
    return {"manifest": manifest, "stored": stored}


def _claim(release_id: int) -> Release | None:
    """Mark the release as building, or None when it is ready already (nothing to do)."""
    with transaction.atomic():
        release = Release.objects.select_for_update().select_related("project").get(id=release_id)
        if release.status == Release.Status.READY:
            return None
        release.status = Release.Status.BUILDING
        release.started_at = timezone.now()
        release.attempts += 1
        release.error = ""
        release.progress_done = 0
        release.progress_stage = "starting"
        release.save(
            update_fields=[
                "status",
                "started_at",
                "attempts",
                "error",
                "progress_done",
                "progress_stage",
                "updated_at",
            ]
        )
        return release


def release_fail(*, release_id: int, error: str) -> None:
    Release.objects.filter(id=release_id).exclude(status=Release.Status.READY).update(
        status=Release.Status.FAILED, error=error[:4000], finished_at=timezone.now()
    )


def release_build(*, release_id: int, progress: ReleaseProgress | None = None) -> Release:
    """Build a release's archive and QA report and make it ready; safe to run twice.

    A ready release is returned untouched (a finished release never changes). Bad data ends
    the build as ``failed`` with the reason; other errors also mark it failed and propagate,
    so the job can retry them. Not atomic: the progress must be visible while building.
    """
    release = _claim(release_id)
    if release is None:
        return Release.objects.get(id=release_id)
    tracker = _Progress(release, progress)
    workdir = Path(tempfile.mkdtemp(prefix="tessera-release-"))
    try:
        built = _build(release, workdir, tracker)
    except BAD_DATA_ERRORS as error:
        release_fail(release_id=release.id, error=f"{type(error).__name__}: {error}")
        return Release.objects.get(id=release.id)
    except Exception as error:
        release_fail(release_id=release.id, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    archive, report_json, report_html = (built["stored"][k] for k in ("archive", "json", "html"))
    Release.objects.filter(id=release.id, status=Release.Status.BUILDING).update(
        status=Release.Status.READY,
        archive_key=archive[0],
        archive_sha256=archive[1],
        archive_size=archive[2],
        report_json_key=report_json[0],
        report_json_sha256=report_json[1],
        report_json_size=report_json[2],
        report_html_key=report_html[0],
        report_html_sha256=report_html[1],
        report_html_size=report_html[2],
        manifest=built["manifest"],
        progress_done=release.progress_total,
        progress_stage="ready",
        finished_at=timezone.now(),
    )
    return Release.objects.get(id=release.id)
