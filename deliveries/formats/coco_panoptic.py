"""COCO panoptic: ``annotations/panoptic_<split>.json`` and one RGB PNG per image in
``annotations/panoptic_<split>/`` (the PNG folder is the JSON path minus ``.json``, as
panopticapi and Datumaro expect), plus ``images/<split>/`` when source images are given.

* PNG pixel = segment id as R + 256*G + 256^2*B, 0 = void. The ids are the map's own segment
  ids (at most 65535, so B is 0). COCO's own data has one segment per stuff class and image;
  Tessera keeps the map's partition as it is (a stuff class painted as two segments stays two,
  which panopticapi accepts), and ``merge_stuff=True`` merges them into the lowest id.
* ``segments_info``: id, category_id, area (pixels), bbox [x, y, w, h], iscrowd - one entry
  per non-zero id in the PNG and no other.
* Categories: all taxonomy categories with ``isthing`` (0/1), ``color`` [r, g, b] and
  ``supercategory``. PQ evaluation (panopticapi's pq_compute) needs at least one thing and one
  stuff category; a note in the summary says when the taxonomy lacks one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ._base import BaseExporter, JsonArray, Output, Prepared, Tally, write_json_document
from ._maps import map_runs
from ._paths import contained_path
from ._png import lut_bytes, write_label_png
from .coco import _category, _check_image_file, _int, _list, _load_json
from .model import FormatError, ImportedImage, ImportedSegment, Taxonomy


@dataclass
class _Split:
    images: JsonArray
    annotations: JsonArray


@dataclass
class _State:
    taxonomy: Taxonomy
    splits: dict[str, _Split]
    next_image: int = 1


@dataclass(frozen=True)
class CocoPanopticExporter(BaseExporter):
    merge_stuff: bool = False
    copy_images: bool = True

    name: ClassVar[str] = "coco-panoptic"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "COCO 2017 panoptic (panopticapi PNG + segments_info)"

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        kinds = {c.isthing for c in taxonomy.categories}
        if kinds != {True, False}:
            tally.note("panopticapi's pq_compute needs at least one thing and one stuff category")
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
        cats = state.taxonomy.by_id
        m = item.map
        runs = item.runs
        # one segment per stuff category: merge duplicates into the lowest id
        first_stuff: dict[int, int] = {}
        remap: dict[int, int] = {}
        for seg in item.segments:
            if self.merge_stuff and not cats[seg.category_id].isthing:
                keep = first_stuff.setdefault(seg.category_id, seg.id)
                if keep != seg.id:
                    remap[seg.id] = keep
        if remap:
            lut = np.arange(int(runs.ids[-1]) + 1, dtype=np.uint16)
            for a, b in remap.items():
                lut[a] = b
            m = lut[m]
            runs = map_runs(m)
            tally.skipped["stuff_merged"] += len(remap)
        by_id = {s.id: s for s in item.segments}
        infos = []
        for k, sid in enumerate(runs.ids.tolist()):
            seg = by_id[sid]
            infos.append(
                {
                    "id": sid,
                    "category_id": seg.category_id,
                    "area": int(runs.areas[k]),
                    "bbox": [int(v) for v in runs.bboxes[k]],
                    "iscrowd": int(seg.iscrowd),
                }
            )
        ids = np.arange(int(runs.ids[-1]) + 1 if len(runs.ids) else 1, dtype=np.int64)
        rgb = lut_bytes(np.column_stack([ids & 0xFF, ids >> 8, np.zeros_like(ids)]), "RGB")
        png_name = f"{img.stem}.png"
        write_label_png(out.path(f"annotations/panoptic_{img.split}/{png_name}"), runs.pixels, rgb, "RGB")
        sp.images.append(
            {"id": image_id, "file_name": img.image_file_name, "width": img.width, "height": img.height}
        )
        sp.annotations.append({"image_id": image_id, "file_name": png_name, "segments_info": infos})
        if self.copy_images and out.copy_image(img, f"images/{img.split}/{img.image_file_name}"):
            tally.source_images += 1
        tally.segments += len(infos)

    def finish(self, state: _State, out: Output, tally: Tally) -> None:
        categories = [
            {"id": c.id, "name": c.name, "supercategory": "", "isthing": int(c.isthing), "color": list(c.rgb)}
            for c in state.taxonomy.categories
        ]
        for split, sp in sorted(state.splits.items()):
            write_json_document(
                out.path(f"annotations/panoptic_{split}.json"),
                {"info": {"description": "Tessera export", "version": self.version}, "licenses": []},
                {"images": sp.images, "annotations": sp.annotations},
                {"categories": categories},
            )


# ----------------------------------------------------------------------------- reader
def read_coco_panoptic(
    json_path: str | os.PathLike[str],
    png_dir: str | os.PathLike[str] | None = None,
    images_dir: str | os.PathLike[str] | None = None,
) -> Iterator[ImportedImage]:
    """Yield every image of a COCO panoptic file as an index map (``png_dir`` defaults to the
    JSON path minus ``.json``). Segment ids are compacted to 1..N in ``segments_info`` order;
    void (0) stays 0. Errors: PNG ids without a ``segments_info`` entry, id 0 in
    ``segments_info``, unknown categories, PNG size or mode wrong, missing PNG. Entries of
    ``segments_info`` whose id does not occur in the PNG are dropped with a note."""
    path = Path(json_path)
    pdir = Path(png_dir) if png_dir is not None else path.with_suffix("")
    data = _load_json(path)
    cats = {c.id: c for c in (_category(path, c) for c in _list(path, data, "categories"))}
    images = {}
    for im in _list(path, data, "images"):
        item = f"image {im.get('id')!r}"
        iid = _int(path, item, im, "id", minimum=0)
        _int(path, item, im, "width", minimum=1)
        _int(path, item, im, "height", minimum=1)
        if not isinstance(im.get("file_name"), str):
            raise FormatError(path, item, "missing file_name")
        images[iid] = im
    anns = _list(path, data, "annotations")
    for a in anns:  # structural checks before anything is yielded
        item = f"annotation for image {a.get('image_id')!r}"
        iid = _int(path, item, a, "image_id")
        if iid not in images:
            raise FormatError(path, item, f"image_id {iid} is not in 'images'")
        if not isinstance(a.get("file_name"), str):
            raise FormatError(path, item, "missing PNG file_name")
        contained_path(pdir, a["file_name"], file=path, item=item, what="PNG file_name")
        if images_dir is not None:
            contained_path(
                images_dir, images[iid].get("file_name"), file=path, item=item, what="image file_name"
            )
        infos = a.get("segments_info")
        if not isinstance(infos, list) or not all(isinstance(s, dict) for s in infos):
            raise FormatError(path, item, "segments_info must be a list of objects")
        seen = set()
        for s in infos:
            sid = _int(path, item, s, "id")
            if sid <= 0 or sid >= 1 << 24:
                raise FormatError(path, item, f"segment id {sid} outside 1..2^24-1 (0 is void)")
            if sid in seen:
                raise FormatError(path, item, f"segment id {sid} listed twice")
            seen.add(sid)
            cid = _int(path, item, s, "category_id")
            if cid not in cats:
                raise FormatError(path, item, f"segment {sid}: category_id {cid} is not in 'categories'")
    for a in anns:
        yield _image(path, pdir, images[a["image_id"]], a, images_dir)


def rgb_to_id(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    """The format's id: R + 256*G + 256^2*B (panopticapi's ``rgb2id``)."""
    a = rgb.astype(np.uint32)
    out: npt.NDArray[np.uint32] = a[..., 0] + (a[..., 1] << 8) + (a[..., 2] << 16)
    return out


def _image(path: Path, pdir: Path, im: dict[str, Any], a: dict[str, Any], images_dir: Any) -> ImportedImage:
    from PIL import Image

    item = f"annotation for image {im['id']} ({a['file_name']})"
    p = contained_path(pdir, a["file_name"], file=path, item=item, what="PNG file_name")
    if not p.is_file():
        raise FormatError(path, item, f"PNG {a['file_name']!r} not found in {pdir.name}/")
    try:
        with Image.open(p) as f:
            mode, size = f.mode, f.size
            arr = np.asarray(f.convert("RGB")) if mode in ("RGB", "RGBA") else None
    except OSError as e:
        raise FormatError(p, item, f"cannot read PNG: {e}") from e
    if arr is None:
        raise FormatError(p, item, f"panoptic PNG must be 8-bit RGB, got mode {mode}")
    if size != (im["width"], im["height"]):
        raise FormatError(p, item, f"PNG is {size[0]}x{size[1]}, image is {im['width']}x{im['height']}")
    if images_dir is not None:
        image_path = contained_path(images_dir, im["file_name"], file=path, item=item, what="image file_name")
        _check_image_file(image_path, im["width"], im["height"], path, item)
    pid = rgb_to_id(arr)
    values, inverse, counts = np.unique(pid, return_inverse=True, return_counts=True)
    infos = {s["id"]: s for s in a["segments_info"]}
    unknown = [int(v) for v in values.tolist() if v != 0 and v not in infos]
    if unknown:
        raise FormatError(p, item, f"PNG ids without a segments_info entry: {unknown[:10]}")
    present = {int(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
    notes: list[str] = []
    segments: list[ImportedSegment] = []
    new_of: dict[int, int] = {0: 0}
    for s in a["segments_info"]:
        sid = s["id"]
        if sid not in present:
            notes.append(f"segment {sid} listed in segments_info but absent from the PNG: dropped")
            continue
        if len(segments) == 65535:
            raise FormatError(p, item, "more than 65535 segments")
        new_of[sid] = len(segments) + 1
        segments.append(
            ImportedSegment(len(segments) + 1, s["category_id"], bool(s.get("iscrowd", 0)), present[sid], sid)
        )
    lut = np.array([new_of[int(v)] for v in values.tolist()], dtype=np.uint16)
    return ImportedImage(
        file_name=im["file_name"],
        width=im["width"],
        height=im["height"],
        index_map=lut[inverse.reshape(pid.shape)],
        segments=tuple(segments),
        notes=tuple(notes),
    )
