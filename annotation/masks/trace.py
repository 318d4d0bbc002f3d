"""Trace binary masks into polygons whose vertices lie on pixel corners.

Conventions (the same as pycocotools and the editor's rasteriser): pixel ``(x, y)`` covers the
square ``[x, x+1) x [y, y+1)`` and a polygon covers the pixels whose centre lies inside it.
Every vertex returned here is an integer pixel *corner*, so re-rasterising a traced ring with
that rule (pycocotools ``frPyObjects`` + ``decode``, or any centre-sampling even-odd filler)
gives back exactly the pixels of the mask.

* Foreground is 4-connected: two pixels that touch only at a corner are separate parts (and
  background is 8-connected, so a background pocket that leaks through a diagonal gap is not a
  hole). Each 4-connected part has one outer ring; each enclosed background region one hole.
* Orientation, in image coordinates (x right, y down): outer rings run clockwise on screen
  (the foreground is on the right of every edge, the shoelace sum is positive), holes run
  counter-clockwise (negative). A non-zero winding filler therefore agrees with even-odd.
* Only collinear vertices are removed unless ``tolerance`` > 0 asks for Douglas-Peucker.

Formats that cannot express holes (COCO polygons, YOLO-seg) get *keyhole* rings from
:func:`keyhole_polygons`: each hole is joined to its enclosing ring by a zero-width bridge, a
vertical segment walked down and back up along a pixel-column boundary through foreground
pixels only. Under the even-odd crossing rule (pycocotools, the validators) the two copies of
the bridge cancel exactly; fillers that also paint outlines (OpenCV's ``fillPoly``) paint the
bridge over pixels that are foreground anyway. With ``join_parts=True`` the parts of a
multi-part mask are joined the same way into one ring (bridges then cross background, as in
ultralytics' own ``merge_multi_segment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

__all__ = ["Ring", "keyhole_polygons", "ring_area", "trace_polygons"]

# Directions of unit edges: east, south, west, north (y grows downwards).
_DX = np.array([1, 0, -1, 0], dtype=np.int64)
_DY = np.array([0, 1, 0, -1], dtype=np.int64)
_EAST, _SOUTH, _WEST, _NORTH = 0, 1, 2, 3

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Ring:
    """One closed ring: ``points`` is an (N, 2) int64 array of (x, y) pixel corners, not repeated
    at the end. ``parent`` is the index (in the same list) of the outer ring around a hole."""

    points: IntArray
    is_hole: bool
    parent: int | None = None

    def flat(self) -> list[float]:
        """``[x1, y1, x2, y2, ...]`` as COCO writes polygons."""
        return [float(v) for v in self.points.ravel()]


def ring_area(points: npt.ArrayLike) -> float:
    """Signed shoelace area in image coordinates: positive for outer rings, negative for holes."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2.0


