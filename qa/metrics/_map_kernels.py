"""Compiled kernels over the bit planes of prepared maps (:mod:`qa.metrics.bands`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qa.metrics._compiled import kernel

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
