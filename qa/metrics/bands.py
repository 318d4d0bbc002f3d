"""Boundary bands of label maps, and maps prepared (banded, run structure found) for measuring.

The band of a binary mask M with width d is, as in boundary-iou-api's ``mask_to_boundary``::

    B(M) = M - erode^d(pad₁(M))     (3x3 erosion applied d times, 1 px of zero padding)

i.e. the pixels of M whose (2d+1)x(2d+1) window holds a pixel outside M or reaches outside
the image. For a label map L (each pixel one label) the bands of all labels at once are

    band(p) ⟺ the window W_d(p) holds a label ≠ L(p), or W_d(p) leaves the image,

so that B(mask of label s) = band ∩ {L = s}. Computing this for every pixel costs a few
bit operations: a window is non-uniform iff one of its rows has a horizontal label change
("crack") inside the window's columns, or its centre column has a vertical change inside the
window's rows. Cracks are packed 64 per machine word; a compiled kernel
(:func:`qa.metrics._map_kernels.band_from_cracks`) widens each row's horizontal cracks into runs
and ORs windows of rows word by word (three passes whatever d), so the band of a 2048x1024 map
costs less than reading the map once. ``tests/qa/metrics/test_bands.py`` checks the identity against a
literal erosion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qa.metrics.drift import CrackIndex, crack_index
from qa.metrics.maps import VOID, LabelledMap, MetricsInputError, Segment

_WORD = np.dtype("<u8")


def boundary_width(height: int, width: int, *, ratio: float) -> int:
    """Band width d = max(1, round(ratio·√(H² + W²))), Python's round (half to even).

    This is boundary-iou-api's ``dilation``: 12.5 → 12, 4.5 → 4, 2.5 → 2.
    """
    if not math.isfinite(ratio) or ratio < 0:
        raise MetricsInputError(f"boundary ratio must be a finite number ≥ 0, got {ratio}")
    return max(1, round(ratio * math.sqrt(height * height + width * width)))


def _pack_rows(bits: NDArray[np.bool_], words: int) -> NDArray[np.uint64]:
    """(H, n) booleans → (H, words) little-endian words; pixel j is bit j % 64 of word j // 64."""
    height = bits.shape[0]
    packed = np.packbits(bits, axis=1, bitorder="little")
    if packed.shape[1] == words * 8:
        return packed.view(_WORD)  # the width is a multiple of 64: no padding needed
    out = np.zeros((height, words * 8), dtype=np.uint8)
    out[:, : packed.shape[1]] = packed
    return out.view(_WORD)


def _shift_right(x: NDArray[np.uint64], k: int) -> NDArray[np.uint64]:
    """Bit-pixel shift along rows: out[j] = x[j - k], zeros shifted in."""
    words = x.shape[1]
    q, r = divmod(k, 64)
    out = np.zeros_like(x)
    if q >= words:
        return out
    src = x[:, : words - q]
    if r == 0:
        out[:, q:] = src
    else:
        out[:, q:] = src << r
        out[:, q + 1 :] |= src[:, :-1] >> (64 - r)
    return out


@lru_cache(maxsize=64)
def _valid_bits(cols: int, words: int) -> NDArray[np.uint64]:
    """One row of words with the bits of columns 0 .. cols - 1 set (cached, read-only)."""
    bits = np.zeros(words * 64, dtype=np.bool_)
    bits[: max(cols, 0)] = True
    row: NDArray[np.uint64] = _pack_rows(bits[None, :], words)[0]
    row.setflags(write=False)
    return row


@lru_cache(maxsize=64)
def _edge_bits(cols: int, words: int, d: int) -> NDArray[np.uint64]:
    """One row of words with the first and last d columns set (cached, read-only)."""
    edge = np.zeros(words * 64, dtype=np.bool_)
    edge[: min(d, cols)] = True
    edge[max(cols - d, 0) : cols] = True
    row: NDArray[np.uint64] = _pack_rows(edge[None, :], words)[0]
    row.setflags(write=False)
    return row


