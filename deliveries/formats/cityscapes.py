"""Cityscapes gtFine: ``gtFine/<split>/<city>/<city>_<seq:06>_<frame:06>_gtFine_{labelIds,
instanceIds,color}.png`` (+ ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.<ext>`` when source
images are given) and ``tessera_names.csv`` (stem -> Cityscapes name, one row per image).

* Names: a stem that already reads ``<city>_<seq:06>_<frame:06>`` (city ``[a-z][a-z_-]*``,
  other than ``tessera``) keeps its name; any other stem becomes
  ``tessera_<seq:06>_<frame:06>`` numbered in export order (frame = n mod 10^6,
  seq = n div 10^6, n from 0) in the city folder ``tessera``. ``tessera_names.csv`` maps each
  stem to its name, so every file can be traced back.
* ``labelIds`` (8-bit): the Cityscapes label **id** of each category, from
  ``category.export_ids["cityscapes"]`` (e.g. road 7, person 24, car 26; not train ids). Every
  category needs one, checked before anything is written. Void is 0 (unlabeled).
* ``instanceIds`` (16-bit): non-crowd thing segments get ``labelId * 1000 + k`` with ``k`` from
  0 per class and image (in segment-id order); stuff, crowd and void keep the bare label id,
  so ``instanceIds // 1000 == labelIds`` wherever an instance is.
* ``color`` (8-bit RGB): the official Cityscapes colour of each label id (the project's colour
  for ids outside the official table).
* ``labelTrainIds`` (8-bit, only with ``train_ids=True``): the official train id of each label
  id (0..18, 255 = ignored), for trainers and for Datumaro, which reads semantic classes from
  this file when it exists (without it, PyPI Datumaro 1.13 takes only the pixels of
  instanceIds that hold a bare label id: stuff, crowd and void). Label ids outside the official
  table become 255.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ._base import BaseExporter, Output, Prepared, Tally
from ._png import lut_bytes, write_label_png
from .model import ClassIndex, ExportError, Taxonomy

CITYSCAPES_NAME = re.compile(r"^([a-z][a-z_-]*)_(\d{6})_(\d{6})$")
GENERATED_CITY = "tessera"

#: Official colours of the Cityscapes label ids (cityscapesscripts ``helpers/labels.py``).
CITYSCAPES_COLORS: dict[int, tuple[int, int, int]] = {
    0: (0, 0, 0), 1: (0, 0, 0), 2: (0, 0, 0), 3: (0, 0, 0), 4: (0, 0, 0), 5: (111, 74, 0),
    6: (81, 0, 81), 7: (128, 64, 128), 8: (244, 35, 232), 9: (250, 170, 160), 10: (230, 150, 140),
    11: (70, 70, 70), 12: (102, 102, 156), 13: (190, 153, 153), 14: (180, 165, 180), 15: (150, 100, 100),
    16: (150, 120, 90), 17: (153, 153, 153), 18: (153, 153, 153), 19: (250, 170, 30), 20: (220, 220, 0),
    21: (107, 142, 35), 22: (152, 251, 152), 23: (70, 130, 180), 24: (220, 20, 60), 25: (255, 0, 0),
    26: (0, 0, 142), 27: (0, 0, 70), 28: (0, 60, 100), 29: (0, 0, 90), 30: (0, 0, 110),
    31: (0, 80, 100), 32: (0, 0, 230), 33: (119, 11, 32),
}  # fmt: skip
#: Official train ids (255 = ignored in training and evaluation).
CITYSCAPES_TRAIN_IDS: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
#: Label ids whose ``hasInstances`` is true in the official table.
CITYSCAPES_INSTANCE_IDS = frozenset(range(24, 34))


@dataclass
class _State:
    label_of: dict[int, int]  # category id -> label id
    thing: dict[int, bool]
    lut_color: npt.NDArray[np.uint8]
    lut_train: npt.NDArray[np.uint8]
    names: IO[str]
    names_writer: csv.DictWriter[str]
    counter: int = 0


@dataclass(frozen=True)
class CityscapesExporter(BaseExporter):
    train_ids: bool = False
    copy_images: bool = True

    name: ClassVar[str] = "cityscapes"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "Cityscapes gtFine (cityscapesscripts 2.x label ids)"

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        missing = [c.name for c in taxonomy.categories if "cityscapes" not in c.export_ids]
        if missing:
            raise ExportError(
                "Cityscapes export needs a Cityscapes label id for every category "
                f"(export_ids['cityscapes']); missing for: {', '.join(missing)}"
            )
        bad = [
            f"{c.name}={c.export_ids['cityscapes']}"
            for c in taxonomy.categories
            if not 0 <= c.export_ids["cityscapes"] <= 255
            or (c.isthing and c.export_ids["cityscapes"] * 1000 + 999 > 65535)
        ]
        if bad:
            raise ExportError(
                "Cityscapes label ids must fit labelIds (0..255) and, for things, instanceIds "
                f"(id*1000+999 <= 65535): {', '.join(bad)}"
            )

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        return [ClassIndex(c.export_ids["cityscapes"], c.id, c.name) for c in taxonomy.categories]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        label_of = {c.id: c.export_ids["cityscapes"] for c in taxonomy.categories}
        lut = np.zeros((256, 3), dtype=np.uint8)
        for c in taxonomy.categories:
            lid = label_of[c.id]
            lut[lid] = CITYSCAPES_COLORS.get(lid, c.rgb)
            if c.isthing and lid not in CITYSCAPES_INSTANCE_IDS:
                tally.note(
                    f"thing category {c.name!r} maps to label id {lid}, which has no instances in the "
                    "official Cityscapes table: evaluators will ignore its instance ids"
                )
        f = open(out.path("tessera_names.csv"), "x", encoding="utf-8", newline="")  # noqa: SIM115
        writer = csv.DictWriter(f, ["split", "stem", "city", "seq", "frame", "name"], lineterminator="\n")
        writer.writeheader()
        lut_train = np.full(256, 255, dtype=np.uint8)
        for lid, tid in CITYSCAPES_TRAIN_IDS.items():
            lut_train[lid] = tid
        return _State(label_of, {c.id: c.isthing for c in taxonomy.categories}, lut, lut_train, f, writer)

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        match = CITYSCAPES_NAME.match(img.stem)
        if match and match.group(1) != GENERATED_CITY:
            city, seq, frame = match.group(1), int(match.group(2)), int(match.group(3))
        else:
            city, seq, frame = GENERATED_CITY, state.counter // 1_000_000, state.counter % 1_000_000
        state.counter += 1
        name = f"{city}_{seq:06d}_{frame:06d}"
        state.names_writer.writerow(
            {"split": img.split, "stem": img.stem, "city": city, "seq": seq, "frame": frame, "name": name}
        )
        runs = item.runs
        ids = runs.ids
        label_lut = np.zeros(int(ids[-1]) + 1 if len(ids) else 1, dtype=np.uint16)
        inst_lut = label_lut.copy()
        per_class: dict[int, int] = {}
        for k, seg in enumerate(item.segments):
            lid = state.label_of[seg.category_id]
            sid = int(ids[k])
            label_lut[sid] = lid
            inst_lut[sid] = lid
            if seg.iscrowd or not state.thing[seg.category_id]:
                continue
            n = per_class.get(lid, 0)
            if n > 999:
                raise ExportError(f"more than 1000 instances of label id {lid} in one image", stem=img.stem)
            per_class[lid] = n + 1
            inst_lut[sid] = lid * 1000 + n
        tally.segments += len(item.segments)
        base = f"gtFine/{img.split}/{city}/{name}_gtFine"
        px = runs.pixels
        write_label_png(out.path(f"{base}_labelIds.png"), px, lut_bytes(label_lut, "L"), "L")
        write_label_png(out.path(f"{base}_instanceIds.png"), px, lut_bytes(inst_lut, "I;16"), "I;16")
        write_label_png(out.path(f"{base}_color.png"), px, state.lut_color[label_lut], "RGB")
        if self.train_ids:
            train = lut_bytes(state.lut_train[label_lut], "L")
            write_label_png(out.path(f"{base}_labelTrainIds.png"), px, train, "L")
        suffix = "." + img.image_file_name.rsplit(".", 1)[-1] if "." in img.image_file_name else ".png"
        if self.copy_images and out.copy_image(
            img, f"leftImg8bit/{img.split}/{city}/{name}_leftImg8bit{suffix}"
        ):
            tally.source_images += 1

    def close(self, state: Any) -> None:
        state.names.close()
