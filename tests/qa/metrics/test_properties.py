"""Properties over random maps: identity, symmetry, bounds, additivity over images."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa.metrics import (
    LabelledMap,
    PairCounts,
    Segment,
    boundary_drift,
    boundary_iou,
    boundary_panoptic_quality,
    class_iou,
    detection_prf,
    mask_ap,
    measure_pair,
    panoptic_quality,
    sum_counts,
)

from .support import categories

TAXONOMY = categories(stuff=(1, 2), things=(3, 4))
CATEGORY_OF = {1: 1, 2: 2, 3: 3, 4: 3, 5: 4, 6: 4}  # segment id -> category (3, 4: two things)


@st.composite
def maps(
    draw: st.DrawFn, *, shape: tuple[int, int] | None = None, void: bool = True, crowd: bool = True
) -> LabelledMap:
    """Blocky maps of segments 1-6 (ids 3-6 are things), optionally void and crowd."""
    height, width = shape or (draw(st.integers(3, 14)), draw(st.integers(3, 14)))
    block = draw(st.integers(1, 4))
    low = 0 if void else 1
    coarse = draw(
        arrays(
            np.uint8,
            ((height + block - 1) // block, (width + block - 1) // block),
            elements=st.integers(low, 6),
        )
    )
    ids = np.ascontiguousarray(np.repeat(np.repeat(coarse, block, 0), block, 1)[:height, :width])
    present = sorted(set(np.unique(ids).tolist()) - {0})
    segments = tuple(
        Segment(
            id=i,
            category_id=CATEGORY_OF[i],
            iscrowd=crowd and i >= 3 and draw(st.booleans()),
            score=draw(st.sampled_from([None, 0.3, 0.9])),
        )
        for i in present
    )
    return LabelledMap(ids=ids, segments=segments)


@st.composite
def pairs(draw: st.DrawFn, *, void: bool = True, crowd: bool = True) -> tuple[LabelledMap, LabelledMap]:
    reference = draw(maps(void=void, crowd=crowd))
    submission = draw(maps(shape=reference.shape, void=void, crowd=False))
    return reference, submission


def _measure(reference: LabelledMap, submission: LabelledMap, *, width: int = 2) -> PairCounts:
    return measure_pair(reference, submission, categories=TAXONOMY, boundary_width=width, drift=True)


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(label_map=maps(crowd=False))
def test_a_map_against_itself_scores_one_and_has_no_drift(label_map: LabelledMap) -> None:
    counts = _measure(label_map, label_map)

    present = {s.category_id for s in label_map.segments}
    for scores in (class_iou(counts), boundary_iou(counts)):
        assert scores.per_class == {c.id: (1.0 if c.id in present else None) for c in TAXONOMY}
    for pq in (panoptic_quality(counts), boundary_panoptic_quality(counts)):
        assert all(v.pq == (1.0 if c in present else None) for c, v in pq.per_class.items())
    ap = mask_ap(counts)
    assert all(v == (1.0 if c in present else None) for c, v in ap.per_class.items())
    assert detection_prf(counts).overall.fp == 0
    assert all(v in (0.0, None) for v in boundary_drift(counts).per_class.values())


@FAST
@given(pair=pairs(void=False, crowd=False))
def test_without_void_and_crowd_the_pixel_and_panoptic_metrics_are_symmetric(
    pair: tuple[LabelledMap, LabelledMap],
) -> None:
    forward = _measure(*pair)
    backward = _measure(pair[1], pair[0])

    assert class_iou(forward) == class_iou(backward)
    assert boundary_iou(forward) == boundary_iou(backward)
    for a, b in (
        (panoptic_quality(forward), panoptic_quality(backward)),
        (boundary_panoptic_quality(forward), boundary_panoptic_quality(backward)),
    ):
        for c, there in a.per_class.items():
            back = b.per_class[c]
            # misses one way are false positives the other way; IoU sums may differ in the
            # last bit because they are added in another order
            assert (there.tp, there.fp, there.fn) == (back.tp, back.fn, back.fp)
            for x, y in ((there.pq, back.pq), (there.sq, back.sq), (there.rq, back.rq)):
                assert (x is None and y is None) or abs(x - y) < 1e-12  # type: ignore[operator]
    # drift changes sign with the direction: the same cracks, each seen from the other side
    there_drift, back_drift = boundary_drift(forward).per_class, boundary_drift(backward).per_class
    for c, value in there_drift.items():
        other = back_drift[c]
        assert (value is None and other is None) or abs(value + other) < 1e-9  # type: ignore[operator]


@FAST
@given(pair=pairs())
def test_ratios_stay_within_zero_and_one(pair: tuple[LabelledMap, LabelledMap]) -> None:
    counts = _measure(*pair)

    values = [*class_iou(counts).per_class.values(), *boundary_iou(counts).per_class.values()]
    for pq in (panoptic_quality(counts), boundary_panoptic_quality(counts)):
        values += [pq.all.pq, pq.all.sq, pq.all.rq]
        values += [x for v in pq.per_class.values() for x in (v.pq, v.sq, v.rq)]
    ap = mask_ap(counts)
    values += [ap.ap, ap.ap50, ap.ap75, *ap.per_class.values()]
    prf = detection_prf(counts).overall
    values += [prf.precision, prf.recall, prf.f1]
    assert all(0.0 <= v <= 1.0 for v in values if v is not None)
    assert all(v is None or np.isfinite(v) for v in boundary_drift(counts).per_class.values())


def _side_by_side(left: LabelledMap, right: LabelledMap, *, gap: int) -> LabelledMap:
    """Two maps in one image, the right one's ids shifted by 100, ``gap`` void columns between."""
    shifted = right.ids.astype(np.uint16) + np.where(right.ids > 0, 100, 0).astype(np.uint16)
    spacer = np.zeros((left.shape[0], gap), dtype=np.uint16)
    ids = np.concatenate([left.ids.astype(np.uint16), spacer, shifted], axis=1)
    segments = left.segments + tuple(
        Segment(s.id + 100, s.category_id, s.iscrowd, s.score) for s in right.segments
    )
    return LabelledMap(ids=ids, segments=segments)


