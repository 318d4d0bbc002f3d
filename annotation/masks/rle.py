"""COCO run-length encoding (RLE) of masks and of whole index maps.

COCO RLE runs over the image in column-major (Fortran) order: ``counts`` alternates runs of 0
and 1 starting with a (possibly empty) run of 0, and must sum to height*width; ``size`` is
``[height, width]``. The compressed form stores each count as 5-bit groups offset by 48 (ASCII
'0'..'o'), the 6th bit meaning "more groups follow", the 5th bit of the last group the sign, and
every count after the third as the difference to the count two places before.

pycocotools trusts its input: short counts decode to uninitialised memory. Every RLE read here
is therefore decoded to plain counts and checked (size, non-negative runs, exact sum) before
any pixel is produced.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from annotation.masks._arrays import MAX_SEGMENT_ID, as_index_map
from annotation.masks.errors import MaskFormatError

# Seven 5-bit groups (35 bits) already exceed any count pycocotools can hold (uint32).
_MAX_GROUPS_PER_COUNT = 7

OverlapRule = Literal["error", "first", "last"]


class CocoRle(TypedDict):
    """Compressed COCO RLE as it appears in COCO JSON: ``size`` is [height, width]."""

    size: list[int]
    counts: str


@dataclass(frozen=True)
class _Runs:
    """Runs of foreground pixels as column-major [start, stop) index ranges."""

    starts: npt.NDArray[np.int64]
    stops: npt.NDArray[np.int64]


def encode_rle(mask: npt.NDArray[np.bool_]) -> CocoRle:
    """Encode a 2-D boolean mask as compressed COCO RLE with pycocotools."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.dtype != np.bool_ or array.size == 0:
        raise MaskFormatError(
            f"mask must be a non-empty 2-D bool array, got {array.dtype} of shape {array.shape}"
        )
    # pycocotools reads the buffer column-major; a C-ordered array would be read transposed.
    encoded = coco_mask.encode(np.asfortranarray(array, dtype=np.uint8))
    return _coco_rle(encoded)


def decode_rle(
    rle: Mapping[str, object], *, expected_shape: tuple[int, int] | None = None
) -> npt.NDArray[np.bool_]:
    """Decode a COCO RLE (compressed string or uncompressed list ``counts``) to a (h, w) bool mask.

    Raises ``MaskFormatError`` unless ``size`` is [height, width] of positive integers (equal to
    ``expected_shape`` when given), every run is a non-negative integer and the runs sum to
    exactly height*width.
    """
    height, width = _rle_size(rle)
    if expected_shape is not None and (height, width) != tuple(expected_shape):
        raise MaskFormatError(
            f"RLE size is {height}x{width} (height x width), but the image is {expected_shape[0]}x{expected_shape[1]}"
        )
    counts = _rle_counts(rle, height=height, width=width)
    values = (np.arange(counts.size) & 1).astype(np.bool_)
    flat = np.repeat(values, counts)
    return np.ascontiguousarray(flat.reshape(width, height).T)


def index_map_to_rles(index_map: npt.NDArray[np.integer], ids: Iterable[int]) -> dict[int, CocoRle]:
    """Compressed COCO RLE of ``index_map == id`` for each id, identical to encoding each mask.

    One pass over the map: it is cut into column-major runs of equal id, the runs are grouped
    by id, and each id's counts are its run starts and lengths (the gaps between them are runs
    of other ids). Cost O(pixels + runs), not O(pixels x ids). An id absent from the map gets
    the RLE of an empty mask.
    """
    array = as_index_map(index_map)
    height, width = array.shape
    flat = array.ravel(order="F")
    total = flat.size
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate([[0], boundaries]).astype(np.int64)
    stops = np.concatenate([boundaries, [total]]).astype(np.int64)
    run_ids = flat[starts]
    # A stable sort keeps each id's runs in image order.
    order = np.argsort(run_ids, kind="stable")
    # Runs of id k are order[group_start[k] : group_start[k + 1]].
    group_start = np.concatenate([[0], np.cumsum(np.bincount(run_ids, minlength=MAX_SEGMENT_ID + 1))])
    result: dict[int, CocoRle] = {}
    for segment_id in ids:
        if isinstance(segment_id, bool) or not 0 <= segment_id <= MAX_SEGMENT_ID:
            raise MaskFormatError(f"segment id {segment_id!r} is outside [0, {MAX_SEGMENT_ID}]")
        runs = order[group_start[segment_id] : group_start[segment_id + 1]]
        counts = _counts_from_runs(_Runs(starts=starts[runs], stops=stops[runs]), total=total)
        uncompressed = {"size": [height, width], "counts": counts.tolist()}
        result[int(segment_id)] = _coco_rle(coco_mask.frPyObjects(uncompressed, height, width))
    return result