def _band_from_cracks(
    cracks_h: NDArray[np.uint64], cracks_v: NDArray[np.uint64], d: int, height: int, cols: int
) -> NDArray[np.uint64]:
    """Packed band of width d from packed cracks.

    ``cracks_h`` bit j of row r: labels differ between (r, j) and (r, j + 1);
    ``cracks_v`` bit c of row r: labels differ between (r, c) and (r + 1, c).
    """
    # Imported on first use: numba's import stays out of processes that never measure.
    from qa.metrics._map_kernels import band_from_cracks

    words = cracks_h.shape[1]
    # A few compiled passes instead of a few dozen numpy passes over the plane.
    band = np.zeros((height, words), dtype=_WORD)
    scratch = np.empty((3, height, words), dtype=_WORD)
    band_from_cracks(np.ascontiguousarray(cracks_h), np.ascontiguousarray(cracks_v), d, cols, scratch, band)
    # Windows that leave the image: boundary-iou-api's zero padding reaches them.
    band |= _edge_bits(cols, words, d)
    valid = _valid_bits(cols, words)
    band[:d] = valid
    band[max(height - d, 0) :] = valid
    band &= valid
    return band


def _unpack(plane: NDArray[np.uint64], cols: int) -> NDArray[np.bool_]:
    return np.unpackbits(plane.view(np.uint8), axis=1, count=cols, bitorder="little").view(np.bool_)


def band_mask(labels: NDArray[np.integer], width: int) -> NDArray[np.bool_]:
    """Pixels whose (2·width+1)² window holds another label or leaves the image.

    For each label s, ``band_mask(labels, d) & (labels == s)`` equals boundary-iou-api's
    ``mask_to_boundary(labels == s)`` with dilation d (1 px zero padding, then d 3x3
    erosions). Void pixels get a value too; callers ignore it.
    """
    if width < 1:
        raise MetricsInputError(f"band width must be ≥ 1, got {width}")
    height, cols = labels.shape
    if height == 0 or cols == 0:
        return np.zeros((height, cols), dtype=np.bool_)
    words = (cols + 63) // 64
    cracks_h = _pack_rows(labels[:, :-1] != labels[:, 1:], words)
    cracks_v = np.zeros((height, words), dtype=_WORD)
    cracks_v[:-1] = _pack_rows(labels[:-1] != labels[1:], words)
    return _unpack(_band_from_cracks(cracks_h, cracks_v, width, height, cols), cols)


# Ids up to this get direct lookup tables; larger ids (24-bit COCO ids) use binary search.
_TABLE_LIMIT = 1 << 20


