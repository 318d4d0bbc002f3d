"""Synthetic street scenes for the demo project, tests and benchmarks (numpy only).

Each scene is an RGB picture and its exact panoptic annotation in the demo taxonomy
(``cityscapes_taxonomy.json``: sky, building, road, cars, people, ...), fully covered, drawn
from a seed so every run produces the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Category ids of the demo taxonomy.
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR, BICYCLE = (
    1,
    2,
    3,
    6,
    8,
    9,
    10,
    11,
    12,
    14,
    19,
)
THINGS = frozenset({PERSON, CAR, BICYCLE})
COLOURS = {
    ROAD: (128, 64, 128),
    SIDEWALK: (244, 35, 232),
    BUILDING: (70, 70, 70),
    POLE: (153, 153, 153),
    SIGN: (220, 220, 0),
    VEGETATION: (107, 142, 35),
    TERRAIN: (152, 251, 152),
    SKY: (70, 130, 180),
    PERSON: (220, 20, 60),
    CAR: (0, 0, 142),
    BICYCLE: (119, 11, 32),
}


@dataclass(frozen=True)
class SceneSegment:
    id: int
    category_id: int
    iscrowd: bool = False


@dataclass(frozen=True)
class Scene:
    image: npt.NDArray[np.uint8]
    index_map: npt.NDArray[np.uint16]
    segments: tuple[SceneSegment, ...]


def street_scene(seed: int, *, width: int = 1024, height: int = 512, instances: int = 10) -> Scene:
    rng = np.random.default_rng(seed)
    classes = np.full((height, width), SKY, np.uint16)
    things = np.zeros((height, width), np.uint16)  # instance number per pixel, 0 = stuff
    thing_class: list[int] = []
    yy, xx = np.mgrid[0:height, 0:width]

    horizon = int(height * rng.uniform(0.42, 0.55))
    # Buildings: a skyline of blocks above the horizon.
    x = 0
    while x < width:
        w = int(rng.integers(width // 12, width // 5))
        top = int(horizon - rng.uniform(0.15, 0.4) * height)
        classes[max(top, 0) : horizon, x : x + w] = BUILDING
        x += w + int(rng.integers(0, width // 30))
    # Trees: discs of vegetation on the skyline.
    for _ in range(int(rng.integers(2, 5))):
        cx, cy, r = (
            rng.uniform(0, width),
            horizon - rng.uniform(0.05, 0.15) * height,
            rng.uniform(0.04, 0.09) * width,
        )
        classes[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = VEGETATION
    # Ground: terrain strip, sidewalk, then road with a perspective edge.
    classes[horizon:, :] = TERRAIN
    kerb = horizon + int((height - horizon) * 0.12)
    classes[kerb:, :] = SIDEWALK
    road_edge = kerb + (xx - width / 2) ** 2 / (width * width) * (height - kerb) * 0.6 + (height - kerb) * 0.1
    classes[(yy > road_edge) & (yy >= kerb)] = ROAD
    # A pole with a sign.
    px = int(rng.uniform(0.1, 0.9) * width)
    pole_w = max(2, width // 256)
    classes[horizon - height // 4 : kerb + 4, px : px + pole_w] = POLE
    classes[
        horizon - height // 4 : horizon - height // 4 + height // 24, px - width // 80 : px + width // 80
    ] = SIGN

    def add_thing(category: int, mask: npt.NDArray[np.bool_]) -> None:
        mask = mask & (things == 0) | mask & (rng.random() < 0.5)  # some occlude earlier ones
        if mask.sum() < 30:
            return
        thing_class.append(category)
        things[mask] = len(thing_class)

    for _ in range(instances):
        kind = rng.choice([CAR, CAR, PERSON, PERSON, BICYCLE])
        base = int(rng.uniform(kerb + 10, height - 5))
        scale = 0.3 + 0.7 * (base - horizon) / max(height - horizon, 1)
        cx = rng.uniform(0.05, 0.95) * width
        if kind == CAR:
            car_w, car_h = 0.16 * width * scale, 0.09 * height * scale
            body = (abs(xx - cx) < car_w / 2) & (yy < base) & (yy > base - car_h * 0.6)
            roof = (
                (xx - cx) ** 2 / (car_w * 0.35) ** 2 + (yy - (base - car_h * 0.6)) ** 2 / (car_h * 0.45) ** 2
            ) < 1
            add_thing(CAR, body | roof & (yy <= base - car_h * 0.6))
        elif kind == PERSON:
            person_h, person_w = 0.22 * height * scale, 0.025 * width * scale
            body = (abs(xx - cx) < person_w / 2) & (yy < base) & (yy > base - person_h * 0.85)
            head = (xx - cx) ** 2 + (yy - (base - person_h * 0.92)) ** 2 < (person_w * 0.55) ** 2
            add_thing(PERSON, body | head)
        else:
            r = 0.02 * width * scale
            wheels = ((xx - cx + 1.3 * r) ** 2 + (yy - base + r) ** 2 < r * r) ^ (
                (xx - cx + 1.3 * r) ** 2 + (yy - base + r) ** 2 < (r * 0.6) ** 2
            )
            wheels |= ((xx - cx - 1.3 * r) ** 2 + (yy - base + r) ** 2 < r * r) ^ (
                (xx - cx - 1.3 * r) ** 2 + (yy - base + r) ** 2 < (r * 0.6) ** 2
            )
            frame = (abs(xx - cx) < 1.3 * r) & (abs(yy - (base - 1.6 * r)) < max(1.5, r * 0.15))
            add_thing(BICYCLE, wheels | frame)

    # Segment ids: one per stuff class present, then one per visible instance.
    index_map = np.zeros((height, width), np.uint16)
    segments: list[SceneSegment] = []
    for category in sorted(set(np.unique(classes).tolist())):
        mask = (classes == category) & (things == 0)
        if mask.any():
            segments.append(SceneSegment(id=len(segments) + 1, category_id=category))
            index_map[mask] = len(segments)
    for number, category in enumerate(thing_class, start=1):
        mask = things == number
        if mask.any():
            segments.append(SceneSegment(id=len(segments) + 1, category_id=category))
            index_map[mask] = len(segments)

    image = _paint(index_map, segments, rng)
    return Scene(image=image, index_map=index_map, segments=tuple(segments))


def _paint(
    index_map: npt.NDArray[np.uint16], segments: list[SceneSegment], rng: np.random.Generator
) -> npt.NDArray[np.uint8]:
    """A photo-ish rendering: class colour, per-instance tint, shading and noise."""
    lut = np.zeros((len(segments) + 1, 3), np.float32)
    for segment in segments:
        tint = rng.uniform(0.75, 1.15) if segment.category_id in THINGS else 1.0
        lut[segment.id] = np.array(COLOURS[segment.category_id], np.float32) * tint
    height = index_map.shape[0]
    shade = np.linspace(1.08, 0.85, height, dtype=np.float32)[:, None, None]
    image = lut[index_map] * shade + rng.normal(0, 6, (*index_map.shape, 3)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)