def rles_to_index_map(
    rles: Mapping[int, Mapping[str, object]],
    *,
    height: int,
    width: int,
    overlap: OverlapRule = "error",
) -> npt.NDArray[np.uint16]:
    """Paint each segment's RLE with its id into a (height, width) uint16 map, 0 elsewhere.

    Every RLE is validated as in ``decode_rle`` and must have size [height, width]; ids must be
    in [1, 65535]. Where two RLEs claim the same pixel: ``overlap="error"`` raises
    ``MaskFormatError`` naming both segments and the first shared pixel; ``"first"`` gives the
    pixel to the RLE that comes first in ``rles``' iteration order; ``"last"`` to the one that
    comes last (painting in order, later over earlier).
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise MaskFormatError(f"image {name} must be a positive integer, got {value!r}")
    total = height * width
    run_starts: list[npt.NDArray[np.int64]] = []
    run_stops: list[npt.NDArray[np.int64]] = []
    run_ids: list[npt.NDArray[np.int64]] = []
    for segment_id, rle in rles.items():
        if isinstance(segment_id, bool) or not isinstance(segment_id, int | np.integer):
            raise MaskFormatError(f"segment id {segment_id!r} is not an integer")
        if not 1 <= segment_id <= MAX_SEGMENT_ID:
            raise MaskFormatError(f"segment id {segment_id} is outside [1, {MAX_SEGMENT_ID}]")
        try:
            rle_height, rle_width = _rle_size(rle)
            if (rle_height, rle_width) != (height, width):
                raise MaskFormatError(f"size is {rle_height}x{rle_width}, the image is {height}x{width}")
            runs = _foreground_runs(_rle_counts(rle, height=height, width=width))
        except MaskFormatError as error:
            raise MaskFormatError(f"RLE of segment {segment_id}: {error}") from error
        run_starts.append(runs.starts)
        run_stops.append(runs.stops)
        run_ids.append(np.full(runs.starts.size, segment_id, dtype=np.int64))
    if not run_starts:
        return np.zeros((height, width), dtype=np.uint16)
    starts, stops, ids = np.concatenate(run_starts), np.concatenate(run_stops), np.concatenate(run_ids)
    by_start = np.argsort(starts, kind="stable")
    starts, stops, ids = starts[by_start], stops[by_start], ids[by_start]
    reach = np.maximum.accumulate(stops)
    clashes = np.flatnonzero(starts[1:] < reach[:-1]) + 1
    if clashes.size == 0:
        values = np.zeros(2 * starts.size + 1, dtype=np.uint16)
        values[1::2] = ids
        lengths = _counts_from_runs(_Runs(starts=starts, stops=stops), total=total, keep_trailing_zero=True)
        flat = np.repeat(values, lengths)
    elif overlap == "error":
        clash = int(clashes[0])
        earlier = int(np.argmax(stops[:clash]))
        pixel = int(starts[clash])
        raise MaskFormatError(
            f"RLEs of segments {ids[earlier]} and {ids[clash]} overlap "
            f"(first shared pixel at row {pixel % height}, column {pixel // height})"
        )
    else:
        flat = _paint_in_order(rles, starts=starts, stops=stops, ids=ids, total=total, overlap=overlap)
    return np.ascontiguousarray(flat.reshape(width, height).T)


def _paint_in_order(
    rles: Mapping[int, object],
    *,
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
    total: int,
    overlap: OverlapRule,
) -> npt.NDArray[np.uint16]:
    """Slow path for overlapping RLEs: paint run by run, the winning segment last."""
    rank = {segment_id: position for position, segment_id in enumerate(rles)}
    ranks = np.array([rank[int(segment_id)] for segment_id in ids], dtype=np.int64)
    order = np.argsort(ranks if overlap == "last" else -ranks, kind="stable")
    flat = np.zeros(total, dtype=np.uint16)
    for index in order:
        flat[starts[index] : stops[index]] = ids[index]
    return flat


def _counts_from_runs(runs: _Runs, *, total: int, keep_trailing_zero: bool = False) -> npt.NDArray[np.int64]:
    """COCO counts of sorted, disjoint, non-adjacent [start, stop) foreground runs.

    pycocotools ends the counts with the last run that has pixels, so a trailing background
    run of length 0 is dropped unless ``keep_trailing_zero`` (used for np.repeat lengths).
    """
    if runs.starts.size == 0:
        return np.array([total], dtype=np.int64)
    counts = np.empty(2 * runs.starts.size + 1, dtype=np.int64)
    counts[0] = runs.starts[0]
    counts[1::2] = runs.stops - runs.starts
    counts[2:-1:2] = runs.starts[1:] - runs.stops[:-1]
    counts[-1] = total - runs.stops[-1]
    if counts[-1] == 0 and not keep_trailing_zero:
        return counts[:-1]
    return counts


def _foreground_runs(counts: npt.NDArray[np.int64]) -> _Runs:
    """The non-empty runs of 1 (odd positions) of validated counts, as [start, stop) ranges."""
    ends = np.cumsum(counts)
    starts, stops = ends[0:-1:2], ends[1::2]
    non_empty = stops > starts
    return _Runs(starts=starts[non_empty], stops=stops[non_empty])


def _coco_rle(encoded: Mapping[str, Any]) -> CocoRle:
    """pycocotools' RLE (counts as bytes) in JSON-ready form (counts as str)."""
    height, width = encoded["size"]
    counts: bytes = encoded["counts"]
    return {"size": [int(height), int(width)], "counts": counts.decode("ascii")}