class _Graph:
    """Unit boundary edges of a (padded, cropped) mask linked into cycles.

    Edge ``e`` starts at vertex ``(sx[e], sy[e])`` and goes one pixel in direction ``d[e]``;
    ``nxt``/``prv`` link edges into rings (later also through bridge nodes, which are extra
    entries of ``sx``/``sy`` with direction -1).
    """

    def __init__(self, mask: npt.NDArray[np.bool_]) -> None:
        h, w = mask.shape
        p = np.zeros((h + 2, w + 2), dtype=bool)
        p[1:-1, 1:-1] = mask
        self.p = p
        above, below = p[:-1, :], p[1:, :]
        left, right = p[:, :-1], p[:, 1:]
        # east: top crack of a foreground pixel (background above), from (x, y) to (x+1, y)
        ey, ex = np.nonzero(below & ~above)
        # west: bottom crack of a foreground pixel, from (x+1, y) to (x, y)
        wy, wx = np.nonzero(above & ~below)
        # south: foreground on the west, from (x, y) to (x, y+1)
        sy_, sx_ = np.nonzero(left & ~right)
        # north: foreground on the east, from (x, y+1) to (x, y)
        ny, nx = np.nonzero(right & ~left)
        sx = np.concatenate([ex, wx + 1, sx_ + 1, nx + 1]).astype(np.int64)
        sy = np.concatenate([ey + 1, wy + 1, sy_, ny + 1]).astype(np.int64)
        d = np.concatenate(
            [
                np.full(len(ex), _EAST),
                np.full(len(wx), _WEST),
                np.full(len(sx_), _SOUTH),
                np.full(len(nx), _NORTH),
            ]
        ).astype(np.int64)
        n = len(d)
        stride = w + 3
        table = np.full((4, (h + 3) * stride), -1, dtype=np.int64)
        table[d, sy * stride + sx] = np.arange(n)
        end = (sy + _DY[d]) * stride + (sx + _DX[d])
        right_turn = table[(d + 1) % 4, end]
        straight = table[d, end]
        left_turn = table[(d + 3) % 4, end]
        # At a saddle (two diagonal foreground pixels) both the right and the left turn exist;
        # turning right keeps the two pixels apart, which makes the foreground 4-connected.
        nxt = np.where(right_turn >= 0, right_turn, np.where(straight >= 0, straight, left_turn))
        self.n_unit = n
        self.sx: list[int] = sx.tolist()
        self.sy: list[int] = sy.tolist()
        self.d: list[int] = d.tolist()
        self.nxt: list[int] = nxt.tolist()
        prv = np.empty(n, dtype=np.int64)
        prv[nxt] = np.arange(n)
        self.prv: list[int] = prv.tolist()
        self.table = table
        self.stride = stride

    def edge_at(self, x: int, y: int, direction: int) -> int:
        return int(self.table[direction, y * self.stride + x])

    def cycles(self) -> list[list[int]]:
        """Unit-edge cycles, each starting at its top-most, then left-most edge."""
        seen = bytearray(self.n_unit)
        nxt = self.nxt
        # visiting edges in row-major order of their start makes each cycle start at its
        # top-left vertex: for an outer ring that is an east edge, for a hole a south edge
        order = np.lexsort((np.asarray(self.sx[: self.n_unit]), np.asarray(self.sy[: self.n_unit])))
        out: list[list[int]] = []
        for e0 in order.tolist():
            if seen[e0]:
                continue
            cyc = []
            e = e0
            while not seen[e]:
                seen[e] = 1
                cyc.append(e)
                e = nxt[e]
            out.append(cyc)
        return out

    def add_node(self, x: int, y: int) -> int:
        self.sx.append(x)
        self.sy.append(y)
        self.d.append(-1)
        self.nxt.append(-1)
        self.prv.append(-1)
        return len(self.sx) - 1

    def splice_before(self, target: int, path: list[tuple[int, int]], loop_in: int, loop_out: int) -> None:
        """Insert a closed detour at the start vertex of edge ``target``.

        The detour walks ``path`` (bridge vertices, starting with target's start vertex), enters
        the loop at edge ``loop_out`` (whose start is the last path vertex), follows it round to
        ``loop_in`` (which ends there) and walks ``path`` back.
        """
        before = self.prv[target]
        down = [self.add_node(x, y) for x, y in path]
        # walking back: from the loop's start vertex up the same path to target's start vertex
        up = [self.add_node(self.sx[loop_out], self.sy[loop_out])]
        up += [self.add_node(x, y) for x, y in reversed(path[1:])]
        chain = [before, *down, loop_out]
        for a, b in pairwise(chain):
            self.nxt[a], self.prv[b] = b, a
        chain = [loop_in, *up, target]
        for a, b in pairwise(chain):
            self.nxt[a], self.prv[b] = b, a

    def walk(self, start: int) -> list[int]:
        out = [start]
        e = self.nxt[start]
        while e != start:
            out.append(e)
            e = self.nxt[e]
        return out


def _column(p: npt.NDArray[np.bool_], x: int, y0: int, value: bool) -> int:
    """Row just below the last pixel above row ``y0`` in padded column ``x`` that differs from
    ``value`` (i.e. the top of the run of ``value`` pixels ending at ``y0 - 1``); -1 if the run
    reaches the top of the array."""
    col = p[:y0, x]
    other = np.flatnonzero(col != value)
    return int(other[-1]) + 1 if len(other) else -1


def _points(g: _Graph, edges: list[int], ox: int, oy: int) -> IntArray:
    """Vertices of a walk, collinear vertices removed, shifted back to image coordinates."""
    pts = np.column_stack(
        [np.asarray([g.sx[e] for e in edges], np.int64), np.asarray([g.sy[e] for e in edges], np.int64)]
    )
    return _drop_collinear(pts) + np.array([ox - 1, oy - 1], dtype=np.int64)


