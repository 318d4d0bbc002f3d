"""Compiled kernels of boundary drift (:mod:`qa.metrics.drift` states the definition).

Positions are on the half-pixel *crack lattice*: pixel (r, c) sits at (2r, 2c); the crack between
(r, c) and (r, c + 1) at (2r, 2c + 1), the one between (r, c) and (r + 1, c) at (2r + 1, 2c). Squared
lattice distances are integers, so every comparison below is exact; a distance in pixels is
sqrt(d2) / 2, the same double the KD-tree of the reference implementation returns.

The nearest-crack searches run in one sweep over lattice rows for both maps and all classes:

* *Column state.* While the sweep is at row Y, every lattice column X knows the last crack at or
  above Y and the next one below (rows and classes). The nearest crack to (Y, Xq) is then
  min over X of (X - Xq)^2 + g(X)^2, g(X) = vertical gap in column X; columns are scanned outward
  from Xq until (X - Xq)^2 reaches the best so far, and 64-column blocks whose nearest crack row is
  too far are skipped whole (far queries).
* *Class-agnostic first.* That state holds cracks of every class. For a query whose two pixels
  both lie inside the other map's region of its class c, the nearest crack of any class is a
  crack of c (take the non-c pixel a nearest to the query and its 4-neighbour n towards it: n is
  in c and the crack (n, a) is at least as close as any crack between two non-c pixels), so the
  class-agnostic distance is the answer. For a query outside that region it is the answer when a
  crack at that distance has class c, which is the common case (the scan notes the classes of the
  cracks at its best distance as it goes); the rest (about one in ten on a Cityscapes pair:
  junctions, missed and spurious objects) is searched among class-c cracks only, in a per-class
  grid of 16 px cells scanned by cell rows outward from the query, starting from the distance to
  the class's previous answer.
* *One search per crack.* A crack is a query for both of its classes (one per pixel); both ask
  the same class-agnostic question, so one scan answers both.

The sweep is compiled without reference counting (:func:`~qa.metrics._compiled.unmanaged_kernel`):
with it, numba's atomic counting of the arrays passed to the inlined helpers cost more than the
searches themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qa.metrics._compiled import inline_kernel, kernel, unmanaged_kernel

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]
#: A machine integer inside compiled code (Python int or numpy scalar to the type checker).
Int = int | np.integer[Any]
#: The class grid of :func:`class_grid` and the sweep state of :func:`_column_state`.
Grid = tuple[I64, I64, I64, I64, I64, I64, I32, U64, I32, I32]
State = tuple[I64, I64, I64, I64, I64]

_INF = 1 << 24  # beyond every lattice row (images up to 8 million rows)
_BLOCK = 6  # 64 lattice columns per pruning block
_CELL = 5  # fallback grid: 32 lattice units = 16 px
_BIG = 1 << 62


@kernel
def crack_events(
    cracks_h: NDArray[np.intp], cracks_v: NDArray[np.intp], cols: int
) -> tuple[I32, I32, NDArray[np.intp], NDArray[np.intp]]:
    """Cracks as lattice positions in sweep order (row-major on the lattice), with the flat indices
    of their first (left / top) and second pixel. ``cracks_h`` / ``cracks_v``: flat index of the
    left / top pixel of each horizontal / vertical pair, ascending."""
    n = cracks_h.size + cracks_v.size
    ey = np.empty(n, np.int32)
    ex = np.empty(n, np.int32)
    first = np.empty(n, np.intp)
    second = np.empty(n, np.intp)
    nh = cracks_h.size
    nv = cracks_v.size
    # Pixel rows of the next pair of each kind, divided once per pair (a division is slow).
    big = np.intp(1) << 62
    rh = cracks_h[0] // cols if nh else big
    rv = cracks_v[0] // cols if nv else big
    i = 0
    j = 0
    for k in range(n):
        # Pixel row r holds lattice row 2r (horizontal pairs), then 2r + 1 (vertical pairs).
        if rh <= rv:
            f = cracks_h[i]
            ey[k] = 2 * rh
            ex[k] = 2 * (f - rh * cols) + 1
            first[k] = f
            second[k] = f + 1
            i += 1
            rh = cracks_h[i] // cols if i < nh else big
        else:
            f = cracks_v[j]
            ey[k] = 2 * rv + 1
            ex[k] = 2 * (f - rv * cols)
            first[k] = f
            second[k] = f + cols
            j += 1
            rv = cracks_v[j] // cols if j < nv else big
    return ey, ex, first, second


@kernel
def positions_of(local: I32, table: I32) -> I32:
    """table[local] per crack side, -1 (void) staying -1: local classes to category positions."""
    out = np.empty(local.size, np.int32)
    for i in range(local.size):
        out[i] = table[local[i]] if local[i] >= 0 else -1
    return out


@kernel
def column_successors(ey: I32, ex: I32, lattice_cols: int) -> tuple[I32, I32, I32, I32]:
    """Per crack: the next crack in its lattice column (index, -1 if none) and the row of the next
    crack in its 64-column block; per column / block: the first crack (index / row)."""
    n = ey.size
    blocks = (lattice_cols >> _BLOCK) + 1
    next_in_column = np.empty(n, np.int32)
    column_first = np.full(lattice_cols, -1, np.int32)
    next_block_row = np.empty(n, np.int32)
    block_first = np.full(blocks, _INF, np.int32)
    for i in range(n - 1, -1, -1):
        x = ex[i]
        next_in_column[i] = column_first[x]
        column_first[x] = i
        b = x >> _BLOCK
        next_block_row[i] = block_first[b]
        block_first[b] = ey[i]
    return next_in_column, column_first, next_block_row, block_first


@kernel
def class_grid(ey: I32, ex: I32, class_a: I32, class_b: I32, classes: int) -> Grid:
    """Per class (local index, -1 = none): its cracks in a grid of 16 px cells restricted to the
    class's bounding box (CSR), and one occupancy bit per cell, rows of 64-bit words."""
    n = ey.size
    y0 = np.full(classes, 1 << 40, np.int64)
    y1 = np.full(classes, -1, np.int64)
    x0 = np.full(classes, 1 << 40, np.int64)
    x1 = np.full(classes, -1, np.int64)
    for i in range(n):
        cy = ey[i] >> _CELL
        cx = ex[i] >> _CELL
        for side in range(2):
            c = class_a[i] if side == 0 else class_b[i]
            if c >= 0:
                y0[c] = min(y0[c], cy)
                y1[c] = max(y1[c], cy)
                x0[c] = min(x0[c], cx)
                x1[c] = max(x1[c], cx)
    base = np.zeros(classes + 1, np.int64)
    word_base = np.zeros(classes + 1, np.int64)
    for c in range(classes):
        cells = 0
        words = 0
        if y1[c] >= 0:
            width = x1[c] - x0[c] + 1
            cells = (y1[c] - y0[c] + 1) * width
            words = (y1[c] - y0[c] + 1) * ((width + 63) >> 6)
        base[c + 1] = base[c] + cells
        word_base[c + 1] = word_base[c] + words
    offsets = np.zeros(base[classes] + 1, np.int32)
    occupied = np.zeros(max(word_base[classes], 1), np.uint64)
    m = 0
    for i in range(n):
        cy = ey[i] >> _CELL
        cx = ex[i] >> _CELL
        for side in range(2):
            c = class_a[i] if side == 0 else class_b[i]
            if c >= 0:
                width = x1[c] - x0[c] + 1
                offsets[base[c] + (cy - y0[c]) * width + (cx - x0[c]) + 1] += 1
                col = cx - x0[c]
                w = word_base[c] + (cy - y0[c]) * ((width + 63) >> 6) + (col >> 6)
                occupied[w] |= np.uint64(1) << np.uint64(col & 63)
                m += 1
    for k in range(base[classes]):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    ty = np.empty(m, np.int32)
    tx = np.empty(m, np.int32)
    for i in range(n):
        cy = ey[i] >> _CELL
        cx = ex[i] >> _CELL
        for side in range(2):
            c = class_a[i] if side == 0 else class_b[i]
            if c >= 0:
                width = x1[c] - x0[c] + 1
                k = base[c] + (cy - y0[c]) * width + (cx - x0[c])
                p = fill[k]
                fill[k] = p + 1
                ty[p] = ey[i]
                tx[p] = ex[i]
    return y0, y1, x0, x1, base, word_base, offsets, occupied, ty, tx


