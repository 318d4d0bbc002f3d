"""Pure numpy handling of the canonical annotation: one segment-index map per revision.

An index map is a 2-D uint16 array (height, width) of segment ids, 0 meaning void. This package
encodes it (PNG, COCO RLE), rasterises polygons into it with pycocotools' pixel rule, measures
its segments and validates it against a segment table. No Django, DRF or Celery imports.
"""

from annotation.masks.errors import MaskFormatError
from annotation.masks.png import decode_index_map, encode_index_map, index_map_bits
from annotation.masks.polygon import MAX_ABS_COORDINATE, rasterize_polygons, rasterize_polygons_union
from annotation.masks.rle import (
    CocoRle,
    OverlapRule,
    decode_rle,
    encode_rle,
    index_map_to_rles,
    rles_to_index_map,
)
from annotation.masks.stats import BoundingBox, SegmentStats, segment_stats
from annotation.masks.trace import Ring, keyhole_polygons, ring_area, trace_polygons
from annotation.masks.validate import (
    CategorySpec,
    Mode,
    SegmentSpec,
    ValidationIssue,
    validate_structure,
    validate_submission,
)

__all__ = [
    "MAX_ABS_COORDINATE",
    "BoundingBox",
    "CategorySpec",
    "CocoRle",
    "MaskFormatError",
    "Mode",
    "OverlapRule",
    "Ring",
    "SegmentSpec",
    "SegmentStats",
    "ValidationIssue",
    "decode_index_map",
    "decode_rle",
    "encode_index_map",
    "encode_rle",
    "index_map_bits",
    "index_map_to_rles",
    "keyhole_polygons",
    "rasterize_polygons",
    "rasterize_polygons_union",
    "ring_area",
    "rles_to_index_map",
    "segment_stats",
    "trace_polygons",
    "validate_structure",
    "validate_submission",
]
