"""Instance metrics from stored matching material: COCO mask AP, and P/R/F1 for unscored work.

Both use pycocotools' greedy matching (``COCOeval.evaluateImg``), per image and category:
detections by descending score (ties: segment-table order), each takes the gt with the
highest IoU ≥ t among those still free, preferring non-crowd gt; a detection matched to a
crowd gt is ignored (neither TP nor FP) and crowd gt can absorb many detections. IoU with a
crowd gt is |d∩g| / |d|. Equal IoUs go to the later gt in table order, as in pycocotools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qa.metrics.counts import InstanceCounts, PairCounts, sum_counts

#: COCO IoU thresholds: numpy.linspace(0.5, 0.95, 10) (its 0.85 is the double 0.85).
IOU_THRESHOLDS: NDArray[np.float64] = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
#: COCO recall points for the 101-point interpolated precision.
RECALL_THRESHOLDS: NDArray[np.float64] = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
#: Detections kept per image and category, highest scores first (COCO maxDets).
MAX_DETECTIONS = 100


@dataclass(frozen=True, eq=False)
class _Matching:
    """Per kept detection (in ranking order per image/category) and per threshold."""

    det: NDArray[np.int64]  # detection index into InstanceCounts.det_*
    matched: NDArray[np.bool_]  # (thresholds, kept)
    ignored: NDArray[np.bool_]  # (thresholds, kept): matched to a crowd gt


def _pair_ious(inst: InstanceCounts) -> NDArray[np.float64]:
    inter = inst.pair_intersection.astype(np.float64)
    det_area = inst.det_area[inst.pair_det].astype(np.float64)
    gt_area = inst.gt_area[inst.pair_gt].astype(np.float64)
    crowd = inst.gt_crowd[inst.pair_gt]
    # Same doubles as pycocotools' rleIou: i / u with u = |d| + |g| - i, or |d| for crowd gt.
    union = np.where(crowd, det_area, det_area + gt_area - inter)
    return inter / union


def _match(inst: InstanceCounts, thresholds: Sequence[float], max_detections: int | None) -> _Matching:
    n_cat_key = int(max(inst.det_category.max(initial=-1), inst.gt_category.max(initial=-1))) + 1
    det_group = inst.det_image * n_cat_key + inst.det_category
    gt_group = inst.gt_image * n_cat_key + inst.gt_category
    # Rank detections per group: score descending, then table order (index order).
    det_order = np.lexsort((np.arange(det_group.size), -inst.det_score, det_group))
    # gt order per group: non-crowd first, then crowd, each in table order.
    gt_order = np.lexsort((np.arange(gt_group.size), inst.gt_crowd, gt_group))
    gt_rank = np.empty(gt_group.size, dtype=np.int64)
    gt_rank[gt_order] = np.arange(gt_group.size)
    kept: list[int] = []
    previous = None
    taken = 0
    for d in det_order.tolist():
        group = int(det_group[d])
        taken = taken + 1 if group == previous else 1
        previous = group
        if max_detections is None or taken <= max_detections:
            kept.append(d)
    # Candidates per detection: gts whose IoU can pass the lowest threshold, in gt order.
    ious = _pair_ious(inst)
    lowest = min(min(thresholds), 1 - 1e-10)
    usable = ious >= lowest
    candidates: dict[int, list[tuple[int, int, float, bool]]] = {}
    for d, g, iou in zip(
        inst.pair_det[usable].tolist(), inst.pair_gt[usable].tolist(), ious[usable].tolist(), strict=True
    ):
        candidates.setdefault(d, []).append((int(gt_rank[g]), g, iou, bool(inst.gt_crowd[g])))
    for options in candidates.values():
        options.sort()
    matched = np.zeros((len(thresholds), len(kept)), dtype=np.bool_)
    ignored = np.zeros((len(thresholds), len(kept)), dtype=np.bool_)
    for t_index, t in enumerate(thresholds):
        threshold = min(t, 1 - 1e-10)
        taken_gt: set[int] = set()
        for k, d in enumerate(kept):
            best = threshold
            match = -1
            match_crowd = False
            for _, g, iou, crowd in candidates.get(d, ()):
                if not crowd and g in taken_gt:
                    continue
                if match > -1 and not match_crowd and crowd:
                    break
                if iou < best:
                    continue
                best = iou
                match = g
                match_crowd = crowd
            if match == -1:
                continue
            matched[t_index, k] = True
            ignored[t_index, k] = match_crowd
            if not match_crowd:
                taken_gt.add(match)
    return _Matching(det=np.asarray(kept, dtype=np.int64), matched=matched, ignored=ignored)


@dataclass(frozen=True)
class MaskAP:
    """COCO mask AP: ``ap`` over IoU 0.50:0.05:0.95, ``ap50``, ``ap75``; per thing category.

    ``per_class`` is ``None`` for a thing category without non-crowd gt; the averages skip
    those and are ``None`` when no category qualifies.
    """

    ap: float | None
    ap50: float | None
    ap75: float | None
    per_class: Mapping[int, float | None]


def _as_counts(counts: PairCounts | Sequence[PairCounts]) -> PairCounts:
    return counts if isinstance(counts, PairCounts) else sum_counts(counts)


def mask_ap(counts: PairCounts | Sequence[PairCounts]) -> MaskAP:
    """COCO ``segm`` AP (pycocotools 2.0.11 semantics, area range "all", maxDets 100).

    Pass summed counts (or the per-image list, summed here in the given order: equal scores
    rank by that image order, so give images by ascending image id to match pycocotools).
    Per category: detections of all images ranked by score (stable), cumulative TP/FP per
    threshold, precision made monotone from the right, read at the 101 recall points
    (0 beyond the highest recall reached); AP = mean over thresholds and recall points.
    """
    summed = _as_counts(counts)
    inst = summed.instances
    matching = _match(inst, IOU_THRESHOLDS.tolist(), MAX_DETECTIONS)
    per_class: dict[int, float | None] = {}
    curves: list[NDArray[np.float64]] = []
    kept_category = inst.det_category[matching.det]
    kept_image = inst.det_image[matching.det]
    kept_score = inst.det_score[matching.det]
    for position, category in enumerate(summed.categories):
        if not category.isthing:
            continue
        n_gt = int(np.count_nonzero((inst.gt_category == position) & ~inst.gt_crowd))
        if n_gt == 0:
            per_class[category.id] = None
            continue
        mine = np.flatnonzero(kept_category == position)
        # Images in order, each already ranked; a stable sort by score keeps that order on ties.
        mine = mine[np.lexsort((mine, kept_image[mine]))]
        mine = mine[np.argsort(-kept_score[mine], kind="stable")]
        precision = np.zeros((IOU_THRESHOLDS.size, RECALL_THRESHOLDS.size), dtype=np.float64)
        if mine.size:
            ignored = matching.ignored[:, mine]
            matched = matching.matched[:, mine]
            tp = np.cumsum(matched & ~ignored, axis=1)
            seen = tp + np.cumsum(~matched & ~ignored, axis=1)
            recall = tp / n_gt
            # Ranks where only ignored detections came yet have no precision; pycocotools
            # reads 0 there (its tp / (tp + fp + eps)), and so do we.
            prec = np.zeros(tp.shape, dtype=np.float64)
            np.divide(tp, seen, out=prec, where=seen > 0)
            # Interpolated precision: the best precision at this rank or any later one.
            prec = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
            for t in range(IOU_THRESHOLDS.size):
                at = np.searchsorted(recall[t], RECALL_THRESHOLDS, side="left")
                reached = at < mine.size
                precision[t, reached] = prec[t, at[reached]]
        curves.append(precision)
        per_class[category.id] = float(np.mean(precision))
    if not curves:
        return MaskAP(ap=None, ap50=None, ap75=None, per_class=per_class)
    stacked = np.stack(curves)
    t50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
    t75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])
    return MaskAP(
        ap=float(np.mean(stacked)),
        ap50=float(np.mean(stacked[:, t50])),
        ap75=float(np.mean(stacked[:, t75])),
        per_class=per_class,
    )


@dataclass(frozen=True)
class PRF:
    """Detection counts and ratios: P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN)."""

    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> PRF:
        return cls(
            tp=tp,
            fp=fp,
            fn=fn,
            precision=tp / (tp + fp) if tp + fp > 0 else None,
            recall=tp / (tp + fn) if tp + fn > 0 else None,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None,
        )


@dataclass(frozen=True)
class DetectionPRF:
    """P/R/F1 at one IoU threshold: pooled over thing categories (``overall``) and per category."""

    iou_threshold: float
    overall: PRF
    per_class: Mapping[int, PRF]


def detection_prf(counts: PairCounts | Sequence[PairCounts], *, iou_threshold: float = 0.5) -> DetectionPRF:
    """Precision / recall / F1 of instances for unscored work, at IoU ≥ ``iou_threshold``.

    Same greedy matching as mask AP but with every detection (no maxDets cut). TP = detections
    matched to a non-crowd gt, FP = unmatched detections (those on crowd gt are ignored),
    FN = non-crowd gt left unmatched.
    """
    summed = _as_counts(counts)
    inst = summed.instances
    matching = _match(inst, [iou_threshold], None)
    good = matching.matched[0] & ~matching.ignored[0]
    bad = ~matching.matched[0]
    kept_category = inst.det_category[matching.det]
    per_class: dict[int, PRF] = {}
    totals = [0, 0, 0]
    for position, category in enumerate(summed.categories):
        if not category.isthing:
            continue
        mine = kept_category == position
        tp = int(np.count_nonzero(good & mine))
        fp = int(np.count_nonzero(bad & mine))
        n_gt = int(np.count_nonzero((inst.gt_category == position) & ~inst.gt_crowd))
        per_class[category.id] = PRF.of(tp, fp, n_gt - tp)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + n_gt - tp]
    return DetectionPRF(iou_threshold=iou_threshold, overall=PRF.of(*totals), per_class=per_class)
