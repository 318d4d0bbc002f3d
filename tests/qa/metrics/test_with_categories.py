"""Counts of different taxonomy versions, laid out on one category list, sum like one measurement."""

from __future__ import annotations

import numpy as np
import pytest

from qa.metrics import (
    CategoryInfo,
    LabelledMap,
    MetricsInputError,
    Segment,
    class_iou,
    mask_ap,
    measure_pair,
    panoptic_quality,
    sum_counts,
    with_categories,
)

ROAD, SKY, CAR = CategoryInfo(1, False), CategoryInfo(3, False), CategoryInfo(9, True)


def pair(with_car: bool) -> tuple[LabelledMap, LabelledMap]:
    gt = np.ones((20, 30), np.uint16)
    gt[10:, :] = 2
    pred = gt.copy()
    pred[9, :] = 2
    segments = [Segment(1, 3), Segment(2, 1)]
    if with_car:
        gt[12:16, 5:12] = 3
        pred[12:17, 5:12] = 3
        segments.append(Segment(3, 9))
    return LabelledMap(ids=gt, segments=tuple(segments)), LabelledMap(ids=pred, segments=tuple(segments))


def test_aligned_counts_equal_counts_measured_on_the_superset() -> None:
    old = measure_pair(*pair(False), categories=[ROAD, SKY])
    new = measure_pair(*pair(True), categories=[ROAD, SKY, CAR])
    direct_old = measure_pair(*pair(False), categories=[ROAD, SKY, CAR])

    aligned = sum_counts([with_categories(old, [ROAD, SKY, CAR]), new])
    direct = sum_counts([direct_old, new])

    assert class_iou(aligned).per_class == class_iou(direct).per_class
    assert panoptic_quality(aligned).all == panoptic_quality(direct).all
    assert mask_ap(aligned).ap == mask_ap(direct).ap
    assert np.array_equal(aligned.pixels.tp, direct.pixels.tp)


def test_instances_keep_their_category_when_positions_shift() -> None:
    counts = measure_pair(*pair(True), categories=[ROAD, SKY, CAR])

    moved = with_categories(counts, [CAR, CategoryInfo(5, True), ROAD, SKY])

    assert mask_ap(moved).per_class[9] == mask_ap(counts).per_class[9]
    assert mask_ap(moved).per_class[5] is None
    assert class_iou(moved).per_class[9] == class_iou(counts).per_class[9]


def test_a_category_missing_from_the_target_is_refused() -> None:
    counts = measure_pair(*pair(False), categories=[ROAD, SKY])

    with pytest.raises(MetricsInputError, match="category 3 is missing"):
        with_categories(counts, [ROAD, CAR])


def test_a_category_that_changes_isthing_is_refused() -> None:
    counts = measure_pair(*pair(False), categories=[ROAD, SKY])

    with pytest.raises(MetricsInputError, match="changes isthing"):
        with_categories(counts, [ROAD, CategoryInfo(3, True)])