@unmanaged_kernel  # a plain call (LLVM inlines it): compiled once
def _trailing_zeros(w: Any) -> Int:
    n = 0
    if (w & np.uint64(0xFFFFFFFF)) == 0:
        n += 32
        w >>= np.uint64(32)
    if (w & np.uint64(0xFFFF)) == 0:
        n += 16
        w >>= np.uint64(16)
    if (w & np.uint64(0xFF)) == 0:
        n += 8
        w >>= np.uint64(8)
    if (w & np.uint64(0xF)) == 0:
        n += 4
        w >>= np.uint64(4)
    if (w & np.uint64(0x3)) == 0:
        n += 2
        w >>= np.uint64(2)
    if (w & np.uint64(0x1)) == 0:
        n += 1
    return n


@unmanaged_kernel  # a plain call (LLVM inlines it): compiled once
def _leading_zeros(w: Any) -> Int:
    n = 0
    if (w >> np.uint64(32)) == 0:
        n += 32
        w <<= np.uint64(32)
    if (w >> np.uint64(48)) == 0:
        n += 16
        w <<= np.uint64(16)
    if (w >> np.uint64(56)) == 0:
        n += 8
        w <<= np.uint64(8)
    if (w >> np.uint64(60)) == 0:
        n += 4
        w <<= np.uint64(4)
    if (w >> np.uint64(62)) == 0:
        n += 2
        w <<= np.uint64(2)
    if (w >> np.uint64(63)) == 0:
        n += 1
    return n


