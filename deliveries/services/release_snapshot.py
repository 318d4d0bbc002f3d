"""What a release freezes when it is asked for: the split of each image, the class table, and
the QA figures, so that building it (or building it again after a failure) reads nothing that
may have changed since.

**Splits.** Clients train on ``train`` and validate on ``val`` (some also want ``test``). An
image's split is chosen, in order, by the batch it belongs to (``batches``: batch name ->
split, e.g. a batch labelled for validation) and otherwise by its content: a number in [0, 1)
drawn from the sha256 of the image file; below ``val_share`` it is ``val``, below
``val_share + test_share`` it is ``test``, else ``train``. The draw depends on the image alone,
so an image stays in its split from one release to the next (as long as the shares stay), a
new image does not move old ones, and a larger ``val_share`` only moves ``train`` images to
``val`` - a model never trains on an image a previous release validated it on.

**Class table.** Index-based formats (VOC, ADE20K, YOLO, png) number classes by position in the
taxonomy. Built from only the categories in use, a category removed or added with a lower id
between releases shifted every index after it, silently. The release taxonomy is therefore
every category the project ever had: the last ready release's categories in its order, then
the others in the order of the taxonomy version that introduced them (then by id); a category
no longer in the current version keeps its place (``retired``). Each
format's table (value written -> category) is recorded in the manifest and compared with the
last ready release: any change is listed in the release (``class_table_changes``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from annotation.models import Revision
from core.exceptions import ValidationFailed
from deliveries.formats import FORMATS, ExportCategory, Taxonomy
from deliveries.models import Release
from projects.models import Batch, Category, Project, Task
from qa.reports import quality_summary

SPLITS = ("train", "val", "test")
_SPLIT_SALT = b"tessera-split\x00"


# --- splits ------------------------------------------------------------------------------------------


def release_split_options(
    *,
    project: Project,
    val_share: float = 0.0,
    test_share: float = 0.0,
    batches: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Checked split options (400 on shares outside [0, 1), summing to 1 or more, unknown
    batch names or split names)."""
    for name, share in (("val_share", val_share), ("test_share", test_share)):
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share < 1:
            raise ValidationFailed(f"{name} must be a number in [0, 1), got {share!r}.")
    if val_share + test_share >= 1:
        raise ValidationFailed("val_share + test_share must be below 1: some images must stay in train.")
    chosen = dict(batches or {})
    bad_splits = sorted({s for s in chosen.values() if s not in SPLITS})
    if bad_splits:
        raise ValidationFailed(f"Unknown splits {bad_splits}; a batch goes to one of {', '.join(SPLITS)}.")
    known = set(Batch.objects.filter(project=project, name__in=list(chosen)).values_list("name", flat=True))
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise ValidationFailed(f"Project {project.slug} has no batch {', '.join(map(repr, unknown))}.")
    return {
        "val_share": float(val_share),
        "test_share": float(test_share),
        "batches": dict(sorted(chosen.items())),
    }


