"""Boundary drift: how far, and in which direction, a submission's class boundary sits.

Boundaries are made of *cracks*: the unit edges between two 4-adjacent pixels of the image
whose labels differ. A crack belongs to region X when exactly one of its two pixels is in X
(its *inside* pixel); its position is the midpoint between the two pixel centres. The image
border is not a boundary (there is no pixel on the other side).

For a category c with reference region R = R_c and submission region S = S_c:

* for each crack e of S: δ(e) = distance (px) from e to the nearest crack of R, signed
  **+** when both pixels of e lie outside R (the submission reaches beyond the reference),
  **-** when both lie inside R (the submission stops short); a crack shared with R has δ = 0;
* for each crack e of R: δ(e) = distance from e to the nearest crack of S, signed **+**
  when both pixels of e lie inside S, **-** when both lie outside S;
* cracks touching reference void (either pixel) are not averaged — there the reference says
  nothing — but remain valid nearest targets;

    drift_c = Σ δ / (number of averaged cracks of S and of R)      (symmetrised mean)

A submission dilated by k px reads ≈ +k, eroded by k px ≈ -k, and identical regions read
exactly 0. Both boundaries are pixelated, and the nearest of a jagged set of cracks is a
little closer than the smooth curve, so curved boundaries read up to ~0.2 px short of a
geometric offset k; axis-parallel edges read k exactly. The value is undefined (``None``)
when R or S has no crack inside the image (category absent, or covering the whole image), or
when every crack touches void. Stored as the pair (Σ δ, count) per category, which sums over
images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

# First search radius (px) for nearest cracks; farther ones are searched again unbounded.
_NEAR = 8.0

#: category_at(flat pixel indices) → category position per pixel, -1 for void.
CategoryAt = Callable[[NDArray[np.intp]], NDArray[np.int64]]


@dataclass(frozen=True, eq=False)
class DriftSums:
    """Per category position: Σ signed distances (px) and the number of cracks averaged."""

    distance_sum: NDArray[np.float64]
    cracks: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class OrientedCracks:
    """Cracks of every category region of one map, sorted by category.

    Entry k: a crack of category ``category[k]`` whose inside pixel is ``inside[k]`` and other
    pixel ``outside[k]`` (flat indices); ``starts[c] .. starts[c + 1]`` are category c's.
    """

    category: NDArray[np.int64]
    inside: NDArray[np.intp]
    outside: NDArray[np.intp]
    starts: NDArray[np.int64]
    cols: int

    def points(self, lo: int, hi: int) -> NDArray[np.float64]:
        """Midpoints (row, col) of entries lo .. hi - 1."""
        pr, pc = np.divmod(self.inside[lo:hi], self.cols)
        qr, qc = np.divmod(self.outside[lo:hi], self.cols)
        return np.stack([(pr + qr) / 2.0, (pc + qc) / 2.0], axis=1)


def oriented_cracks(
    left: NDArray[np.intp], top: NDArray[np.intp], *, cols: int, category_at: CategoryAt, categories: int
) -> OrientedCracks:
    """Orient category cracks: ``left``/``top`` are the flat indices of the left/top pixel of
    horizontal/vertical pairs whose categories differ; each pair is a crack of the category
    on either side (void, -1, is no region)."""
    first = np.concatenate([left, top]).astype(np.intp)
    second = np.concatenate([left + 1, top + cols]).astype(np.intp)
    inside = np.concatenate([first, second])
    outside = np.concatenate([second, first])
    category = category_at(inside)
    keep = category >= 0
    order = np.argsort(category[keep], kind="stable")
    sorted_category = category[keep][order]
    return OrientedCracks(
        category=sorted_category,
        inside=inside[keep][order],
        outside=outside[keep][order],
        starts=np.searchsorted(sorted_category, np.arange(categories + 1), side="left").astype(np.int64),
        cols=cols,
    )


def _signed_distances(
    queries: NDArray[np.float64], targets: NDArray[np.float64], sign: NDArray[np.float64]
) -> float:
    """Σ sign · distance from each query point to the nearest target (sign 0 needs no search)."""
    needed = sign != 0
    if not np.any(needed):
        return 0.0
    # An unbalanced, non-compacted tree builds twice as fast and queries as fast here.
    tree = cKDTree(targets, balanced_tree=False, compact_nodes=False)
    points = queries[needed]
    # Most cracks lie a few pixels from the other boundary: a bounded search prunes early;
    # the few beyond the bound are searched again without it, so the result is exact.
    distance, _ = tree.query(points, distance_upper_bound=_NEAR)
    far = ~np.isfinite(distance)
    if np.any(far):
        distance[far], _ = tree.query(points[far])
    return float(np.sum(sign[needed] * distance))


def class_drift(
    reference: OrientedCracks,
    submission: OrientedCracks,
    *,
    reference_at: CategoryAt,
    submission_at: CategoryAt,
    categories: int,
) -> DriftSums:
    """Drift sums per category position 0 .. categories - 1 (module docstring)."""
    sums = np.zeros(categories, dtype=np.float64)
    counts = np.zeros(categories, dtype=np.int64)
    # What the other map holds at both pixels of every crack, looked up once for all classes.
    ref_at_sub_inside = reference_at(submission.inside)
    ref_at_sub_outside = reference_at(submission.outside)
    sub_at_ref_inside = submission_at(reference.inside)
    sub_at_ref_outside = submission_at(reference.outside)
    ref_at_ref_outside = reference_at(reference.outside)
    for c in range(categories):
        r0, r1 = int(reference.starts[c]), int(reference.starts[c + 1])
        s0, s1 = int(submission.starts[c]), int(submission.starts[c + 1])
        if r0 == r1 or s0 == s1:
            continue
        ref_points = reference.points(r0, r1)
        sub_points = submission.points(s0, s1)
        # Submission cracks against the reference boundary. A crack with one pixel in R_c and
        # one outside is a crack of R_c too: distance 0, no search needed (sign 0).
        at_p, at_q = ref_at_sub_inside[s0:s1], ref_at_sub_outside[s0:s1]
        averaged = (at_p >= 0) & (at_q >= 0)
        in_p, in_q = at_p == c, at_q == c
        sign = np.where(in_p & in_q, -1.0, np.where(~in_p & ~in_q, 1.0, 0.0))
        total = _signed_distances(sub_points[averaged], ref_points, sign[averaged])
        n = int(np.count_nonzero(averaged))
        # Reference cracks against the submission boundary (the inside pixel is category c,
        # never void, so only the other pixel can touch void).
        averaged = ref_at_ref_outside[r0:r1] >= 0
        in_p, in_q = sub_at_ref_inside[r0:r1] == c, sub_at_ref_outside[r0:r1] == c
        sign = np.where(in_p & in_q, 1.0, np.where(~in_p & ~in_q, -1.0, 0.0))
        total += _signed_distances(ref_points[averaged], sub_points, sign[averaged])
        n += int(np.count_nonzero(averaged))
        sums[c] = total
        counts[c] = n
    return DriftSums(distance_sum=sums, cracks=counts)


def _dense_cracks(classes: NDArray[np.int64], categories: int) -> OrientedCracks:
    cols = classes.shape[1]
    flat = classes.reshape(-1)
    at_h = np.flatnonzero(classes[:, :-1] != classes[:, 1:])
    left = at_h + at_h // max(cols - 1, 1)
    top = np.flatnonzero(classes[:-1] != classes[1:])
    return oriented_cracks(left, top, cols=cols, category_at=lambda i: flat[i], categories=categories)


def mask_drift(
    reference: NDArray[np.bool_],
    submission: NDArray[np.bool_],
    *,
    void: NDArray[np.bool_] | None = None,
) -> float | None:
    """Signed boundary drift (px) of the region ``submission`` against ``reference``.

    ``void`` marks reference pixels that say nothing (excluded from the average). See the
    module docstring; ``None`` when undefined.
    """
    if reference.shape != submission.shape or reference.ndim != 2:
        raise ValueError("masks must be 2-D and of one shape")
    # Category positions: 0 = the region, 1 = everything else, -1 = reference void.
    ref_classes = np.where(reference, 0, 1).astype(np.int64)
    if void is not None:
        ref_classes[void] = -1
    sub_classes = np.where(submission, 0, 1).astype(np.int64)
    ref_flat, sub_flat = ref_classes.reshape(-1), sub_classes.reshape(-1)
    sums = class_drift(
        _dense_cracks(ref_classes, 2),
        _dense_cracks(sub_classes, 2),
        reference_at=lambda i: ref_flat[i],
        submission_at=lambda i: sub_flat[i],
        categories=2,
    )
    if sums.cracks[0] == 0:
        return None
    return float(sums.distance_sum[0] / sums.cracks[0])
