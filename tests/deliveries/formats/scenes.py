"""Synthetic, deterministic scenes for the format tests (and helpers to compare maps).

Every scene is built by hand from rectangles, rings and discs so that each property the
formats must survive is present somewhere: stuff and things, void, crowd, holes (ring-shaped
objects, a hole inside a hole's island), multi-part objects, touching instances of one class,
diagonal-only contacts, more than 255 segments (16-bit), odd sizes, a 1-pixel object, objects
on the image border, and two splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from deliveries.formats import ExportCategory, ExportImage, ExportSegment, Taxonomy

# names are Cityscapes label names so the Cityscapes clients can compare by name
TAXONOMY = Taxonomy(
    (
        ExportCategory(3, "road", "#804080", False, {"cityscapes": 7}),
        ExportCategory(5, "sky", "#4682b4", False, {"cityscapes": 23}),
        ExportCategory(11, "person", "#dc143c", True, {"cityscapes": 24}),
        ExportCategory(12, "car", "#00008e", True, {"cityscapes": 26}),
        ExportCategory(40, "bicycle", "#770b20", True, {"cityscapes": 33}),
    )
)
ROAD, SKY, PERSON, CAR, BICYCLE = 3, 5, 11, 12, 40


@dataclass(frozen=True)
class Scene:
    stem: str
    split: str
    map: np.ndarray
    segments: tuple[ExportSegment, ...]

    def export_image(self, image_dir: Path | None = None) -> ExportImage:
        h, w = self.map.shape
        image = None
        if image_dir is not None:
            image = image_dir / f"{self.stem}.png"
        return ExportImage(
            stem=self.stem,
            width=w,
            height=h,
            index_map=lambda: self.map,
            segments=self.segments,
            split=self.split,
            image=image,
        )


def _disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return np.asarray((yy - cy) ** 2 + (xx - cx) ** 2 < r * r)


def make_scenes() -> list[Scene]:
    scenes = []

    # 1. panoptic street scene, odd size: sky + road stuff, void band, things with holes,
    #    a two-part car, touching persons, a crowd, an object on the border, a 1-pixel person
    h, w = 45, 67
    m = np.zeros((h, w), np.uint16)
    m[:18] = 1  # sky
    m[22:] = 2  # road (rows 18..21 stay void)
    segs = [ExportSegment(1, SKY), ExportSegment(2, ROAD)]
    ring = _disc(h, w, 30, 12, 9) & ~_disc(h, w, 30, 12, 4)  # bicycle wheel: ring with a hole
    m[ring] = 10
    m[_disc(h, w, 30, 12, 1.5)] = 11  # hub: an island inside the hole (same class, own instance)
    segs += [ExportSegment(10, BICYCLE), ExportSegment(11, BICYCLE)]
    m[25:31, 30:36] = 20  # car part 1
    m[33:38, 30:40] = 20  # car part 2 (multi-part: occluded by a pole)
    segs.append(ExportSegment(20, CAR))
    m[5:16, 40:44] = 30  # two persons touching side by side
    m[5:16, 44:47] = 31
    segs += [ExportSegment(30, PERSON), ExportSegment(31, PERSON)]
    m[24:30, 50:67] = 40  # crowd of cars reaching the right border
    segs.append(ExportSegment(40, CAR, iscrowd=True))
    m[0:3, 0:4] = 50  # person in the top-left corner
    segs.append(ExportSegment(50, PERSON))
    m[40, 60] = 51  # 1-pixel person
    segs.append(ExportSegment(51, PERSON))
    m[38:41, 20:23] = 52  # diagonal-only contact with 53
    m[41:44, 23:26] = 53
    segs += [ExportSegment(52, CAR), ExportSegment(53, CAR)]
    # a car with two holes, one of them touching the hole's border diagonally
    m[8:16, 5:20] = 60
    m[10:12, 7:9] = 1  # hole filled by sky (not void): still a hole of the car
    m[12:14, 12:15] = 0  # void hole
    segs.append(ExportSegment(60, CAR))
    scenes.append(Scene("street_0001", "train", m, tuple(segs)))

    # 2. more than 255 segments: 16-bit maps; a road under a grid of 300 tiny cars
    h, w = 40, 91
    m = np.full((h, w), 1, np.uint16)
    segs = [ExportSegment(1, ROAD)]
    sid = 2
    for r in range(12):
        for c in range(25):
            m[1 + 3 * r : 3 + 3 * r, 1 + 3 * c + (r % 2) : 3 + 3 * c + (r % 2)] = sid
            segs.append(ExportSegment(sid, PERSON if sid % 3 else CAR, iscrowd=(sid == 77)))
            sid += 1
    scenes.append(Scene("crowded_0002", "train", m, tuple(segs)))

    # 3. stem already in Cityscapes form; two sky segments (stuff of one class twice),
    #    a thing touching void only diagonally, a C-shaped thing (concave, no hole)
    h, w = 32, 33
    m = np.zeros((h, w), np.uint16)
    m[:10, :16] = 1
    m[:10, 16:] = 2
    segs = [ExportSegment(1, SKY), ExportSegment(2, SKY)]
    m[12:30, 4:20] = 5
    m[16:26, 8:20] = 0  # C shape
    segs.append(ExportSegment(5, PERSON))
    m[20:31, 22:32] = 6
    m[22:29, 24:30] = 7  # a car inside a bicycle: hole filled by another instance
    segs += [ExportSegment(6, BICYCLE), ExportSegment(7, CAR)]
    scenes.append(Scene("aachen_000001_000019", "val", m, tuple(segs)))

    # 4. empty image (all void), and 5. a single stuff class over the whole image
    scenes.append(Scene("empty_0004", "val", np.zeros((11, 10), np.uint16), ()))
    scenes.append(Scene("allroad_0005", "val", np.full((10, 13), 4, np.uint16), (ExportSegment(4, ROAD),)))

    # 6. random blobs: a checkerboard-ish car (many saddles), noise holes
    rng = np.random.default_rng(7)
    h, w = 29, 31
    m = np.zeros((h, w), np.uint16)
    blob = rng.random((h, w)) < 0.55
    m[blob] = 9
    m[0:5, 0:5] = 0
    segs = [ExportSegment(9, CAR)]
    scenes.append(Scene("noise_0006", "train", m, tuple(segs)))
    return scenes


def write_source_images(scenes: list[Scene], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in scenes:
        h, w = s.map.shape
        rgb = np.stack([(s.map * 37) % 256, (s.map * 91) % 256, np.full((h, w), 128)], -1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"{s.stem}.png")


def save_reference(scenes: list[Scene], path: Path) -> Path:
    """The scenes as an .npz for clients_check.py: map_<stem> arrays and a JSON table."""
    import json

    table = {
        s.stem: {"split": s.split, "segments": [[g.id, g.category_id, int(g.iscrowd)] for g in s.segments]}
        for s in scenes
    }
    cats = [[c.id, c.name, int(c.isthing), c.export_ids.get("cityscapes", -1)] for c in TAXONOMY.categories]
    arrays = {f"map_{s.stem}": s.map for s in scenes}
    arrays["table"] = np.array(json.dumps({"images": table, "categories": cats}))
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two id maps split the image into the same regions (0 maps to 0 both ways)."""
    if a.shape != b.shape:
        return False
    pairs = np.unique(a.astype(np.int64) * (1 << 32) + b.astype(np.int64))
    left, right = pairs >> 32, pairs & 0xFFFFFFFF
    if len(np.unique(left)) != len(pairs) or len(np.unique(right)) != len(pairs):
        return False
    return all((x == 0) == (y == 0) for x, y in zip(left.tolist(), right.tolist(), strict=True))
