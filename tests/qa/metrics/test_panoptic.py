"""Panoptic quality and boundary PQ: hand-checked maps and panopticapi's corner rules."""

from __future__ import annotations

import pytest

from qa.metrics import boundary_panoptic_quality, measure_pair, panoptic_quality

from .support import categories, labelled

TAXONOMY = categories(stuff=(1, 2), things=(3,))


def test_pq_and_boundary_pq_by_hand() -> None:
    # Same maps as the class IoU test: one segment per class, 2 px of reference void.
    reference = labelled(
        [[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [0, 0, 1, 2, 2, 2]], {1: 1, 2: 2}
    )
    submission = labelled(
        [[1, 1, 1, 1, 2, 2], [1, 1, 1, 1, 2, 2], [1, 1, 0, 2, 2, 2], [1, 1, 1, 2, 2, 2]], {1: 1, 2: 2}
    )

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)
    pq = panoptic_quality(counts)
    bpq = boundary_panoptic_quality(counts)

    # (g1, p1): |g|=10, |p|=13, |g∩p|=9, |p∩V|=2 -> IoU = 9 / (10+13-9-2) = 0.75, a match.
    # (g2, p2): 10 / (12+10-10-0) = 10/12.
    assert pq.per_class[1].pq == 0.75
    assert pq.per_class[2].pq == pytest.approx(10 / 12, abs=1e-15)
    assert (pq.per_class[1].tp, pq.per_class[1].fp, pq.per_class[1].fn) == (1, 0, 0)
    assert pq.all.pq == pytest.approx((0.75 + 10 / 12) / 2, abs=1e-15)
    assert pq.all.n == 2
    assert pq.stuff == pq.all
    assert (pq.things.pq, pq.things.sq, pq.things.rq, pq.things.n) == (None, None, None, 0)
    assert pq.per_class[3].pq is None
    # Boundary IoU of the pairs (segment bands = class bands here): 8/12 for both, below the
    # mask IoU, so the pair IoU is 8/12 and both still match (> 0.5).
    assert bpq.per_class[1].pq == pytest.approx(8 / 12, abs=1e-15)
    assert bpq.per_class[2].pq == pytest.approx(8 / 12, abs=1e-15)
    assert bpq.all.pq == pytest.approx(8 / 12, abs=1e-15)


def test_iou_of_exactly_one_half_is_not_a_match() -> None:
    # g (2 px) inside p (4 px): IoU = 2 / (2 + 4 - 2) = 0.5 -> no match: one FN, one FP.
    reference = labelled([[1, 5, 5, 1, 1, 1]], {1: 1, 5: 3})
    submission = labelled([[6, 6, 6, 6, 1, 1]], {1: 1, 6: 3})

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    assert (int(counts.pq.tp[2]), int(counts.pq.fp[2]), int(counts.pq.fn[2])) == (0, 1, 1)


def test_prediction_half_over_void_is_a_false_positive_and_more_is_ignored() -> None:
    # p (4 px) with 2 px on void: (2 + 0) / 4 = 0.5 is not > 0.5 -> FP.
    # q (4 px) with 3 px on void: 0.75 > 0.5 -> ignored.
    reference = labelled([[0, 0, 1, 1, 0, 0, 0, 1]], {1: 1})
    submission = labelled([[6, 6, 6, 6, 7, 7, 7, 7]], {6: 3, 7: 3})

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    assert int(counts.pq.fp[2]) == 1
    assert int(counts.pq.fn[0]) == 1  # the class-1 reference segment found no partner


@pytest.mark.parametrize(("crowd_order", "false_positives"), [((10, 11), 2), ((11, 10), 1)])
def test_only_the_last_crowd_segment_of_a_category_absorbs_predictions(
    crowd_order: tuple[int, int], false_positives: int
) -> None:
    # given two crowd regions of category 3, A (id 10, left) and B (id 11, right), and
    # predictions p (id 20) 60 % over A, r (id 22) wholly inside A, q (id 21) 60 % over B
    ids = [[10] * 5 + [11] * 5, [10] * 5 + [11] * 5, [1] * 10, [1] * 10]
    reference = labelled(ids, [(crowd_order[0], 3, True), (crowd_order[1], 3, True), (1, 1)])
    submission = labelled(
        [
            [20, 20, 20, 22, 22, 21, 21, 21, 1, 1],
            [20, 20, 20, 1, 1, 21, 21, 21, 1, 1],
            [20, 20, 20, 20, 1, 21, 21, 21, 21, 1],
            [1] * 10,
        ],
        {20: 3, 21: 3, 22: 3, 1: 1},
    )

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    # then panopticapi only consults the crowd segment listed last. B last: q is ignored,
    # p and r count as FP although they lie on crowd A. A last: p and r are ignored, q is FP.
    assert int(counts.pq.fp[2]) == false_positives
    assert int(counts.pq.fn[2]) == 0  # crowd segments are never misses


def test_pq_groups_average_classes_and_sq_is_zero_without_matches() -> None:
    # Class 1 matched perfectly, class 3 only has a false positive.
    reference = labelled([[1, 1, 1, 1]], {1: 1})
    submission = labelled([[1, 1, 1, 9]], {1: 1, 9: 3})

    pq = panoptic_quality(measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1))

    # class 1: IoU 3/4, tp 1 -> pq = sq = 0.75, rq 1; class 3: fp 1 -> pq 0, sq 0.0, rq 0
    assert (pq.per_class[3].pq, pq.per_class[3].sq, pq.per_class[3].rq) == (0.0, 0.0, 0.0)
    assert pq.per_class[1].sq == 0.75
    assert pq.all.pq == pytest.approx(0.375, abs=1e-15)
    assert pq.all.rq == pytest.approx(0.5, abs=1e-15)
    assert (pq.things.n, pq.stuff.n) == (1, 1)