@dataclass(frozen=True, eq=False)
class SegmentLookup:
    """Segment-table lookups by id, used on sparse pixel samples only.

    Compact values: 0 = void, row + 1 for table row ``row``, n + 1 for an id without a row.
    Category codes: the category id, or codes below every category id for void and unknown.
    """

    sorted_ids: NDArray[np.int64]
    sorted_rows: NDArray[np.intp]
    row_category: NDArray[np.int64]
    value_table: NDArray[np.int64] | None  # id → value for ids < len - 1; last slot = unknown
    category_table: NDArray[np.int64] | None

    @classmethod
    def of(cls, segments: tuple[Segment, ...]) -> SegmentLookup:
        n = len(segments)
        ids = np.fromiter((s.id for s in segments), dtype=np.int64, count=n)
        order = np.argsort(ids, kind="stable")
        row_category = np.fromiter((s.category_id for s in segments), dtype=np.int64, count=n)
        floor = int(row_category.min()) if n else 0
        value_table = category_table = None
        top = int(ids.max()) if n else 0
        if top < _TABLE_LIMIT:
            value_table = np.full(top + 2, n + 1, dtype=np.int64)
            value_table[0] = VOID
            value_table[ids] = np.arange(1, n + 1)
            category_table = np.full(top + 2, floor - 2, dtype=np.int64)
            category_table[0] = floor - 1
            category_table[ids] = row_category
        return cls(
            sorted_ids=ids[order],
            sorted_rows=order.astype(np.intp),
            row_category=row_category,
            value_table=value_table,
            category_table=category_table,
        )

    @property
    def rows(self) -> int:
        return int(self.sorted_ids.shape[0])

    def _table_index(self, ids: NDArray[np.integer], table: NDArray[np.int64]) -> NDArray[np.intp]:
        # Ids beyond the table are unknown: clip them onto its last ("unknown") slot.
        index: NDArray[np.intp] = np.minimum(ids.astype(np.intp), table.shape[0] - 1)
        return index

    def row_of(self, ids: NDArray[np.integer]) -> NDArray[np.intp]:
        """Table row per id; -1 for void and -2 for ids without a row."""
        wanted = ids.astype(np.int64)
        if self.rows == 0:
            return np.where(wanted == VOID, -1, -2).astype(np.intp)
        at = np.minimum(np.searchsorted(self.sorted_ids, wanted), self.rows - 1)
        found = self.sorted_ids[at] == wanted
        rows = np.where(found, self.sorted_rows[at], -2)
        rows[wanted == VOID] = -1
        return rows.astype(np.intp)

    def value_of(self, ids: NDArray[np.integer]) -> NDArray[np.int64]:
        """Compact value per id (see class docstring)."""
        if self.value_table is not None:
            return self.value_table[self._table_index(ids, self.value_table)]
        rows = self.row_of(ids).astype(np.int64)
        return np.where(rows >= 0, rows + 1, np.where(rows == -1, VOID, self.rows + 1))

    def value_at(self, flat: NDArray[np.unsignedinteger], pixels: NDArray[np.intp]) -> NDArray[np.int64]:
        """``value_of(flat[pixels])``, in one compiled pass where there is a lookup table."""
        if self.value_table is None:
            return self.value_of(flat[pixels])
        return _table_at(flat, pixels, self.value_table)

    def category_code_at(
        self, flat: NDArray[np.unsignedinteger], pixels: NDArray[np.intp]
    ) -> NDArray[np.int64]:
        """``category_code_of(flat[pixels])``, in one compiled pass where there is a lookup table."""
        if self.category_table is None:
            return self.category_code_of(flat[pixels])
        return _table_at(flat, pixels, self.category_table)

    def category_code_of(self, ids: NDArray[np.integer]) -> NDArray[np.int64]:
        """Category code per id (see class docstring)."""
        if self.category_table is not None:
            return self.category_table[self._table_index(ids, self.category_table)]
        rows = self.row_of(ids)
        floor = int(self.row_category.min()) if self.rows else 0
        codes = np.where(rows >= 0, self.row_category[np.maximum(rows, 0)] if self.rows else 0, floor - 1)
        codes[rows == -2] = floor - 2
        return codes.astype(np.int64)


