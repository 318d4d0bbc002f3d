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
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: category_at(flat pixel indices) → category position (or local class) per pixel, -1 for void.
CategoryAt = Callable[[NDArray[np.intp]], NDArray[np.int64]]


def _kernels() -> ModuleType:
    # Imported on first use, so that numba's import (~0.4 s) stays out of processes that never
    # measure anything (web processes, management commands).
    from qa.metrics import _drift_kernels

    return _drift_kernels


@dataclass(frozen=True, eq=False)
class DriftSums:
    """Per category position: Σ signed distances (px) and the number of cracks averaged."""

    distance_sum: NDArray[np.float64]
    cracks: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class CrackIndex:
    """The category cracks of one map, indexed for nearest-crack searches; depends on the map only.

    Crack k joins pixels ``first[k]`` (left / top) and ``second[k]`` (flat indices) and sits at
    lattice position (``rows[k]``, ``cols[k]``) — pixel (r, c) at (2r, 2c) — in row-major lattice
    order; ``local_first`` / ``local_second`` are the local classes of its pixels (-1 = void), which
    :func:`class_drift` maps to category positions. ``successors`` and ``grid`` are the search
    structures of :mod:`qa.metrics._drift_kernels`.
    """

    rows: NDArray[np.int32]
    cols: NDArray[np.int32]
    first: NDArray[np.intp]
    second: NDArray[np.intp]
    local_first: NDArray[np.int32]
    local_second: NDArray[np.int32]
    local_classes: int
    lattice_cols: int
    successors: tuple[Any, ...]
    grid: tuple[Any, ...]

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])


def crack_index(
    cracks_h: NDArray[np.intp],
    cracks_v: NDArray[np.intp],
    *,
    cols: int,
    local_at: CategoryAt,
    local_classes: int,
) -> CrackIndex:
    """Index the cracks whose left / top pixels are ``cracks_h`` / ``cracks_v`` (flat, ascending);
    ``local_at`` gives the local class (0 .. ``local_classes`` - 1, -1 = void) of pixels."""
    k = _kernels()
    rows, lattice_cols_of, first, second = k.crack_events(
        np.ascontiguousarray(cracks_h, dtype=np.intp), np.ascontiguousarray(cracks_v, dtype=np.intp), cols
    )
    local_first = np.ascontiguousarray(local_at(first), dtype=np.int32)
    local_second = np.ascontiguousarray(local_at(second), dtype=np.int32)
    lattice_cols = max(2 * cols - 1, 1)
    return CrackIndex(
        rows=rows,
        cols=lattice_cols_of,
        first=first,
        second=second,
        local_first=local_first,
        local_second=local_second,
        local_classes=local_classes,
        lattice_cols=lattice_cols,
        successors=k.column_successors(rows, lattice_cols_of, lattice_cols),
        grid=k.class_grid(rows, lattice_cols_of, local_first, local_second, max(local_classes, 1)),
    )


def class_drift(
    reference: CrackIndex,
    submission: CrackIndex,
    *,
    reference_at: CategoryAt,
    submission_at: CategoryAt,
    reference_positions: NDArray[np.int64],
    submission_positions: NDArray[np.int64],
    categories: int,
) -> DriftSums:
    """Drift sums per category position 0 .. categories - 1 (module docstring).

    ``*_positions[local class]`` is the category position of a map's local class (-1: not
    measured); ``*_at(flat pixels)`` the category position of the map at pixels (-1 void).
    """
    sums = np.zeros(categories, dtype=np.float64)
    counts = np.zeros(categories, dtype=np.int64)
    if reference.size == 0 or submission.size == 0 or categories == 0:
        return DriftSums(distance_sum=sums, cracks=counts)

    k = _kernels()
    r_table = reference_positions.astype(np.int32)
    s_table = submission_positions.astype(np.int32)
    r_a = k.positions_of(reference.local_first, r_table)
    r_b = k.positions_of(reference.local_second, r_table)
    s_a = k.positions_of(submission.local_first, s_table)
    s_b = k.positions_of(submission.local_second, s_table)
    # A class is measured where both maps have a crack of it (else its drift is undefined); a
    # local class has a crack where its grid has a row (y1, see class_grid).
    present = np.zeros((2, categories + 1), dtype=np.bool_)
    present[0, reference_positions[reference.grid[1][: reference_positions.size] >= 0]] = True
    present[1, submission_positions[submission.grid[1][: submission_positions.size] >= 0]] = True
    measured = np.ascontiguousarray(present[0, :categories] & present[1, :categories])
    if not measured.any():
        return DriftSums(distance_sum=sums, cracks=counts)

    def local_of(table: NDArray[np.int64]) -> NDArray[np.int64]:
        out = np.full(categories, -1, dtype=np.int64)
        valid = table >= 0
        out[table[valid]] = np.flatnonzero(valid)
        return out

    # What the other map holds at both pixels of every crack, looked up in bulk before the sweep.
    def other(at: CategoryAt, pixels: NDArray[np.intp]) -> NDArray[np.int32]:
        return np.ascontiguousarray(at(pixels), dtype=np.int32)

    k.pair_drift(
        reference.rows,
        reference.cols,
        r_a,
        r_b,
        other(submission_at, reference.first),
        other(submission_at, reference.second),
        reference.successors,
        reference.grid,
        local_of(reference_positions),
        submission.rows,
        submission.cols,
        s_a,
        s_b,
        other(reference_at, submission.first),
        other(reference_at, submission.second),
        submission.successors,
        submission.grid,
        local_of(submission_positions),
        reference.lattice_cols,
        measured,
        sums,
        counts,
    )
    return DriftSums(distance_sum=sums, cracks=counts)


def _dense_index(classes: NDArray[np.int64]) -> CrackIndex:
    cols = classes.shape[1]
    flat = classes.reshape(-1)
    at_h = np.flatnonzero(classes[:, :-1] != classes[:, 1:])
    left = at_h + at_h // max(cols - 1, 1)
    top = np.flatnonzero(classes[:-1] != classes[1:])
    return crack_index(left, top, cols=cols, local_at=lambda i: flat[i], local_classes=2)


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
    identity = np.arange(2, dtype=np.int64)
    sums = class_drift(
        _dense_index(ref_classes),
        _dense_index(sub_classes),
        reference_at=lambda i: ref_flat[i],
        submission_at=lambda i: sub_flat[i],
        reference_positions=identity,
        submission_positions=identity,
        categories=2,
    )
    if sums.cracks[0] == 0:
        return None
    return float(sums.distance_sum[0] / sums.cracks[0])
