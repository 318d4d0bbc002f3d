"""Builders for the deliveries tests: scenes, import files in each format, accepted work."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from PIL import Image as PILImage
from pycocotools import mask as mask_utils

from annotation.models import Revision
from annotation.services import SegmentIn
from deliveries.formats import FORMATS, ExportCategory, ExportImage, ExportSegment, Taxonomy
from projects.models import Project, Task
from qa.services import gold_set, revision_import
from tests.factories import STANDARD_MEMBERS, TAXONOMY, make_project

H, W = 16, 24
# Segment id -> category id of the scene: sky (stuff 3), road (stuff 1), person (thing 7), car (thing 9).
SCENE_CATEGORIES = {1: 3, 2: 1, 3: 7, 4: 9}


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def scene(shift: int = 0) -> np.ndarray:
    """Sky over road, a person and a car; ``shift`` moves the person right."""
    index_map = np.ones((H, W), np.uint16)
    index_map[H // 2 :, :] = 2
    index_map[2:7, 3 + shift : 8 + shift] = 3
    index_map[9:14, 12:20] = 4
    return index_map


def scene_segments() -> list[dict[str, Any]]:
    return [{"id": i, "category_id": c, "iscrowd": False} for i, c in SCENE_CATEGORIES.items()]


def segment_ins(segments: list[dict[str, Any]] | None = None) -> list[SegmentIn]:
    return [
        SegmentIn(id=s["id"], category_id=s["category_id"], iscrowd=bool(s.get("iscrowd")))
        for s in (segments or scene_segments())
    ]


def project_with_members(*, slug: str = "proj", images: int = 2, **options: Any) -> Project:
    project = make_project(slug=slug, members=STANDARD_MEMBERS, images=images, size=(W, H), **options)
    # No blind gold or overlap draws: the tests decide where gold and overlap are.
    Project.objects.filter(id=project.id).update(gold_share=0.0, overlap_share=0.0)
    project.refresh_from_db()
    return project


def accept_work(project: Project, image_index: int, index_map: np.ndarray, segments: Any = None) -> Revision:
    """Accepted annotation on image ``image_index`` (img<i>.png)."""
    image = project.images.get(file_name=f"img{image_index}.png")
    task = image.tasks.filter(kind=Task.Kind.ANNOTATE).order_by("id").first()
    assert task is not None
    return revision_import(
        task=task,
        author=user("manager"),
        index_map=index_map,
        segments=segment_ins(segments),
        status=Revision.Status.ACCEPTED,
    )


def make_gold(project: Project, image_index: int, index_map: np.ndarray) -> Revision:
    return gold_set(
        image=project.images.get(file_name=f"img{image_index}.png"),
        author=user("lead"),
        index_map=index_map,
        segments=segment_ins(),
    )


# --- import files ------------------------------------------------------------------------------------


def rle(mask: np.ndarray) -> dict[str, Any]:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": encoded["counts"].decode("ascii")}


def coco_categories_json(categories: list[dict[str, Any]] = TAXONOMY) -> list[dict[str, Any]]:
    return [
        {"id": c["id"], "name": c["name"], "isthing": c["isthing"], "color": c["color"], "supercategory": ""}
        for c in categories
    ]


def coco_document(
    images: list[tuple[str, np.ndarray]], *, stuff: bool = True, segments: dict[int, int] | None = None
) -> dict[str, Any]:
    """A COCO instances document: one RLE annotation per segment of each map (stuff too when
    ``stuff``, which a COCO reader accepts as plain annotations)."""
    table = segments or SCENE_CATEGORIES
    things = {c["id"] for c in TAXONOMY if c["isthing"]}
    document: dict[str, Any] = {"images": [], "annotations": [], "categories": coco_categories_json()}
    next_id = 1
    for image_id, (file_name, index_map) in enumerate(images, start=1):
        h, w = index_map.shape
        document["images"].append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        for segment_id, category_id in table.items():
            mask = index_map == segment_id
            if not mask.any() or (not stuff and category_id not in things):
                continue
            ys, xs = np.nonzero(mask)
            document["annotations"].append(
                {
                    "id": next_id,
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": rle(mask),
                    "area": int(mask.sum()),
                    "bbox": [int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)],
                    "iscrowd": 0,
                }
            )
            next_id += 1
    return document


def write_json(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def panoptic_files(root: Path, images: list[tuple[str, np.ndarray]], *, name: str = "panoptic_train") -> Path:
    """A COCO panoptic JSON (``root/annotations/<name>.json``) and its PNG folder."""
    json_path = root / "annotations" / f"{name}.json"
    png_dir = root / "annotations" / name
    png_dir.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {"images": [], "annotations": [], "categories": coco_categories_json()}
    for image_id, (file_name, index_map) in enumerate(images, start=1):
        h, w = index_map.shape
        png_name = Path(file_name).stem + ".png"
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[..., 0] = index_map % 256
        rgb[..., 1] = index_map // 256
        PILImage.fromarray(rgb).save(png_dir / png_name)
        document["images"].append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        infos = []
        for segment_id in sorted(int(v) for v in np.unique(index_map) if v):
            infos.append(
                {
                    "id": segment_id,
                    "category_id": SCENE_CATEGORIES[segment_id],
                    "area": int((index_map == segment_id).sum()),
                    "bbox": [0, 0, 1, 1],
                    "iscrowd": 0,
                }
            )
        document["annotations"].append({"image_id": image_id, "file_name": png_name, "segments_info": infos})
    write_json(json_path, document)
    return json_path


def png_export(root: Path, images: list[tuple[str, np.ndarray]]) -> Path:
    """Tessera's png layout, written by the png exporter from the scene maps."""
    taxonomy = Taxonomy(
        tuple(
            ExportCategory(
                id=c["id"],
                name=c["name"],
                color="#{:02x}{:02x}{:02x}".format(*c["color"]),
                isthing=bool(c["isthing"]),
            )
            for c in TAXONOMY
        )
    )
    FORMATS["png"].export(
        [
            ExportImage(
                stem=Path(file_name).stem,
                width=int(index_map.shape[1]),
                height=int(index_map.shape[0]),
                index_map=index_map,
                segments=tuple(
                    ExportSegment(id=i, category_id=c)
                    for i, c in SCENE_CATEGORIES.items()
                    if (index_map == i).any()
                ),
                file_name=file_name,
            )
            for file_name, index_map in images
        ],
        taxonomy,
        root,
    )
    return root


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def import_source(
    fmt: str, root: Path, images: list[tuple[str, np.ndarray]], *, zipped: bool = False
) -> Path:
    """Files of ``fmt`` for ``images`` under ``root``; the path to import (zip when asked)."""
    data = root / "data"
    if fmt == "coco":
        path = write_json(data / "annotations" / "instances_train.json", coco_document(images))
    elif fmt == "coco-panoptic":
        path = panoptic_files(data, images)
    else:
        path = png_export(data, images)
    if zipped or fmt == "png":
        return zip_folder(data, root / f"{fmt}.zip")
    return path


def decode_panoptic_png(data: bytes) -> np.ndarray:
    rgb = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