@unmanaged_kernel  # a plain call (LLVM inlines it): compiled once
def _next_set(occupied: U64, row: Int, words: Int, col: Int) -> Int:
    """Smallest set bit >= col in a row of words, or -1."""
    w = col >> 6
    if w >= words:
        return -1
    word = occupied[row + w] >> np.uint64(col & 63)
    if word != 0:
        return col + _trailing_zeros(word)
    for w2 in range(w + 1, words):
        word = occupied[row + w2]
        if word != 0:
            return (w2 << 6) + _trailing_zeros(word)
    return -1


@unmanaged_kernel  # a plain call (LLVM inlines it): compiled once
def _previous_set(occupied: U64, row: Int, col: Int) -> Int:
    """Largest set bit <= col in a row of words, or -1."""
    if col < 0:
        return -1
    w = col >> 6
    word = occupied[row + w] << np.uint64(63 - (col & 63))
    if word != 0:
        return col - _leading_zeros(word)
    for w2 in range(w - 1, -1, -1):
        word = occupied[row + w2]
        if word != 0:
            return (w2 << 6) + 63 - _leading_zeros(word)
    return -1


@unmanaged_kernel  # a plain call (LLVM inlines it): compiled once
def _scan_cell(
    offsets: I32, ty: I32, tx: I32, k: Int, yq: Int, xq: Int, best: Int, by: Int, bx: Int
) -> tuple[Int, Int, Int]:
    for j in range(offsets[k], offsets[k + 1]):
        dy = np.int64(ty[j]) - yq
        dx = np.int64(tx[j]) - xq
        d = dy * dy + dx * dx
        if d < best:
            best = d
            by = ty[j]
            bx = tx[j]
    return best, by, bx


