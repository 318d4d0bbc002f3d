"""Pascal VOC segmentation: ``SegmentationClass/`` and ``SegmentationObject/`` palette PNGs,
``labelmap.txt``, ``ImageSets/Segmentation/<split>.txt`` and ``JPEGImages/`` when source images
are given (the source file is copied as is, keeping its extension).

* Both PNGs are mode P with the VOC bit-interleave colormap, so index readers (torchvision,
  mmseg) see class indices and colour readers (Datumaro, CVAT) see the VOC colours.
* Class index: 0 = background, 1..N = categories in taxonomy order (a category named
  ``background`` is index 0 itself). At most 254 classes (255 is void).
* Void (index-map 0): ``void="background"`` writes 0, ``void="ignore"`` writes 255 (the value
  every VOC loader ignores, declared ``ignored:224,224,192::`` last in labelmap.txt so colour
  readers accept it). ``"auto"`` (default) decides from the taxonomy: a project with stuff
  categories labels every pixel it means, so its void is unlabelled -> 255; a things-only
  (instance) project draws objects over void, so its void is background -> 0.
* Objects: non-crowd thing segments get 1..K per image in segment-id order (K <= 254);
  crowd things are 255 in SegmentationObject (their class stays in SegmentationClass);
  stuff is 0 there. VOC's 5-pixel 255 border around objects is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from ._base import BaseExporter, Output, Prepared, Tally
from ._png import lut_bytes, write_label_png
from .model import ClassIndex, ExportError, Taxonomy

VoidMode = Literal["auto", "background", "ignore"]
VOID_INDEX = 255
VOID_COLOR = (224, 224, 192)


def voc_colormap(n: int = 256) -> npt.NDArray[np.uint8]:
    """The VOC palette: bits of the index interleaved into R, G, B from the high bit down."""
    idx = np.arange(n)
    cmap = np.zeros((n, 3), dtype=np.int64)
    for shift in range(8):
        for ch in range(3):
            cmap[:, ch] |= ((idx >> (3 * shift + ch)) & 1) << (7 - shift)
    return cmap.astype(np.uint8)


_PALETTE = voc_colormap().tobytes()


@dataclass
class _State:
    index_of: dict[int, int]
    thing: dict[int, bool]
    void_index: int
    lists: dict[str, IO[str]]


@dataclass(frozen=True)
class VocExporter(BaseExporter):
    void: VoidMode = "auto"
    copy_images: bool = True

    name: ClassVar[str] = "voc"
    version: ClassVar[str] = "1.0.0"
    spec: ClassVar[str] = "Pascal VOC 2012 segmentation (palette PNGs + Datumaro labelmap.txt)"

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        n = len([c for c in taxonomy.categories if c.name != "background"])
        if n > 254:
            raise ExportError(f"VOC class PNGs hold at most 254 classes (255 is void), the taxonomy has {n}")

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        rows = [ClassIndex(0, None, "background")]
        for c in taxonomy.categories:
            if c.name == "background":
                rows[0] = ClassIndex(0, c.id, c.name)
            else:
                rows.append(ClassIndex(len(rows), c.id, c.name))
        return rows

    def void_index(self, taxonomy: Taxonomy) -> int:
        if self.void == "auto":
            has_stuff = any(not c.isthing for c in taxonomy.categories)
            return VOID_INDEX if has_stuff else 0
        return VOID_INDEX if self.void == "ignore" else 0

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> _State:
        index_of: dict[int, int] = {}
        names = ["background"]
        for c in taxonomy.categories:
            if c.name == "background":
                index_of[c.id] = 0
            else:
                index_of[c.id] = len(names)
                names.append(c.name)
        void = self.void_index(taxonomy)
        cmap = voc_colormap()
        lines = ["# label:color_rgb:parts:actions"]
        lines += [f"{n}:{','.join(str(int(v)) for v in cmap[k])}::" for k, n in enumerate(names)]
        if void == VOID_INDEX:
            lines.append("ignored:{},{},{}::".format(*VOID_COLOR))
        out.write_text("labelmap.txt", "\n".join(lines) + "\n")
        tally.note(f"void pixels are written as {void} ({'ignore' if void else 'background'})")
        return _State(index_of, {c.id: c.isthing for c in taxonomy.categories}, void, {})

    def write(self, state: _State, item: Prepared, out: Output, tally: Tally) -> None:
        img = item.image
        runs = item.runs
        size = int(runs.ids[-1]) + 1 if len(runs.ids) else 1
        cls = np.zeros(size, dtype=np.uint8)
        obj = np.zeros(size, dtype=np.uint8)
        cls[0] = obj[0] = state.void_index
        k_obj = 0
        for k, seg in enumerate(item.segments):
            sid = int(runs.ids[k])
            cls[sid] = state.index_of[seg.category_id]
            if not state.thing[seg.category_id]:
                continue
            if seg.iscrowd:
                obj[sid] = VOID_INDEX
                continue
            k_obj += 1
            if k_obj > 254:
                raise ExportError(
                    "more than 254 objects in one image: SegmentationObject is 8-bit", stem=img.stem
                )
            obj[sid] = k_obj
        tally.segments += k_obj
        px = runs.pixels
        write_label_png(
            out.path(f"SegmentationClass/{img.stem}.png"), px, lut_bytes(cls, "P"), "P", palette=_PALETTE
        )
        write_label_png(
            out.path(f"SegmentationObject/{img.stem}.png"), px, lut_bytes(obj, "P"), "P", palette=_PALETTE
        )
        lst = state.lists.get(img.split)
        if lst is None:
            path = out.path(f"ImageSets/Segmentation/{img.split}.txt")
            lst = state.lists[img.split] = open(path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        lst.write(img.stem + "\n")
        suffix = "." + img.image_file_name.rsplit(".", 1)[-1] if "." in img.image_file_name else ".jpg"
        if self.copy_images and out.copy_image(img, f"JPEGImages/{img.stem}{suffix}"):
            tally.source_images += 1

    def close(self, state: Any) -> None:
        for f in state.lists.values():
            f.close()
