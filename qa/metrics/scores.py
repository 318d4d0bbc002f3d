"""Ratios from (summed) counts: class IoU, boundary IoU, panoptic quality, boundary PQ.

Every function takes a :class:`~qa.metrics.counts.PairCounts` — one image or the sum of
many — and divides last: dataset figures are ratios of sums, never means of per-image ratios.
Undefined values are ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qa.metrics.counts import PairCounts, SegmentCounts
from qa.metrics.maps import MetricsInputError


@dataclass(frozen=True)
class ClassScores:
    """A score per category id and the mean of the defined ones (``None`` if none is)."""

    per_class: Mapping[int, float | None]
    mean: float | None


def _ratio_scores(
    counts: PairCounts, numerator: NDArray[np.int64], denominator: NDArray[np.int64]
) -> ClassScores:
    per_class: dict[int, float | None] = {}
    for category, num, den in zip(counts.categories, numerator.tolist(), denominator.tolist(), strict=True):
        per_class[category.id] = num / den if den > 0 else None
    defined = [v for v in per_class.values() if v is not None]
    return ClassScores(per_class=per_class, mean=sum(defined) / len(defined) if defined else None)


def class_iou(counts: PairCounts) -> ClassScores:
    """IoU_c = TP_c / (TP_c + FP_c + FN_c) (see :class:`~qa.metrics.counts.PixelCounts`).

    ``None`` when TP + FP + FN = 0 (the category is in neither map outside void); ``mean``
    is mIoU over the defined categories.
    """
    p = counts.pixels
    return _ratio_scores(counts, p.tp, p.tp + p.fp + p.fn)


def boundary_iou(counts: PairCounts) -> ClassScores:
    """BIoU_c = Σ|B(G_c) ∩ B(P_c)| / Σ(|B(G_c)| + |B(P_c) - V| - |B(G_c) ∩ B(P_c)|) (Cheng et al. 2021).

    ``None`` when the union is empty; ``mean`` averages the defined categories.
    """
    p = counts.pixels
    return _ratio_scores(counts, p.boundary_intersection, p.boundary_union)


@dataclass(frozen=True)
class PQGroup:
    """Averages over the categories of a group with TP + FP + FN > 0 (``n`` of them)."""

    pq: float | None
    sq: float | None
    rq: float | None
    n: int


@dataclass(frozen=True)
class PQClass:
    """PQ = Σ IoU / (TP + FP/2 + FN/2), SQ = Σ IoU / TP (0.0 when TP = 0), RQ = PQ / SQ."""

    pq: float | None
    sq: float | None
    rq: float | None
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class PQResult:
    all: PQGroup
    things: PQGroup
    stuff: PQGroup
    per_class: Mapping[int, PQClass]


def _pq(counts: PairCounts, stats: SegmentCounts) -> PQResult:
    per_class: dict[int, PQClass] = {}
    for i, category in enumerate(counts.categories):
        tp, fp, fn = int(stats.tp[i]), int(stats.fp[i]), int(stats.fn[i])
        iou = float(stats.iou_sum[i])
        if tp + fp + fn == 0:
            per_class[category.id] = PQClass(pq=None, sq=None, rq=None, tp=0, fp=0, fn=0)
            continue
        # Same expressions as panopticapi's pq_average, so results agree to the last bits.
        denominator = tp + 0.5 * fp + 0.5 * fn
        per_class[category.id] = PQClass(
            pq=iou / denominator,
            sq=iou / tp if tp != 0 else 0.0,
            rq=tp / denominator,
            tp=tp,
            fp=fp,
            fn=fn,
        )

    def group(isthing: bool | None) -> PQGroup:
        members = [
            per_class[c.id]
            for c in counts.categories
            if (isthing is None or c.isthing == isthing) and per_class[c.id].pq is not None
        ]
        n = len(members)
        if n == 0:
            return PQGroup(pq=None, sq=None, rq=None, n=0)
        return PQGroup(
            pq=sum(m.pq for m in members if m.pq is not None) / n,
            sq=sum(m.sq for m in members if m.sq is not None) / n,
            rq=sum(m.rq for m in members if m.rq is not None) / n,
            n=n,
        )

    return PQResult(all=group(None), things=group(True), stuff=group(False), per_class=per_class)


def panoptic_quality(counts: PairCounts) -> PQResult:
    """Panoptic quality (Kirillov et al. 2019) with panopticapi's matching rules.

    A reference segment g and a submission segment p match when they share the category, g is
    not crowd and IoU = |g∩p| / (|g| + |p| - |g∩p| - |p∩V|) > 0.5. Unmatched non-crowd g are
    FN; an unmatched p is FP unless (|p∩V| + |p∩K|) / |p| > 0.5, K = the last crowd segment of
    p's category in the reference table. Categories with TP + FP + FN = 0 are ``None`` and left
    out of the group averages (``all``, ``things``, ``stuff``).
    """
    return _pq(counts, counts.pq)


def boundary_panoptic_quality(counts: PairCounts) -> PQResult:
    """PQ with pair IoU = min(mask IoU, boundary IoU) in matching and in SQ.

    Boundary IoU of a pair: |B(g)∩B(p)| / (|B(g)| + |B(p)| - |B(g)∩B(p)| - |B(p)∩V|) with
    segment bands; the FP rule is the mask one (boundary-iou-api).
    """
    return _pq(counts, counts.boundary_pq)


def boundary_drift(counts: PairCounts) -> ClassScores:
    """Mean signed boundary drift per category in px: Σ δ / number of cracks.

    δ as defined in :mod:`qa.metrics.drift` (+ = submission inflated, - = shrunk); ``None``
    where no crack could be measured; ``mean`` averages the defined categories. Requires counts
    measured with ``drift=True``.
    """
    if counts.drift is None:
        raise MetricsInputError("these counts were measured without drift=True")
    return _ratio_drift(counts, counts.drift.distance_sum, counts.drift.cracks)


def _ratio_drift(counts: PairCounts, sums: NDArray[np.float64], cracks: NDArray[np.int64]) -> ClassScores:
    per_class: dict[int, float | None] = {}
    for category, total, n in zip(counts.categories, sums.tolist(), cracks.tolist(), strict=True):
        per_class[category.id] = total / n if n > 0 else None
    defined = [v for v in per_class.values() if v is not None]
    return ClassScores(per_class=per_class, mean=sum(defined) / len(defined) if defined else None)
