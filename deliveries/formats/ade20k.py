"""ADE20K SceneParsing (ADEChallengeData2016 layout): ``annotations/<split>/<stem>.png`` and
``images/<split>/<file>`` when source images are given, plus ``objectInfo150.csv``.

* Annotation PNGs are 8-bit single channel: 0 = other/unlabeled (our void), classes 1..N in
  taxonomy order. More than 255 categories cannot be written: an error before anything is
  written. mmseg reads these with ``reduce_zero_label=True`` (0 -> 255 ignored, k -> k-1).
* Splits are renamed the ADE way: ``train`` -> ``training``, ``val`` -> ``validation``, ``test`` -> ``testing`` (other
  names unchanged; ``split_names`` overrides).
* ``objectInfo150.csv`` (the file name the devkit and loaders look for, whatever N is):
  ``Idx,Ratio,Train,Val,Name`` - Ratio = the class's share of all exported pixels, Train / Val =
  number of training / validation images containing it. Names are CSV-quoted if needed.
* Semantic only: instances, crowd flags and the stuff/thing split are not represented.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from ._base import BaseExporter, Output, Prepared, Tally
from ._png import lut_bytes, write_label_png
from .model import ClassIndex, ExportError, Taxonomy

ADE_SPLITS: Mapping[str, str] = {"train": "training", "val": "validation", "test": "testing"}


@dataclass
class _State:
    taxonomy: Taxonomy
    index_of: dict[int, int]  # category id -> 1..N
    pixels: npt.NDArray[np.int64]  # per class index
    train: npt.NDArray[np.int64]
    val: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Ade20kExporter(BaseExporter):
    split_names: Mapping[str, str] = field(default_factory=lambda: dict(ADE_SPLITS))
    copy_images: bool = True

    name: ClassVar[str] = "ade20k"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "ADE20K SceneParsing / ADEChallengeData2016 (uint8 index PNG, 0 = other)"

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        if len(taxonomy.categories) > 255:
            raise ExportError(
                f"ADE20K annotations are 8-bit: at most 255 classes, the taxonomy has {len(taxonomy.categories)}"
            )

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        rows = [ClassIndex(0, None, "other")]
        return rows + [ClassIndex(k, c.id, c.name) for k, c in enumerate(taxonomy.categories, start=1)]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        n = len(taxonomy.categories) + 1
        return _State(
            taxonomy,
            {c.id: k + 1 for k, c in enumerate(taxonomy.categories)},
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
        )

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        split = self.split_names.get(img.split, img.split)
        runs = item.runs
        lut = np.zeros(int(runs.ids[-1]) + 1 if len(runs.ids) else 1, dtype=np.uint8)
        for k, seg in enumerate(item.segments):
            lut[runs.ids[k]] = state.index_of[seg.category_id]
        classes = lut[runs.ids] if len(runs.ids) else np.zeros(0, np.uint8)
        np.add.at(state.pixels, classes, runs.areas)
        state.pixels[0] += runs.height * runs.width - int(runs.areas.sum())
        present = np.unique(classes)
        if split == "training":
            state.train[present] += 1
        elif split == "validation":
            state.val[present] += 1
        write_label_png(
            out.path(f"annotations/{split}/{img.stem}.png"), runs.pixels, lut_bytes(lut, "L"), "L"
        )
        tally.segments += len(item.segments)
        if self.copy_images and out.copy_image(
            img, f"images/{split}/{img.stem}{_suffix(img.image_file_name)}"
        ):
            tally.source_images += 1

    def finish(self, state: _State, out: Output, tally: Tally) -> None:
        total = int(state.pixels.sum())
        with open(out.path("objectInfo150.csv"), "x", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["Idx", "Ratio", "Train", "Val", "Name"])
            for k, c in enumerate(state.taxonomy.categories, start=1):
                ratio = state.pixels[k] / total if total else 0.0
                w.writerow([k, f"{ratio:.6f}", int(state.train[k]), int(state.val[k]), c.name])


def _suffix(file_name: str) -> str:
    return "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ".jpg"
