"""A small, fast PNG writer for label images (8-bit grey, 16-bit grey, 8-bit RGB, palette).

Why not Pillow: Pillow's encoder tries a filter per row and deflates with the default strategy,
which costs 3-4x more than the whole rest of an export on label maps. Label maps are runs of
equal values, so the "Up" filter (byte minus the byte above) turns most of the image into zeros
and zlib's Z_RLE strategy compresses those at memory speed. The files are standard PNGs.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._maps import PixelRuns

PngMode = Literal["L", "I;16", "RGB", "P"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type, channels, bytes per sample)
_MODES: dict[str, tuple[int, int, int]] = {
    "L": (8, 0, 1),
    "I;16": (16, 0, 1),
    "RGB": (8, 2, 3),
    "P": (8, 3, 1),
}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(arr: npt.NDArray[np.generic], mode: PngMode, *, palette: bytes | None = None) -> bytes:
    """PNG bytes for ``arr``: (H, W) uint8 for L/P, (H, W) uint16 for I;16, (H, W, 3) uint8 for RGB.
    ``palette`` (P only) is up to 256 RGB triples."""
    depth, ctype, channels = _MODES[mode]
    h, w = arr.shape[:2]
    if mode == "I;16":
        data = np.ascontiguousarray(arr, dtype=">u2").view(np.uint8).reshape(h, 2 * w)
    else:
        if arr.dtype != np.uint8 or arr.ndim != (3 if channels == 3 else 2):
            raise ValueError(f"mode {mode} needs uint8 {'(H, W, 3)' if channels == 3 else '(H, W)'}")
        data = np.ascontiguousarray(arr).reshape(h, w * channels)
    rows = np.empty((h, data.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type Up for every row (the row above the first is zeros)
    if h:
        rows[0, 1:] = data[0]
    np.subtract(data[1:], data[:-1], out=rows[1:, 1:])  # uint8 arithmetic wraps modulo 256
    comp = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = comp.compress(rows.data) + comp.flush()
    parts = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))]
    if mode == "P":
        if palette is None or len(palette) % 3 or len(palette) > 768:
            raise ValueError("mode P needs a palette of at most 256 RGB triples")
        parts.append(_chunk(b"PLTE", palette))
    parts += [_chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"".join(parts)


def write_png(
    path: Path, arr: npt.NDArray[np.generic], mode: PngMode, *, palette: bytes | None = None
) -> None:
    """Write a new PNG file (never overwrites: an existing file means a duplicate name)."""
    data = encode_png(arr, mode, palette=palette)
    with open(path, "xb") as f:
        f.write(data)


# ----------------------------------------------------------------------------- sparse encoder
# A label image derived from an index map through a lookup table (segment id -> pixel bytes)
# differs from the row above only where the map does. With the Up filter every other byte of
# the filtered image is 0, so the deflate stream (one block, RFC 1951's fixed Huffman code) is
# written straight from the places where the map changes, never touching the other pixels:
#
#   per row    the filter byte 2, a literal;
#   per run    (consecutive pixels of a row whose filtered value is the same non-zero v) the
#              bytes of v as literals, then a copy of the rest of the run from bpp bytes back;
#   per gap    (zeros between them) one literal 0 and distance-1 copies.
#
# Every row and run becomes one row of a small table of bit fields (gap, literals, copy,
# and for long gaps/copies more 258-byte copies), so the stream is a few numpy operations over
# the runs followed by one bit-packing pass. The zlib Adler-32 of the filtered bytes follows from
# the same runs: a = 1 + sum(d_i), b = n + sum((n - i) * d_i) (mod 65521).
# Cost is proportional to the number of runs, not to the number of pixels.

_U64 = np.uint64
_ADLER = 65521
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _reverse(code: int, n: int) -> int:
    return int(f"{code:0{n}b}"[::-1], 2) if n else 0


def _literal(sym: int) -> tuple[int, int]:
    """Fixed-Huffman (bits as written, LSB first; length) of literal/length symbol 0..287."""
    if sym < 144:
        return _reverse(0x30 + sym, 8), 8
    if sym < 256:
        return _reverse(0x190 + sym - 144, 9), 9
    if sym < 280:
        return _reverse(sym - 256, 7), 7
    return _reverse(0xC0 + sym - 280, 8), 8


# length symbols 257..285: base length and extra bits
_LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115]
_LEN_BASE += [131, 163, 195, 227, 258]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]


def _match(length: int, dist: int) -> tuple[int, int]:
    """(bits, nbits) of one copy of 3..258 bytes from 1..4 bytes back (distance codes 0..3,
    five bits, no extra bits): at most 18 bits."""
    k = 28 if length == 258 else max(i for i, b in enumerate(_LEN_BASE[:28]) if b <= length)
    code, clen = _literal(257 + k)
    extra = length - _LEN_BASE[k]
    bits = code | (extra << clen) | (_reverse(dist - 1, 5) << (clen + _LEN_EXTRA[k]))
    return bits, clen + _LEN_EXTRA[k] + 5


def _cat(*fields: tuple[int, int]) -> tuple[int, int]:
    bits, nbits = 0, 0
    for b, n in fields:
        bits |= b << nbits
        nbits += n
    return bits, nbits


def _table(fields: list[tuple[int, int]]) -> tuple[U64, I64]:
    return np.array([b for b, _ in fields], np.uint64), np.array([n for _, n in fields], np.int64)


_LIT_BITS, _LIT_NB = _table([_literal(s) for s in range(256)])
_ZERO = _literal(0)
_FULL = 4  # 258-byte copies per extra field (4 x 13 bits)
#: k = 0..4 copies of 258 bytes from d bytes back, d = 1..3 (index d)
_FULL_BITS, _FULL_NB = zip(
    *[_table([_cat(*[_match(258, max(d, 1))] * k) for k in range(_FULL + 1)]) for d in range(4)],
    strict=True,
)
#: A gap of g zero bytes. g < 4: g literal zeros (index g). Otherwise a literal zero and
#: g - 1 = 258 * k + r bytes copied from 1 back, k full copies apart (index 4 + r): r >= 3 one
#: copy, r = 1, 2 literal zeros.
_GAP_BITS, _GAP_NB = _table(
    [_cat(*[_ZERO] * g) for g in range(4)]
    + [_cat(_ZERO, *([_match(r, 1)] if r >= 3 else [_ZERO] * r)) for r in range(258)]
)
#: The tail of a copy of 258 * k + r bytes from d back, k full copies apart: r >= 3 one copy,
#: r = 1, 2 borrow from a full one (255 + r and 3; k is one less), index r, per d = 1..3.
_TAIL_BITS, _TAIL_NB = zip(
    *[
        _table(
            [
                (0, 0)
                if r == 0 or d == 0
                else _match(r, d)
                if r >= 3
                else _cat(_match(255 + r, d), _match(3, d))
                for r in range(258)
            ]
        )
        for d in range(4)
    ],
    strict=True,
)


@lru_cache(maxsize=32)
def _gap_table(rowlen: int) -> tuple[U64, I64, I64]:
    """For every gap g < rowlen zero bytes (index g): the field (bits, nbits: at most 52) of a
    literal zero, the tail and up to two 258-byte copies; and how many 258-byte copies follow."""
    g = np.arange(rowlen + 1, dtype=np.int64)
    small = g < 4
    k = np.where(small, 0, (g - 1) // 258)
    gi = np.where(small, g, g + 3 - 258 * k)
    k2 = np.minimum(k, 2)
    bits = _GAP_BITS[gi] | (_FULL_BITS[1][k2] << _GAP_NB[gi].astype(np.uint64))
    return bits, _GAP_NB[gi] + 13 * k2, k - k2


@lru_cache(maxsize=32)
def _copy_table(bpp: int, width: int) -> tuple[U64, I64, I64]:
    """For a run of c <= width pixels (index c): the tail of the copy of its last c - 1 pixels
    (bits, nbits: at most 36; nothing when under 3 bytes: those are literals) and how many
    258-byte copies go with it."""
    rest = np.maximum(np.arange(width + 1, dtype=np.int64) - 1, 0) * bpp
    length = np.where(rest >= 3, rest, 0)
    k = length // 258
    tail = length - 258 * k
    return _TAIL_BITS[bpp][tail], _TAIL_NB[bpp][tail], k - ((tail == 1) | (tail == 2))


#: Literal repetitions of a run's pixel by min(c, 4), per bytes per pixel: a run whose copy
#: would be under 3 bytes is all literals (1 byte per pixel: up to 3 pixels; 2 bytes: 2).
_REPS = {1: (0, 1, 2, 3, 1), 2: (0, 1, 2, 1, 1), 3: (0, 1, 1, 1, 1)}


def _pack_at(starts: I64, bits: U64, total: int) -> bytes:
    """``total`` bits (deflate's LSB-first order) made of the fields ``bits`` (each at most 64
    bits, nothing above its width) at bit positions ``starts``. Fields do not overlap, so OR-ing
    them into 64-bit words is adding them (``np.add.at``, much faster than ``bitwise_or.at``)."""
    words = np.zeros(total // 64 + 2, dtype=np.uint64)
    word = starts >> 6
    shift = (starts & 63).astype(np.uint64)
    np.add.at(words, word, bits << shift)
    np.add.at(words, word + 1, (bits >> _U64(1)) >> (_U64(63) - shift))  # the part past the word
    return words.astype("<u8", copy=False).view(np.uint8)[: (total + 7) // 8].tobytes()


def _within(counts: I64) -> I64:
    """0..k-1 for each k in ``counts``, concatenated."""
    first = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts)


def _deflate(runs: PixelRuns, lut: npt.NDArray[np.uint8]) -> tuple[bytes, int]:
    """Raw deflate stream and Adler-32 of the Up-filtered image ``lut[m]``."""
    h, w = runs.height, runs.width
    bpp = lut.shape[1]
    rowlen = w * bpp + 1
    n = h * rowlen
    # per (id, id above) pair: the filtered pixel's bytes, whether it is written, its literals
    table = np.zeros((len(lut) + 1, bpp), np.int64)
    table[:-1] = lut  # old = -1 (row 0) reads the zero row
    v = (table[runs.new] - table[runs.old]) & 0xFF
    v[-1] = 0  # the markers' pair
    keep_p = np.asarray(v.any(axis=1))
    keep_p[-1] = True
    px_bits = _LIT_BITS[v[:, 0]]
    px_nb = _LIT_NB[v[:, 0]]
    for ch in range(1, bpp):
        px_bits |= _LIT_BITS[v[:, ch]] << px_nb.astype(np.uint64)
        px_nb += _LIT_NB[v[:, ch]]
    lit_bits = np.zeros((len(v), 5), np.uint64)
    lit_nb = np.zeros((len(v), 5), np.int64)
    for cc, reps in enumerate(_REPS[bpp]):
        if reps:
            rep_bits = px_bits.copy()
            for j in range(1, reps):
                rep_bits |= px_bits << (px_nb * j).astype(np.uint64)
            lit_bits[:, cc] = np.where(keep_p, rep_bits, 0)
            lit_nb[:, cc] = np.where(keep_p, px_nb * reps, 0)
    lit_bits[-1, 0], lit_nb[-1, 0] = _LIT_BITS[2], _LIT_NB[2]  # a marker: the filter byte 2
    # per entry: its byte position and the gap of zeros before it (runs whose filtered value
    # is 0 write nothing: their bytes join the next gap)
    keep = keep_p[runs.pair]
    e = len(keep)
    pos = bpp * runs.f - (bpp - 1) * runs.yr if bpp > 1 else runs.f
    acc = np.maximum.accumulate(np.where(keep, pos + runs.c * bpp + runs.marker, 0))
    gap = np.empty(e + 1, np.int64)
    gap[0] = 0  # row 0's filter byte is at 0
    np.subtract(pos[1:], acc[:-1], out=gap[1:e])
    gap[:e] *= keep
    gap[e] = n - acc[-1]
    g_tab = _gap_table(rowlen)
    g_bits, g_nb, g_more = g_tab[0][gap], g_tab[1][gap], g_tab[2][gap]
    g_bits[0], g_nb[0] = 3, 3  # block header: BFINAL=1, BTYPE=01 (fixed Huffman)
    # the run's field: its pixel's literals, then the tail of the copy of the rest (<= 63 bits)
    c_tab = _copy_table(bpp, w)
    ci = runs.c * keep
    l_bits = lit_bits.reshape(-1)[runs.pair_c]
    l_nb = lit_nb.reshape(-1)[runs.pair_c]
    body_bits = l_bits | (c_tab[0][ci] << l_nb.astype(np.uint64))
    body_nb = l_nb + c_tab[1][ci]
    c_more = c_tab[2][ci]
    # bit positions, entry by entry: gap field, its 258-byte copies, run field, its copies
    size = g_nb + 13 * g_more
    size[:e] += body_nb + 13 * c_more
    size[e] += 7  # end of block (code 0000000)
    end = np.cumsum(size)
    total = int(end[-1])
    start = end - size
    body_at = start[:e] + g_nb[:e] + 13 * g_more[:e]
    starts = [start, body_at]
    fields = [g_bits, body_bits]
    gm, cm = np.flatnonzero(g_more), np.flatnonzero(c_more)
    if len(gm) or len(cm):  # long gaps and runs: more 258-byte copies, 13 bits each
        count = np.concatenate([g_more[gm], c_more[cm]])
        first = np.concatenate([start[gm] + g_nb[gm], body_at[cm] + body_nb[cm]])
        starts.append(np.repeat(first, count) + 13 * _within(count))
        n_gap = int(g_more[gm].sum())
        copies = np.full(len(starts[-1]), _FULL_BITS[bpp][1], np.uint64)
        copies[:n_gap] = _FULL_BITS[1][1]
        fields.append(copies)
    body = _pack_at(np.concatenate(starts), np.concatenate(fields), total)
    # Adler-32: filter bytes 2 at y * rowlen; byte ch of a run's pixel i, v[ch] at pos + i*bpp + ch
    m = _ADLER
    vsum = v.sum(axis=1)[runs.pair]
    cv = runs.c * vsum
    sum_a = 1 + 2 * h + int(cv.sum())
    sum_b = n + 2 * h * n - rowlen * h * (h - 1)
    if n * 765 * max(h * w, 1) * max(w, 1) < 1 << 62:  # no int64 overflow in the dot products
        sum_b += int(np.dot(n - pos, cv)) - bpp * int(np.dot(runs.c_tri, vsum))
    else:
        sum_b += int(np.dot((n - pos) % m, cv % m)) - bpp * int(np.dot(runs.c_tri % m, vsum))
    if bpp > 1:
        sum_b -= int(np.dot(runs.c, (v @ np.arange(bpp, dtype=np.int64))[runs.pair]))
    return body, ((sum_b % m) << 16) | (sum_a % m)


def encode_label_png(
    runs: PixelRuns,
    lut: npt.NDArray[np.uint8],
    mode: PngMode,
    *,
    palette: bytes | None = None,
) -> bytes:
    """PNG of the image ``lut[m]`` without building it (``lut``: (max id + 1, bytes per pixel)
    uint8, 16-bit samples big-endian; ``runs`` = ``map_runs(m).pixels``, shared by every PNG
    made from one map)."""
    depth, ctype, channels = _MODES[mode]
    bpp = lut.shape[1]
    if bpp != channels * depth // 8:
        raise ValueError(f"mode {mode} needs {channels * depth // 8} bytes per pixel, the table has {bpp}")
    if mode == "P" and (palette is None or len(palette) % 3 or len(palette) > 768):
        raise ValueError("mode P needs a palette of at most 256 RGB triples")
    body, adler = _deflate(runs, lut)
    ihdr = struct.pack(">IIBBBBB", runs.width, runs.height, depth, ctype, 0, 0, 0)
    parts = [_SIGNATURE, _chunk(b"IHDR", ihdr)]
    if palette is not None and mode == "P":
        parts.append(_chunk(b"PLTE", palette))
    parts += [_chunk(b"IDAT", b"\x78\x01" + body + struct.pack(">I", adler)), _chunk(b"IEND", b"")]
    return b"".join(parts)


def write_label_png(
    path: Path, runs: PixelRuns, lut: npt.NDArray[np.uint8], mode: PngMode, *, palette: bytes | None = None
) -> None:
    data = encode_label_png(runs, lut, mode, palette=palette)
    with open(path, "xb") as f:
        f.write(data)


def lut_bytes(values: npt.NDArray[np.integer[Any]], mode: PngMode) -> npt.NDArray[np.uint8]:
    """Per-id pixel bytes for :func:`encode_label_png` from per-id sample values:
    (N,) for L / P / I;16 (16-bit big-endian), (N, 3) for RGB."""
    v = np.asarray(values)
    if mode == "I;16":
        return np.ascontiguousarray(v.astype(">u2")).view(np.uint8).reshape(-1, 2)
    if mode == "RGB":
        return np.ascontiguousarray(v, dtype=np.uint8).reshape(-1, 3)
    return np.ascontiguousarray(v, dtype=np.uint8).reshape(-1, 1)
