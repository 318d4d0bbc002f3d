"""PairCounts: storage round trips, sums, id independence, degenerate maps, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from qa.metrics import (
    LabelledMap,
    MetricsInputError,
    PairCounts,
    Segment,
    boundary_iou,
    boundary_panoptic_quality,
    class_iou,
    detection_prf,
    mask_ap,
    measure_pair,
    panoptic_quality,
    prepare_map,
    sum_counts,
)

from .support import categories, labelled

TAXONOMY = categories(stuff=(1, 2), things=(3, 4))

REF_IDS = np.array(
    [
        [1, 1, 1, 1, 2, 2, 2, 2],
        [1, 5, 5, 1, 2, 6, 6, 2],
        [1, 5, 5, 1, 2, 6, 6, 0],
        [1, 1, 1, 1, 2, 2, 0, 0],
    ]
)
SUB_IDS = np.array(
    [
        [1, 1, 1, 1, 2, 2, 2, 2],
        [1, 5, 5, 5, 2, 6, 6, 2],
        [1, 5, 5, 1, 2, 2, 6, 6],
        [1, 1, 1, 1, 2, 2, 2, 0],
    ]
)
REF_SEGMENTS = (Segment(1, 1), Segment(2, 2), Segment(5, 3), Segment(6, 4, iscrowd=True))
SUB_SEGMENTS = (Segment(1, 1), Segment(2, 2), Segment(5, 3, score=0.8), Segment(6, 4, score=0.6))


def _pair(ref_ids: np.ndarray = REF_IDS, sub_ids: np.ndarray = SUB_IDS) -> tuple[LabelledMap, LabelledMap]:
    return (
        LabelledMap(ids=np.ascontiguousarray(ref_ids, dtype=np.uint16), segments=REF_SEGMENTS),
        LabelledMap(ids=np.ascontiguousarray(sub_ids, dtype=np.uint16), segments=SUB_SEGMENTS),
    )


def test_counts_round_trip_through_json() -> None:
    counts = measure_pair(*_pair(), categories=TAXONOMY, boundary_width=1, drift=True)

    stored = json.loads(json.dumps(counts.to_json()))
    restored = PairCounts.from_json(stored)

    assert restored.to_json() == counts.to_json()
    assert class_iou(restored) == class_iou(counts)
    assert mask_ap(restored) == mask_ap(counts)


def test_malformed_stored_counts_are_rejected() -> None:
    data = measure_pair(*_pair(), categories=TAXONOMY, boundary_width=1).to_json()
    data["pixels"]["tp"] = data["pixels"]["tp"][:-1]

    with pytest.raises(MetricsInputError, match="malformed"):
        PairCounts.from_json(data)


def test_relabelling_segment_ids_changes_nothing() -> None:
    # given the same pair with dense small ids, sparse 16-bit ids and 24-bit ids
    def relabel(ids: np.ndarray, mapping: dict[int, int], dtype: Any) -> np.ndarray:
        out = np.zeros(ids.shape, dtype=dtype)
        for old, new in mapping.items():
            out[ids == old] = new
        return out

    results = []
    for mapping, dtype in [
        ({1: 1, 2: 2, 5: 5, 6: 6}, np.uint8),
        ({1: 40000, 2: 17, 5: 65535, 6: 999}, np.uint16),
        ({1: 0xFFFFFF, 2: 1 << 21, 5: 70000, 6: 3}, np.uint32),
    ]:
        reference = LabelledMap(
            ids=relabel(REF_IDS, mapping, dtype),
            segments=tuple(replace(s, id=mapping[s.id]) for s in REF_SEGMENTS),
        )
        submission = LabelledMap(
            ids=relabel(SUB_IDS, mapping, dtype),
            segments=tuple(replace(s, id=mapping[s.id]) for s in SUB_SEGMENTS),
        )
        results.append(
            measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1, drift=True).to_json()
        )

    # then the counts are identical
    assert results[0] == results[1] == results[2]


def test_a_prepared_reference_gives_the_same_counts() -> None:
    reference, submission = _pair()
    prepared = prepare_map(reference, boundary_width=2)

    direct = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=2, drift=True)
    cached = measure_pair(prepared, submission, categories=TAXONOMY, boundary_width=2, drift=True)

    assert cached.to_json() == direct.to_json()


def test_a_prepared_map_must_have_the_measurement_band_width() -> None:
    reference, submission = _pair()

    with pytest.raises(MetricsInputError, match="band width"):
        measure_pair(
            prepare_map(reference, boundary_width=2), submission, categories=TAXONOMY, boundary_width=1
        )


def test_sums_add_counts_and_keep_instances_per_image() -> None:
    one = measure_pair(*_pair(), categories=TAXONOMY, boundary_width=1)
    two = measure_pair(*_pair(REF_IDS[:, ::-1], SUB_IDS[:, ::-1]), categories=TAXONOMY, boundary_width=1)

    total = sum_counts([one, two])

    assert total.images == 2
    assert total.pixels.tp.tolist() == (one.pixels.tp + two.pixels.tp).tolist()
    assert total.pq.iou_sum.tolist() == (one.pq.iou_sum + two.pq.iou_sum).tolist()
    assert (
        total.instances.gt_image.tolist()
        == [0] * one.instances.gt_area.size + [1] * two.instances.gt_area.size
    )
    assert total.boundary_width == 1
    assert total.drift is None


def test_sums_refuse_counts_that_do_not_belong_together() -> None:
    a = measure_pair(*_pair(), categories=TAXONOMY, boundary_ratio=0.02)
    b = measure_pair(*_pair(), categories=TAXONOMY, boundary_ratio=0.005)
    c = measure_pair(*_pair(), categories=categories(stuff=(1, 2), things=(3, 4, 9)), boundary_ratio=0.02)

    with pytest.raises(MetricsInputError, match="ratios"):
        sum_counts([a, b])
    with pytest.raises(MetricsInputError, match="taxonomies"):
        sum_counts([a, c])
    with pytest.raises(MetricsInputError, match="nothing"):
        sum_counts([])
    older = a.to_json() | {"engine_version": "0.9.0"}
    with pytest.raises(MetricsInputError, match="engine versions"):
        sum_counts([a, PairCounts.from_json(older)])


# ----------------------------------------------------------------------------- degenerate maps


def test_empty_prediction_scores_zero_where_there_is_something_to_find() -> None:
    reference, _ = _pair()
    empty = labelled(np.zeros_like(REF_IDS), [])

    counts = measure_pair(reference, empty, categories=TAXONOMY, boundary_width=1)

    assert class_iou(counts).per_class == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    assert boundary_iou(counts).mean == 0.0
    pq = panoptic_quality(counts)
    assert (pq.all.pq, pq.all.n) == (0.0, 3)  # the crowd segment of class 4 is no miss
    assert pq.per_class[4].pq is None
    assert mask_ap(counts).per_class == {3: 0.0, 4: None}
    assert detection_prf(counts).overall.recall == 0.0
    assert detection_prf(counts).overall.precision is None


def test_all_void_reference_leaves_everything_undefined() -> None:
    _, submission = _pair()
    void = labelled(np.zeros_like(SUB_IDS), [])

    counts = measure_pair(void, submission, categories=TAXONOMY, boundary_width=1)

    assert class_iou(counts).mean is None
    assert boundary_iou(counts).mean is None
    pq = panoptic_quality(counts)
    assert (pq.all.pq, pq.all.sq, pq.all.rq, pq.all.n) == (None, None, None, 0)  # all preds on void
    assert mask_ap(counts).ap is None


def test_no_things_and_no_stuff() -> None:
    stuff_only = labelled([[1, 1, 2, 2]], {1: 1, 2: 2})
    things_only = labelled([[5, 5, 6, 6]], [(5, 3), (6, 4)])

    stuff = measure_pair(stuff_only, stuff_only, categories=TAXONOMY, boundary_width=1)
    things = measure_pair(things_only, things_only, categories=TAXONOMY, boundary_width=1)

    assert panoptic_quality(stuff).things.n == 0
    assert panoptic_quality(stuff).stuff.pq == 1.0
    assert mask_ap(stuff).ap is None
    assert panoptic_quality(things).stuff.n == 0
    assert boundary_panoptic_quality(things).things.pq == 1.0
    assert mask_ap(things).ap == 1.0


def test_reference_segment_without_pixels_is_a_miss_and_empty_predictions_are_ignored() -> None:
    reference = labelled([[1, 1, 1, 1]], [(1, 1), (9, 3)])
    submission = labelled([[1, 1, 1, 1]], [(1, 1), (8, 3)])

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    assert (int(counts.pq.tp[2]), int(counts.pq.fp[2]), int(counts.pq.fn[2])) == (0, 0, 1)
    assert counts.instances.det_area.size == 0


# ----------------------------------------------------------------------------- bad input


def test_ids_without_a_table_row_are_rejected() -> None:
    reference, _ = _pair()
    submission = LabelledMap(ids=SUB_IDS.astype(np.uint16), segments=SUB_SEGMENTS[:2])

    with pytest.raises(
        MetricsInputError, match="submission map holds segment ids without a segment-table row: 5, 6"
    ):
        measure_pair(reference, submission, categories=TAXONOMY)


@pytest.mark.parametrize("stray", [7, 1 << 22, 0xFFFFFF])
@pytest.mark.parametrize("largest_known", [6, 1 << 21])
def test_stray_ids_are_rejected_whatever_their_size(stray: int, largest_known: int) -> None:
    # small tables use a lookup table, 24-bit ids a binary search; both must notice strays
    ids = np.array([[1, largest_known], [stray, 1]], dtype=np.uint32)
    label_map = LabelledMap(ids=ids, segments=(Segment(1, 1), Segment(largest_known, 2)))

    with pytest.raises(MetricsInputError, match=f"without a segment-table row: {stray}"):
        measure_pair(label_map, label_map, categories=TAXONOMY)


def test_categories_outside_the_taxonomy_are_rejected() -> None:
    reference, _ = _pair()
    submission = labelled(SUB_IDS, [(1, 1), (2, 2), (5, 3), (6, 42)])

    with pytest.raises(MetricsInputError, match="category 42"):
        measure_pair(reference, submission, categories=TAXONOMY)


def test_maps_of_different_shapes_are_rejected() -> None:
    reference, submission = _pair(REF_IDS, SUB_IDS[:, :-1])

    with pytest.raises(MetricsInputError, match="shapes differ"):
        measure_pair(reference, submission, categories=TAXONOMY)


@pytest.mark.parametrize(
    ("ids", "segments", "message"),
    [
        (np.zeros((2, 2), dtype=np.int32), (), "unsigned"),
        (np.zeros((2, 2, 3), dtype=np.uint8), (), "2-D"),
        (np.zeros((0, 3), dtype=np.uint8), (), "needs pixels"),
        (np.zeros((2, 2), dtype=np.uint8), (Segment(1, 1), Segment(1, 2)), "twice"),
        (np.zeros((2, 2), dtype=np.uint8), (Segment(0, 1),), "not positive"),
        (np.zeros((2, 2), dtype=np.uint8), (Segment(1, 1, score=float("nan")),), "non-finite"),
    ],
)
def test_labelled_maps_check_their_preconditions(
    ids: np.ndarray, segments: tuple[Segment, ...], message: str
) -> None:
    with pytest.raises(MetricsInputError, match=message):
        LabelledMap(ids=ids, segments=segments)