def split_draw(image_sha256: str) -> float:
    """The image's number in [0, 1): the first 8 bytes of sha256(salt + image sha256)."""
    digest = hashlib.sha256(_SPLIT_SALT + image_sha256.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(*, image_sha256: str, batch_name: str, options: Mapping[str, Any]) -> str:
    by_batch = options.get("batches") or {}
    if batch_name in by_batch:
        return str(by_batch[batch_name])
    u = split_draw(image_sha256)
    val, test = float(options.get("val_share", 0.0)), float(options.get("test_share", 0.0))
    if u < val:
        return "val"
    if u < val + test:
        return "test"
    return "train"


def release_splits(revisions: Sequence[Revision], options: Mapping[str, Any]) -> list[str]:
    return [
        split_of(image_sha256=r.task.image.sha256, batch_name=r.task.image.batch.name, options=options)
        for r in revisions
    ]


# --- the class table ---------------------------------------------------------------------------------


def project_categories(project: Project) -> list[dict[str, Any]]:
    """Every category the project ever had, in stable order, each with its newest definition
    and whether the current version still has it: first the categories of the last ready
    release in its order (carried forward, so even a taxonomy version edited in place cannot
    move them), then the others in the order of the taxonomy version that introduced them,
    then by id."""
    versions = list(project.taxonomy_versions.order_by("number").prefetch_related("categories"))
    first_seen: dict[int, int] = {}
    newest: dict[int, Category] = {}
    for version in versions:
        for category in version.categories.all():
            first_seen.setdefault(category.category_id, version.number)
            newest[category.category_id] = category
    current = {c.category_id for c in versions[-1].categories.all()} if versions else set()
    previous = (
        Release.objects.filter(project=project, status=Release.Status.READY)
        .exclude(snapshot={})
        .order_by("-number")
        .first()
    )
    rows = []
    for row in previous.snapshot.get("categories") or [] if previous else []:
        category_id = int(row["id"])
        if category_id in newest:
            rows.append(_category_row(newest[category_id], retired=category_id not in current))
        else:  # gone from every version (a version edited in place): it keeps its place
            rows.append({**row, "retired": True})
    seen = {int(r["id"]) for r in rows}
    for category_id in sorted(newest, key=lambda i: (first_seen[i], i)):
        if category_id not in seen:
            rows.append(_category_row(newest[category_id], retired=category_id not in current))
    return rows


def _category_row(c: Category, *, retired: bool) -> dict[str, Any]:
    return {
        "id": c.category_id,
        "name": c.name,
        "color": c.color,
        "isthing": c.isthing,
        "export_ids": {
            k: v
            for k, v in sorted((c.export_ids or {}).items())
            if isinstance(v, int) and not isinstance(v, bool)
        },
        "retired": retired,
    }


def taxonomy_of(categories: Sequence[Mapping[str, Any]]) -> Taxonomy:
    return Taxonomy(
        tuple(
            ExportCategory(
                id=int(c["id"]),
                name=str(c["name"]),
                color=str(c["color"]),
                isthing=bool(c["isthing"]),
                export_ids=dict(c.get("export_ids") or {}),
            )
            for c in categories
        )
    )


def class_tables(taxonomy: Taxonomy, formats: Sequence[str]) -> dict[str, list[list[Any]]]:
    """Per format: [value written, category id (None: no category), name] rows."""
    return {
        fmt: [[row.index, row.category_id, row.name] for row in FORMATS[fmt].class_table(taxonomy)]
        for fmt in formats
    }


def _previous_tables(release: Release) -> dict[str, list[list[Any]]]:
    manifest = release.manifest or {}
    if "class_tables" in manifest:
        return dict(manifest["class_tables"])
    # A release built before class tables were recorded: its categories, in its order.
    categories = manifest.get("categories") or []
    try:
        taxonomy = taxonomy_of([{**c, "export_ids": {}} for c in categories])
    except (KeyError, ValueError):
        return {}
    return class_tables(taxonomy, [f for f in ("voc", "ade20k", "yolo", "png") if f in release.formats])


def class_table_changes(
    project: Project, tables: Mapping[str, list[list[Any]]]
) -> tuple[int | None, list[str]]:
    """The last ready release's number and how ``tables`` differ from its tables, format by
    format (formats it did not have are not compared)."""
    previous = (
        Release.objects.filter(project=project, status=Release.Status.READY).order_by("-number").first()
    )
    if previous is None:
        return None, []
    before = _previous_tables(previous)
    changes = []
    for fmt, rows in tables.items():
        if fmt not in before:
            continue
        old = {cid: (index, name) for index, cid, name in before[fmt] if cid is not None}
        new = {cid: (index, name) for index, cid, name in rows if cid is not None}
        for cid, (index, name) in new.items():
            if cid not in old:
                changes.append(f"{fmt}: {name!r} (category {cid}) is new, written as {index}")
            elif old[cid][0] != index:
                changes.append(
                    f"{fmt}: {name!r} (category {cid}) was written as {old[cid][0]} in release "
                    f"{previous.number}, now as {index}"
                )
        for cid, (index, name) in old.items():
            if cid not in new:
                changes.append(
                    f"{fmt}: {name!r} (category {cid}, {index} in release {previous.number}) is gone"
                )
    return previous.number, changes


# --- the snapshot ------------------------------------------------------------------------------------


def _qa_revision_ids(project: Project, revisions: Sequence[Revision]) -> list[int]:
    """The release's revisions and the annotators' work on the same images: an image delivered
    from its gold reference was QA'd through the submissions measured against that gold."""
    images = [r.task.image_id for r in revisions]
    work = Revision.objects.filter(
        task__project=project, task__image_id__in=images, task__kind=Task.Kind.ANNOTATE
    ).exclude(status=Revision.Status.DRAFT)
    return sorted({r.id for r in revisions} | set(work.values_list("id", flat=True)))


def release_snapshot(
    *,
    project: Project,
    revisions: Sequence[Revision],
    formats: Sequence[str],
    categories: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything a build reads besides the (immutable) revisions, as JSON."""
    taxonomy = taxonomy_of(categories)
    tables = class_tables(taxonomy, formats)
    previous, changes = class_table_changes(project, tables)
    versions = sorted({r.task.taxonomy for r in revisions}, key=lambda t: t.number)
    quality = quality_summary(project=project, revision_ids=_qa_revision_ids(project, revisions))
    return {
        "project": {"slug": project.slug, "name": project.name, "mode": project.mode},
        "thresholds": {
            "batch_iou_floor": project.batch_iou_floor,
            "batch_agreement_floor": project.batch_agreement_floor,
        },
        # through JSON now, so the build reads exactly what was stored
        "quality": json.loads(json.dumps(quality, default=str)),
        "categories": categories,
        "taxonomy_versions": [{"id": v.id, "number": v.number} for v in versions],
        "class_tables": tables,
        "previous_release": previous,
        "class_table_changes": changes,
    }
