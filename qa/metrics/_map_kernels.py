"""Compiled kernels over the bit planes of prepared maps (:mod:`qa.metrics.bands`): bands, run
changes, set bits, and reads of planes and segment tables at sparse pixels (the joint histogram of
:mod:`qa.metrics.counts`). Each replaces several numpy passes (a cast, a clip, a gather, a
temporary per step) by one."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qa.metrics._compiled import kernel, unmanaged_kernel

U64 = NDArray[np.uint64]

# Index of the lowest set bit: isolate it, multiply by a de Bruijn constant, look the top 6 bits up.
_DE_BRUIJN = 0x03F79D71B4CB0A89
_BIT_INDEX = np.zeros(64, dtype=np.int64)
for _i in range(64):
    _BIT_INDEX[(((1 << _i) * _DE_BRUIJN) & 0xFFFFFFFFFFFFFFFF) >> 58] = _i


@kernel
def set_bits(plane: NDArray[np.uint64], cols: int) -> NDArray[np.intp]:
    """Flat pixel indices (r·W + c) of the set bits of a packed (H, words) plane, row-major."""
    height, words = plane.shape
    total = 0
    for r in range(height):
        for w in range(words):
            x = plane[r, w]
            while x != 0:
                x &= x - np.uint64(1)
                total += 1
    out = np.empty(total, np.intp)
    table = _BIT_INDEX
    k = 0
    for r in range(height):
        base = r * cols
        for w in range(words):
            x = plane[r, w]
            while x != 0:
                low = x & (~x + np.uint64(1))
                out[k] = base + w * 64 + table[(low * np.uint64(_DE_BRUIJN)) >> np.uint64(58)]
                k += 1
                x ^= low
    return out


@unmanaged_kernel
def _or_window_rows(src: U64, above: int, below: int, prefix: U64, suffix: U64, out: U64) -> None:
    """out[r] |= OR of src[r - above .. r + below] (rows clipped to the image), word by word.

    Van Herk / Gil-Werman: in blocks of L = above + below + 1 rows, a window is the suffix OR of
    the block it starts in and the prefix OR of the block it ends in, so three passes for any L.
    ``prefix`` / ``suffix``: scratch planes of the shape of ``src``.
    """
    height, words = src.shape
    length = above + below + 1
    for r in range(height):
        for w in range(words):
            prefix[r, w] = src[r, w] if r % length == 0 else prefix[r - 1, w] | src[r, w]
    for r in range(height - 1, -1, -1):
        block_end = r % length == length - 1 or r == height - 1
        for w in range(words):
            suffix[r, w] = src[r, w] if block_end else suffix[r + 1, w] | src[r, w]
    for r in range(height):
        a = max(r - above, 0)
        b = min(r + below, height - 1)
        for w in range(words):
            if a // length != b // length:
                out[r, w] |= suffix[a, w] | prefix[b, w]
            elif a % length == 0:
                out[r, w] |= prefix[b, w]  # the window starts a block (or is clipped there)
            else:
                out[r, w] |= suffix[a, w]  # the window is clipped by the last row of its block


@unmanaged_kernel  # a plain call: LLVM inlines it
def _set_run(out: U64, r: int, start: int, end: int) -> None:
    """Bits start .. end of row r."""
    for k in range(start >> 6, (end >> 6) + 1):
        lo = max(start - (k << 6), 0)
        hi = min(end - (k << 6), 63)
        out[r, k] |= ((np.uint64(2) << np.uint64(hi)) - np.uint64(1)) ^ (
            (np.uint64(1) << np.uint64(lo)) - np.uint64(1)
        )


@unmanaged_kernel
def band_from_cracks(cracks_h: U64, cracks_v: U64, d: int, cols: int, scratch: U64, band: U64) -> None:
    """Set the packed pixels whose (2d + 1)² window holds a crack in ``band`` (zeros on entry;
    :func:`qa.metrics.bands._band_from_cracks` adds the image edges): a horizontal crack in one of
    its rows, between two of its columns, or a vertical crack in its centre column, between two of
    its rows. Planes as in :func:`set_bits`; ``cracks_v`` bit c of row r: between (r, c) and
    (r + 1, c). ``scratch``: three planes of that shape, any content."""
    height, words = cracks_h.shape
    near_h = scratch[0]
    near_h[:] = 0
    # near_h[r, c]: row r has a horizontal crack in columns c - d .. c + d - 1 (crack p joins
    # columns p and p + 1), i.e. crack p sets columns p - d + 1 .. p + d: runs, merged in order.
    table = _BIT_INDEX
    for r in range(height):
        start = 0
        end = -1  # the pending run; none while end < 0
        for w in range(words):
            x = cracks_h[r, w]
            while x != 0:
                low = x & (~x + np.uint64(1))
                x ^= low
                p = w * 64 + table[(low * np.uint64(_DE_BRUIJN)) >> np.uint64(58)]
                if end >= 0 and p - d + 1 <= end + 1:
                    end = p + d
                    continue
                if end >= 0:
                    _set_run(near_h, r, max(start, 0), min(end, cols - 1))
                start = p - d + 1
                end = p + d
        if end >= 0:
            _set_run(near_h, r, max(start, 0), min(end, cols - 1))
    _or_window_rows(near_h, d, d, scratch[1], scratch[2], band)
    # Vertical cracks r - d .. r + d - 1 lie between two of the rows r - d .. r + d.
    _or_window_rows(cracks_v, d, d - 1, scratch[1], scratch[2], band)


@kernel
def table_at(
    flat: NDArray[np.unsignedinteger], pixels: NDArray[np.intp], table: NDArray[np.int64]
) -> NDArray[np.int64]:
    """table[ids[pixels]] for a flat id map, ids beyond the table on its last slot: one pass
    instead of numpy's gather, cast, clip and gather."""
    out = np.empty(pixels.size, np.int64)
    last = table.size - 1
    for k in range(pixels.size):
        i = np.int64(flat[pixels[k]])
        out[k] = table[i if i < last else last]
    return out


@kernel
def band_bits_at(
    pixels: NDArray[np.intp], cols: int, segment_band: U64, category_band: U64
) -> NDArray[np.int64]:
    """Per flat pixel index: bit 0 from ``segment_band``, bit 1 from ``category_band`` (packed
    (H, words) planes as in :func:`set_bits`)."""
    words = segment_band.shape[1]
    segment = segment_band.reshape(-1)
    category = category_band.reshape(-1)
    out = np.empty(pixels.size, np.int64)
    for k in range(pixels.size):
        r = pixels[k] // cols
        c = pixels[k] - r * cols
        w = r * words + (c >> 6)
        bit = np.uint64(c & 63)
        out[k] = np.int64((segment[w] >> bit) & np.uint64(1)) | (
            np.int64((category[w] >> bit) & np.uint64(1)) << 1
        )
    return out


@kernel
def or_changes(plane: U64, out: U64) -> None:
    """out |= plane ^ (plane shifted left by one bit-pixel along rows): bit c set where the plane
    differs between columns c and c + 1 (beyond the row reads 0)."""
    height, words = plane.shape
    for r in range(height):
        for w in range(words):
            x = plane[r, w]
            after = plane[r, w + 1] << np.uint64(63) if w + 1 < words else np.uint64(0)
            out[r, w] |= x ^ ((x >> np.uint64(1)) | after)
