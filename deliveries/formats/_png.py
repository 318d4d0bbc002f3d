"""A small, fast PNG writer for label images (8-bit grey, 16-bit grey, 8-bit RGB, palette).

Why not Pillow: Pillow's encoder tries a filter per row and deflates with the default strategy,
which costs 3-4x more than the whole rest of an export on label maps. Label maps are runs of
equal values, so the "Up" filter (byte minus the byte above) turns most of the image into zeros
and zlib's Z_RLE strategy compresses those at memory speed. The files are standard PNGs.
"""

from __future__ import annotations

import struct
import zlib
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
# the filtered image is 0, so the deflate stream can be written straight from those change
# points: literals for the non-zero bytes, runs of zeros as one literal 0 followed by
# distance-1 matches, all with deflate's fixed Huffman code (RFC 1951, 3.2.6). The zlib
# Adler-32 of the filtered bytes follows from the same sparse data:
#   a = 1 + sum(d_i),  b = n + sum((n - i) * d_i)   (mod 65521).
# Cost is proportional to the number of changes, not to the number of pixels.


def _reverse_bits(v: npt.NDArray[np.int64], n: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    out = np.zeros_like(v)
    for k in range(int(n.max()) if len(n) else 0):
        bit = ((v >> k) & 1) * (k < n)
        out |= bit << np.maximum(n - 1 - k, 0)
    return out


def _literal_table() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Fixed-Huffman (bit-reversed code, length) for literal/length symbols 0..287."""
    sym = np.arange(288, dtype=np.int64)
    code = np.select(
        [sym < 144, sym < 256, sym < 280], [0x30 + sym, 0x190 + sym - 144, sym - 256], 0xC0 + sym - 280
    )
    length = np.select([sym < 144, sym < 256, sym < 280], [8, 9, 7], 8).astype(np.int64)
    return _reverse_bits(code, length), length


_LIT_CODE, _LIT_LEN = _literal_table()
# length code base values and extra bits for symbols 257..285
_LEN_BASE = [
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    13,
    15,
    17,
    19,
    23,
    27,
    31,
    35,
    43,
    51,
    59,
    67,
    83,
    99,
    115,
    131,
    163,
    195,
    227,
    258,
]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]


def _match_table() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(bits, nbits) of a whole match [length 3..258, distance 1..4]: length symbol, its extra
    bits, then the distance code (distance - 1, five bits, no extra bits)."""
    bits = np.zeros((259, 5), dtype=np.int64)
    nbits = np.zeros((259, 5), dtype=np.int64)
    dist_codes = _reverse_bits(np.arange(4, dtype=np.int64), np.full(4, 5, dtype=np.int64))
    for length in range(3, 259):
        k = max(i for i, b in enumerate(_LEN_BASE) if b <= length) if length < 258 else 28
        sym = 257 + k
        code, clen = int(_LIT_CODE[sym]), int(_LIT_LEN[sym])
        extra = length - _LEN_BASE[k]
        for dist in range(1, 5):
            bits[length, dist] = (
                code | (extra << clen) | (int(dist_codes[dist - 1]) << (clen + _LEN_EXTRA[k]))
            )
            nbits[length, dist] = clen + _LEN_EXTRA[k] + 5
    return bits, nbits


_MATCH_BITS, _MATCH_NBITS = _match_table()
_ADLER = 65521


def _pack(bits: npt.NDArray[np.int64], nbits: npt.NDArray[np.int64]) -> bytes:
    """Concatenate little-endian bit fields (each at most 32 bits) into bytes."""
    start = np.zeros(len(nbits), dtype=np.int64)
    np.cumsum(nbits[:-1], out=start[1:])
    total = int(start[-1] + nbits[-1])
    nwords = (total + 63) // 64
    word = start >> 6
    shift = (start & 63).astype(np.uint64)
    ubits = bits.astype(np.uint64)
    lo = ubits << shift  # bits shifted out of the word are dropped (they go to `hi`)
    firsts = np.flatnonzero(np.diff(word, prepend=-1))  # fields are in order: word is sorted
    words = np.zeros(nwords + 1, dtype=np.uint64)
    words[word[firsts]] = np.bitwise_or.reduceat(lo, firsts)
    spill = (start & 63) + nbits > 64
    if spill.any():
        s_word = word[spill]
        hi = ubits[spill] >> (np.uint64(64) - shift[spill])
        words[s_word + 1] |= hi  # at most one field spills out of each word
    return words.view("<u8").view(np.uint8)[: (total + 7) // 8].tobytes()


def _split(lengths: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Cut runs of ``lengths`` (each >= 3) into deflate matches of 3..258 bytes: a remainder of
    1 or 2 borrows 3 from a full 258. Returns (run index, piece index, piece length)."""
    pieces = -(-lengths // 258)
    first = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(pieces[:-1], out=first[1:])
    run = np.repeat(np.arange(len(lengths)), pieces)
    j = np.arange(int(pieces.sum()), dtype=np.int64) - first[run]
    rem = (lengths % 258)[run]
    pc = pieces[run]
    out = np.full(len(j), 258, dtype=np.int64)
    last = j == pc - 1
    big = last & (rem >= 3)
    out[big] = rem[big]
    small = (rem == 1) | (rem == 2)
    out[last & small] = 3
    second = (j == pc - 2) & small
    out[second] = 255 + rem[second]
    return run, j, out


def _deflate_events(
    pos: npt.NDArray[np.int64],
    length: npt.NDArray[np.int64],
    value: npt.NDArray[np.int64],
    dist: npt.NDArray[np.int64],
    n: int,
) -> bytes:
    """Raw deflate (one fixed-Huffman block) of an n-byte buffer described by events at
    ascending ``pos``: a literal byte ``value`` (``dist`` 0, ``length`` 1) or a copy of
    ``length`` >= 3 bytes from ``dist`` bytes back. Every other byte is 0.

    Each event is preceded by its gap of g zero bytes, written as g literal zeros when g <= 3,
    else as one literal zero and distance-1 matches; a last gap runs to the end."""
    k = len(pos)
    ends = np.empty(k + 1, dtype=np.int64)
    ends[0] = 0
    ends[1:] = pos + length
    gaps = np.append(pos, n) - ends
    long = gaps >= 4
    c_zl = np.where(long, 1, gaps)
    c_zm = np.where(long, -(-(gaps - 1) // 258), 0)
    is_copy = np.append(dist > 0, False)
    c_ev = np.where(is_copy, -(-np.append(length, 0) // 258), 1)
    c_ev[-1] = 0
    per = c_zl + c_zm + c_ev
    off = np.zeros(k + 2, dtype=np.int64)
    np.cumsum(per, out=off[1:])
    total = int(off[-1])
    bits = np.empty(total + 2, dtype=np.int64)
    nb = np.empty(total + 2, dtype=np.int64)
    # stream: [block header] tokens [end of block]; token t is at index t + 1
    bits[0], nb[0] = 3, 3  # BFINAL=1, BTYPE=01 (fixed Huffman)
    bits[-1], nb[-1] = int(_LIT_CODE[256]), int(_LIT_LEN[256])
    # literal zeros opening each gap
    zl_first = np.zeros(len(c_zl), dtype=np.int64)
    np.cumsum(c_zl[:-1], out=zl_first[1:])
    zl_group = np.repeat(np.arange(len(c_zl)), c_zl)
    zl_dest = off[:-1][zl_group] + np.arange(len(zl_group)) - zl_first[zl_group] + 1
    bits[zl_dest] = int(_LIT_CODE[0])
    nb[zl_dest] = int(_LIT_LEN[0])
    # distance-1 matches of the long gaps
    lg = np.flatnonzero(long)
    if len(lg):
        run, j, piece = _split(gaps[lg] - 1)
        dest = off[lg][run] + 2 + j
        bits[dest] = _MATCH_BITS[piece, 1]
        nb[dest] = _MATCH_NBITS[piece, 1]
    # the events
    ev_start = off[:-2] + c_zl[:-1] + c_zm[:-1] + 1
    lit = np.flatnonzero(dist == 0)
    bits[ev_start[lit]] = _LIT_CODE[value[lit]]
    nb[ev_start[lit]] = _LIT_LEN[value[lit]]
    cp = np.flatnonzero(dist > 0)
    if len(cp):
        run, j, piece = _split(length[cp])
        dest = ev_start[cp][run] + j
        d = dist[cp][run]
        bits[dest] = _MATCH_BITS[piece, d]
        nb[dest] = _MATCH_NBITS[piece, d]
    return _pack(bits, nb)


def encode_label_png(
    runs: PixelRuns,
    lut: npt.NDArray[np.uint8],
    mode: PngMode,
    *,
    palette: bytes | None = None,
) -> bytes:
    """PNG of the image ``lut[m]`` without building it (``lut``: (max id + 1, bytes per pixel)
    uint8, 16-bit samples big-endian; ``runs`` = ``map_runs(m).pixels``).

    Each run of equal filtered pixels becomes its first pixel's non-zero bytes as literals and,
    for the rest, one copy from ``bpp`` bytes back (or literals when under deflate's 3 bytes)."""
    depth, ctype, channels = _MODES[mode]
    bpp = lut.shape[1]
    if bpp != channels * depth // 8:
        raise ValueError(f"mode {mode} needs {channels * depth // 8} bytes per pixel, the table has {bpp}")
    h, w = runs.height, runs.width
    rowlen = w * bpp + 1
    n = h * rowlen
    table = np.zeros((len(lut) + 1, bpp), dtype=np.int64)
    table[:-1] = lut
    v = (table[runs.new] - table[runs.old]) & 0xFF  # old = -1 reads the zero row: row 0 is raw
    p0 = runs.y * rowlen + 1 + runs.x * bpp
    c = runs.count
    chan = np.arange(bpp, dtype=np.int64)
    # Adler-32 sums: byte j of pixel i of a run sits at p0 + i*bpp + j
    row_starts = np.arange(h, dtype=np.int64) * rowlen
    bracket = (
        c[:, None] * ((n - p0[:, None] - chan) % _ADLER) - bpp * ((c * (c - 1) // 2) % _ADLER)[:, None]
    ) % _ADLER
    sum_a = 2 * h + int((v * c[:, None]).sum())
    sum_b = int((2 * ((n - row_starts) % _ADLER)).sum()) + int((bracket * v).sum())
    adler = (((n + sum_b) % _ADLER) << 16) | ((1 + sum_a) % _ADLER)
    # events: filter bytes, literal pixels' non-zero bytes, copies
    nz = v.any(axis=1)
    copy = nz & ((c - 1) * bpp >= 3)
    short = np.flatnonzero(nz & ~copy & (c > 1))  # 2..3 pixels of 1 byte, 2 pixels of 2 bytes
    lit_run = np.concatenate([np.flatnonzero(nz), np.repeat(short, c[short] - 1)])
    step = np.concatenate([np.zeros(int(nz.sum()), np.int64), _within(c[short] - 1) + 1])
    lit_pos = (p0[lit_run] + step * bpp)[:, None] + chan
    lit_val = v[lit_run]
    keep = lit_val != 0
    cp = np.flatnonzero(copy)
    n_lit = int(keep.sum())
    ev_pos = np.concatenate([row_starts, lit_pos[keep], p0[cp] + bpp])
    ev_len = np.concatenate([np.ones(h + n_lit, np.int64), (c[cp] - 1) * bpp])
    ev_val = np.concatenate([np.full(h, 2, np.int64), lit_val[keep], np.zeros(len(cp), np.int64)])
    ev_dist = np.concatenate([np.zeros(h + n_lit, np.int64), np.full(len(cp), bpp, np.int64)])
    order = np.argsort(ev_pos, kind="stable")
    body = _deflate_events(ev_pos[order], ev_len[order], ev_val[order], ev_dist[order], n)
    idat = b"\x78\x01" + body + struct.pack(">I", adler)
    parts = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))]
    if mode == "P":
        if palette is None or len(palette) % 3 or len(palette) > 768:
            raise ValueError("mode P needs a palette of at most 256 RGB triples")
        parts.append(_chunk(b"PLTE", palette))
    parts += [_chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"".join(parts)


def write_label_png(
    path: Path, runs: PixelRuns, lut: npt.NDArray[np.uint8], mode: PngMode, *, palette: bytes | None = None
) -> None:
    data = encode_label_png(runs, lut, mode, palette=palette)
    with open(path, "xb") as f:
        f.write(data)


def _within(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0..k-1 for each k in ``counts``, concatenated."""
    first = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts)


def lut_bytes(values: npt.NDArray[np.integer[Any]], mode: PngMode) -> npt.NDArray[np.uint8]:
    """Per-id pixel bytes for :func:`encode_label_png` from per-id sample values:
    (N,) for L / P / I;16 (16-bit big-endian), (N, 3) for RGB."""
    v = np.asarray(values)
    if mode == "I;16":
        return np.ascontiguousarray(v.astype(">u2")).view(np.uint8).reshape(-1, 2)
    if mode == "RGB":
        return np.ascontiguousarray(v, dtype=np.uint8).reshape(-1, 3)
    return np.ascontiguousarray(v, dtype=np.uint8).reshape(-1, 1)
