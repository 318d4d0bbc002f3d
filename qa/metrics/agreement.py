"""Agreement among K annotators of one image, in the terms of the quality metrics.

Every ordered pair (i, j), i ≠ j, is measured with annotator i as reference and j as
submission — both directions, because the definitions are asymmetric as soon as a map has
void or crowd (FP excludes reference void, crowd absorbs predictions, P and R swap, drift
changes sign). Without void and crowd, class IoU, boundary IoU, PQ, SQ, RQ and F1 are
symmetric and both directions give the same value.

The summary values are means over the K(K-1) ordered pairs of the defined (non-``None``)
values. Drift is summarised as the mean of |drift|, since a pair's two directions cancel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qa.metrics.bands import prepare_map
from qa.metrics.counts import PairCounts, measure_pair
from qa.metrics.instances import DetectionPRF, detection_prf
from qa.metrics.maps import CategoryInfo, LabelledMap, MetricsInputError
from qa.metrics.scores import (
    ClassScores,
    PQResult,
    boundary_drift,
    boundary_iou,
    boundary_panoptic_quality,
    class_iou,
    panoptic_quality,
)


@dataclass(frozen=True, eq=False)
class PairAgreement:
    """Annotator ``reference`` against annotator ``submission`` (indices into the maps)."""

    reference: int
    submission: int
    counts: PairCounts
    class_iou: ClassScores
    boundary_iou: ClassScores
    pq: PQResult
    boundary_pq: PQResult
    detection: DetectionPRF
    drift: ClassScores | None


@dataclass(frozen=True, eq=False)
class AgreementResult:
    """Per ordered pair results and their means (module docstring)."""

    pairs: tuple[PairAgreement, ...]
    class_iou: Mapping[int, float | None]
    miou: float | None
    boundary_iou: Mapping[int, float | None]
    mean_boundary_iou: float | None
    pq: float | None
    boundary_pq: float | None
    f1: float | None
    abs_drift: Mapping[int, float | None] | None


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def agreement(
    maps: Sequence[LabelledMap],
    *,
    categories: Sequence[CategoryInfo],
    boundary_ratio: float = 0.02,
    iou_threshold: float = 0.5,
    drift: bool = True,
) -> AgreementResult:
    """Measure all K(K-1) ordered pairs of ``maps`` (K ≥ 2, same shape).

    Each map is prepared (bands and run structure) once and reused in all its pairs.
    ``iou_threshold`` is the IoU at which instances count as agreeing for F1. ``drift=False``
    skips boundary drift (its nearest-crack searches dominate the cost on large images).
    """
    if len(maps) < 2:
        raise MetricsInputError("agreement needs at least two annotations")
    prepared = [prepare_map(m, boundary_ratio=boundary_ratio) for m in maps]
    pairs = []
    for i, reference in enumerate(prepared):
        for j, submission in enumerate(prepared):
            if i == j:
                continue
            counts = measure_pair(
                reference, submission, categories=categories, boundary_ratio=boundary_ratio, drift=drift
            )
            pairs.append(
                PairAgreement(
                    reference=i,
                    submission=j,
                    counts=counts,
                    class_iou=class_iou(counts),
                    boundary_iou=boundary_iou(counts),
                    pq=panoptic_quality(counts),
                    boundary_pq=boundary_panoptic_quality(counts),
                    detection=detection_prf(counts, iou_threshold=iou_threshold),
                    drift=boundary_drift(counts) if drift else None,
                )
            )
    ids = [c.id for c in categories]

    def abs_or_none(value: float | None) -> float | None:
        return None if value is None else abs(value)

    return AgreementResult(
        pairs=tuple(pairs),
        class_iou={c: _mean([p.class_iou.per_class[c] for p in pairs]) for c in ids},
        miou=_mean([p.class_iou.mean for p in pairs]),
        boundary_iou={c: _mean([p.boundary_iou.per_class[c] for p in pairs]) for c in ids},
        mean_boundary_iou=_mean([p.boundary_iou.mean for p in pairs]),
        pq=_mean([p.pq.all.pq for p in pairs]),
        boundary_pq=_mean([p.boundary_pq.all.pq for p in pairs]),
        f1=_mean([p.detection.overall.f1 for p in pairs]),
        abs_drift={c: _mean([abs_or_none(p.drift.per_class[c]) for p in pairs if p.drift]) for c in ids}
        if drift
        else None,
    )
