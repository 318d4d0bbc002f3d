"""The evaluation report: one JSON-compatible dict for a dataset of measured pairs.

Shape (``/work/shared/fixtures/metrics/expected.json``)::

    {"settings": {"boundary_ratio", "engine_version"},
     "dataset": {"class_iou", "miou", "boundary_iou", "mean_boundary_iou", "pq",
                 "pq_per_class", "boundary_pq", "mask_ap", "detection", "boundary_drift"},
     "images": [{"image_id", "class_iou", "miou", "pq"}, ...]}

Category ids are string keys; undefined values are ``None`` (JSON null). ``detection``
(P/R/F1 at IoU 0.5 and 0.75) and ``boundary_drift`` (px, ``None`` when not measured) are
additions beyond the reference report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.metrics.counts import ENGINE_VERSION, PairCounts, sum_counts
from qa.metrics.instances import PRF, DetectionPRF, detection_prf, mask_ap
from qa.metrics.scores import (
    ClassScores,
    PQGroup,
    PQResult,
    boundary_drift,
    boundary_iou,
    boundary_panoptic_quality,
    class_iou,
    panoptic_quality,
)


@dataclass(frozen=True, eq=False)
class ImageCounts:
    """The counts of one image, with the image id the report lists it under."""

    image_id: int
    counts: PairCounts


def _per_class(scores: ClassScores) -> dict[str, float | None]:
    return {str(k): v for k, v in scores.per_class.items()}


def _group(group: PQGroup) -> dict[str, Any]:
    return {"pq": group.pq, "sq": group.sq, "rq": group.rq, "n": group.n}


def _groups(result: PQResult) -> dict[str, Any]:
    return {"all": _group(result.all), "things": _group(result.things), "stuff": _group(result.stuff)}


def _prf(prf: PRF) -> dict[str, Any]:
    return {
        "tp": prf.tp,
        "fp": prf.fp,
        "fn": prf.fn,
        "precision": prf.precision,
        "recall": prf.recall,
        "f1": prf.f1,
    }


def _detection(result: DetectionPRF) -> dict[str, Any]:
    return {
        "overall": _prf(result.overall),
        "per_class": {str(k): _prf(v) for k, v in result.per_class.items()},
    }


def dataset_figures(summed: PairCounts) -> dict[str, Any]:
    """The ``dataset`` block of the report, from counts summed over the images."""
    ious = class_iou(summed)
    bious = boundary_iou(summed)
    pq = panoptic_quality(summed)
    ap = mask_ap(summed)
    return {
        "class_iou": _per_class(ious),
        "miou": ious.mean,
        "boundary_iou": _per_class(bious),
        "mean_boundary_iou": bious.mean,
        "pq": _groups(pq),
        "pq_per_class": {
            str(k): {"pq": v.pq, "sq": v.sq, "rq": v.rq, "tp": v.tp, "fp": v.fp, "fn": v.fn}
            for k, v in pq.per_class.items()
        },
        "boundary_pq": _groups(boundary_panoptic_quality(summed)),
        "mask_ap": {
            "ap": ap.ap,
            "ap50": ap.ap50,
            "ap75": ap.ap75,
            "per_class": {str(k): v for k, v in ap.per_class.items()},
        },
        "detection": {
            "iou_0.5": _detection(detection_prf(summed, iou_threshold=0.5)),
            "iou_0.75": _detection(detection_prf(summed, iou_threshold=0.75)),
        },
        "boundary_drift": None if summed.drift is None else _per_class(boundary_drift(summed)),
    }


def image_figures(image: ImageCounts) -> dict[str, Any]:
    """One entry of the report's ``images`` list."""
    ious = class_iou(image.counts)
    return {
        "image_id": image.image_id,
        "class_iou": _per_class(ious),
        "miou": ious.mean,
        "pq": _groups(panoptic_quality(image.counts)),
    }


def evaluation_report(images: Sequence[ImageCounts], *, boundary_ratio: float) -> dict[str, Any]:
    """The full report; ``images`` keeps its order, dataset sums run by ascending image id.

    Dataset figures are ratios of counts summed over all images (mask AP ranks equal scores by
    ascending image id, as pycocotools does).
    """
    if not images:
        raise ValueError("a report needs at least one image")
    summed = sum_counts(item.counts for item in sorted(images, key=lambda item: item.image_id))
    return {
        "settings": {"boundary_ratio": boundary_ratio, "engine_version": ENGINE_VERSION},
        "dataset": dataset_figures(summed),
        "images": [image_figures(item) for item in images],
    }
