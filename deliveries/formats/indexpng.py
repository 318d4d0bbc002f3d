"""Tessera's plain PNG layout ("png"): class-index and instance-index PNGs with a class table,
for tools that want arrays and nothing else.

    classes.json / classes.csv       index, category_id, name, color, isthing (index 0 = void)
    semantic/<split>/<stem>.png      class index per pixel: 0 void, 1..N taxonomy order;
                                     8-bit grey, or 16-bit when N > 255
    instances/<split>/<stem>.png     instance index per pixel: 0 = no instance (stuff, void),
                                     1..K thing segments (crowd included) in segment-id order;
                                     8-bit, or 16-bit for images with K > 255
    index.jsonl                      one line per image: stem, split, width, height, file names,
                                     crowd (instance indices that are crowd regions)
    images/<split>/<file>            source images, when given

A segment is a (class, instance) pair: stuff segments of one class in an image become one
segment (instance 0), so ``read_png`` gives back the exported partition up to id renaming
whenever each stuff class has one segment per image (the panoptic convention).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from ._base import BaseExporter, Output, Prepared, Tally
from ._paths import contained_path
from ._png import PngMode, lut_bytes, write_label_png
from .model import ClassIndex, FormatError, ImportedCategory, ImportedImage, ImportedSegment, Taxonomy


@dataclass
class _State:
    index_of: dict[int, int]
    thing: dict[int, bool]
    wide: bool
    index: IO[str]


@dataclass(frozen=True)
class IndexPngExporter(BaseExporter):
    copy_images: bool = True

    name: ClassVar[str] = "png"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "Tessera index PNGs (semantic + instance index, class table)"

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        rows = [ClassIndex(0, None, "void")]
        return rows + [ClassIndex(k, c.id, c.name) for k, c in enumerate(taxonomy.categories, start=1)]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        rows = [
            {"index": k, "category_id": c.id, "name": c.name, "color": c.color, "isthing": c.isthing}
            for k, c in enumerate(taxonomy.categories, start=1)
        ]
        out.write_text("classes.json", json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        with open(out.path("classes.csv"), "x", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]) if rows else ["index"], lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        f2 = open(out.path("index.jsonl"), "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        return _State(
            {c.id: k for k, c in enumerate(taxonomy.categories, start=1)},
            {c.id: c.isthing for c in taxonomy.categories},
            len(taxonomy.categories) > 255,
            f2,
        )

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        runs = item.runs
        size = int(runs.ids[-1]) + 1 if len(runs.ids) else 1
        cls = np.zeros(size, dtype=np.uint16)
        inst = np.zeros(size, dtype=np.uint16)
        crowd = []
        k_inst = 0
        for k, seg in enumerate(item.segments):
            sid = int(runs.ids[k])
            cls[sid] = state.index_of[seg.category_id]
            if state.thing[seg.category_id]:
                k_inst += 1
                inst[sid] = k_inst
                if seg.iscrowd:
                    crowd.append(k_inst)
        tally.segments += len(item.segments)
        sem_name = f"semantic/{img.split}/{img.stem}.png"
        inst_name = f"instances/{img.split}/{img.stem}.png"
        px = runs.pixels
        sem_mode: PngMode = "I;16" if state.wide else "L"
        write_label_png(out.path(sem_name), px, lut_bytes(cls, sem_mode), sem_mode)
        ins_mode: PngMode = "I;16" if k_inst > 255 else "L"
        write_label_png(out.path(inst_name), px, lut_bytes(inst, ins_mode), ins_mode)
        image_name = None
        if self.copy_images and out.copy_image(img, f"images/{img.split}/{img.image_file_name}"):
            tally.source_images += 1
            image_name = f"images/{img.split}/{img.image_file_name}"
        record = {
            "stem": img.stem,
            "split": img.split,
            "width": img.width,
            "height": img.height,
            "file_name": img.image_file_name,
            "image": image_name,
            "semantic": sem_name,
            "instances": inst_name,
            "crowd": crowd,
        }
        state.index.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")

    def close(self, state: Any) -> None:
        state.index.close()


# ----------------------------------------------------------------------------- reader
def png_categories(root: str | os.PathLike[str]) -> list[ImportedCategory]:
    """The class table of a png export (``classes.json``)."""
    return [
        ImportedCategory(c.category_id, c.name, c.isthing, c.color) for c in _classes(Path(root)).values()
    ]


@dataclass(frozen=True)
class _Class:
    category_id: int
    name: str
    color: str | None
    isthing: bool


def _classes(root: Path) -> dict[int, _Class]:
    path = root / "classes.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FormatError(path, "file", f"cannot read class table: {e}") from e
    if not isinstance(rows, list):
        raise FormatError(path, "file", "class table must be a JSON list")
    out = {}
    for n, r in enumerate(rows):
        item = f"row {n}"
        if not isinstance(r, dict) or not all(k in r for k in ("index", "category_id", "name")):
            raise FormatError(path, item, "needs index, category_id and name")
        idx, cid = r["index"], r["category_id"]
        if not isinstance(idx, int) or isinstance(idx, bool) or not 1 <= idx <= 65535:
            raise FormatError(path, item, f"index must be an integer in 1..65535, got {idx!r}")
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise FormatError(path, item, f"category_id must be an integer, got {cid!r}")
        if idx in out:
            raise FormatError(path, item, f"index {idx} listed twice")
        out[idx] = _Class(cid, str(r["name"]), r.get("color"), bool(r.get("isthing", False)))
    return out


def _load_index_png(root: Path, index: Path, rel: Any, item: str, w: int, h: int) -> np.ndarray[Any, Any]:
    from PIL import Image

    p = contained_path(root, rel, file=index, item=item, what="PNG path")
    if not p.is_file():
        raise FormatError(index, item, f"{rel} not found")
    try:
        with Image.open(p) as f:
            if f.mode not in ("L", "I;16", "I", "P"):
                raise FormatError(p, item, f"expected an 8- or 16-bit single-channel PNG, got mode {f.mode}")
            arr = np.asarray(f)
    except OSError as e:
        raise FormatError(p, item, f"cannot read PNG: {e}") from e
    if arr.shape != (h, w):
        raise FormatError(p, item, f"PNG is {arr.shape[1]}x{arr.shape[0]}, index says {w}x{h}")
    return arr.astype(np.int64)


def read_png(
    root: str | os.PathLike[str], *, index_file: str | os.PathLike[str] | None = None
) -> Iterator[ImportedImage]:
    """Yield the images of a png export. Segments are the distinct (class, instance) pairs,
    numbered 1..N in order of (class index, instance index); category ids come from the class
    table. Errors: class index not in the table, instance pixels on void or on a stuff class,
    one instance spanning several classes, sizes that disagree, PNG paths that are absolute or
    lead outside ``root``. ``index_file`` reads the image list from another file than
    ``root/index.jsonl`` (PNG paths stay relative to ``root``)."""
    base = Path(root)
    classes = _classes(base)
    index_path = Path(index_file) if index_file is not None else base / "index.jsonl"
    try:
        f = open(index_path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as e:
        raise FormatError(index_path, "file", f"cannot open: {e}") from e
    with f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            item = f"line {n}"
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise FormatError(index_path, item, f"not JSON: {e}") from e
            if not isinstance(rec, dict):
                raise FormatError(index_path, item, "not a JSON object")
            w, h = rec.get("width"), rec.get("height")
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
                raise FormatError(index_path, item, "width and height must be positive integers")
            assert isinstance(w, int)
            assert isinstance(h, int)
            item = f"line {n} ({rec.get('stem')})"
            yield _read_one(base, index_path, classes, rec, item, w, h)


def _read_one(
    base: Path, index: Path, classes: dict[int, _Class], rec: dict[str, Any], item: str, w: int, h: int
) -> ImportedImage:
    sem = _load_index_png(base, index, rec.get("semantic"), item, w, h)
    ins = _load_index_png(base, index, rec.get("instances"), item, w, h)
    crowd = rec.get("crowd", [])
    if not isinstance(crowd, list) or not all(isinstance(c, int) for c in crowd):
        raise FormatError(index, item, "crowd must be a list of instance indices")
    unknown = sorted(set(np.unique(sem).tolist()) - set(classes) - {0})
    if unknown:
        raise FormatError(base / rec["semantic"], item, f"class indices not in classes.json: {unknown[:10]}")
    key = sem * 65536 + ins
    values, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    cls_v, ins_v = values // 65536, values % 65536
    for c, i in zip(cls_v.tolist(), ins_v.tolist(), strict=True):
        if i and c == 0:
            raise FormatError(base / rec["instances"], item, f"instance {i} covers void pixels")
        if i and not classes[c].isthing:
            raise FormatError(
                base / rec["instances"], item, f"instance {i} lies on stuff class {classes[c].name!r}"
            )
    dup = [i for i in np.unique(ins_v[ins_v > 0]).tolist() if (ins_v == i).sum() > 1]
    if dup:
        raise FormatError(base / rec["instances"], item, f"instances spanning several classes: {dup[:10]}")
    lut = np.zeros(len(values), dtype=np.uint16)
    segments: list[ImportedSegment] = []
    crowd_set = set(crowd)
    for k, (c, i) in enumerate(zip(cls_v.tolist(), ins_v.tolist(), strict=True)):
        if c == 0:
            continue
        if len(segments) == 65535:
            raise FormatError(base / rec["semantic"], item, "more than 65535 segments")
        lut[k] = len(segments) + 1
        segments.append(
            ImportedSegment(
                len(segments) + 1, classes[c].category_id, i in crowd_set, int(counts[k]), i or None
            )
        )
    return ImportedImage(
        file_name=str(rec.get("file_name") or rec.get("stem")),
        width=w,
        height=h,
        index_map=lut[inverse.reshape(sem.shape)],
        segments=tuple(segments),
        split=rec.get("split"),
    )
