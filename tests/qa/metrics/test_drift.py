"""Boundary drift reads +k for a region grown by k px, -k shrunk by k, 0 when identical."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from qa.metrics import boundary_drift, mask_drift, measure_pair

from .support import categories, labelled

HEIGHT, WIDTH = 200, 240


def _signed_distance(discs: list[tuple[float, float, float]]) -> np.ndarray:
    """Signed Euclidean distance (px) of every pixel centre to the boundary of a union of
    discs (negative inside), from a dense sampling of that boundary."""
    rows, cols = np.mgrid[:HEIGHT, :WIDTH].astype(float)
    points = []
    for cy, cx, r in discs:
        angle = np.linspace(0, 2 * np.pi, 6000, endpoint=False)
        circle = np.stack([cy + r * np.sin(angle), cx + r * np.cos(angle)], axis=1)
        covered = np.zeros(len(circle), dtype=bool)
        for other in discs:
            if other != (cy, cx, r):
                covered |= np.hypot(circle[:, 0] - other[0], circle[:, 1] - other[1]) < other[2]
        points.append(circle[~covered])
    distance, _ = cKDTree(np.concatenate(points)).query(np.stack([rows.ravel(), cols.ravel()], axis=1))
    inside = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for cy, cx, r in discs:
        inside |= np.hypot(rows - cy, cols - cx) <= r
    signed: np.ndarray = np.where(inside, -1.0, 1.0) * distance.reshape(HEIGHT, WIDTH)
    return signed


def _rectangle_distance(top: float, left: float, bottom: float, right: float) -> np.ndarray:
    """Signed distance to an axis-parallel rectangle (exact)."""
    rows, cols = np.mgrid[:HEIGHT, :WIDTH].astype(float)
    dy = np.maximum(top - rows, rows - bottom)
    dx = np.maximum(left - cols, cols - right)
    outside = np.hypot(np.maximum(dy, 0), np.maximum(dx, 0))
    signed: np.ndarray = np.where((dy <= 0) & (dx <= 0), np.maximum(dy, dx), outside)
    return signed


SHAPES = {
    "disc": _signed_distance([(100, 120, 55)]),
    "rectangle": _rectangle_distance(50, 40, 150, 200),
    "irregular": _signed_distance([(100, 100, 40), (120, 160, 35), (70, 150, 25), (150, 90, 22)]),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", range(1, 7))
def test_drift_of_a_grown_region_is_plus_k(shape: str, k: int) -> None:
    distance = SHAPES[shape]

    drift = mask_drift(distance <= 0, distance <= k)

    # Both boundaries are pixelated; the nearest crack of a jagged boundary sits a little
    # closer than the smooth curve, hence the quarter-pixel tolerance.
    assert drift == pytest.approx(k, abs=0.25)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", range(1, 7))
def test_drift_of_a_shrunk_region_is_minus_k(shape: str, k: int) -> None:
    distance = SHAPES[shape]

    drift = mask_drift(distance <= 0, distance <= -k)

    assert drift == pytest.approx(-k, abs=0.25)


@pytest.mark.parametrize("shape", SHAPES)
def test_identical_regions_have_no_drift(shape: str) -> None:
    mask = SHAPES[shape] <= 0

    assert mask_drift(mask, mask) == 0.0


@pytest.mark.parametrize("k", [1, 3, 6])
def test_a_straight_edge_moved_by_k_reads_exactly_k(k: int) -> None:
    # The image border is no boundary, so the only cracks are the two vertical edges.
    reference = np.zeros((20, 40), dtype=bool)
    reference[:, :15] = True
    grown = np.zeros_like(reference)
    grown[:, : 15 + k] = True

    assert mask_drift(reference, grown) == k
    assert mask_drift(grown, reference) == -k


def test_cracks_on_reference_void_are_not_averaged() -> None:
    # Reference: region (cols 0-9), other (10-14), void (15-19). The submission also paints
    # the void columns: its crack between cols 14 and 15 touches void and is not counted.
    reference = np.zeros((10, 20), dtype=bool)
    reference[:, :10] = True
    void = np.zeros_like(reference)
    void[:, 15:] = True
    submission = reference | void

    assert mask_drift(reference, submission, void=void) == 0.0
    # without the void, those 10 cracks lie 5 px outside the reference boundary: 50 px over
    # 10 + 10 shared cracks (distance 0) and the 10 far ones
    assert mask_drift(reference, submission) == pytest.approx(50 / 30, abs=1e-12)


def test_drift_is_undefined_without_a_boundary_on_either_side() -> None:
    everything = np.ones((8, 8), dtype=bool)
    nothing = np.zeros((8, 8), dtype=bool)
    part = np.zeros((8, 8), dtype=bool)
    part[:4] = True

    assert mask_drift(nothing, part) is None  # no reference boundary to measure against
    assert mask_drift(part, nothing) is None
    assert mask_drift(everything, everything) is None  # the image border is no boundary


def test_class_drift_of_an_inflated_object_and_its_shrunk_background() -> None:
    # given a disc object (category 3) on road (category 1), and the same object grown by 3 px
    distance = SHAPES["disc"]
    reference = labelled(np.where(distance <= 0, 7, 1), {1: 1, 7: 3})
    submission = labelled(np.where(distance <= 3, 7, 1), {1: 1, 7: 3})
    taxonomy = categories(stuff=(1, 2), things=(3,))

    drift = boundary_drift(measure_pair(reference, submission, categories=taxonomy, drift=True))

    # then the object reads about +3 and the road, which lost the same ring, about -3
    assert drift.per_class[3] == pytest.approx(3, abs=0.25)
    assert drift.per_class[1] == pytest.approx(-3, abs=0.25)
    assert drift.per_class[2] is None
