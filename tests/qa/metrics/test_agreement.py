"""Agreement among annotators of one image: every ordered pair, and their means."""

from __future__ import annotations

import numpy as np
import pytest

from qa.metrics import MetricsInputError, agreement

from .support import categories, labelled

TAXONOMY = categories(stuff=(1,), things=(3,))


def _annotation(grow: int) -> np.ndarray:
    # a 12x12 square object (id 7, category 3) on road (id 1), grown by ``grow`` px per side
    ids = np.ones((40, 40), dtype=np.uint16)
    ids[14 - grow : 26 + grow, 14 - grow : 26 + grow] = 7
    return ids


def test_identical_annotations_agree_fully() -> None:
    maps = [labelled(_annotation(0), {1: 1, 7: 3}) for _ in range(3)]

    result = agreement(maps, categories=TAXONOMY)

    assert [(p.reference, p.submission) for p in result.pairs] == [
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 2),
        (2, 0),
        (2, 1),
    ]
    assert result.miou == 1.0
    assert result.class_iou == {1: 1.0, 3: 1.0}
    assert (result.pq, result.boundary_pq, result.f1) == (1.0, 1.0, 1.0)
    assert result.abs_drift == {1: 0.0, 3: 0.0}


def test_pairs_are_measured_both_ways_and_averaged() -> None:
    # annotator 1 draws the object 2 px larger than annotators 0 and 2
    maps = [labelled(_annotation(g), {1: 1, 7: 3}) for g in (0, 2, 0)]

    result = agreement(maps, categories=TAXONOMY)
    by_pair = {(p.reference, p.submission): p for p in result.pairs}

    # object IoU 0 vs 1: 144 / 256; without void the two directions agree
    assert by_pair[(0, 1)].class_iou.per_class[3] == pytest.approx(144 / 256, abs=1e-15)
    assert by_pair[(1, 0)].class_iou.per_class[3] == by_pair[(0, 1)].class_iou.per_class[3]
    # drift: the straight sides moved by exactly 2 px; corners a little further
    drift = {pair: p.drift.per_class[3] for pair, p in by_pair.items() if p.drift is not None}
    assert drift[(0, 1)] == pytest.approx(2, abs=0.25)
    assert drift[(1, 0)] == pytest.approx(-2, abs=0.25)
    assert drift[(0, 2)] == 0.0
    # means over the six ordered pairs: four involve annotator 1, two do not
    assert result.class_iou[3] == pytest.approx((4 * 144 / 256 + 2 * 1.0) / 6, abs=1e-12)
    assert result.abs_drift is not None
    assert result.abs_drift[3] == pytest.approx(4 * abs(drift[(0, 1)] or 0) / 6, abs=1e-9)


def test_drift_can_be_left_out() -> None:
    maps = [labelled(_annotation(g), {1: 1, 7: 3}) for g in (0, 2)]

    result = agreement(maps, categories=TAXONOMY, drift=False)

    assert result.abs_drift is None
    assert all(p.drift is None and p.counts.drift is None for p in result.pairs)


def test_agreement_needs_two_annotations() -> None:
    with pytest.raises(MetricsInputError, match="two"):
        agreement([labelled(_annotation(0), {1: 1, 7: 3})], categories=TAXONOMY)