@unmanaged_kernel  # rare (the fallback): a call, so that compiling it once costs half
def _nearest_of_class(
    yq: Int,
    xq: Int,
    c: Int,
    best: Int,
    y0: I64,
    y1: I64,
    x0: I64,
    x1: I64,
    base: I64,
    word_base: I64,
    offsets: I32,
    occupied: U64,
    ty: I32,
    tx: I32,
) -> tuple[Int, Int, Int]:
    """Squared distance (and position) of the nearest class-c crack closer than ``best``: cell rows
    in order of their distance from the query, occupied cells left and right until too far."""
    by: Int = np.int64(-1)  # not literals: _scan_cell would compile once more for them
    bx: Int = np.int64(-1)
    if c < 0 or y1[c] < 0:
        return best, by, bx
    size = np.int64(1) << _CELL
    width = x1[c] - x0[c] + 1
    words = (width + 63) >> 6
    rq = yq >> _CELL
    cq = xq >> _CELL
    down = True
    up = True
    step = 0
    while down or up:
        for s in range(2):
            if s == 0:
                if not down:
                    continue
                r = rq + step
                ly = 0 if step == 0 else r * size - yq
                if r > y1[c] or ly * ly >= best:
                    down = False
                    continue
            else:
                if step == 0 or not up:
                    continue
                r = rq - step
                ly = yq - (r * size + size - 1)
                if r < y0[c] or ly * ly >= best:
                    up = False
                    continue
            if r < y0[c] or r > y1[c]:
                continue
            row = word_base[c] + (r - y0[c]) * words
            cells = base[c] + (r - y0[c]) * width
            ly2 = ly * ly
            col: Int = max(cq, x0[c]) - x0[c]
            while True:
                col = _next_set(occupied, row, words, col)
                if col < 0:
                    break
                lx = (col + x0[c]) * size - xq if col + x0[c] > cq else 0
                if ly2 + lx * lx >= best:
                    break
                best, by, bx = _scan_cell(offsets, ty, tx, cells + col, yq, xq, best, by, bx)
                col += 1
            col = min(cq - 1, x1[c]) - x0[c]
            while col >= 0:
                col = _previous_set(occupied, row, col)
                if col < 0:
                    break
                lx = xq - ((col + x0[c]) * size + size - 1)
                if ly2 + lx * lx >= best:
                    break
                best, by, bx = _scan_cell(offsets, ty, tx, cells + col, yq, xq, best, by, bx)
                col -= 1
        step += 1
    return best, by, bx


#: Rows are stored offset by this, so that the last and next rows of a column pack into one word.
_OFF = 1 << 26


@inline_kernel
def _tags(a: Int, b: Int) -> Int:
    """Both classes of a crack in one word: (a + 1) | (b + 1) << 32 (void, -1, becomes 0)."""
    return np.int64(a + 1) | (np.int64(b + 1) << 32)


@unmanaged_kernel  # a plain call (LLVM inlines it): numba compiles it once, not per call site
def _tag_hits(t: Int, tag_a: Int, tag_b: Int) -> Int:
    """Bit 0 / 1: the crack with tags ``t`` (see ``_tags``) has class tag_a / tag_b."""
    lo = t & 0xFFFFFFFF
    hi = t >> 32
    return np.int64(lo == tag_a or hi == tag_a) | (np.int64(lo == tag_b or hi == tag_b) << 1)


@unmanaged_kernel  # as _tag_hits: four call sites
def _visit(
    yq: Int,
    dx2: Int,
    x: Int,
    rows: I64,
    last_tags: I64,
    next_tags: I64,
    best: Int,
    hits: Int,
    tag_a: Int,
    tag_b: Int,
    track: bool | np.bool_,
) -> tuple[Int, Int]:
    """Column x at squared column distance dx2 (sweep state of ``_column_state``): the new best
    squared distance, and the class hits at that distance (bits of ``_nearest_any``)."""
    v = rows[x]
    above: Int = yq + _OFF - (v & 0xFFFFFFFF)
    below: Int = (v >> 32) - _OFF - yq
    g = above if above < below else below
    d = dx2 + g * g
    if d <= best:  # rare past the first columns: the tags are read only here
        if d < best:
            best = d
            hits = 0
        if track:
            if dx2 + above * above == best:
                hits |= _tag_hits(last_tags[x], tag_a, tag_b)
            if dx2 + below * below == best:
                hits |= _tag_hits(next_tags[x], tag_a, tag_b)
    return best, hits