@dataclass(frozen=True, eq=False)
class PreparedMap:
    """A :class:`LabelledMap` with its bands and run structure computed once, for reuse.

    Bit planes are (H, ⌈W/64⌉) arrays of little-endian 64-bit words, pixel (r, c) at bit
    c % 64 of word [r, c // 64]:

    * ``segment_band``: pixel is in the band of its own segment (width ``band_width``);
    * ``category_band``: pixel is in the band of its own category region;
    * ``changes``: bit c set when the id or a band bit differs between (r, c) and (r, c + 1).

    ``category_cracks_h`` / ``_v`` are the flat indices of the left / top pixel of every
    horizontal / vertical pair of 4-adjacent pixels whose categories differ (void counts as
    a category here), for boundary drift. Prepare a reference (e.g. a gold image) once and
    pass it to ``measure_pair`` for every submission.
    """

    source: LabelledMap
    band_width: int
    boundary_ratio: float | None
    lookup: SegmentLookup
    segment_band: NDArray[np.uint64]
    category_band: NDArray[np.uint64]
    changes: NDArray[np.uint64]
    category_cracks_h: NDArray[np.intp]
    category_cracks_v: NDArray[np.intp]
    # Work done on demand and kept with the map (the crack index for drift); see crack_index().
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.source.shape

    @property
    def local_categories(self) -> NDArray[np.int64]:
        """The distinct category ids of the segment table, ascending: the map's local classes."""
        return np.unique(self.lookup.row_category)

    def crack_index(self) -> CrackIndex:
        """The category cracks indexed for boundary drift; built on first use, then kept (a
        prepared reference pays for it once). Safe to call from several threads: at worst two
        build the same index."""
        index: CrackIndex | None = self._cache.get("cracks")
        if index is None:
            local_categories = self.local_categories
            # Compact value → local class: void (0) and ids without a row (last value) are -1.
            local_of_value = np.full(self.values, -1, dtype=np.int64)
            local_of_value[1 : self.values - 1] = np.searchsorted(local_categories, self.lookup.row_category)
            flat = self.source.ids.reshape(-1)
            index = crack_index(
                self.category_cracks_h,
                self.category_cracks_v,
                cols=self.shape[1],
                local_at=lambda pixels: local_of_value[self.lookup.value_at(flat, pixels)],
                local_classes=int(local_categories.shape[0]),
            )
            self._cache["cracks"] = index
        return index

    @property
    def values(self) -> int:
        """Number of compact values: void, one per table row, one for unknown ids."""
        return self.lookup.rows + 2

    def unknown_ids(self) -> list[int]:
        """Ids present in the map without a segment-table row (slow; for error messages)."""
        present = np.unique(self.source.ids)
        rows = self.lookup.row_of(present)
        return [int(i) for i in present[rows == -2]]


