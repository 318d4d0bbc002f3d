"""Tracing masks into pixel-corner polygons: re-rasterised by pycocotools they give back the mask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from annotation.masks.trace import keyhole_polygons, ring_area, trace_polygons

# pycocotools 2.0.11 warns on every decode under NumPy 2.4
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def coco_raster(rings: list[np.ndarray], h: int, w: int) -> np.ndarray:
    """What COCO consumers do with a list of polygons: frPyObjects per ring, union."""
    if not rings:
        return np.zeros((h, w), bool)
    rles = mask_utils.frPyObjects([r.astype(float).ravel().tolist() for r in rings], h, w)
    return np.asarray(mask_utils.decode(mask_utils.merge(rles)), dtype=bool)


def even_odd_raster(ring: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre-sampling even-odd filler (pixel (x, y) covers [x, x+1) x [y, y+1))."""
    py, px = np.mgrid[:h, :w] + 0.5
    inside = np.zeros((h, w), bool)
    pts = ring.astype(float)
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        if ay != by:
            inside ^= ((ay > py) != (by > py)) & (px < ax + (py - ay) * (bx - ax) / (by - ay))
    return inside


def test_single_pixel_is_a_unit_square_clockwise_on_screen() -> None:
    m = np.zeros((3, 4), bool)
    m[1, 2] = True

    rings = trace_polygons(m)

    assert len(rings) == 1
    assert rings[0].points.tolist() == [[2, 1], [3, 1], [3, 2], [2, 2]]
    assert not rings[0].is_hole
    assert ring_area(rings[0].points) == 1.0


def test_ring_shape_has_one_outer_and_one_hole_with_parent() -> None:
    m = np.zeros((7, 7), bool)
    m[1:6, 1:6] = True
    m[3, 3] = False

    rings = trace_polygons(m)

    assert [r.is_hole for r in rings] == [False, True]
    assert rings[1].parent == 0
    assert ring_area(rings[0].points) == 25
    assert ring_area(rings[1].points) == -1


def test_diagonal_pixels_are_separate_parts_and_diagonal_gap_is_no_hole() -> None:
    m = np.array([[1, 0], [0, 1]], bool)
    assert [r.is_hole for r in trace_polygons(m)] == [False, False]
    # a background pocket open through a diagonal gap is not a hole (background is 8-connected)
    m = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]], bool)
    rings = trace_polygons(m)
    assert [r.is_hole for r in rings] == [False]
    assert coco_raster([r.points for r in rings], 3, 3).tolist() == m.tolist()


def test_collinear_vertices_are_removed() -> None:
    m = np.zeros((10, 12), bool)
    m[2:8, 3:11] = True

    (ring,) = trace_polygons(m)

    assert ring.points.tolist() == [[3, 2], [11, 2], [11, 8], [3, 8]]


def test_empty_mask_gives_no_ring() -> None:
    assert trace_polygons(np.zeros((4, 4), bool)) == []
    assert keyhole_polygons(np.zeros((4, 4), bool)) == []


def test_nested_island_in_hole_is_its_own_part() -> None:
    m = np.zeros((9, 9), bool)
    m[0:9, 0:9] = True
    m[2:7, 2:7] = False
    m[4, 4] = True  # island inside the hole

    rings = trace_polygons(m)
    polys = keyhole_polygons(m)

    assert sorted(r.is_hole for r in rings) == [False, False, True]
    assert len(polys) == 2  # outer-with-bridged-hole, island
    assert coco_raster(polys, 9, 9).tolist() == m.tolist()


def test_keyhole_bridge_stays_on_foreground_pixels() -> None:
    """The bridge walks up from the hole through the object's own pixels: painting its segment
    touches no background pixel column on its right."""
    m = np.zeros((8, 8), bool)
    m[1:7, 1:7] = True
    m[4:6, 3:5] = False

    (ring,) = keyhole_polygons(m)

    # the vertical bridge from the hole's top-left corner (3, 4) up to the object's top (3, 1)
    pts = ring.tolist()
    assert [3, 1] in pts
    assert [3, 4] in pts
    assert m[1:4, 3].all()  # pixels right of the bridge, between the two ends, are foreground


@settings(max_examples=300, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 14), st.integers(1, 14))), st.booleans())
def test_keyhole_polygons_rasterise_back_exactly_with_pycocotools(m: Any, join: Any) -> None:
    polys = keyhole_polygons(m, join_parts=join)

    assert coco_raster(polys, *m.shape).tolist() == m.tolist()
    if join:
        assert len(polys) == (1 if m.any() else 0)
    assert all(len(p) >= 3 for p in polys)


@settings(max_examples=150, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_joined_ring_fills_exactly_under_plain_even_odd(m: Any) -> None:
    polys = keyhole_polygons(m, join_parts=True)

    filled = even_odd_raster(polys[0], *m.shape) if polys else np.zeros(m.shape, bool)

    assert filled.tolist() == m.tolist()


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_rings_area_sums_to_pixel_count_and_orientation_marks_holes(m: Any) -> None:
    rings = trace_polygons(m)

    assert sum(ring_area(r.points) for r in rings) == m.sum()
    assert all((ring_area(r.points) < 0) == r.is_hole for r in rings)
    assert all(r.parent is not None and not rings[r.parent].is_hole for r in rings if r.is_hole)


def test_tolerance_simplifies_with_high_iou() -> None:
    yy, xx = np.mgrid[:120, :160]
    m = ((yy - 60) / 50) ** 2 + ((xx - 80) / 70) ** 2 < 1
    m &= ((yy - 60) / 15) ** 2 + ((xx - 80) / 25) ** 2 > 1

    exact = keyhole_polygons(m)
    simple = keyhole_polygons(m, tolerance=1.0)
    got = coco_raster(simple, *m.shape)

    assert sum(len(p) for p in simple) < sum(len(p) for p in exact) / 3
    assert (got & m).sum() / (got | m).sum() > 0.97


def test_polygon_iou_statistics_on_random_blobs_are_exact() -> None:
    """The measurement reported in docs/formats.md: IoU of re-rasterised polygons vs mask."""
    rng = np.random.default_rng(3)
    ious = []
    for _ in range(200):
        h, w = rng.integers(5, 40, 2)
        m = rng.random((h, w)) < rng.uniform(0.2, 0.8)
        got = coco_raster(keyhole_polygons(m), h, w)
        union = (got | m).sum()
        ious.append((got & m).sum() / union if union else 1.0)
    assert min(ious) == 1.0


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1)])
def test_thin_and_tiny_masks(shape: Any) -> None:
    m = np.ones(shape, bool)
    assert coco_raster(keyhole_polygons(m), *shape).all()
