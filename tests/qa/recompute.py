"""An independent oracle for the QA figures, straight from the definitions.

Nothing here uses ``qa.metrics`` or ``qa.reports``: one boolean mask per class and per segment,
explicit loops and brute-force nearest distances, as slow and plain as possible, so the batch
report can be checked against it. Definitions: /work/shared/fixtures/metrics/README.md (class
IoU, boundary IoU, PQ) and the ``qa.metrics.drift`` module docstring (boundary drift). Maps
here have no void and no crowd.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Labelled:
    """A segment-index map and its table (segment id → category id)."""

    ids: np.ndarray
    table: Mapping[int, int]

    def classes(self) -> np.ndarray:
        out = np.zeros(self.ids.shape, np.int64)
        for segment, category in self.table.items():
            out[self.ids == segment] = category
        return out


@dataclass
class Sums:
    """Per-class sums over image pairs: intersections and unions (pixels and bands), drift."""

    inter: dict[int, int] = field(default_factory=dict)
    union: dict[int, int] = field(default_factory=dict)
    band_inter: dict[int, int] = field(default_factory=dict)
    band_union: dict[int, int] = field(default_factory=dict)
    drift_sum: dict[int, float] = field(default_factory=dict)
    drift_cracks: dict[int, int] = field(default_factory=dict)
    tp: dict[int, int] = field(default_factory=dict)
    fp: dict[int, int] = field(default_factory=dict)
    fn: dict[int, int] = field(default_factory=dict)
    iou_sum: dict[int, float] = field(default_factory=dict)

    def class_iou(self, categories: Iterable[int]) -> dict[str, float | None]:
        return {
            str(c): (self.inter.get(c, 0) / self.union[c] if self.union.get(c) else None) for c in categories
        }

    def boundary_iou(self, categories: Iterable[int]) -> dict[str, float | None]:
        return {
            str(c): (self.band_inter.get(c, 0) / self.band_union[c] if self.band_union.get(c) else None)
            for c in categories
        }

    def drift(self, categories: Iterable[int]) -> dict[str, float | None]:
        return {
            str(c): (self.drift_sum[c] / self.drift_cracks[c] if self.drift_cracks.get(c) else None)
            for c in categories
        }

    def pq(self, isthing: Mapping[int, bool]) -> dict[str, dict[str, float | int | None]]:
        """PQ, SQ, RQ of all, things and stuff: means over classes with TP + FP + FN > 0."""
        per: dict[int, tuple[float, float, float]] = {}
        for c in isthing:
            tp, fp, fn = self.tp.get(c, 0), self.fp.get(c, 0), self.fn.get(c, 0)
            if tp + fp + fn == 0:
                continue
            denominator = tp + 0.5 * fp + 0.5 * fn
            sq = self.iou_sum.get(c, 0.0) / tp if tp else 0.0
            rq = tp / denominator
            per[c] = (sq * rq, sq, rq)

        def group(keep: Sequence[int]) -> dict[str, float | int | None]:
            if not keep:
                return {"pq": None, "sq": None, "rq": None, "n": 0}
            return {
                "pq": sum(per[c][0] for c in keep) / len(keep),
                "sq": sum(per[c][1] for c in keep) / len(keep),
                "rq": sum(per[c][2] for c in keep) / len(keep),
                "n": len(keep),
            }

        return {
            "all": group(sorted(per)),
            "things": group([c for c in sorted(per) if isthing[c]]),
            "stuff": group([c for c in sorted(per) if not isthing[c]]),
        }


def band_width(height: int, width: int, ratio: float) -> int:
    """d = max(1, round(r · diagonal)), Python's round being half to even, as specified."""
    return max(1, round(ratio * math.sqrt(height**2 + width**2)))


def band(mask: np.ndarray, d: int) -> np.ndarray:
    """The mask minus its d-fold 3×3 erosion, outside the image counting as background."""
    eroded = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), iterations=d, border_value=0)
    return mask & ~eroded


