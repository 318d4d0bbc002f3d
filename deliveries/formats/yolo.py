"""YOLO segmentation (ultralytics): ``data.yaml``, ``images/<split>/<file>`` (source images,
copied when given) and ``labels/<split>/<stem>.txt``.

* Classes are the taxonomy's **thing** categories, numbered 0..K-1 in taxonomy order
  (``names`` in data.yaml; not the project's ids). Stuff segments and crowd segments are left
  out (counted in ``skipped``): YOLO-seg has neither.
* One line per instance: ``cls x1 y1 x2 y2 ...`` with vertices on pixel corners, normalised by
  width / height (6 decimals, within [0, 1]). YOLO-seg has no holes and no multi-part
  instances, so each instance is **one ring**: holes are joined to the ring around them by a
  zero-width bridge that runs through the object's own pixels, and separate parts are joined
  to each other the same way (bridges then cross background, like ultralytics' own
  ``merge_multi_segment``). Even-odd filling of the ring gives back the exact mask;
  OpenCV's ``fillPoly`` (used in training) also paints the bridge lines, one pixel wide.
* Every image gets a label file, empty when it has no instance (a background image).
* ``data.yaml`` has no ``path`` key, so ultralytics resolves the split folders against the
  folder of data.yaml itself; ``val`` points at the training images when there is no val
  split (ultralytics requires the key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from annotation.masks.trace import keyhole_polygons

from ._base import BaseExporter, Output, Prepared, Tally
from .model import ClassIndex, Taxonomy


@dataclass
class _State:
    taxonomy: Taxonomy
    class_of: dict[int, int]  # category id -> 0-based YOLO class
    splits: set[str]


@dataclass(frozen=True)
class YoloExporter(BaseExporter):
    copy_images: bool = True

    name: ClassVar[str] = "yolo"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "Ultralytics YOLO segmentation (normalised polygons, data.yaml)"

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        return [ClassIndex(k, c.id, c.name) for k, c in enumerate(taxonomy.things)]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        things = taxonomy.things
        if not things:
            tally.note("the taxonomy has no thing categories: every label file is empty")
        tally.note("holes and separate parts are joined into one ring per instance by zero-width bridges")
        return _State(taxonomy, {c.id: k for k, c in enumerate(things)}, set())

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        state.splits.add(img.split)
        runs = item.runs
        w, h = img.width, img.height
        lines = []
        for k, seg in enumerate(item.segments):
            cls = state.class_of.get(seg.category_id)
            if cls is None:
                tally.skipped["stuff"] += 1
                continue
            if seg.iscrowd:
                tally.skipped["crowd"] += 1
                continue
            x, y, bw, bh = (int(v) for v in runs.bboxes[k])
            rings = keyhole_polygons(item.map[y : y + bh, x : x + bw] == seg.id, join_parts=True)
            pts = rings[0] + np.array([x, y])
            coords = " ".join(f"{px / w:.6f} {py / h:.6f}" for px, py in pts.tolist())
            lines.append(f"{cls} {coords}\n")
        tally.segments += len(lines)
        if min(w, h) < 10:
            tally.note("ultralytics skips images smaller than 10 pixels on a side as corrupt")
        with open(out.path(f"labels/{img.split}/{img.stem}.txt"), "x", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        if self.copy_images and out.copy_image(img, f"images/{img.split}/{img.image_file_name}"):
            tally.source_images += 1
        elif self.copy_images:
            tally.note("source images were not provided: ultralytics needs images/<split>/ beside labels/")

    def finish(self, state: _State, out: Output, tally: Tally) -> None:
        # written by hand (JSON strings are valid YAML scalars) to keep PyYAML out of the runtime
        folders: dict[str, str] = {}
        for split in ("train", "val", "test"):
            if split in state.splits:
                folders[split] = f"images/{split}"
        if "train" not in folders and state.splits:
            folders["train"] = f"images/{sorted(state.splits)[0]}"
        if "val" not in folders and "train" in folders:
            folders["val"] = folders["train"]
        lines = [f"{key}: {json.dumps(value)}" for key, value in folders.items()]
        lines.append(f"nc: {len(state.class_of)}")
        lines.append("names:" if state.class_of else "names: {}")
        lines += [
            f"  {k}: {json.dumps(c.name, ensure_ascii=False)}" for k, c in enumerate(state.taxonomy.things)
        ]
        out.write_text("data.yaml", "\n".join(lines) + "\n")
