"""Polygon rasterisation with exactly the pixel rule of pycocotools (``rleFrPoly`` in maskApi.c).

pycocotools fills, in effect, the pixels whose centre lies inside the polygon, but the exact
result at edges comes from its integer algorithm, which this module ports step by step:

1. Vertices are scaled by 5 and rounded as C does: ``X = (int)(5*x + 0.5)`` (truncation toward
   zero, so -0.3 -> -1 but -0.1 -> 0).
2. Each edge is walked one unit at a time along its major axis on that 5x grid; the minor
   coordinate of step ``t`` is ``(int)(start + slope*t + 0.5)``.
3. Wherever the walk moves between grid columns ``5c+2`` and ``5c+3`` -- across the centre of
   pixel column ``c`` -- with ``0 <= c < width``, a toggle is recorded in column ``c`` at row
   ``ceil(clamp((min(Y0, Y1) + 0.5)/5 - 0.5, 0, height))``.
4. The toggles, as column-major indices ``c*height + row``, are sorted; the mask flips at each
   of them (so a toggle at row ``height`` flips the top of the next column).

Instead of walking every step (an edge to a vertex far outside the image would mean billions
of steps), only the steps that cross a pixel-centre column inside the image are evaluated:
directly on x-major edges, by bisection on y-major edges (the minor coordinate is monotone in
``t`` even in floating point). The mask is then filled inside the toggles' bounding box only.

Several rings: ``rasterize_polygons`` combines all rings' toggles, i.e. even-odd: a pixel is set
when an odd number of rings cover it, so a hole ring inside an outer ring cuts a hole (and two
overlapping outer rings cancel where they overlap). ``rasterize_polygons_union`` is what COCO
consumers do with a multi-part segmentation (``frPyObjects`` gives one RLE per ring, merged as a
union). With one ring both equal ``decode(frPyObjects([ring], h, w))``.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annotation.masks.errors import MaskFormatError

#: Largest accepted |coordinate|: keeps 5*x inside pycocotools' C int and our arithmetic exact.
MAX_ABS_COORDINATE = 100_000_000.0

_SCALE = 5
_IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Toggles:
    """Toggle points of step 3: pixel column and row (row in [0, height])."""

    columns: _IntArray
    rows: _IntArray


@dataclass(frozen=True)
class _Crossings:
    """Pixel-centre columns crossed by edges, with the lower 5x-grid y of each crossing step."""

    columns: _IntArray
    lower: _IntArray


@dataclass(frozen=True)
class _Members:
    """Members of integer ranges: ``owner[i]`` is the range that ``values[i]`` belongs to."""

    owner: _IntArray
    values: _IntArray


@dataclass(frozen=True)
class _Block:
    """A filled rectangle of the mask: ``values`` goes at [row_start:, column_start:]."""

    row_start: int
    column_start: int
    values: npt.NDArray[np.bool_]


def rasterize_polygons(polygons: Sequence[Sequence[float]], height: int, width: int) -> npt.NDArray[np.bool_]:
    """Rasterise rings ``[x1, y1, x2, y2, ...]`` into a (height, width) mask, even-odd over rings.

    Pixel (row y, column x) spans [x, x+1) x [y, y+1); each ring is rasterised with pycocotools'
    rule (see the module docstring) and a pixel is set when an odd number of rings set it.
    No rings give an empty mask. Raises ``MaskFormatError`` for a ring with fewer than 3 points,
    an odd number of coordinates, or a non-finite or out-of-range coordinate.
    """
    _check_size(height, width)
    rings = [_ring_coordinates(ring, index=index) for index, ring in enumerate(polygons)]
    mask = np.zeros((height, width), dtype=np.bool_)
    if rings:
        toggles = [_ring_toggles(ring, height=height, width=width) for ring in rings]
        combined = _Toggles(
            columns=np.concatenate([t.columns for t in toggles]),
            rows=np.concatenate([t.rows for t in toggles]),
        )
        _paint(mask, _fill(combined, height=height, width=width))
    return mask


def rasterize_polygons_union(
    polygons: Sequence[Sequence[float]], height: int, width: int
) -> npt.NDArray[np.bool_]:
    """Union of each ring rasterised on its own: ``merge(frPyObjects(polygons, h, w))`` decoded.

    This is how COCO tools read a multi-part ``segmentation`` (holes are not representable).
    Same validation as ``rasterize_polygons``.
    """
    _check_size(height, width)
    rings = [_ring_coordinates(ring, index=index) for index, ring in enumerate(polygons)]
    mask = np.zeros((height, width), dtype=np.bool_)
    for ring in rings:
        _paint(mask, _fill(_ring_toggles(ring, height=height, width=width), height=height, width=width))
    return mask


def _check_size(height: int, width: int) -> None:
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise MaskFormatError(f"image {name} must be a positive integer, got {value!r}")


def _ring_coordinates(ring: Sequence[float], *, index: int) -> _FloatArray:
    """Validate one ring and return its vertices as a (k, 2) float64 array of (x, y)."""
    try:
        flat = np.asarray(ring, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MaskFormatError(f"polygon {index} must be a flat list of numbers: {error}") from error
    if flat.ndim != 1:
        raise MaskFormatError(
            f"polygon {index} must be a flat [x1, y1, x2, y2, ...] list, got shape {flat.shape}"
        )
    if flat.size % 2:
        raise MaskFormatError(f"polygon {index} has an odd number of coordinates ({flat.size})")
    if flat.size < 6:
        raise MaskFormatError(f"polygon {index} has {flat.size // 2} points; a polygon needs at least 3")
    if not np.all(np.isfinite(flat)):
        raise MaskFormatError(f"polygon {index} has a non-finite coordinate")
    if np.any(np.abs(flat) > MAX_ABS_COORDINATE):
        raise MaskFormatError(f"polygon {index} has a coordinate beyond +/-{MAX_ABS_COORDINATE:g}")
    return flat.reshape(-1, 2)


def _ceil_div(numerator: _IntArray, denominator: int) -> _IntArray:
    return -(-numerator // denominator)


def _expand_ranges(first: _IntArray, last: _IntArray) -> _Members:
    """Every member of the ranges [first[i], last[i]] (empty when last < first), in order."""
    lengths = np.maximum(last - first + 1, 0)
    owner = np.repeat(np.arange(first.size), lengths)
    offsets = np.arange(owner.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return _Members(owner=owner, values=first[owner] + offsets)


def _round_c(values: _FloatArray) -> _IntArray:
    """C's ``(int)(value + .5)``: add one half, then truncate toward zero."""
    return np.trunc(values + 0.5).astype(np.int64)


