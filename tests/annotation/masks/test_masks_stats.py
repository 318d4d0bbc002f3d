import dataclasses

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from annotation.masks import BoundingBox, MaskFormatError, SegmentStats, segment_stats


def naive_stats(index_map: npt.NDArray[np.uint16]) -> dict[int, SegmentStats]:
    """One mask per segment: slow, obviously right."""
    result = {}
    for segment_id in np.unique(index_map):
        if segment_id == 0:
            continue
        rows, columns = np.nonzero(index_map == segment_id)
        result[int(segment_id)] = SegmentStats(
            segment_id=int(segment_id),
            area=rows.size,
            bbox=BoundingBox(
                x=int(columns.min()),
                y=int(rows.min()),
                width=int(columns.max() - columns.min() + 1),
                height=int(rows.max() - rows.min() + 1),
            ),
        )
    return result


def test_segment_stats_gives_area_and_bbox_of_each_segment():
    index_map = np.array(
        [
            [0, 0, 5, 5],
            [0, 3, 5, 0],
            [3, 3, 0, 0],
        ],
        dtype=np.uint16,
    )

    assert segment_stats(index_map) == {
        3: SegmentStats(segment_id=3, area=3, bbox=BoundingBox(x=0, y=1, width=2, height=2)),
        5: SegmentStats(segment_id=5, area=3, bbox=BoundingBox(x=2, y=0, width=2, height=2)),
    }


def test_bbox_spans_all_pieces_of_a_split_segment():
    index_map = np.zeros((6, 8), dtype=np.uint16)
    index_map[1, 1] = 9
    index_map[4, 6] = 9

    assert segment_stats(index_map)[9].bbox == BoundingBox(x=1, y=1, width=6, height=4)


def test_segment_touching_every_border_has_the_image_as_bbox():
    index_map = np.full((3, 5), 65535, dtype=np.uint16)

    stats = segment_stats(index_map)[65535]

    assert stats.area == 15
    assert stats.bbox == BoundingBox(x=0, y=0, width=5, height=3)


def test_void_only_map_has_no_segments():
    assert segment_stats(np.zeros((4, 4), dtype=np.uint16)) == {}


def test_segment_stats_are_keyed_in_increasing_id_order():
    index_map = np.array([[40, 2, 300]], dtype=np.uint16)

    assert list(segment_stats(index_map)) == [2, 40, 300]


def test_segment_stats_accept_other_integer_dtypes():
    index_map = np.array([[0, 1], [1, 1]], dtype=np.int32)

    assert segment_stats(index_map)[1].area == 3


def test_segment_stats_reject_a_map_that_is_not_2d():
    with pytest.raises(MaskFormatError, match=r"must be 2-D \(height, width\), got shape \(4,\)"):
        segment_stats(np.zeros(4, dtype=np.uint16))


def test_segment_stats_are_frozen():
    stats = segment_stats(np.ones((1, 1), dtype=np.uint16))[1]

    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.area = 2  # type: ignore[misc]


def test_bbox_lists_in_coco_order():
    assert list(BoundingBox(x=1, y=2, width=3, height=4)) == [1, 2, 3, 4]


@settings(max_examples=80, deadline=None)
@given(
    index_map=hnp.arrays(
        np.uint16,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=25),
        elements=st.sampled_from([0, 1, 2, 7, 256, 65535]),
    )
)
def test_segment_stats_equal_one_mask_per_segment(index_map):
    assert segment_stats(index_map) == naive_stats(index_map)