def prepare_map(
    label_map: LabelledMap, *, boundary_ratio: float = 0.02, boundary_width: int | None = None
) -> PreparedMap:
    """Compute segment and category bands of width d and the run structure of a map.

    d = ``boundary_width`` if given, else :func:`boundary_width` of the map size and
    ``boundary_ratio``. Category bands use the category regions (segments of one category
    merged), as boundary-iou-api's class boundary IoU does. Costs a few passes over the map:
    label comparisons, bit packing, and sparse work at the label changes.
    """
    height, cols = label_map.shape
    d = boundary_width if boundary_width is not None else _width(height, cols, boundary_ratio)
    if d < 1:
        raise MetricsInputError(f"band width must be ≥ 1, got {d}")
    lookup = SegmentLookup.of(label_map.segments)
    flat = label_map.ids.reshape(-1)
    words = max((cols + 63) // 64, 1)
    # Horizontal cracks from one contiguous comparison of the flat map: bit c of row r says
    # pixel r·W + c differs from the next one; bit W - 1 (row wrap-around) is masked off.
    differs = np.empty(height * cols, dtype=np.bool_)
    np.not_equal(flat[:-1], flat[1:], out=differs[:-1])
    differs[-1] = False
    seg_h_packed = _pack_rows(differs.reshape(height, cols), words)
    seg_h_packed &= _valid_bits(cols - 1, words)
    # Vertical cracks: bit c of row r says pixel r·W + c differs from the one below.
    seg_v_packed = np.zeros((height, words), dtype=_WORD)
    if height > 1:
        np.not_equal(flat[:-cols], flat[cols:], out=differs[: (height - 1) * cols])
        seg_v_packed[:-1] = _pack_rows(differs[: (height - 1) * cols].reshape(height - 1, cols), words)
    del differs
    # Category changes can only happen where the id changes: look up categories there only.
    left = _set_bits(seg_h_packed, cols)
    top = _set_bits(seg_v_packed, cols)
    differ_h = lookup.category_code_at(flat, left) != lookup.category_code_at(flat, left + 1)
    differ_v = lookup.category_code_at(flat, top) != lookup.category_code_at(flat, top + cols)
    segment_band = _band_from_cracks(seg_h_packed, seg_v_packed, d, height, cols)
    changes = seg_h_packed.copy()
    _or_changes(segment_band, changes)
    if differ_h.all() and differ_v.all():
        # No two touching segments share a category (e.g. a semantic map): same cracks, same band.
        category_band = segment_band
    else:
        # Category cracks: the id cracks less the few between two segments of one category.
        h_row, h_col = np.divmod(left[~differ_h], cols)
        v_row, v_col = np.divmod(top[~differ_v], cols)
        category_band = _band_from_cracks(
            seg_h_packed ^ _plane_from_bits(h_row, h_col, height, words),
            seg_v_packed ^ _plane_from_bits(v_row, v_col, height, words),
            d,
            height,
            cols,
        )
        _or_changes(category_band, changes)
    changes &= _valid_bits(cols - 1, words)
    return PreparedMap(
        source=label_map,
        band_width=d,
        boundary_ratio=None if boundary_width is not None else boundary_ratio,
        lookup=lookup,
        segment_band=segment_band,
        category_band=category_band,
        changes=changes,
        category_cracks_h=left[differ_h],
        category_cracks_v=top[differ_v],
    )


def run_starts(reference: PreparedMap, submission: PreparedMap) -> NDArray[np.intp]:
    """Flat indices where a run starts: row starts and every change in either map.

    Within a run (a horizontal stretch of one row) both ids and all band bits are constant,
    so the joint histogram only needs one sample per run, weighted by its length.
    """
    cols = reference.shape[1]
    starts = _shift_right(reference.changes | submission.changes, 1)
    starts[:, 0] |= np.uint64(1)
    return _set_bits(starts, cols)


def _set_bits(plane: NDArray[np.uint64], cols: int) -> NDArray[np.intp]:
    """Flat pixel indices (r·W + c) of the set bits of a packed plane, in row-major order."""
    # Imported on first use: numba's import stays out of processes that never measure.
    from qa.metrics._map_kernels import set_bits

    positions: NDArray[np.intp] = set_bits(np.ascontiguousarray(plane), cols)
    return positions


def _or_changes(plane: NDArray[np.uint64], out: NDArray[np.uint64]) -> None:
    """out |= plane XOR (plane one bit-pixel to the left): where it changes between c and c + 1."""
    from qa.metrics._map_kernels import or_changes  # on first use, as in _set_bits

    or_changes(plane, out)


def _table_at(
    flat: NDArray[np.unsignedinteger], pixels: NDArray[np.intp], table: NDArray[np.int64]
) -> NDArray[np.int64]:
    from qa.metrics._map_kernels import table_at  # on first use, as in _set_bits

    values: NDArray[np.int64] = table_at(flat, np.ascontiguousarray(pixels, dtype=np.intp), table)
    return values


def _plane_from_bits(
    rows: NDArray[np.intp], columns: NDArray[np.intp], height: int, words: int
) -> NDArray[np.uint64]:
    """A packed plane with the given (row, column) bits set; positions in row-major order."""
    out = np.zeros(height * words, dtype=_WORD)
    if rows.size:
        word = rows * words + (columns >> 6)
        bits = np.left_shift(np.uint64(1), (columns & 63).astype(np.uint64))
        first = np.flatnonzero(np.concatenate([[True], word[1:] != word[:-1]]))
        out[word[first]] = np.bitwise_or.reduceat(bits, first)
    return out.reshape(height, words)


def band_bits_at(prepared: PreparedMap, pixels: NDArray[np.intp]) -> NDArray[np.int64]:
    """Band bits of a prepared map at flat pixel indices: 1 = segment band, 2 = category band."""
    from qa.metrics._map_kernels import band_bits_at as kernel  # on first use, as in _set_bits

    bits: NDArray[np.int64] = kernel(
        np.ascontiguousarray(pixels, dtype=np.intp),
        prepared.shape[1],
        prepared.segment_band,
        prepared.category_band,
    )
    return bits


def _width(height: int, cols: int, ratio: float) -> int:
    return boundary_width(height, cols, ratio=ratio)
