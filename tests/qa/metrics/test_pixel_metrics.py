"""Class IoU and boundary IoU on hand-checked maps."""

from __future__ import annotations

import pytest

from qa.metrics import PairCounts, boundary_iou, class_iou, measure_pair

from .support import categories, labelled

# Reference (0 = void) and submission; segment id = category id, categories 1 and 2 (stuff).
REFERENCE = [
    [1, 1, 1, 2, 2, 2],
    [1, 1, 1, 2, 2, 2],
    [1, 1, 1, 2, 2, 2],
    [0, 0, 1, 2, 2, 2],
]
SUBMISSION = [
    [1, 1, 1, 1, 2, 2],
    [1, 1, 1, 1, 2, 2],
    [1, 1, 0, 2, 2, 2],
    [1, 1, 1, 2, 2, 2],
]
TAXONOMY = categories(stuff=(1, 2), things=(3,))


def _counts() -> PairCounts:
    return measure_pair(
        labelled(REFERENCE, {1: 1, 2: 2}),
        labelled(SUBMISSION, {1: 1, 2: 2}),
        categories=TAXONOMY,
        boundary_width=1,
    )


def test_class_iou_by_hand() -> None:
    counts = _counts()

    # Class 1: G = 10 px, P = 13 px. TP = 9 (the submission leaves (2,2) void), FN = 1,
    # FP = 2 ((0,3) and (1,3); the 2 px on reference void do not count) -> 9/12.
    # Class 2: G = 12, TP = 10, FN = 2 ((0,3), (1,3)), FP = 0 -> 10/12.
    assert counts.pixels.tp.tolist() == [9, 10, 0]
    assert counts.pixels.fp.tolist() == [2, 0, 0]
    assert counts.pixels.fn.tolist() == [1, 2, 0]
    scores = class_iou(counts)
    assert scores.per_class == {1: 0.75, 2: 10 / 12, 3: None}
    assert scores.mean == pytest.approx((0.75 + 10 / 12) / 2, abs=1e-15)


def test_boundary_iou_by_hand() -> None:
    counts = _counts()

    # d = 1: a pixel is band unless its 3x3 window is all its own class and inside the image.
    # B(G_1) = G_1 minus (1,1) = 9 px. B(P_1) = all 13 px of P_1 (each interior window sees the
    # submission's void at (2,2) or class 2); minus reference void (3,0), (3,1) -> 11 px.
    # B(G_1) ∩ B(P_1) = the 9 TP pixels minus (1,1) = 8 -> union 9 + 11 - 8 = 12 -> 8/12.
    # B(G_2) = G_2 minus (1,4), (2,4) = 10 px; B(P_2) = all 10 px of P_2; intersection = the
    # 10 TP pixels minus (1,4), (2,4) = 8 -> union 10 + 10 - 8 = 12 -> 8/12.
    assert counts.pixels.boundary_intersection.tolist() == [8, 8, 0]
    assert counts.pixels.boundary_union.tolist() == [12, 12, 0]
    scores = boundary_iou(counts)
    assert scores.per_class == {1: 8 / 12, 2: 8 / 12, 3: None}
    assert scores.mean == pytest.approx(8 / 12, abs=1e-15)


def test_boundary_iou_equals_class_iou_when_everything_is_band() -> None:
    # With d as large as the image every pixel is band, so the boundary counts are the class
    # counts restricted as the boundary union prescribes (void removed from P only).
    counts = measure_pair(
        labelled(REFERENCE, {1: 1, 2: 2}),
        labelled(SUBMISSION, {1: 1, 2: 2}),
        categories=TAXONOMY,
        boundary_width=6,
    )

    assert boundary_iou(counts).per_class == class_iou(counts).per_class


def test_crowd_reference_pixels_count_for_their_class() -> None:
    # A crowd segment of class 3 is still class 3 for pixel metrics.
    reference = labelled([[5, 5, 1, 1]], [(5, 3, True), (1, 1)])
    submission = labelled([[7, 1, 1, 1]], [(7, 3), (1, 1)])

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    assert class_iou(counts).per_class == {1: 2 / 3, 2: None, 3: 1 / 2}
