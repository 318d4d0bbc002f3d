"""Inputs of the quality engine: categories, segment tables and segment-index maps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Segment ids are stored in unsigned integer maps; 0 is void (unlabelled).
VOID = 0


class MetricsInputError(ValueError):
    """The maps or tables handed to the engine break a documented precondition."""


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """One taxonomy entry. ``isthing`` separates countable things from amorphous stuff."""

    id: int
    isthing: bool
    name: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """One row of a segment table.

    ``score`` ranks predictions for mask AP (``None`` ranks as 1.0, as in unscored work);
    ``iscrowd`` only matters on the reference side (crowd regions are not matched, see the
    panoptic and AP rules).
    """

    id: int
    category_id: int
    iscrowd: bool = False
    score: float | None = None

    @property
    def rank_score(self) -> float:
        return 1.0 if self.score is None else self.score


@dataclass(frozen=True, eq=False)
class LabelledMap:
    """A segment-index map and its segment table.

    ``ids`` is an (H, W) array of unsigned integers holding segment ids, 0 = void. Every
    non-zero id in the map must have a row in ``segments`` (checked when the map is measured);
    a row without pixels is allowed (it is an empty segment). The order of ``segments`` is
    meaningful: it breaks score ties for mask AP and decides which crowd segment is "the last
    one of its category" for panoptic quality. The engine only reads ``ids``; keep the array
    unchanged while prepared maps of it are in use.
    """

    ids: NDArray[np.unsignedinteger]
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if self.ids.ndim != 2:
            raise MetricsInputError(f"a segment-index map is 2-D, got shape {self.ids.shape}")
        if self.ids.size == 0:
            raise MetricsInputError(f"a segment-index map needs pixels, got shape {self.ids.shape}")
        if self.ids.dtype.kind != "u":
            raise MetricsInputError(f"a segment-index map holds unsigned integers, got {self.ids.dtype}")
        seen: set[int] = set()
        for segment in self.segments:
            if segment.id <= VOID:
                raise MetricsInputError(f"segment id {segment.id} is not positive (0 is void)")
            if segment.id in seen:
                raise MetricsInputError(f"segment id {segment.id} appears twice in the segment table")
            if segment.score is not None and not math.isfinite(segment.score):
                raise MetricsInputError(f"segment {segment.id} has a non-finite score")
            seen.add(segment.id)

    @property
    def shape(self) -> tuple[int, int]:
        height, width = self.ids.shape
        return int(height), int(width)


def category_index(categories: Sequence[CategoryInfo]) -> dict[int, int]:
    """Position of each category id in ``categories``; raises on duplicates."""
    index: dict[int, int] = {}
    for position, category in enumerate(categories):
        if category.id in index:
            raise MetricsInputError(f"category id {category.id} appears twice")
        index[category.id] = position
    return index
