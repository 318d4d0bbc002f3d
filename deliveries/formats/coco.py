"""COCO instances: ``annotations/instances_<split>.json`` (+ ``images/<split>/`` when source
images are given).

* Thing segments become annotations; stuff segments are not instances and are left out
  (counted in ``skipped["stuff"]``) - the COCO panoptic export carries them.
* Non-crowd masks are compressed RLE (column-major, ``counts`` a string) or, with
  ``polygons=True``, traced polygons on pixel corners (holes joined by zero-width bridges,
  one polygon per 4-connected part) that pycocotools rasterises back to the same pixels.
* Crowd (``iscrowd=1``) annotations are always uncompressed RLE, as in the official COCO
  ground truth (torchvision's reference loader, for one, reads only that form for crowds).
* ``area`` is the mask's pixel count, ``bbox`` is [x, y, w, h] of the mask, image and annotation
  ids are positive and unique across the whole export (images numbered in export order),
  category ids are the project's own; only thing categories are listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pycocotools import mask as mask_utils

from annotation.masks.trace import keyhole_polygons

from ._base import BaseExporter, JsonArray, Output, Prepared, Tally, write_json_document
from ._maps import rle_string_to_counts
from ._paths import contained_path
from .model import ClassIndex, FormatError, ImportedCategory, ImportedImage, ImportedSegment, Taxonomy


@dataclass
class _Split:
    images: JsonArray
    annotations: JsonArray


@dataclass
class _State:
    taxonomy: Taxonomy
    splits: dict[str, _Split]
    next_image: int = 1
    next_ann: int = 1


@dataclass(frozen=True)
class CocoExporter(BaseExporter):
    polygons: bool = False
    copy_images: bool = True

    name: ClassVar[str] = "coco"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "COCO 2017 instances (pycocotools 2.0 RLE/polygons)"

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        return [ClassIndex(c.id, c.id, c.name) for c in taxonomy.things]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        if not taxonomy.things:
            tally.note("the taxonomy has no thing categories: instances files list no annotations")
        return _State(taxonomy, {})

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        sp = state.splits.get(img.split)
        if sp is None:
            tmp = out.tmp()
            sp = state.splits[img.split] = _Split(
                JsonArray(tmp, f"{img.split}.images"), JsonArray(tmp, f"{img.split}.annotations")
            )
        image_id = state.next_image
        state.next_image += 1
        sp.images.append(
            {"id": image_id, "file_name": img.image_file_name, "width": img.width, "height": img.height}
        )
        if self.copy_images and out.copy_image(img, f"images/{img.split}/{img.image_file_name}"):
            tally.source_images += 1
        cats = state.taxonomy.by_id
        runs = item.runs
        h, w = runs.height, runs.width
        to_compress: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        for k, seg in enumerate(item.segments):
            if not cats[seg.category_id].isthing:
                tally.skipped["stuff"] += 1
                continue
            x, y, bw, bh = (int(v) for v in runs.bboxes[k])
            rec: dict[str, Any] = {
                "id": state.next_ann,
                "image_id": image_id,
                "category_id": seg.category_id,
                "segmentation": None,
                "area": int(runs.areas[k]),
                "bbox": [x, y, bw, bh],
                "iscrowd": int(seg.iscrowd),
            }
            state.next_ann += 1
            if seg.iscrowd:
                rec["segmentation"] = {"size": [h, w], "counts": runs.rle_counts(k)}
            elif self.polygons:
                crop = item.map[y : y + bh, x : x + bw] == seg.id
                rings = keyhole_polygons(crop)
                rec["segmentation"] = [
                    (ring + np.array([x, y])).ravel().astype(float).tolist() for ring in rings
                ]
            else:
                to_compress.append(rec)
                rec["segmentation"] = {"size": [h, w], "counts": runs.rle_counts(k)}
            records.append(rec)
        if to_compress:
            # one call: pycocotools turns uncompressed counts into its compressed string form
            rles = mask_utils.frPyObjects([r["segmentation"] for r in to_compress], h, w)
            for r, rle in zip(to_compress, rles, strict=True):
                r["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
        for r in records:
            sp.annotations.append(r)
        tally.segments += len(records)

    def finish(self, state: _State, out: Output, tally: Tally) -> None:
        categories = [{"id": c.id, "name": c.name, "supercategory": ""} for c in state.taxonomy.things]
        for split, sp in sorted(state.splits.items()):
            write_json_document(
                out.path(f"annotations/instances_{split}.json"),
                {"info": {"description": "Tessera export", "version": self.version}, "licenses": []},
                {"images": sp.images, "annotations": sp.annotations},
                {"categories": categories},
            )


# ----------------------------------------------------------------------------- reader
def coco_categories(json_path: str | os.PathLike[str]) -> list[ImportedCategory]:
    """The categories of a COCO (instances or panoptic) JSON file."""
    data = _load_json(Path(json_path))
    return [_category(Path(json_path), c) for c in _list(Path(json_path), data, "categories")]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise FormatError(path, "file", f"cannot read JSON: {e}") from e
    if not isinstance(data, dict):
        raise FormatError(path, "file", "top level is not a JSON object")
    return data


def _list(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FormatError(path, key, f"'{key}' must be a list of objects")
    return value


def _int(path: Path, item: str, rec: dict[str, Any], key: str, *, minimum: int | None = None) -> int:
    v = rec.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise FormatError(path, item, f"'{key}' must be an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise FormatError(path, item, f"'{key}' must be >= {minimum}, got {v}")
    return v


def _category(path: Path, c: dict[str, Any]) -> ImportedCategory:
    cid = _int(path, f"category {c.get('id')!r}", c, "id")
    color = c.get("color")
    hexcolor = None
    if (
        isinstance(color, list)
        and len(color) == 3
        and all(isinstance(v, int) and 0 <= v <= 255 for v in color)
    ):
        hexcolor = "#{:02x}{:02x}{:02x}".format(*color)
    isthing = c.get("isthing")
    return ImportedCategory(
        cid, str(c.get("name", cid)), None if isthing is None else bool(isthing), hexcolor
    )


def _check_segmentation(path: Path, item: str, seg: Any, h: int, w: int) -> None:
    """Structural checks done before pycocotools sees the data (which decodes short RLE counts
    into uninitialised memory rather than failing)."""
    if isinstance(seg, list):
        if not seg:
            raise FormatError(path, item, "empty polygon list")
        for k, poly in enumerate(seg):
            if not isinstance(poly, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in poly
            ):
                raise FormatError(path, item, f"polygon {k} is not a flat list of numbers")
            if len(poly) % 2:
                raise FormatError(path, item, f"polygon {k} has an odd number of coordinates ({len(poly)})")
            if len(poly) < 6:
                raise FormatError(
                    path, item, f"polygon {k} has {len(poly) // 2} points; at least 3 are needed"
                )
            if not all(np.isfinite(poly)):
                raise FormatError(path, item, f"polygon {k} has non-finite coordinates")
        return
    if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
        raise FormatError(path, item, "segmentation is neither a polygon list nor an RLE {size, counts}")
    size = seg["size"]
    if not (isinstance(size, list) and len(size) == 2 and list(size) == [h, w]):
        raise FormatError(path, item, f"RLE size {size!r} != image [height, width] [{h}, {w}]")
    counts = seg["counts"]
    if isinstance(counts, str):
        try:
            values = rle_string_to_counts(counts)
        except ValueError as e:
            raise FormatError(path, item, f"compressed RLE counts: {e}") from e
    elif isinstance(counts, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        values = counts
    else:
        raise FormatError(path, item, "RLE counts must be a string or a list of integers")
    if any(v < 0 for v in values):
        raise FormatError(path, item, "RLE counts contain a negative run")
    total = sum(values)
    if total != h * w:
        raise FormatError(path, item, f"RLE counts sum to {total}, not height*width = {h * w}")


def _decode(seg: Any, h: int, w: int) -> np.ndarray[Any, Any]:
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": [h, w], "counts": seg["counts"].encode("ascii")}
    return np.asarray(mask_utils.decode(rle), dtype=bool)


def read_coco(
    json_path: str | os.PathLike[str], images_dir: str | os.PathLike[str] | None = None
) -> Iterator[ImportedImage]:
    """Yield every image of a COCO instances file as an index map.

    The whole file is checked before the first image is yielded (ids, categories, polygon
    lengths, RLE sizes and sums); masks are decoded one image at a time. Overlapping instances
    (which an index map cannot hold) are resolved deterministically: **the smaller annotation
    is drawn on top** (ties: the lower annotation id on top), so small objects in front of
    large ones survive. The number of contested pixels is reported in ``overlap_pixels``, and
    annotations left with no visible pixel are dropped and named in ``notes``. With
    ``images_dir``, each image file must exist and have the declared size.
    """
    path = Path(json_path)
    data = _load_json(path)
    images = _list(path, data, "images")
    anns = _list(path, data, "annotations")
    cats = {c.id for c in (_category(path, c) for c in _list(path, data, "categories"))}
    by_image: dict[int, dict[str, Any]] = {}
    for im in images:
        item = f"image {im.get('id')!r}"
        iid = _int(path, item, im, "id", minimum=0)
        if iid in by_image:
            raise FormatError(path, item, "duplicate image id")
        _int(path, item, im, "width", minimum=1)
        _int(path, item, im, "height", minimum=1)
        if not isinstance(im.get("file_name"), str):
            raise FormatError(path, item, "missing file_name")
        if images_dir is not None:
            contained_path(images_dir, im["file_name"], file=path, item=item, what="file_name")
        by_image[iid] = im
    per_image: dict[int, list[dict[str, Any]]] = {i: [] for i in by_image}
    seen: set[int] = set()
    for a in anns:
        item = f"annotation {a.get('id')!r}"
        aid = _int(path, item, a, "id")
        if aid in seen:
            raise FormatError(path, item, "duplicate annotation id")
        seen.add(aid)
        iid = _int(path, item, a, "image_id")
        if iid not in by_image:
            raise FormatError(path, item, f"image_id {iid} is not in 'images'")
        cid = _int(path, item, a, "category_id")
        if cid not in cats:
            raise FormatError(path, item, f"category_id {cid} is not in 'categories'")
        if a.get("iscrowd", 0) not in (0, 1, True, False):
            raise FormatError(path, item, f"iscrowd must be 0 or 1, got {a.get('iscrowd')!r}")
        if "segmentation" not in a:
            raise FormatError(path, item, "no segmentation (box-only annotations cannot become masks)")
        im = by_image[iid]
        _check_segmentation(path, item, a["segmentation"], im["height"], im["width"])
        per_image[iid].append(a)
    for iid, im in by_image.items():
        yield _image(path, im, per_image[iid], images_dir)


def _image(path: Path, im: dict[str, Any], anns: list[dict[str, Any]], images_dir: Any) -> ImportedImage:
    h, w = im["height"], im["width"]
    if images_dir is not None:
        item = f"image {im['id']}"
        image_path = contained_path(images_dir, im["file_name"], file=path, item=item, what="file_name")
        _check_image_file(image_path, w, h, path, item)
    decoded = []
    for pos, a in enumerate(anns):
        m = _decode(a["segmentation"], h, w)
        decoded.append((int(m.sum()), a["id"], pos, a, m))
    # paint large to small (ties: higher id first) so the smaller / lower-id annotation wins
    decoded.sort(key=lambda t: (-t[0], -t[1]))
    owner = np.zeros((h, w), dtype=np.int32)  # index into `decoded` + 1
    claimed = np.zeros((h, w), dtype=np.uint16)
    for k, (_, _, _, _, m) in enumerate(decoded):
        owner[m] = k + 1
        claimed += m
    overlap = int((claimed > 1).sum())
    counts = np.bincount(owner.ravel(), minlength=len(decoded) + 1)
    notes: list[str] = []
    # compact ids in annotation order of the file
    order = sorted(range(len(decoded)), key=lambda k: decoded[k][2])
    lut = np.zeros(len(decoded) + 1, dtype=np.uint16)
    segments: list[ImportedSegment] = []
    for k in order:
        area, aid, _, a, _ = decoded[k]
        visible = int(counts[k + 1])
        if visible == 0:
            notes.append(
                f"annotation {aid} dropped: "
                + ("empty mask" if area == 0 else "entirely covered by smaller overlapping annotations")
            )
            continue
        if len(segments) == 65535:
            raise FormatError(path, f"image {im['id']}", "more than 65535 segments")
        new_id = len(segments) + 1
        lut[k + 1] = new_id
        segments.append(ImportedSegment(new_id, a["category_id"], bool(a.get("iscrowd", 0)), visible, aid))
    if overlap:
        notes.append(f"{overlap} pixels claimed by several annotations: the smaller annotation kept them")
    return ImportedImage(
        file_name=im["file_name"],
        width=w,
        height=h,
        index_map=lut[owner],
        segments=tuple(segments),
        overlap_pixels=overlap,
        notes=tuple(notes),
    )


def _check_image_file(p: Path, w: int, h: int, json_path: Path, item: str) -> None:
    from PIL import Image

    if not p.is_file():
        raise FormatError(json_path, item, f"image file {p} not found")
    try:
        with Image.open(p) as f:
            size = f.size
    except OSError as e:
        raise FormatError(p, item, f"cannot read image: {e}") from e
    if size != (w, h):
        raise FormatError(p, item, f"image is {size[0]}x{size[1]}, annotations say {w}x{h}")