@inline_kernel
def _nearest_any(
    yq: Int,
    xq: Int,
    tag_a: Int,
    tag_b: Int,
    track: bool | np.bool_,
    cols: Int,
    rows: I64,
    last_tags: I64,
    next_tags: I64,
    block_last: I64,
    block_next: I64,
) -> tuple[Int, Int]:
    """Squared distance to the nearest crack of any class and, when ``track``, bits 0 / 1: some
    crack at that distance has class tag_a / tag_b (class + 1, see ``_tags``). Tracking also
    visits the columns that can only tie, so that a tie of the wanted class is seen."""
    slack = 1 if track else 0  # tracking stops beyond the best distance, not at it
    zero = np.int64(0)  # not a literal 0: that would compile _visit once more, for literals
    best, hits = _visit(yq, zero, xq, rows, last_tags, next_tags, np.int64(_BIG), zero, tag_a, tag_b, track)
    dx = 1
    both = min(xq, cols - 1 - xq, 63)
    while dx <= both:
        dx2 = dx * dx
        if dx2 >= best + slack:
            break
        x = xq + dx
        best, hits = _visit(yq, dx2, x, rows, last_tags, next_tags, best, hits, tag_a, tag_b, track)
        x = xq - dx
        best, hits = _visit(yq, dx2, x, rows, last_tags, next_tags, best, hits, tag_a, tag_b, track)
        dx += 1
    if dx * dx < best + slack:
        # One side met the image edge, or the query is far from every crack: finish each side,
        # skipping 64-column blocks whose nearest crack rows are too far.
        mask = (1 << _BLOCK) - 1
        for direction in range(2):
            x = xq + dx if direction == 0 else xq - dx
            while 0 <= x < cols:
                ddx = x - xq if direction == 0 else xq - x
                dx2 = ddx * ddx
                if dx2 >= best + slack:
                    break
                if (x & mask) == (0 if direction == 0 else mask):
                    b = x >> _BLOCK
                    gb = min(yq - block_last[b], block_next[b] - yq)
                    if dx2 + gb * gb >= best + slack:
                        x = x + (1 << _BLOCK) if direction == 0 else x - (1 << _BLOCK)
                        continue
                best, hits = _visit(yq, dx2, x, rows, last_tags, next_tags, best, hits, tag_a, tag_b, track)
                x = x + 1 if direction == 0 else x - 1
    return best, hits


@kernel  # a call (two call sites, compiled once)
def _column_state(column_first: I32, block_first: I32, ey: I32, ca: I32, cb: I32, cols: int) -> State:
    """The sweep state before the first row. Per lattice column: ``rows``, the rows of the last
    crack at or above the sweep and of the next one below, packed (+ ``_OFF``); ``last_tags`` /
    ``next_tags``, their classes (``_tags``). Per 64-column block: the last and next crack rows."""
    rows = np.empty(cols, np.int64)
    last_tags = np.zeros(cols, np.int64)
    next_tags = np.zeros(cols, np.int64)
    for x in range(cols):
        below = _INF
        i = column_first[x]
        if i >= 0:
            below = ey[i]
            next_tags[x] = _tags(ca[i], cb[i])
        rows[x] = (-_INF + _OFF) | ((np.int64(below) + _OFF) << 32)
    block_last = np.full(block_first.size, -_INF, np.int64)
    block_next = block_first.astype(np.int64)
    return rows, last_tags, next_tags, block_last, block_next


