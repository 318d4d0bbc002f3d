"""Bands: the bit-packed window test equals boundary-iou-api's per-mask erosion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa.metrics import MetricsInputError, band_mask, boundary_width, prepare_map

from .support import labelled, literal_band


def _picture(rows: list[str]) -> np.ndarray:
    return np.array([[ch == "#" for ch in row] for row in rows])


def test_band_of_a_small_block_by_hand() -> None:
    # given an 8x8 map of label 1 with a 2x2 block of label 2 in its middle, d = 1
    labels = np.ones((8, 8), dtype=np.uint16)
    labels[3:5, 3:5] = 2

    band = band_mask(labels, 1)

    # then: the outer ring (its windows leave the image), the block's 8-neighbours (their
    # windows hold a 2) and the block itself (its windows hold 1s) are band; the other 20
    # pixels of label 1 see only 1s within one pixel.
    expected = _picture(
        [
            "########",
            "#......#",
            "#.####.#",
            "#.####.#",
            "#.####.#",
            "#.####.#",
            "#......#",
            "########",
        ]
    )
    assert np.array_equal(band, expected)
    assert np.count_nonzero(band) == 44


def test_band_covers_everything_once_windows_reach_the_border() -> None:
    labels = np.ones((8, 8), dtype=np.uint16)
    labels[3:5, 3:5] = 2

    # rows/cols 0, 1, 6, 7 reach outside with d = 2; the inner 4x4 all reach the block
    assert band_mask(labels, 2).all()


@st.composite
def label_maps(draw: st.DrawFn) -> np.ndarray:
    height = draw(st.integers(1, 24))
    width = draw(st.integers(1, 24))
    block = draw(st.integers(1, 6))
    coarse = draw(
        arrays(
            np.uint16,
            ((height + block - 1) // block, (width + block - 1) // block),
            elements=st.integers(0, 3),
        )
    )
    labels = np.repeat(np.repeat(coarse, block, 0), block, 1)[:height, :width]
    speckle = draw(arrays(np.bool_, (height, width), elements=st.booleans()))
    if draw(st.booleans()):
        labels = labels.copy()
        labels[speckle & (labels == 0)] = 4
    return np.ascontiguousarray(labels)


@settings(max_examples=120, deadline=None)
@given(labels=label_maps(), d=st.integers(1, 12))
def test_band_equals_literal_erosion_for_every_label(labels: np.ndarray, d: int) -> None:
    band = band_mask(labels, d)

    for value in np.unique(labels):
        mask = labels == value
        assert np.array_equal(band & mask, literal_band(mask, d)), (value, d)


@settings(max_examples=25, deadline=None)
@given(
    coarse=arrays(np.uint16, (4, 12), elements=st.integers(0, 3)),
    d=st.sampled_from([31, 32, 33, 45, 64, 70, 100]),
    width=st.integers(130, 260),
)
def test_wide_bands_equal_literal_erosion(coarse: np.ndarray, d: int, width: int) -> None:
    # Windows of 64 columns and more take the word-level path of the band computation.
    labels = np.ascontiguousarray(np.repeat(np.repeat(coarse, 10, 0), 24, 1)[:, :width])

    band = band_mask(labels, d)

    for value in np.unique(labels):
        mask = labels == value
        assert np.array_equal(band & mask, literal_band(mask, d)), (value, d)


@settings(max_examples=60, deadline=None)
@given(labels=label_maps(), d=st.integers(1, 9))
def test_prepared_map_bands_are_segment_and_category_bands(labels: np.ndarray, d: int) -> None:
    # given segments 1..4 where segments 1 and 2 share category 7 and 3, 4 are category 8
    table = {1: 7, 2: 7, 3: 8, 4: 8}
    label_map = labelled(labels, table)
    categories = np.vectorize(lambda v: table.get(int(v), 0))(labels)

    prepared = prepare_map(label_map, boundary_width=d)

    cols = labels.shape[1]

    def unpack(plane: np.ndarray) -> np.ndarray:
        return np.unpackbits(plane.view(np.uint8), axis=1, count=cols, bitorder="little").astype(bool)

    assert np.array_equal(unpack(prepared.segment_band), band_mask(labels, d))
    assert np.array_equal(unpack(prepared.category_band), band_mask(categories, d))


@pytest.mark.parametrize(
    ("height", "width", "ratio", "expected"),
    [
        (375, 500, 0.02, 12),  # 0.02 * 625 = 12.5 -> 12 (half to even)
        (540, 720, 0.005, 4),  # 0.005 * 900 = 4.5 -> 4
        (300, 400, 0.005, 2),  # 0.005 * 500 = 2.5 -> 2
        (512, 1024, 0.02, 23),  # 0.02 * 1144.9 = 22.9 -> 23
        (1024, 2048, 0.02, 46),  # 0.02 * 2289.7 = 45.8 -> 46
        (10, 10, 0.02, 1),  # 0.28 -> 0, raised to the minimum 1
        (10, 10, 0.0, 1),
    ],
)
def test_boundary_width_rounds_half_to_even_and_is_at_least_one(
    height: int, width: int, ratio: float, expected: int
) -> None:
    assert boundary_width(height, width, ratio=ratio) == expected


@pytest.mark.parametrize("ratio", [-0.01, float("nan"), float("inf")])
def test_boundary_width_rejects_a_meaningless_ratio(ratio: float) -> None:
    with pytest.raises(MetricsInputError):
        boundary_width(10, 10, ratio=ratio)
