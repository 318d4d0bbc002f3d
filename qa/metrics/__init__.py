"""Tessera's quality engine: pure numpy/scipy, no Django.

Count first, divide last::

    counts = measure_pair(reference, submission, categories=taxonomy)   # one image → PairCounts
    stored = counts.to_json()                                            # per (revision, reference)
    total = sum_counts(PairCounts.from_json(s) for s in stored_rows)     # any batch of images
    class_iou(total).mean, panoptic_quality(total).all.pq, mask_ap(total).ap

Definitions and reference values: ``/work/shared/fixtures/metrics/README.md``.
"""

from qa.metrics.agreement import AgreementResult, PairAgreement, agreement
from qa.metrics.bands import PreparedMap, band_mask, boundary_width, prepare_map
from qa.metrics.counts import (
    ENGINE_VERSION,
    DriftCounts,
    InstanceCounts,
    PairCounts,
    PixelCounts,
    SegmentCounts,
    measure_pair,
    sum_counts,
    with_categories,
)
from qa.metrics.drift import mask_drift
from qa.metrics.instances import PRF, DetectionPRF, MaskAP, detection_prf, mask_ap
from qa.metrics.maps import CategoryInfo, LabelledMap, MetricsInputError, Segment
from qa.metrics.report import ImageCounts, evaluation_report
from qa.metrics.scores import (
    ClassScores,
    PQClass,
    PQGroup,
    PQResult,
    boundary_drift,
    boundary_iou,
    boundary_panoptic_quality,
    class_iou,
    panoptic_quality,
)

__all__ = [
    "ENGINE_VERSION",
    "PRF",
    "AgreementResult",
    "CategoryInfo",
    "ClassScores",
    "DetectionPRF",
    "DriftCounts",
    "ImageCounts",
    "InstanceCounts",
    "LabelledMap",
    "MaskAP",
    "MetricsInputError",
    "PQClass",
    "PQGroup",
    "PQResult",
    "PairAgreement",
    "PairCounts",
    "PixelCounts",
    "PreparedMap",
    "Segment",
    "SegmentCounts",
    "agreement",
    "band_mask",
    "boundary_drift",
    "boundary_iou",
    "boundary_panoptic_quality",
    "boundary_width",
    "class_iou",
    "detection_prf",
    "evaluation_report",
    "mask_ap",
    "mask_drift",
    "measure_pair",
    "panoptic_quality",
    "prepare_map",
    "sum_counts",
    "with_categories",
]