@inline_kernel
def _advance(
    i: Int, ey: I32, ex: I32, ca: I32, cb: I32, successors: tuple[I32, I32, I32, I32], state: State
) -> None:
    """Crack i (on the sweep's row) becomes the last crack of its column and block."""
    next_in_column, _, next_block_row, _ = successors
    rows, last_tags, next_tags, block_last, block_next = state
    y = ey[i]
    x = ex[i]
    below = np.int64(_INF)
    tags: Int = 0
    k = next_in_column[i]
    if k >= 0:
        below = ey[k]
        tags = _tags(ca[k], cb[k])
    rows[x] = (np.int64(y) + _OFF) | ((below + _OFF) << 32)
    last_tags[x] = _tags(ca[i], cb[i])
    next_tags[x] = tags
    b = x >> _BLOCK
    block_last[b] = y
    v = next_block_row[i]
    if v > y:
        block_next[b] = v


@inline_kernel
def _query_row(
    q0: Int,
    q1: Int,
    yq: Int,
    ex: I32,
    ca: I32,
    cb: I32,
    other_a: I32,
    other_b: I32,
    is_reference: bool,
    cols: Int,
    state: State,
    grid: Grid,
    local_of: I64,
    warm: I64,
    measured: B,
    sums: F64,
    counts: I64,
) -> None:
    """Cracks q0 .. q1 - 1 of one map, all on row yq, against the other map's boundary (its sweep
    state and class grid).

    A crack is averaged where the reference has a class at both its pixels. For each side c
    (class of one of its pixels), u = +1 when both pixels lie outside the other map's region c,
    -1 when both inside, 0 on a shared crack (distance 0); the signed distance is u·δ for a
    submission crack, -u·δ for a reference crack (positive = the submission inflated). Both
    sides are answered by one class-agnostic search; an outside side whose nearest crack is of
    another class is searched again in the class grid.
    """
    rows, last_tags, next_tags, block_last, block_next = state
    y0, y1, x0, x1, base, word_base, offsets, occupied, ty, tx = grid
    orient = -1 if is_reference else 1
    for q in range(q0, q1):
        a = ca[q]
        b = cb[q]
        oa = other_a[q]
        ob = other_b[q]
        if (a < 0 or b < 0) if is_reference else (oa < 0 or ob < 0):
            continue
        u_a: Int = 0
        if a >= 0 and measured[a]:
            counts[a] += 1
            u_a = 1 - np.int64(oa == a) - np.int64(ob == a)
        u_b: Int = 0
        if b >= 0 and measured[b]:
            counts[b] += 1
            u_b = 1 - np.int64(oa == b) - np.int64(ob == b)
        if u_a == 0 and u_b == 0:
            continue
        xq = np.int64(ex[q])
        d, hits = _nearest_any(
            yq, xq, a + 1, b + 1, u_a > 0 or u_b > 0, cols, rows, last_tags, next_tags, block_last, block_next
        )
        for side in range(2):
            c = a if side == 0 else b
            u = u_a if side == 0 else u_b
            if u == 0:
                continue
            dc = d
            if u > 0 and (hits >> side) & 1 == 0:
                # The previous answer of the class bounds the search (it is a crack of c).
                bound = np.int64(_BIG)
                if warm[2 * c] >= 0:
                    wy = warm[2 * c] - yq
                    wx = warm[2 * c + 1] - xq
                    bound = wy * wy + wx * wx + 1
                dc, by, bx = _nearest_of_class(
                    yq, xq, local_of[c], bound, y0, y1, x0, x1, base, word_base, offsets, occupied, ty, tx
                )
                if by >= 0:
                    warm[2 * c] = by
                    warm[2 * c + 1] = bx
            sums[c] += orient * u * np.sqrt(np.float64(dc)) / 2.0