def cracks(region: np.ndarray) -> list[tuple[float, float, tuple[int, int], tuple[int, int]]]:
    """Every unit edge between two 4-adjacent pixels exactly one of which is in ``region``:
    (midpoint row, midpoint col, first pixel, second pixel)."""
    found: list[tuple[float, float, tuple[int, int], tuple[int, int]]] = []
    rows, cols = region.shape
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols and region[r, c] != region[r, c + 1]:
                found.append((float(r), c + 0.5, (r, c), (r, c + 1)))
            if r + 1 < rows and region[r, c] != region[r + 1, c]:
                found.append((r + 0.5, float(c), (r, c), (r + 1, c)))
    return found


def drift_sums(reference: np.ndarray, submission: np.ndarray) -> tuple[float, int]:
    """Σ signed nearest distances and the number of cracks (module docstring of qa.metrics.drift):
    submission cracks + when both pixels lie outside the reference region, − when both inside;
    reference cracks + when both pixels lie inside the submission region, − when both outside."""
    ref, sub = cracks(reference), cracks(submission)
    if not ref or not sub:
        return 0.0, 0
    ref_points = np.array([(r, c) for r, c, _, _ in ref])
    sub_points = np.array([(r, c) for r, c, _, _ in sub])
    total = 0.0
    for (_, _, p, q), point in zip(sub, sub_points, strict=True):
        inside = (reference[p], reference[q])
        sign = 1.0 if not any(inside) else (-1.0 if all(inside) else 0.0)
        total += sign * float(np.min(np.hypot(*(ref_points - point).T)))
    for (_, _, p, q), point in zip(ref, ref_points, strict=True):
        inside = (submission[p], submission[q])
        sign = 1.0 if all(inside) else (-1.0 if not any(inside) else 0.0)
        total += sign * float(np.min(np.hypot(*(sub_points - point).T)))
    return total, len(ref) + len(sub)


def add_pair(
    sums: Sums, reference: Labelled, submission: Labelled, *, categories: Sequence[int], ratio: float = 0.02
) -> None:
    """Add one (reference, submission) image pair to ``sums``."""
    ref_classes, sub_classes = reference.classes(), submission.classes()
    height, width = ref_classes.shape
    d = band_width(height, width, ratio)
    for c in categories:
        g, p = ref_classes == c, sub_classes == c
        if g.any() or p.any():
            sums.inter[c] = sums.inter.get(c, 0) + int(np.sum(g & p))
            sums.union[c] = sums.union.get(c, 0) + int(np.sum(g | p))
        bg, bp = band(g, d), band(p, d)
        if bg.any() or bp.any():
            sums.band_inter[c] = sums.band_inter.get(c, 0) + int(np.sum(bg & bp))
            sums.band_union[c] = sums.band_union.get(c, 0) + int(np.sum(bg | bp))
        total, n = drift_sums(g, p)
        if n:
            sums.drift_sum[c] = sums.drift_sum.get(c, 0.0) + total
            sums.drift_cracks[c] = sums.drift_cracks.get(c, 0) + n
    # Panoptic matching, one mask per segment: same category, IoU > 0.5.
    matched_pred: set[int] = set()
    for g_id, g_cat in reference.table.items():
        g = reference.ids == g_id
        if not g.any():
            continue
        best = None
        for p_id, p_cat in submission.table.items():
            if p_cat != g_cat:
                continue
            p = submission.ids == p_id
            inter = int(np.sum(g & p))
            iou = inter / (int(g.sum()) + int(p.sum()) - inter) if inter else 0.0
            if iou > 0.5:
                best = (p_id, iou)
        if best is None:
            sums.fn[g_cat] = sums.fn.get(g_cat, 0) + 1
        else:
            matched_pred.add(best[0])
            sums.tp[g_cat] = sums.tp.get(g_cat, 0) + 1
            sums.iou_sum[g_cat] = sums.iou_sum.get(g_cat, 0.0) + best[1]
    for p_id, p_cat in submission.table.items():
        if p_id not in matched_pred and (submission.ids == p_id).any():
            sums.fp[p_cat] = sums.fp.get(p_cat, 0) + 1
