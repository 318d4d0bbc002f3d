"""Builders and comparison helpers shared by the metric tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from qa.metrics import CategoryInfo, LabelledMap, Segment

FIXTURES = Path("/work/shared/fixtures/metrics")


def categories(stuff: Sequence[int] = (1, 2), things: Sequence[int] = (3, 4)) -> tuple[CategoryInfo, ...]:
    return tuple(
        [CategoryInfo(id=c, isthing=False) for c in stuff]
        + [CategoryInfo(id=c, isthing=True) for c in things]
    )


def labelled(
    ids: NDArray[Any] | list[list[int]],
    table: dict[int, int] | Sequence[tuple[Any, ...]],
    *,
    dtype: Any = np.uint16,
) -> LabelledMap:
    """A map from an id array and a table: {id: category} or rows (id, category[, crowd[, score]])."""
    rows: list[tuple[Any, ...]] = list(table.items()) if isinstance(table, dict) else list(table)
    segments = []
    for row in rows:
        segment_id, category = int(row[0]), int(row[1])
        crowd = bool(row[2]) if len(row) > 2 else False
        score = float(row[3]) if len(row) > 3 else None
        segments.append(Segment(id=segment_id, category_id=category, iscrowd=crowd, score=score))
    return LabelledMap(ids=np.asarray(ids, dtype=dtype), segments=tuple(segments))


def literal_band(mask: NDArray[np.bool_], d: int) -> NDArray[np.bool_]:
    """boundary-iou-api's mask_to_boundary, literally: pad 1 px of zeros, erode d times with a
    3x3 square (cv2 treats outside the padded image as foreground), subtract."""
    height, width = mask.shape
    padded = np.pad(mask, 1)
    eroded = ndimage.binary_erosion(padded, structure=np.ones((3, 3), bool), iterations=d, border_value=1)
    band: NDArray[np.bool_] = mask & ~eroded[1 : height + 1, 1 : width + 1]
    return band


def first_mismatch(expected: Any, actual: Any, path: str = "", *, tolerance: float = 1e-9) -> str | None:
    """Path and values of the first difference, or None. Floats within ``tolerance``; ints,
    strings, booleans and None exactly; keys of ``expected`` only (extra keys are allowed)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path or '/'}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}/{key}: missing"
            found = first_mismatch(value, actual[key], f"{path}/{key}", tolerance=tolerance)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected a list of {len(expected)}, got {actual!r:.80}"
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = first_mismatch(e, a, f"{path}[{index}]", tolerance=tolerance)
            if found:
                return found
        return None
    if expected is None or isinstance(expected, bool | str):
        return (
            None
            if actual is expected or (isinstance(expected, str) and actual == expected)
            else (f"{path}: expected {expected!r}, got {actual!r}")
        )
    if isinstance(expected, int):
        ok = isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
        return None if ok else f"{path}: expected the count {expected!r}, got {actual!r}"
    if isinstance(expected, float):
        ok = (
            isinstance(actual, float | int)
            and not isinstance(actual, bool)
            and math.isfinite(actual)
            and abs(actual - expected) <= tolerance
        )
        return None if ok else f"{path}: expected {expected!r}, got {actual!r}"
    return f"{path}: unexpected value type {type(expected).__name__}"