@FAST
@given(data=st.data())
def test_counts_of_two_images_sum_to_the_counts_of_both_side_by_side(data: st.DataObject) -> None:
    # given two pairs of the same height
    ref_a = data.draw(maps(crowd=False))
    height = ref_a.shape[0]
    ref_b = data.draw(maps(shape=(height, data.draw(st.integers(3, 14))), crowd=False))
    sub_a = data.draw(maps(shape=ref_a.shape, crowd=False))
    sub_b = data.draw(maps(shape=ref_b.shape, crowd=False))
    summed = sum_counts([_measure(ref_a, sub_a), _measure(ref_b, sub_b)])

    # when glued side by side: pixel counts add up exactly
    glued = _measure(_side_by_side(ref_a, ref_b, gap=0), _side_by_side(sub_a, sub_b, gap=0))
    for name in ("tp", "fp", "fn"):
        assert getattr(glued.pixels, name).tolist() == getattr(summed.pixels, name).tolist()

    # and with one void column between them (where a band stops as at the image border),
    # band counts and panoptic statistics add up too
    spaced = _measure(_side_by_side(ref_a, ref_b, gap=1), _side_by_side(sub_a, sub_b, gap=1))
    assert spaced.pixels.boundary_intersection.tolist() == summed.pixels.boundary_intersection.tolist()
    assert spaced.pixels.boundary_union.tolist() == summed.pixels.boundary_union.tolist()
    for name in ("tp", "fp", "fn"):
        assert getattr(spaced.pq, name).tolist() == getattr(summed.pq, name).tolist()
        assert getattr(spaced.boundary_pq, name).tolist() == getattr(summed.boundary_pq, name).tolist()
    assert np.allclose(spaced.pq.iou_sum, summed.pq.iou_sum, rtol=0, atol=1e-12)
