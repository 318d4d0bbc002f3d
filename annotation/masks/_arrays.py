"""Input checks shared by the modules that take an index map."""

import numpy as np
import numpy.typing as npt

from annotation.masks.errors import MaskFormatError

#: Largest segment id an index map can hold (uint16).
MAX_SEGMENT_ID = 65535


def as_index_map(index_map: npt.NDArray[np.integer], *, name: str = "index map") -> npt.NDArray[np.uint16]:
    """Return ``index_map`` as a 2-D uint16 array, without copying when it already is one.

    Precondition: a 2-D integer array (not bool) with at least one pixel and every value in
    [0, 65535]; otherwise ``MaskFormatError`` names what is wrong.
    """
    array = np.asarray(index_map)
    if array.ndim != 2:
        raise MaskFormatError(f"{name} must be 2-D (height, width), got shape {array.shape}")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise MaskFormatError(f"{name} must have an integer dtype, got {array.dtype}")
    if array.size == 0:
        raise MaskFormatError(f"{name} must have at least one pixel, got shape {array.shape}")
    if array.dtype == np.uint16:
        return array
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > MAX_SEGMENT_ID:
        raise MaskFormatError(
            f"{name} values must be segment ids in [0, {MAX_SEGMENT_ID}], got values in [{low}, {high}]"
        )
    return array.astype(np.uint16)