def _rle_size(rle: Mapping[str, object]) -> tuple[int, int]:
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise MaskFormatError("RLE must be a mapping with 'size' and 'counts'")
    size = rle["size"]
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in size)
    ):
        raise MaskFormatError(f"RLE size must be [height, width] (two integers), got {size!r}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise MaskFormatError(f"RLE size must be positive, got [{height}, {width}]")
    return height, width


def _rle_counts(rle: Mapping[str, object], *, height: int, width: int) -> npt.NDArray[np.int64]:
    """The runs of ``rle['counts']`` as int64, checked to be non-negative and sum to h*w."""
    raw = rle["counts"]
    if isinstance(raw, str):
        try:
            counts = _decode_counts_string(raw.encode("ascii"))
        except UnicodeEncodeError as error:
            raise MaskFormatError(f"compressed RLE counts must be ASCII: {error}") from error
    elif isinstance(raw, bytes):
        counts = _decode_counts_string(raw)
    elif isinstance(raw, list | tuple | np.ndarray):
        array = np.asarray(raw)
        # numpy would silently turn [True, 3] into [1, 3].
        if not isinstance(raw, np.ndarray) and any(isinstance(value, bool) for value in raw):
            raise MaskFormatError("RLE counts must be integers, got booleans")
        if array.size and (array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer)):
            raise MaskFormatError(f"RLE counts must be integers, got {array.dtype} values")
        if array.ndim != 1:
            raise MaskFormatError(f"RLE counts must be a flat list, got shape {array.shape}")
        counts = array.astype(np.int64)
    else:
        raise MaskFormatError(f"RLE counts must be a string or a list of integers, got {type(raw).__name__}")
    negative = np.flatnonzero(counts < 0)
    if negative.size:
        first = int(negative[0])
        raise MaskFormatError(f"RLE run {first} is negative ({int(counts[first])})")
    expected = height * width
    total = int(counts.sum())
    if total != expected:
        raise MaskFormatError(
            f"RLE counts sum to {total}, but size {height}x{width} needs exactly {expected} pixels"
        )
    return counts


def _decode_counts_string(text: bytes) -> npt.NDArray[np.int64]:
    """Counts of a compressed RLE string, decoded as pycocotools' ``rleFrString`` does."""
    codes = np.frombuffer(text, dtype=np.uint8).astype(np.int64) - 48
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    invalid = np.flatnonzero((codes < 0) | (codes > 63))
    if invalid.size:
        position = int(invalid[0])
        raise MaskFormatError(f"compressed RLE counts have an invalid character at position {position}")
    more = (codes & 0x20) != 0
    if more[-1]:
        raise MaskFormatError("compressed RLE counts end in the middle of a number")
    last_of_group = np.flatnonzero(~more)
    first_of_group = np.concatenate([[0], last_of_group[:-1] + 1])
    group_sizes = last_of_group - first_of_group + 1
    if int(group_sizes.max()) > _MAX_GROUPS_PER_COUNT:
        raise MaskFormatError("compressed RLE counts hold a number too large for a run length")
    position_in_group = np.arange(codes.size) - np.repeat(first_of_group, group_sizes)
    values = np.add.reduceat((codes & 0x1F) << (5 * position_in_group), first_of_group)
    # The 0x10 bit of a number's last group is its sign (two's complement over 5*groups bits).
    negative = (codes[last_of_group] & 0x10) != 0
    values = np.where(negative, values - (np.int64(1) << (5 * group_sizes)), values)
    # From the fourth count on, each is stored as the difference to the count two before.
    counts = values.copy()
    counts[1::2] = np.cumsum(values[1::2])
    counts[2::2] = np.cumsum(values[2::2])
    return counts