@kernel
def pair_drift(
    r_ey: I32,
    r_ex: I32,
    r_ca: I32,
    r_cb: I32,
    r_other_a: I32,
    r_other_b: I32,
    r_successors: tuple[I32, I32, I32, I32],
    r_grid: Grid,
    r_local: I64,
    s_ey: I32,
    s_ex: I32,
    s_ca: I32,
    s_cb: I32,
    s_other_a: I32,
    s_other_b: I32,
    s_successors: tuple[I32, I32, I32, I32],
    s_grid: Grid,
    s_local: I64,
    lattice_cols: int,
    measured: B,
    sums: F64,
    counts: I64,
) -> None:
    """Drift sums and crack counts per class position, added into ``sums`` / ``counts``.

    Per map (r = reference, s = submission): crack events in sweep order (``*_ey``, ``*_ex``), the
    class positions of their first / second pixel (``*_ca``, ``*_cb``, -1 = void) and the other
    map's class positions at those pixels (``*_other_a``, ``*_other_b``), the column successors,
    the class grid over the map's local classes and ``*_local``: class position -> local class.
    Only classes with ``measured`` set (cracks in both maps) are counted.
    """
    r_state = _column_state(r_successors[1], r_successors[3], r_ey, r_ca, r_cb, lattice_cols)
    s_state = _column_state(s_successors[1], s_successors[3], s_ey, s_ca, s_cb, lattice_cols)
    # The previous fallback answer per class: a close upper bound for the next query of that class.
    r_warm = np.full(2 * measured.size, -1, np.int64)
    s_warm = np.full(2 * measured.size, -1, np.int64)
    _sweep(
        r_ey, r_ex, r_ca, r_cb, r_other_a, r_other_b, r_successors, r_grid, r_local, r_state, r_warm,
        s_ey, s_ex, s_ca, s_cb, s_other_a, s_other_b, s_successors, s_grid, s_local, s_state, s_warm,
        lattice_cols, measured, sums, counts,
    )  # fmt: skip


@unmanaged_kernel  # the hot loops: no reference counting (pair_drift allocates)
def _sweep(
    r_ey: I32,
    r_ex: I32,
    r_ca: I32,
    r_cb: I32,
    r_other_a: I32,
    r_other_b: I32,
    r_successors: tuple[I32, I32, I32, I32],
    r_grid: Grid,
    r_local: I64,
    r_state: State,
    r_warm: I64,
    s_ey: I32,
    s_ex: I32,
    s_ca: I32,
    s_cb: I32,
    s_other_a: I32,
    s_other_b: I32,
    s_successors: tuple[I32, I32, I32, I32],
    s_grid: Grid,
    s_local: I64,
    s_state: State,
    s_warm: I64,
    cols: int,
    measured: B,
    sums: F64,
    counts: I64,
) -> None:
    """The sweep of :func:`pair_drift` over lattice rows, both maps at once."""
    nr = r_ey.size
    ns = s_ey.size
    i = 0
    j = 0
    while i < nr or j < ns:
        y = min(r_ey[i] if i < nr else _INF, s_ey[j] if j < ns else _INF)
        # Cracks on this row become targets first (a crack on the query's own row is at gap 0).
        i1 = i
        while i1 < nr and r_ey[i1] == y:
            _advance(i1, r_ey, r_ex, r_ca, r_cb, r_successors, r_state)
            i1 += 1
        j1 = j
        while j1 < ns and s_ey[j1] == y:
            _advance(j1, s_ey, s_ex, s_ca, s_cb, s_successors, s_state)
            j1 += 1
        yq = np.int64(y)
        # Submission cracks against the reference boundary, then reference cracks against the
        # submission's (the order of the sums is the order of the queries). One call site, so
        # that numba compiles the query code once (selecting arrays costs nothing here).
        for side in range(2):
            sub = side == 0
            _query_row(
                j if sub else i, j1 if sub else i1, yq, s_ex if sub else r_ex, s_ca if sub else r_ca,
                s_cb if sub else r_cb, s_other_a if sub else r_other_a, s_other_b if sub else r_other_b,
                not sub, cols, r_state if sub else s_state, r_grid if sub else s_grid,
                r_local if sub else s_local, r_warm if sub else s_warm, measured, sums, counts,
            )  # fmt: skip
        i = i1
        j = j1
