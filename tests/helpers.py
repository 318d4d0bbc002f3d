"""Small builders shared by tests."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image as PILImage


def png_bytes(array: np.ndarray, **save: Any) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def map_png(index_map: np.ndarray) -> bytes:
    from annotation.masks import encode_index_map

    return encode_index_map(index_map.astype(np.uint16))