def _drop_collinear(pts: IntArray) -> IntArray:
    """Remove vertices that continue straight on (and duplicates); spikes (reversals) stay, since
    the keyhole bridges are made of them."""
    while True:
        if len(pts) < 3:
            return pts
        prev = np.roll(pts, 1, axis=0)
        nxt = np.roll(pts, -1, axis=0)
        a = pts - prev
        b = nxt - pts
        cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        dot = a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]
        dup = (a == 0).all(axis=1)
        keep = ~(((cross == 0) & (dot > 0)) | dup)
        if keep.all():
            return pts
        pts = pts[keep]


def _crop(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return mask[y0:y1, x0:x1], x0, y0


def _as_mask(mask: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    return m.astype(bool, copy=False)


class _Traced:
    """Cycles of one cropped mask, classified, with the ray that ties each one to a parent."""

    def __init__(self, mask: npt.NDArray[np.bool_]) -> None:
        self.g = _Graph(mask)
        self.cycles = self.g.cycles()
        # first edge of each cycle is its top-left one (see _Graph.cycles)
        self.is_hole = [self.g.d[c[0]] == _SOUTH for c in self.cycles]
        self.cycle_of = np.empty(self.g.n_unit, dtype=np.int64)
        for i, c in enumerate(self.cycles):
            self.cycle_of[c] = i

    def hole_anchor(self, i: int) -> tuple[int, int, int, int]:
        """For hole ``i``: (target edge, loop_in, loop_out, Y') where target is the east edge on
        top of the foreground run above the hole's top-left pixel."""
        g = self.g
        first = self.cycles[i][0]  # south edge at the hole's top-left corner (x, y)
        x, y = g.sx[first], g.sy[first]
        loop_out = first
        loop_in = g.prv[first]  # the west edge ending at (x, y)
        top = _column(g.p, x, y, True)  # padded column x = pixel column x, rows in padded coords
        target = g.edge_at(x, top, _EAST)
        return target, loop_in, loop_out, top

    def part_anchor(self, i: int) -> tuple[int, int, int, int] | None:
        """For outer ring ``i``: the west edge at the bottom of the foreground above its top-left
        pixel, if any (else None: the part is a root)."""
        g = self.g
        first = self.cycles[i][0]  # east edge from (x, y): top crack of pixel (x, y)
        x, y = g.sx[first], g.sy[first]
        top = _column(g.p, x, y, False)
        if top <= 0:
            return None
        target = g.edge_at(x + 1, top, _WEST)  # from (x+1, top) to (x, top)
        return target, g.prv[first], first, top


def trace_polygons(mask: npt.ArrayLike, *, tolerance: float = 0.0) -> list[Ring]:
    """Outer rings and holes of a boolean mask, without bridges.

    Rings are ordered outer rings first in row-major order of their top-left corner, then the
    holes; each hole's ``parent`` is the index of the outer ring that encloses it. An empty mask
    gives an empty list.
    """
    m = _as_mask(mask)
    crop = _crop(m)
    if crop is None:
        return []
    sub, ox, oy = crop
    t = _Traced(sub)
    # the owner of a ring: the outer ring of the 4-connected part it bounds
    owner: list[int] = list(range(len(t.cycles)))
    for i in range(len(t.cycles)):  # top-left order: a hole's target ring is already resolved
        if t.is_hole[i]:
            target = t.hole_anchor(i)[0]
            owner[i] = owner[int(t.cycle_of[target])]
    outers = [i for i in range(len(t.cycles)) if not t.is_hole[i]]
    holes = [i for i in range(len(t.cycles)) if t.is_hole[i]]
    index = {c: k for k, c in enumerate(outers)}
    rings = []
    for i in outers + holes:
        pts = _points(t.g, t.cycles[i], ox, oy)
        if tolerance > 0:
            pts = _simplify_closed(pts, tolerance)
        rings.append(Ring(points=pts, is_hole=t.is_hole[i], parent=index[owner[i]] if t.is_hole[i] else None))
    return rings


def keyhole_polygons(
    mask: npt.ArrayLike, *, join_parts: bool = False, tolerance: float = 0.0
) -> list[IntArray]:
    """Rings with every hole bridged into its enclosing ring: one ring per 4-connected part
    (``join_parts=False``, COCO's list of polygons) or a single ring for the whole mask
    (``join_parts=True``, a YOLO-seg line). Each ring is an (N, 2) int64 array of corners.

    ``tolerance`` > 0 simplifies each stretch between bridge ends with Douglas-Peucker
    (the result may then differ from the mask by about ``tolerance`` pixels at the boundary).
    """
    m = _as_mask(mask)
    crop = _crop(m)
    if crop is None:
        return []
    sub, ox, oy = crop
    t = _Traced(sub)
    g = t.g
    pinned: set[int] = set()
    roots: list[int] = []
    for i in range(len(t.cycles)):
        if t.is_hole[i]:
            target, loop_in, loop_out, top = t.hole_anchor(i)
            x, y = g.sx[loop_out], g.sy[loop_out]
            n0 = len(g.sx)
            g.splice_before(target, [(x, top)], loop_in, loop_out)
            pinned.update(range(n0, len(g.sx)))
            pinned.update((loop_out, target))
        elif join_parts:
            anchor = t.part_anchor(i)
            if anchor is None:
                roots.append(i)
                continue
            target, loop_in, loop_out, top = anchor
            x, y = g.sx[loop_out], g.sy[loop_out]
            # detour after the west edge `target` (which ends at (x, top)): enter the bridge at
            # its successor so the loop hangs off vertex (x, top)
            after = g.nxt[target]
            n0 = len(g.sx)
            g.splice_before(after, [(x, top)], loop_in, loop_out)
            pinned.update(range(n0, len(g.sx)))
            pinned.update((loop_out, after))
        else:
            roots.append(i)
    if join_parts and len(roots) > 1:
        # parts with nothing above them hang off the first one along the top row of the crop
        first = t.cycles[roots[0]][0]
        x0, top = g.sx[first], g.sy[first]
        for i in roots[1:]:
            e = t.cycles[i][0]
            x, y = g.sx[e], g.sy[e]
            n0 = len(g.sx)
            g.splice_before(first, [(x0, top), (x, top)] if y != top else [(x0, top)], g.prv[e], e)
            pinned.update(range(n0, len(g.sx)))
            pinned.update((e, first))
        roots = roots[:1]
    out = []
    for i in roots:
        start = t.cycles[i][0]
        walk = g.walk(start)
        if tolerance > 0:
            out.append(_simplify_pinned(g, walk, pinned, ox, oy, tolerance))
        else:
            out.append(_points(g, walk, ox, oy))
    return out


# ----------------------------------------------------------------------------- simplification
def _rdp(pts: npt.NDArray[np.float64], tol: float) -> list[int]:
    """Indices kept by Douglas-Peucker on an open chain (both ends kept)."""
    keep = [0, len(pts) - 1]
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = pts[b] - pts[a]
        rel = pts[a + 1 : b] - pts[a]
        norm = float(np.hypot(seg[0], seg[1]))
        if norm == 0:
            dist = np.hypot(rel[:, 0], rel[:, 1])
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
        k = int(np.argmax(dist))
        if dist[k] > tol:
            mid = a + 1 + k
            keep.append(mid)
            stack.extend([(a, mid), (mid, b)])
    return sorted(keep)


def _simplify_closed(pts: IntArray, tol: float) -> IntArray:
    if len(pts) <= 4:
        return pts
    # split the closed ring at its first vertex and the vertex farthest from it
    far = int(np.argmax(((pts - pts[0]) ** 2).sum(axis=1)))
    f = pts.astype(np.float64)
    a = _rdp(f[: far + 1], tol)
    b = _rdp(np.vstack([f[far:], f[:1]]), tol)
    idx = a + [far + k for k in b[1:-1]]
    out = pts[idx]
    return out if len(out) >= 3 else pts


def _simplify_pinned(g: _Graph, walk: list[int], pinned: set[int], ox: int, oy: int, tol: float) -> IntArray:
    pts = np.column_stack(
        [np.asarray([g.sx[e] for e in walk], np.int64), np.asarray([g.sy[e] for e in walk], np.int64)]
    )
    cuts = [k for k, e in enumerate(walk) if e in pinned] or [0]
    if cuts[0] != 0:
        cuts = [0, *cuts]
    cuts.append(len(walk))
    keep: list[int] = []
    f = pts.astype(np.float64)
    for a, b in pairwise(cuts):
        chain = np.vstack([f[a:b], f[b % len(f) : b % len(f) + 1]])
        kept = _rdp(chain, tol)
        keep.extend(a + k for k in kept[:-1])
    out = _drop_collinear(pts[keep])
    if len(out) < 3:
        out = _drop_collinear(pts)
    return out + np.array([ox - 1, oy - 1], dtype=np.int64)
