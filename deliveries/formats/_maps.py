"""One pass over an index map: where it changes from one row to the next, and from that every
segment's area, bbox and COCO RLE counts, and the runs the PNG encoder is built from.

Why changes: a map holds a few thousand vertical changes where it holds a million pixels, so
per-segment statistics from them avoid building one boolean mask per segment (the slow path,
~1 ms each on a 1024x768 map). The changes are found with one comparison of the map with
itself shifted by a row, and grouped into runs: consecutive changed pixels of a row with the
same (id, id above) pair. Every column run of a segment starts on row 0 or at a change whose
new id is the segment's, and ends on the last row or at a change whose old id is, so

* area = sum over runs of (row * length) where the old id is the segment's, minus the same
  where the new id is, plus height * the segment's pixels on the last row;
* bbox: columns and top row from the runs of the new id, bottom row from the runs of the old;

all bincounts / ufunc.at over the runs, no sort. The column-major runs COCO RLE needs are the
changes sorted into column order (only the COCO exporter asks, lazily). Everything is computed
on first use, so an exporter pays only for what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class PixelRuns:
    """The runs of the PNG encoder, shared by every PNG made from one map (any lookup table).

    After PNG's Up filter an image derived from the map (pixel = f(segment id)) is zero except
    for each row's filter byte and the pixels on row 0 or whose id differs from the one above.
    Entries, in file order: a *marker* for each row's filter byte, then the row's runs of such
    pixels (consecutive, same (id, id above) pair). In a layout of rows of ``width + 1`` cells
    (the marker, then the pixels) entry ``i`` sits at ``f[i]``, on row ``yr[i] - (not marker)``;
    it covers ``c[i]`` pixels (0 for markers). Its (id, id above) pair is ``pair[i]``, an index
    into ``new``/``old`` (``old`` -1 on row 0; the last pair stands for the markers)."""

    height: int
    width: int
    f: I64
    yr: I64
    c: I64
    marker: I64  # 1 for markers, else 0
    pair: I64
    pair_c: I64  # pair * 5 + min(c, 4): the literal-table index of the encoder
    c_tri: I64  # c * (c - 1) / 2, for the Adler-32
    new: I64
    old: I64


class MapRuns:
    """Statistics of one (height, width) uint16 index map, computed on first use.

    ``ids`` are the non-zero ids present, ascending; ``areas``/``bboxes`` are per id, bboxes as
    [x, y, w, h]; ``ids[k]`` owns the column-major runs ``starts[offsets[k]:offsets[k+1]]``
    (ascending) with ``lengths``; ``pixels`` are the runs of the PNG encoder."""

    def __init__(self, m: npt.NDArray[np.uint16]) -> None:
        m = np.ascontiguousarray(m, dtype=np.uint16)
        h, w = m.shape
        self.height: int = h
        self.width: int = w
        self._map = m
        flat = m.reshape(-1)
        w1 = w + 1
        # rows of w + 1 cells: the filter byte's marker, then pixels that differ from above
        mask = np.ones((h, w1), dtype=bool)  # row 0: every pixel (nothing above)
        if h > 1:
            np.not_equal(m[1:], m[:-1], out=mask[1:, 1:])
        f = np.flatnonzero(mask) if flat.size else np.zeros(0, np.int64)
        y = f // w1
        marker = f == y * w1
        p = f - y - 1  # the pixel (markers: the one before the row, any value will do)
        new = flat.take(p, mode="clip").astype(np.int64)
        old = flat.take(p - w, mode="clip").astype(np.int64)
        old[: min(w1, len(old))] = -1  # row 0: nothing above
        key = (new << 17) | (old + 1)
        key[marker] = -1
        brk = np.ones(len(f), dtype=bool)
        if len(f) > 1:
            brk[1:] = (np.diff(f) != 1) | (key[1:] != key[:-1])
        first = np.flatnonzero(brk)
        count = np.diff(np.append(first, len(f)))
        self._f, self._y, self._marker = f, y, marker
        gm = marker[first]
        self._gf: I64 = f[first]
        self._gy: I64 = y[first]
        self._gm: B = gm
        self._gc: I64 = np.where(gm, 0, count)
        self._gnew: I64 = new[first]
        self._gold: I64 = old[first]
        self._last: I64 = flat[(h - 1) * w :].astype(np.int64) if h else np.zeros(0, np.int64)

    @cached_property
    def _runs(self) -> tuple[I64, I64, I64, I64, I64]:
        """(y, x, length, new id, old id) of the runs (markers left out)."""
        r = np.flatnonzero(~self._gm)
        y = self._gy[r]
        return y, self._gf[r] - y * (self.width + 1) - 1, self._gc[r], self._gnew[r], self._gold[r]

    @cached_property
    def _counts(self) -> I64:
        """Runs per new id (index = id): which ids are present."""
        return np.bincount(self._runs[3], minlength=1).astype(np.int64)

    @cached_property
    def ids(self) -> I64:
        return np.flatnonzero(self._counts[1:]).astype(np.int64) + 1

    @cached_property
    def areas(self) -> I64:
        y, _, c, new, old = self._runs
        size = len(self._counts)
        yc = (y * c).astype(np.float64)  # bincount weights: exact integers far beyond any map
        ends = np.bincount(old + 1, weights=yc, minlength=size + 1)[1:]  # old -1: row 0, y 0
        starts = np.bincount(new, weights=yc, minlength=size)
        bottom = np.bincount(self._last, minlength=size)
        area = (ends - starts).astype(np.int64) + self.height * bottom
        return area[self.ids]

    @cached_property
    def bboxes(self) -> I64:
        y, x, c, new, old = self._runs
        h, w = self.height, self.width
        size = len(self._counts)
        x0 = np.full(size, w, np.int64)
        x1 = np.full(size, -1, np.int64)
        y0 = np.full(size, h, np.int64)
        y1 = np.full(size + 1, -1, np.int64)  # index old + 1
        np.minimum.at(x0, new, x)
        np.maximum.at(x1, new, x + c - 1)
        np.minimum.at(y0, new, y)
        np.maximum.at(y1, old + 1, y - 1)
        y1 = y1[1:]
        y1[self._last] = h - 1
        ids = self.ids
        return np.column_stack([x0[ids], y0[ids], x1[ids] - x0[ids] + 1, y1[ids] - y0[ids] + 1])

    @cached_property
    def _columns(self) -> tuple[I64, I64, I64]:
        """(offsets, starts, lengths) of the column-major runs grouped by id."""
        h, w = self.height, self.width
        f, y = self._f, self._y
        change = np.flatnonzero(~self._marker[w + 1 :]) + w + 1  # rows 1.. : vertical changes
        cy = y[change]
        cx = f[change] - cy * (w + 1) - 1
        row0 = self._map[0].astype(np.int64)
        # a new column starts a new run only if its top differs from the previous column's bottom
        cols = np.flatnonzero(row0[1:] != self._last[:-1]).astype(np.int64) + 1
        starts = np.concatenate([np.zeros(1, np.int64), cx * h + cy, cols * h])
        starts.sort()
        values = self._map.reshape(-1)[(starts % h) * w + starts // h]
        lengths = np.diff(np.append(starts, h * w))
        keep = np.flatnonzero(values)
        kept = values[keep]
        order = keep[np.argsort(kept, kind="stable")]  # uint16 keys: radix sort
        starts, lengths = starts[order], lengths[order]
        n_runs = np.bincount(kept, minlength=len(self._counts))[self.ids]
        offsets = np.zeros(len(n_runs) + 1, np.int64)
        np.cumsum(n_runs, out=offsets[1:])
        return offsets, starts, lengths

    @property
    def offsets(self) -> I64:
        return self._columns[0]

    @property
    def starts(self) -> I64:
        return self._columns[1]

    @property
    def lengths(self) -> I64:
        return self._columns[2]

    @cached_property
    def pixels(self) -> PixelRuns:
        gm, c, new, old = self._gm, self._gc, self._gnew, self._gold
        # number the distinct (new, old) pairs: ids ranked 1..n (0 -> 0, -1 -> n + 1)
        ids = self.ids
        n = len(ids)
        rank = np.zeros(len(self._counts) + 1, np.int64)
        rank[ids] = np.arange(1, n + 1)
        rank[-1] = n + 1  # old = -1
        base = n + 2
        key = rank[new] * base + rank[old]
        key[gm] = base * base  # markers (their new/old are any value): the last pair
        if base * base < max(1 << 16, 4 * len(key)):
            present = np.bincount(key, minlength=base * base + 1) > 0
            up = np.flatnonzero(present)
            pair = (np.cumsum(present) - 1)[key]
        else:
            up, pair = np.unique(key, return_inverse=True)
        id_of = np.concatenate([np.zeros(1, np.int64), ids, np.array([-1, 0], np.int64)])
        return PixelRuns(
            height=self.height,
            width=self.width,
            f=self._gf,
            yr=self._gy + ~gm,
            c=c,
            marker=gm.astype(np.int64),
            pair=pair.astype(np.int64),
            pair_c=pair * 5 + np.minimum(c, 4),
            c_tri=c * (c - 1) // 2,
            new=id_of[up // base],
            old=id_of[up % base],
        )

    def index(self) -> dict[int, int]:
        return {int(i): k for k, i in enumerate(self.ids.tolist())}

    def rle_counts(self, k: int) -> list[int]:
        """Uncompressed COCO RLE counts of segment ``ids[k]``: alternating runs of 0 and 1 over
        the column-major image, starting with a (possibly empty) run of 0, summing to h*w."""
        offsets, starts, lengths = self._columns
        a, b = int(offsets[k]), int(offsets[k + 1])
        s = starts[a:b]
        n = lengths[a:b]
        ends = s + n
        counts = np.empty(2 * (b - a) + 1, dtype=np.int64)
        counts[0] = s[0]
        counts[2:-1:2] = s[1:] - ends[:-1]
        counts[1::2] = n
        counts[-1] = self.height * self.width - int(ends[-1])
        out: list[int] = counts.tolist()
        if out[-1] == 0:
            out.pop()
        return out


def map_runs(m: npt.NDArray[np.uint16]) -> MapRuns:
    return MapRuns(m)


def rle_string_to_counts(s: str) -> list[int]:
    """Decode COCO's compressed counts string (LEB128-like 5-bit groups + 48, each count after
    the second stored as a delta to the count two places before)."""
    counts: list[int] = []
    p = 0
    n = len(s)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("truncated counts string")
            c = ord(s[p]) - 48
            if c < 0 or c > 63:
                raise ValueError(f"invalid character {s[p]!r} in counts string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def counts_to_rle_string(counts: list[int]) -> str:
    """Inverse of :func:`rle_string_to_counts` (pycocotools' rleToString)."""
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)
