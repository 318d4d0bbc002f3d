"""The test oracle (tests/qa/recompute.py) on hand-checked tiny cases, so that agreeing with
it means something."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qa.recompute import Labelled, Sums, add_pair, band, band_width, drift_sums


def test_a_half_plane_moved_down_one_row_drifts_by_exactly_one_px() -> None:
    reference = np.zeros((10, 10), bool)
    reference[:5] = True
    grown = np.zeros((10, 10), bool)
    grown[:6] = True

    assert drift_sums(reference, grown) == (20.0, 20)  # 10 cracks each side, all at 1 px, outward
    assert drift_sums(grown, reference) == (-20.0, 20)  # the same boundary seen shrunk: inward
    assert drift_sums(reference, reference) == (0.0, 20)


def test_a_square_dilated_by_two_reads_two_on_its_edges_and_more_at_its_corners() -> None:
    reference = np.zeros((20, 20), bool)
    reference[8:12, 8:12] = True
    grown = np.zeros((20, 20), bool)
    grown[6:14, 6:14] = True

    total, n = drift_sums(reference, grown)

    assert n == 16 + 32
    # The 16 reference cracks and the 16 grown cracks facing an edge read exactly 2; the 16
    # grown cracks beyond the corners are farther from the reference boundary.
    assert total > 2 * n
    assert total / n < 2.5


def test_band_of_a_square_is_its_one_pixel_ring() -> None:
    mask = np.zeros((6, 6), bool)
    mask[1:5, 1:5] = True

    ring = band(mask, 1)

    assert int(ring.sum()) == 12
    assert not ring[2:4, 2:4].any()
    assert band_width(40, 60, 0.02) == 1  # 0.02 · 72.1 = 1.44
    assert band_width(1024, 2048, 0.02) == 46  # 45.79 rounds up
    assert band_width(1, 24, 0.5) == 12  # 12.01


def test_class_iou_and_pq_of_a_hand_counted_pair() -> None:
    gold = np.array([[1, 1, 2, 2], [1, 1, 2, 2]], np.uint16)
    work = np.array([[1, 1, 1, 2], [1, 1, 2, 2]], np.uint16)
    sums = Sums()

    add_pair(sums, Labelled(gold, {1: 3, 2: 7}), Labelled(work, {1: 3, 2: 7}), categories=[3, 7])

    assert sums.class_iou([3, 7]) == {"3": 4 / 5, "7": 3 / 4}
    pq = sums.pq({3: False, 7: True})
    # Both segments match (IoU 0.8 and 0.75 > 0.5): RQ 1, SQ = IoU.
    assert pq["stuff"] == {"pq": 0.8, "sq": 0.8, "rq": 1.0, "n": 1}
    assert pq["things"] == {"pq": 0.75, "sq": 0.75, "rq": 1.0, "n": 1}
    assert pq["all"]["pq"] == pytest.approx((0.8 + 0.75) / 2)


def test_an_unmatched_thing_counts_as_a_miss_and_a_false_positive() -> None:
    gold = np.array([[1, 1, 1, 2]], np.uint16)
    work = np.array([[1, 2, 2, 2]], np.uint16)  # thing IoU 1/3: no match
    sums = Sums()

    add_pair(sums, Labelled(gold, {1: 3, 2: 7}), Labelled(work, {1: 3, 2: 7}), categories=[3, 7])

    assert (sums.tp.get(7, 0), sums.fp[7], sums.fn[7]) == (0, 1, 1)
    assert sums.pq({3: False, 7: True})["things"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 1}
