"""Mask AP and detection P/R/F1: hand-checked cases and pycocotools' COCOeval itself."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from qa.metrics import CategoryInfo, LabelledMap, Segment, detection_prf, mask_ap, measure_pair, sum_counts

from .support import categories, labelled

TAXONOMY = categories(stuff=(1,), things=(3, 4))


def _hand_maps(*, with_crowd: bool) -> tuple[LabelledMap, LabelledMap]:
    # 20 x 30 image of stuff (id 1). gt g1 (id 31) rows 0-4 x cols 0-9 and g2 (id 32) rows
    # 10-14 x cols 0-9, 50 px each. d1 (0.9): 39 px inside g1 -> IoU 0.78. d2 (0.8): on stuff
    # -> IoU 0. d3 (0.7): 31 px inside g2 -> IoU 0.62. Optionally a crowd gt (id 39) at rows
    # 0-4 x cols 20-29 with d4 (0.95) inside it (IoU |d∩g|/|d| = 1, so d4 is ignored).
    ref = np.ones((20, 30), dtype=np.uint16)
    sub = np.ones((20, 30), dtype=np.uint16)
    ref[0:5, 0:10] = 31
    ref[10:15, 0:10] = 32
    sub.reshape(-1)[np.flatnonzero((ref == 31).reshape(-1))[:39]] = 41
    sub[17:19, 20:25] = 42
    sub.reshape(-1)[np.flatnonzero((ref == 32).reshape(-1))[:31]] = 43
    ref_table: list[tuple[int, int] | tuple[int, int, bool]] = [(1, 1), (31, 3), (32, 3)]
    sub_table: list[tuple[int, int, bool, float] | tuple[int, int]] = [
        (1, 1),
        (41, 3, False, 0.9),
        (42, 3, False, 0.8),
        (43, 3, False, 0.7),
    ]
    if with_crowd:
        ref[0:5, 20:30] = 39
        ref_table.append((39, 3, True))
        sub[1:3, 22:26] = 44
        sub_table.append((44, 3, False, 0.95))
    return labelled(ref, ref_table), labelled(sub, sub_table)


@pytest.mark.parametrize("with_crowd", [False, True])
def test_mask_ap_by_hand(with_crowd: bool) -> None:
    reference, submission = _hand_maps(with_crowd=with_crowd)

    ap = mask_ap(measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1))

    # Ranking d1, d2, d3 (d4 on crowd is ignored). t = 0.50, 0.55, 0.60: TP, FP, TP ->
    # recall 0.5, 0.5, 1; precision 1, 1/2, 2/3 -> interpolated 1, 2/3, 2/3; recall points
    # 0.00..0.50 (51) read 1 and 0.51..1.00 (50) read 2/3 -> (51 + 100/3) / 101 = 253/303.
    # t = 0.65, 0.70, 0.75: TP, FP, FP -> 51 points at precision 1 -> 51/101.
    # t = 0.80 .. 0.95 (4 thresholds): no TP -> 0.
    assert ap.ap50 == pytest.approx(253 / 303, abs=1e-12)
    assert ap.ap75 == pytest.approx(51 / 101, abs=1e-12)
    assert ap.ap == pytest.approx((3 * 253 / 303 + 3 * 51 / 101) / 10, abs=1e-12)
    assert ap.per_class[3] == pytest.approx(ap.ap, abs=1e-15)
    assert ap.per_class[4] is None  # no gt of category 4
    assert 1 not in ap.per_class  # stuff is not an instance category


def test_detection_prf_by_hand() -> None:
    reference, submission = _hand_maps(with_crowd=True)
    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1)

    at_50 = detection_prf(counts, iou_threshold=0.5)
    at_75 = detection_prf(counts, iou_threshold=0.75)

    # IoU >= 0.5: d1, d3 match, d2 is FP, d4 is on crowd (ignored) -> P 2/3, R 1, F1 4/5.
    assert (at_50.overall.tp, at_50.overall.fp, at_50.overall.fn) == (2, 1, 0)
    assert at_50.overall.precision == pytest.approx(2 / 3, abs=1e-15)
    assert at_50.overall.recall == 1.0
    assert at_50.overall.f1 == pytest.approx(0.8, abs=1e-15)
    # IoU >= 0.75: only d1 (0.78) -> TP 1, FP 2, FN 1 -> P 1/3, R 1/2, F1 2/5.
    assert (at_75.overall.tp, at_75.overall.fp, at_75.overall.fn) == (1, 2, 1)
    assert at_75.overall.f1 == pytest.approx(0.4, abs=1e-15)
    # category 4 has neither gt nor detections: nothing is defined
    assert (at_50.per_class[4].precision, at_50.per_class[4].recall, at_50.per_class[4].f1) == (
        None,
        None,
        None,
    )


def test_mask_ap_keeps_the_100_best_detections_per_image_and_category() -> None:
    # 101 one-pixel gts, each exactly covered by a detection; the one beyond maxDets (the
    # lowest score) cannot be counted, so recall tops at 100/101 and the last point reads 0.
    ref = np.zeros((1, 101), dtype=np.uint16)
    ref[0] = np.arange(1, 102)
    reference = labelled(ref, [(i, 3) for i in range(1, 102)])
    submission = labelled(ref, [(i, 3, False, 1.0 - i / 1000) for i in range(1, 102)])

    ap = mask_ap(measure_pair(reference, submission, categories=TAXONOMY, boundary_width=1))

    assert ap.ap == pytest.approx(100 / 101, abs=1e-12)


# ----------------------------------------------------------------------------- pycocotools


def _random_image(rng: np.random.Generator, height: int, width: int) -> tuple[LabelledMap, LabelledMap]:
    """Stuff background, gt rectangles (some crowd), predictions near them plus spurious ones."""
    ref = np.ones((height, width), dtype=np.uint16)
    sub = np.ones((height, width), dtype=np.uint16)
    ref_rows: list[tuple[int, int, bool]] = [(1, 1, False)]
    sub_rows: list[tuple[int, int, bool, float]] = [(1, 1, False, 1.0)]
    scores = [0.2, 0.5, 0.5, 0.7, 0.9, 0.9]  # repeated scores exercise the tie rules
    # gt rectangles in distinct 8x8 cells (no occlusion), so that predictions can match
    cells = rng.permutation((height // 8) * (width // 8))[: int(rng.integers(1, 10))]
    for k, cell in enumerate(cells.tolist()):
        h, w = int(rng.integers(3, 8)), int(rng.integers(3, 8))
        y = 8 * (cell // (width // 8)) + int(rng.integers(0, 9 - h))
        x = 8 * (cell % (width // 8)) + int(rng.integers(0, 9 - w))
        category = int(rng.choice([3, 4]))
        ref[y : y + h, x : x + w] = 100 + k
        ref_rows.append((100 + k, category, bool(rng.random() < 0.15)))
        # 0-2 predictions per gt: a shifted/resized copy, sometimes of the wrong class
        for j in range(int(rng.choice([0, 1, 1, 1, 2]))):
            dy, dx = rng.integers(-1, 2, size=2)
            dh, dw = rng.integers(-1, 2, size=2)
            y0, x0 = max(0, y + int(dy)), max(0, x + int(dx))
            sub[y0 : y0 + max(1, h + int(dh)), x0 : x0 + max(1, w + int(dw))] = 200 + 10 * k + j
            label = category if rng.random() < 0.85 else 7 - category
            sub_rows.append((200 + 10 * k + j, label, False, float(rng.choice(scores))))
    for j in range(int(rng.integers(0, 3))):
        y, x = int(rng.integers(0, height - 4)), int(rng.integers(0, width - 4))
        sub[y : y + 4, x : x + 4] = 300 + j
        sub_rows.append((300 + j, int(rng.choice([3, 4])), False, float(rng.choice(scores))))

    def table(ids: np.ndarray, rows: list[Any]) -> LabelledMap:
        present = set(np.unique(ids).tolist())
        return labelled(ids, [r for r in rows if r[0] in present])

    return table(ref, ref_rows), table(sub, sub_rows)


def _cocoeval(
    images: list[tuple[int, LabelledMap, LabelledMap]], taxonomy: tuple[CategoryInfo, ...]
) -> COCOeval:
    gts: list[dict[str, Any]] = []
    dts: list[dict[str, Any]] = []
    info = []
    for image_id, reference, submission in images:
        height, width = reference.shape
        info.append({"id": image_id, "height": height, "width": width})
        for segment in reference.segments:
            if segment.category_id not in (3, 4):
                continue
            rle = mask_utils.encode(np.asfortranarray((reference.ids == segment.id).astype(np.uint8)))
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": image_id,
                    "category_id": segment.category_id,
                    "segmentation": rle,
                    "area": float(mask_utils.area(rle)),
                    "bbox": mask_utils.toBbox(rle).tolist(),
                    "iscrowd": int(segment.iscrowd),
                }
            )
        for segment in submission.segments:
            if segment.category_id not in (3, 4):
                continue
            rle = mask_utils.encode(np.asfortranarray((submission.ids == segment.id).astype(np.uint8)))
            dts.append(
                {
                    "image_id": image_id,
                    "category_id": segment.category_id,
                    "segmentation": rle,
                    "score": segment.rank_score,
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": info, "annotations": gts, "categories": [{"id": c.id} for c in taxonomy]}
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dts) if dts else COCO()
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


@pytest.mark.parametrize("seed", range(12))
def test_mask_ap_equals_pycocotools_cocoeval(seed: int) -> None:
    # given random instance sets over 1-4 images (crowd gt, ties, wrong classes, misses)
    rng = np.random.default_rng(seed)
    images = [
        (image_id, *_random_image(rng, 32, 48)) for image_id in sorted(rng.choice(50, 4, replace=False))
    ]
    images = images[: int(rng.integers(1, 5))]
    if not any(s.category_id in (3, 4) for _, _, sub in images for s in sub.segments):
        pytest.skip("no detections drawn")  # COCO's loadRes refuses an empty result list

    # when measured pair by pair and summed in image-id order
    counts = sum_counts(measure_pair(r, s, categories=TAXONOMY, boundary_width=1) for _, r, s in images)
    ours = mask_ap(counts)
    theirs = _cocoeval(images, TAXONOMY)

    # then AP, AP50, AP75 and per-class AP equal COCOeval's (-1 there is None here)
    for value, reference in (
        (ours.ap, theirs.stats[0]),
        (ours.ap50, theirs.stats[1]),
        (ours.ap75, theirs.stats[2]),
    ):
        assert (value is None and reference == -1) or value == pytest.approx(reference, abs=1e-12)
    for k, category in enumerate(theirs.params.catIds):
        if category not in ours.per_class:
            continue
        precision = theirs.eval["precision"][:, :, k, 0, 2]
        expected = float(np.mean(precision)) if (precision > -1).any() else None
        got = ours.per_class[category]
        assert (got is None and expected is None) or got == pytest.approx(expected, abs=1e-12)


def test_unscored_detections_rank_by_table_order() -> None:
    # Two detections of one gt with no score (1.0): the first in the table takes the gt.
    reference = labelled([[5, 5, 5, 5, 1, 1]], {5: 3, 1: 1})
    first_good = LabelledMap(
        ids=np.array([[6, 6, 6, 7, 1, 1]], dtype=np.uint16),
        segments=(Segment(6, 3), Segment(7, 3), Segment(1, 1)),
    )
    first_bad = LabelledMap(ids=first_good.ids, segments=(Segment(7, 3), Segment(6, 3), Segment(1, 1)))

    good = mask_ap(measure_pair(reference, first_good, categories=TAXONOMY, boundary_width=1))
    bad = mask_ap(measure_pair(reference, first_bad, categories=TAXONOMY, boundary_width=1))

    # d6 (IoU 3/4) matches at t <= 0.75; d7 (IoU 1/4) never does. Ranked first, d6 gives
    # precision 1 up to recall 1; ranked second, precision 1/2.
    assert good.ap50 == 1.0
    assert bad.ap50 == pytest.approx(0.5, abs=1e-15)
