"""Boundary drift computed literally from its definition (``qa/metrics/drift.py``), one category
at a time, with a KD-tree for the nearest cracks: the reference the compiled sweep is tested
against. Slow (about 0.1 s on a 2048x1024 pair) and kept out of the package on purpose."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree


def _cracks(classes: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(first, second) flat pixel indices of every 4-adjacent pair whose classes differ."""
    cols = classes.shape[1]
    index = np.arange(classes.size).reshape(classes.shape)
    horizontal = classes[:, :-1] != classes[:, 1:]
    vertical = classes[:-1] != classes[1:]
    first = np.concatenate([index[:, :-1][horizontal], index[:-1][vertical]])
    second = np.concatenate(
        [first[: np.count_nonzero(horizontal)] + 1, first[np.count_nonzero(horizontal) :] + cols]
    )
    return first.astype(np.intp), second.astype(np.intp)


def reference_drift(
    reference: NDArray[np.int64], submission: NDArray[np.int64], classes: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Σ δ and the number of averaged cracks per class 0 .. classes - 1 of two class maps
    (-1 = void; void in the submission is no region, void in the reference is not averaged)."""
    cols = reference.shape[1]
    ref, sub = reference.reshape(-1), submission.reshape(-1)
    sums = np.zeros(classes)
    counts = np.zeros(classes, dtype=np.int64)
    r_first, r_second = _cracks(reference)
    s_first, s_second = _cracks(submission)

    def midpoints(first: NDArray[np.intp], second: NDArray[np.intp]) -> NDArray[np.float64]:
        pr, pc = np.divmod(first, cols)
        qr, qc = np.divmod(second, cols)
        return np.stack([(pr + qr) / 2.0, (pc + qc) / 2.0], axis=1)

    for c in range(classes):
        # Oriented cracks of category c: (inside pixel, outside pixel).
        r_in = np.concatenate([r_first[ref[r_first] == c], r_second[ref[r_second] == c]])
        r_out = np.concatenate([r_second[ref[r_first] == c], r_first[ref[r_second] == c]])
        s_in = np.concatenate([s_first[sub[s_first] == c], s_second[sub[s_second] == c]])
        s_out = np.concatenate([s_second[sub[s_first] == c], s_first[sub[s_second] == c]])
        if r_in.size == 0 or s_in.size == 0:
            continue
        r_points, s_points = midpoints(r_in, r_out), midpoints(s_in, s_out)
        # submission cracks against the reference boundary
        averaged = (ref[s_in] >= 0) & (ref[s_out] >= 0)
        inside_p, inside_q = ref[s_in] == c, ref[s_out] == c
        sign = np.where(inside_p & inside_q, -1.0, np.where(~inside_p & ~inside_q, 1.0, 0.0))[averaged]
        distance, _ = cKDTree(r_points).query(s_points[averaged])
        total = float(np.sum(sign * distance))
        n = int(np.count_nonzero(averaged))
        # reference cracks against the submission boundary
        averaged = ref[r_out] >= 0
        inside_p, inside_q = sub[r_in] == c, sub[r_out] == c
        sign = np.where(inside_p & inside_q, 1.0, np.where(~inside_p & ~inside_q, -1.0, 0.0))[averaged]
        distance, _ = cKDTree(s_points).query(r_points[averaged])
        sums[c] = total + float(np.sum(sign * distance))
        counts[c] = n + int(np.count_nonzero(averaged))
    return sums, counts
