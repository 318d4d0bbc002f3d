"""Area and bounding box of every segment of an index map, in one pass over the pixels."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from annotation.masks._arrays import MAX_SEGMENT_ID, as_index_map


class BoundingBox(NamedTuple):
    """Smallest pixel-aligned box holding a segment, COCO style: left, top, width, height.

    A named tuple, so ``list(bbox)`` is the COCO ``bbox`` ``[x, y, width, height]``.
    """

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class SegmentStats:
    """Pixel count and bounding box of one segment id."""

    segment_id: int
    area: int
    bbox: BoundingBox


def segment_stats(index_map: npt.NDArray[np.integer]) -> dict[int, SegmentStats]:
    """Stats of every non-zero id present in the map, keyed by id in increasing order.

    area = number of pixels with the id; bbox spans the first to last row and column holding
    it. O(pixels): one ``bincount`` for the areas, and per-row runs of equal ids (usually far
    fewer than pixels) reduced to each id's extreme rows and columns.
    """
    array = as_index_map(index_map)
    height, width = array.shape
    areas = np.bincount(array.ravel(), minlength=MAX_SEGMENT_ID + 1)
    present = np.flatnonzero(areas)
    present = present[present != 0]
    if present.size == 0:
        return {}
    # A run starts at each column 0 and wherever the id differs from its left neighbour.
    starts_run = np.ones((height, width), dtype=np.bool_)
    np.not_equal(array[:, 1:], array[:, :-1], out=starts_run[:, 1:])
    rows, first_columns = np.nonzero(starts_run)
    ends_run = np.ones((height, width), dtype=np.bool_)
    np.not_equal(array[:, :-1], array[:, 1:], out=ends_run[:, :-1])
    _, last_columns = np.nonzero(ends_run)
    run_ids = array[rows, first_columns]

    low = np.iinfo(np.int64).min
    high = np.iinfo(np.int64).max
    top = np.full(MAX_SEGMENT_ID + 1, high, dtype=np.int64)
    bottom = np.full(MAX_SEGMENT_ID + 1, low, dtype=np.int64)
    left = np.full(MAX_SEGMENT_ID + 1, high, dtype=np.int64)
    right = np.full(MAX_SEGMENT_ID + 1, low, dtype=np.int64)
    np.minimum.at(top, run_ids, rows)
    np.maximum.at(bottom, run_ids, rows)
    np.minimum.at(left, run_ids, first_columns)
    np.maximum.at(right, run_ids, last_columns)
    return {
        int(segment_id): SegmentStats(
            segment_id=int(segment_id),
            area=int(areas[segment_id]),
            bbox=BoundingBox(
                x=int(left[segment_id]),
                y=int(top[segment_id]),
                width=int(right[segment_id] - left[segment_id] + 1),
                height=int(bottom[segment_id] - top[segment_id] + 1),
            ),
        )
        for segment_id in present
    }