def _ring_toggles(ring: _FloatArray, *, height: int, width: int) -> _Toggles:
    """Steps 1-3 of the module docstring for one ring."""
    scaled = np.trunc(_SCALE * ring + 0.5).astype(np.int64)
    x0, y0 = scaled[:, 0], scaled[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    dx, dy = np.abs(x1 - x0), np.abs(y1 - y0)
    x_major = dx >= dy
    # C walks each edge from its smaller major coordinate (swapping the ends) and only the
    # emission order remembers the original direction; that order decides the crossing
    # column on y-major edges, so keep it.
    flip = np.where(x_major, x0 > x1, y0 > y1)
    xa, xb = np.where(flip, x1, x0), np.where(flip, x0, x1)
    ya, yb = np.where(flip, y1, y0), np.where(flip, y0, y1)

    # Edges with dx == 0 never change column, so they cross no pixel centre.
    on_x = _x_major_crossings(xa, xb, ya, yb, dx, edges=np.flatnonzero(x_major & (dx > 0)), width=width)
    on_y = _y_major_crossings(xa, xb, ya, dy, flip, edges=np.flatnonzero(~x_major & (dx > 0)), width=width)
    lower = np.concatenate([on_x.lower, on_y.lower]).astype(np.float64)
    # Back to pixel rows: the first row whose centre is at or below the crossing.
    rows = np.ceil(np.clip((lower + 0.5) / _SCALE - 0.5, 0, height)).astype(np.int64)
    return _Toggles(columns=np.concatenate([on_x.columns, on_y.columns]), rows=rows)


def _x_major_crossings(
    xa: _IntArray,
    xb: _IntArray,
    ya: _IntArray,
    yb: _IntArray,
    dx: _IntArray,
    *,
    edges: _IntArray,
    width: int,
) -> _Crossings:
    """Crossings on edges whose walk steps x by one: between steps t and t+1 with xa+t = 5c+2."""
    first = np.maximum(0, _ceil_div(xa[edges] - 2, _SCALE))
    last = np.minimum(width - 1, (xb[edges] - 3) // _SCALE)
    members = _expand_ranges(first, last)
    columns, edge = members.values, edges[members.owner]
    slope = (yb[edge] - ya[edge]) / dx[edge]
    step = (_SCALE * columns + 2 - xa[edge]).astype(np.float64)
    start = ya[edge].astype(np.float64)
    # Same operation order as C's ys+s*t+.5, so the rounding matches bit for bit.
    lower = np.minimum(_round_c(start + slope * step), _round_c(start + slope * (step + 1)))
    return _Crossings(columns=columns, lower=lower)


def _y_major_crossings(
    xa: _IntArray,
    xb: _IntArray,
    ya: _IntArray,
    dy: _IntArray,
    flip: npt.NDArray[np.bool_],
    *,
    edges: _IntArray,
    width: int,
) -> _Crossings:
    """Crossings on edges whose walk steps y by one and x by (int)(xa + s*t + .5).

    That x, ``u(t)``, is monotone in t, so the step where it passes from 5c+2 to 5c+3 is found by
    bisection. C takes the crossing column from the later point of each changing pair in walk
    order (``u`` when moving left, ``u-1`` when moving right); that only matters if rounding
    ever made u jump by 2, and is reproduced anyway.
    """
    start = xa[edges].astype(np.float64)
    slope = (xb[edges] - xa[edges]) / dy[edges]

    def u_at(step: _IntArray, owner: _IntArray) -> _IntArray:
        return _round_c(start[owner] + slope[owner] * step.astype(np.float64))

    everyone = np.arange(edges.size)
    u_first, u_last = u_at(np.zeros(edges.size, np.int64), everyone), u_at(dy[edges], everyone)
    low, high = np.minimum(u_first, u_last), np.maximum(u_first, u_last)
    first = np.maximum(0, _ceil_div(low - 2, _SCALE))
    last = np.minimum(width - 1, (high - 3) // _SCALE)
    members = _expand_ranges(first, last)
    owner, columns = members.owner, members.values
    centre = _SCALE * columns + 2
    rising = slope[owner] > 0

    # First step t in [1, dy] on the far side of the centre; it exists since low <= centre < high.
    lo = np.ones(owner.size, dtype=np.int64)
    hi = dy[edges][owner].copy()
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        u_mid = u_at(mid, owner)
        beyond = np.where(rising, u_mid >= centre + 1, u_mid <= centre)
        hi = np.where(beyond, mid, hi)
        lo = np.where(beyond, lo, mid + 1)
    u_before, u_after = u_at(lo - 1, owner), u_at(lo, owner)
    backwards = flip[edges][owner]
    u_earlier = np.where(backwards, u_after, u_before)
    u_later = np.where(backwards, u_before, u_after)
    crossing = np.where(u_later < u_earlier, u_later, u_later - 1)
    kept = crossing == centre
    lower = ya[edges][owner] + lo - 1
    return _Crossings(columns=columns[kept], lower=lower[kept])


def _fill(toggles: _Toggles, *, height: int, width: int) -> _Block | None:
    """Step 4: the mask flips at each toggle in column-major order; None when nothing is set."""
    # Row `height` of column c is index (c+1)*height: the top of the next column, or past the
    # last pixel for the last column.
    at_bottom = toggles.rows == height
    columns = np.where(at_bottom, toggles.columns + 1, toggles.columns)
    rows = np.where(at_bottom, 0, toggles.rows)
    inside = columns < width
    columns, rows = columns[inside], rows[inside]
    if columns.size == 0:
        return None
    column_start = int(columns.min())
    per_column = np.bincount(columns - column_start)
    # Parity carried into each column from the columns before it; zero for closed rings,
    # handled anyway so that the result equals pycocotools' for any toggle set.
    carry = ((np.cumsum(per_column) - per_column) & 1).astype(np.uint8)
    odd_total = bool(per_column.sum() & 1)
    if carry.any() or odd_total:
        row_start, row_stop, column_stop = 0, height, width
        carry = np.concatenate([carry, np.full(width - column_start - carry.size, int(odd_total), np.uint8)])
    else:
        row_start, row_stop, column_stop = int(rows.min()), int(rows.max()), int(columns.max()) + 1
    block = np.zeros((row_stop - row_start, column_stop - column_start), dtype=np.uint8)
    keep = rows < row_stop
    np.bitwise_xor.at(block, (rows[keep] - row_start, columns[keep] - column_start), 1)
    np.bitwise_xor.accumulate(block, axis=0, out=block)
    if carry.any():
        block ^= carry[np.newaxis, :]
    return _Block(row_start=row_start, column_start=column_start, values=block.view(np.bool_))


def _paint(mask: npt.NDArray[np.bool_], block: _Block | None) -> None:
    if block is None:
        return
    rows, columns = block.values.shape
    target = mask[block.row_start : block.row_start + rows, block.column_start : block.column_start + columns]
    target |= block.values
