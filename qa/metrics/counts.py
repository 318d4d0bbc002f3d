"""Per-pair counts: one joint histogram of two maps, reduced to small summable tables.

``measure_pair`` is the only function here that touches pixels. Everything the ratio
functions need comes from one joint histogram over the key

    key(p) = code_S(p) · 4·V_R + code_R(p),    code(p) = 4·value(p) + band bits(p)

(value = compact segment index, V_R = number of reference values; band bits = in the band of
its segment, in the band of its category region): the number of pixels of every (reference
segment, submission segment, band bits) cell. From that small table come segment areas and
intersections, class confusion and band overlaps, and so class IoU, boundary IoU, PQ,
boundary PQ and the instance matching material for mask AP.

The histogram is built from *runs*: horizontal stretches where neither map changes id or
band bit (found from the prepared maps' bit planes). One sample per run, weighted by its
length, gives exactly the per-pixel histogram; a Cityscapes pair has ~35 000 runs for 2
million pixels.

:class:`PairCounts` holds counts only (plus, for mask AP, per-image instance material), so
counts of many images can be summed (:func:`sum_counts`) and turned into ratios afterwards;
``to_json``/``from_json`` round-trip them through JSON-compatible dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qa.metrics.bands import PreparedMap, band_bits_at, boundary_width, prepare_map, run_starts
from qa.metrics.drift import class_drift
from qa.metrics.maps import VOID, CategoryInfo, LabelledMap, MetricsInputError, category_index

#: Version of the numeric engine; stored with every report so figures can be traced.
ENGINE_VERSION = "1.0.0"

SEGMENT_BAND = 1  # band bit: the pixel is in the band of its own segment
CATEGORY_BAND = 2  # band bit: the pixel is in the band of its own category region

Int64Array = NDArray[np.int64]
Float64Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class PixelCounts:
    """Per category (aligned with ``PairCounts.categories``), in pixels.

    With G_c the reference pixels of category c (crowd included), P_c the submission's,
    V the reference void and B(·) the band of width d (``bands``):

    * ``tp`` = |G_c ∩ P_c|, ``fn`` = |G_c| - tp (submission void counts as a miss),
      ``fp`` = |P_c - V| - tp (pixels the reference leaves void are not held against P);
    * ``boundary_intersection`` = |B(G_c) ∩ B(P_c)|, ``boundary_union`` =
      |B(G_c)| + |B(P_c) - V| - intersection: B(P_c) is taken on the whole submission region,
      then V is removed from it.
    """

    tp: Int64Array
    fp: Int64Array
    fn: Int64Array
    boundary_intersection: Int64Array
    boundary_union: Int64Array


@dataclass(frozen=True, eq=False)
class SegmentCounts:
    """Panoptic-quality statistics per category: matches, misses and Σ IoU of the matches."""

    tp: Int64Array
    fp: Int64Array
    fn: Int64Array
    iou_sum: Float64Array


@dataclass(frozen=True, eq=False)
class InstanceCounts:
    """Matching material for mask AP and detection P/R/F1 (thing categories only).

    Reference ("gt") and submission ("det") thing segments in segment-table order, with
    their image (0-based position in the summation), category position and area; ``pair_*``
    lists the same-category (det, gt) pairs that overlap, with the overlap in pixels.
    IoU is ``i / (det_area + gt_area - i)``, or ``i / det_area`` for a crowd gt (COCO).
    """

    images: int
    gt_image: Int64Array
    gt_category: Int64Array
    gt_crowd: BoolArray
    gt_area: Int64Array
    det_image: Int64Array
    det_category: Int64Array
    det_score: Float64Array
    det_area: Int64Array
    pair_det: Int64Array
    pair_gt: Int64Array
    pair_intersection: Int64Array


@dataclass(frozen=True, eq=False)
class DriftCounts:
    """Boundary drift per category: Σ signed crack distances (px) and number of cracks."""

    distance_sum: Float64Array
    cracks: Int64Array


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Everything measured on one (reference, submission) pair — or the sum over many.

    ``boundary_ratio`` is the ratio the band widths came from (``None`` when a width was
    forced); ``boundary_width`` the width d in pixels (``None`` once images of different
    sizes are summed). ``drift`` is ``None`` unless measured with ``drift=True``.
    """

    categories: tuple[CategoryInfo, ...]
    boundary_ratio: float | None
    boundary_width: int | None
    images: int
    pixels: PixelCounts
    pq: SegmentCounts
    boundary_pq: SegmentCounts
    instances: InstanceCounts
    drift: DriftCounts | None
    engine_version: str = ENGINE_VERSION

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict that :meth:`from_json` restores exactly. Shape::

            {"engine_version": "1.0.0", "boundary_ratio": 0.02, "boundary_width": 46, "images": 1,
             "categories": [[id, isthing], ...],              # K categories; every list below
             "pixels": {"tp", "fp", "fn",                      # of length K is in this order
                        "boundary_intersection", "boundary_union": [int] * K},
             "pq" / "boundary_pq": {"tp", "fp", "fn": [int] * K, "iou_sum": [float] * K},
             "instances": {"images": 1,
                           "gt":  {"image", "category", "crowd", "area": [int] * G},
                           "det": {"image", "category", "area": [int] * D, "score": [float] * D},
                           "pairs": {"det", "gt", "intersection": [int] * M}},
             "drift": null | {"distance_sum": [float] * K, "cracks": [int] * K}}

        ``category`` values are positions in ``categories``; ``pairs`` index ``gt``/``det``.
        """
        inst = self.instances
        return {
            "engine_version": self.engine_version,
            "categories": [[c.id, c.isthing] for c in self.categories],
            "boundary_ratio": self.boundary_ratio,
            "boundary_width": self.boundary_width,
            "images": self.images,
            "pixels": {
                "tp": self.pixels.tp.tolist(),
                "fp": self.pixels.fp.tolist(),
                "fn": self.pixels.fn.tolist(),
                "boundary_intersection": self.pixels.boundary_intersection.tolist(),
                "boundary_union": self.pixels.boundary_union.tolist(),
            },
            "pq": _segment_counts_json(self.pq),
            "boundary_pq": _segment_counts_json(self.boundary_pq),
            "instances": {
                "images": inst.images,
                "gt": {
                    "image": inst.gt_image.tolist(),
                    "category": inst.gt_category.tolist(),
                    "crowd": [int(x) for x in inst.gt_crowd.tolist()],
                    "area": inst.gt_area.tolist(),
                },
                "det": {
                    "image": inst.det_image.tolist(),
                    "category": inst.det_category.tolist(),
                    "score": inst.det_score.tolist(),
                    "area": inst.det_area.tolist(),
                },
                "pairs": {
                    "det": inst.pair_det.tolist(),
                    "gt": inst.pair_gt.tolist(),
                    "intersection": inst.pair_intersection.tolist(),
                },
            },
            "drift": None
            if self.drift is None
            else {"distance_sum": self.drift.distance_sum.tolist(), "cracks": self.drift.cracks.tolist()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PairCounts:
        """Inverse of :meth:`to_json`; raises :class:`MetricsInputError` on a malformed dict."""
        try:
            categories = tuple(CategoryInfo(id=int(i), isthing=bool(t)) for i, t in data["categories"])
            n = len(categories)
            pixels = PixelCounts(
                tp=_ints(data["pixels"]["tp"], n),
                fp=_ints(data["pixels"]["fp"], n),
                fn=_ints(data["pixels"]["fn"], n),
                boundary_intersection=_ints(data["pixels"]["boundary_intersection"], n),
                boundary_union=_ints(data["pixels"]["boundary_union"], n),
            )
            inst = data["instances"]
            gt, det, pairs = inst["gt"], inst["det"], inst["pairs"]
            instances = InstanceCounts(
                images=int(inst["images"]),
                gt_image=_ints(gt["image"]),
                gt_category=_ints(gt["category"]),
                gt_crowd=_frozen(np.asarray(gt["crowd"], dtype=np.bool_).reshape(-1)),
                gt_area=_ints(gt["area"]),
                det_image=_ints(det["image"]),
                det_category=_ints(det["category"]),
                det_score=_floats(det["score"]),
                det_area=_ints(det["area"]),
                pair_det=_ints(pairs["det"]),
                pair_gt=_ints(pairs["gt"]),
                pair_intersection=_ints(pairs["intersection"]),
            )
            drift = data["drift"]
            ratio = data["boundary_ratio"]
            width = data["boundary_width"]
            return cls(
                categories=categories,
                boundary_ratio=None if ratio is None else float(ratio),
                boundary_width=None if width is None else int(width),
                images=int(data["images"]),
                pixels=pixels,
                pq=_segment_counts_from_json(data["pq"], n),
                boundary_pq=_segment_counts_from_json(data["boundary_pq"], n),
                instances=instances,
                drift=None
                if drift is None
                else DriftCounts(
                    distance_sum=_floats(drift["distance_sum"], n), cracks=_ints(drift["cracks"], n)
                ),
                engine_version=str(data["engine_version"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MetricsInputError(f"malformed pair counts: {error!r}") from error


def _segment_counts_json(counts: SegmentCounts) -> dict[str, Any]:
    return {
        "tp": counts.tp.tolist(),
        "fp": counts.fp.tolist(),
        "fn": counts.fn.tolist(),
        "iou_sum": counts.iou_sum.tolist(),
    }


def _segment_counts_from_json(data: Mapping[str, Any], n: int) -> SegmentCounts:
    return SegmentCounts(
        tp=_ints(data["tp"], n),
        fp=_ints(data["fp"], n),
        fn=_ints(data["fn"], n),
        iou_sum=_floats(data["iou_sum"], n),
    )


def _ints(values: Any, length: int | None = None) -> Int64Array:
    array = np.asarray(values, dtype=np.int64).reshape(-1)
    if length is not None and array.shape[0] != length:
        raise ValueError(f"expected {length} values, got {array.shape[0]}")
    return _frozen(array)


def _floats(values: Any, length: int | None = None) -> Float64Array:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if length is not None and array.shape[0] != length:
        raise ValueError(f"expected {length} values, got {array.shape[0]}")
    return _frozen(array)


@dataclass(frozen=True, eq=False)
class _Table:
    """The joint histogram as a list of non-empty cells."""

    ref: Int64Array  # compact reference value
    sub: Int64Array  # compact submission value
    ref_bits: Int64Array
    sub_bits: Int64Array
    count: Int64Array


def _joint_histogram(reference: PreparedMap, submission: PreparedMap) -> _Table:
    """Pixel counts per (reference value, submission value, band bits), from runs.

    A run is a horizontal stretch where neither map changes id or band bit, so one sample per
    run, weighted by its length, gives the exact histogram of the key
    ``(4·v_S + bits_S)·4·V_R + 4·v_R + bits_R`` at a fraction of the per-pixel cost.
    """
    height, cols = reference.shape
    starts = run_starts(reference, submission)
    lengths = np.diff(starts, append=height * cols).astype(np.float64)
    ref_value = reference.lookup.value_at(reference.source.ids.reshape(-1), starts)
    sub_value = submission.lookup.value_at(submission.source.ids.reshape(-1), starts)
    ref_bits = band_bits_at(reference, starts)
    sub_bits = band_bits_at(submission, starts)
    stride = 4 * reference.values
    key = (4 * sub_value + sub_bits) * stride + 4 * ref_value + ref_bits
    cells = 4 * submission.values * stride
    if cells <= 4 * starts.size + (1 << 16):
        histogram = np.bincount(key, weights=lengths, minlength=cells)
        keys = np.flatnonzero(histogram)
        counts = histogram[keys]
    else:
        keys, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=lengths, minlength=keys.size)
    sub_code, ref_code = np.divmod(keys.astype(np.int64), stride)
    return _Table(
        ref=ref_code >> 2,
        sub=sub_code >> 2,
        ref_bits=ref_code & 3,
        sub_bits=sub_code & 3,
        count=counts.astype(np.int64),
    )


def measure_pair(
    reference: LabelledMap | PreparedMap,
    submission: LabelledMap | PreparedMap,
    *,
    categories: Sequence[CategoryInfo],
    boundary_ratio: float = 0.02,
    boundary_width: int | None = None,
    drift: bool = False,
) -> PairCounts:
    """Count everything the quality metrics need for one image.

    Preconditions: both maps have the same shape; every id in a map has a segment-table row;
    every table row's category is in ``categories``. Band width d = ``boundary_width`` or
    :func:`~qa.metrics.bands.boundary_width` (H, W, ``boundary_ratio``); a
    :class:`PreparedMap` passed in must have been prepared with the same d (reuse the
    prepared reference across submissions to skip its preparation).

    Submission segments without pixels are ignored; reference segments without pixels still
    count as misses (FN) where they are not crowd. Submission ``iscrowd`` is ignored.
    ``drift=True`` adds the boundary drift sums (:mod:`qa.metrics.drift`); its crack index is
    kept with a :class:`PreparedMap`, so a prepared reference builds it once.
    """
    cats = tuple(categories)
    cat_pos = category_index(cats)
    ref_map = reference.source if isinstance(reference, PreparedMap) else reference
    sub_map = submission.source if isinstance(submission, PreparedMap) else submission
    if ref_map.shape != sub_map.shape:
        raise MetricsInputError(f"map shapes differ: reference {ref_map.shape}, submission {sub_map.shape}")
    height, width = ref_map.shape
    d = boundary_width if boundary_width is not None else _band_width(height, width, boundary_ratio)
    ref = _prepared(reference, d, boundary_ratio, boundary_width)
    sub = _prepared(submission, d, boundary_ratio, boundary_width)
    ref_side = _Side.of(ref, cat_pos, "reference")
    sub_side = _Side.of(sub, cat_pos, "submission")

    table = _joint_histogram(ref, sub)
    _check_known(table.ref, table.count, ref, "reference")
    _check_known(table.sub, table.count, sub, "submission")

    n_cat = len(cats)
    pixels = _pixel_counts(table, ref_side, sub_side, n_cat)
    pairs = _Pairs.of(table, ref.values, sub.values)
    pq, boundary_pq = _segment_counts(pairs, ref_side, sub_side, n_cat)
    instances = _instance_counts(pairs, ref_side, sub_side, cats)
    drift_counts = _drift_counts(ref, sub, ref_side, sub_side, cat_pos) if drift else None
    return PairCounts(
        categories=cats,
        boundary_ratio=None if boundary_width is not None else boundary_ratio,
        boundary_width=d,
        images=1,
        pixels=pixels,
        pq=pq,
        boundary_pq=boundary_pq,
        instances=instances,
        drift=drift_counts,
    )


def _band_width(height: int, width: int, ratio: float) -> int:
    return boundary_width(height, width, ratio=ratio)


def _prepared(
    label_map: LabelledMap | PreparedMap, d: int, ratio: float, forced_width: int | None
) -> PreparedMap:
    if isinstance(label_map, PreparedMap):
        if label_map.band_width != d:
            raise MetricsInputError(
                f"prepared map has band width {label_map.band_width}, this measurement uses {d}"
            )
        return label_map
    return prepare_map(
        label_map, boundary_ratio=ratio, boundary_width=d if forced_width is not None else None
    )


@dataclass(frozen=True, eq=False)
class _Side:
    """Per compact value of one map: category position (-1 void/unknown), crowd, score, table row."""

    category: Int64Array
    crowd: BoolArray
    score: Float64Array
    row: Int64Array
    values: int

    @classmethod
    def of(cls, prepared: PreparedMap, cat_pos: Mapping[int, int], side: str) -> _Side:
        segments = prepared.source.segments
        values = prepared.values
        category = np.full(values, -1, dtype=np.int64)
        crowd = np.zeros(values, dtype=np.bool_)
        score = np.ones(values, dtype=np.float64)
        row = np.full(values, -1, dtype=np.int64)
        # Value v = row + 1; value 0 is void and value n + 1 collects ids without a row.
        row[1 : values - 1] = np.arange(values - 2)
        for index, segment in enumerate(segments):
            position = cat_pos.get(segment.category_id)
            if position is None:
                raise MetricsInputError(
                    f"{side} segment {segment.id} has category {segment.category_id}, which is not in the taxonomy"
                )
            category[index + 1] = position
            crowd[index + 1] = segment.iscrowd
            score[index + 1] = segment.rank_score
        return cls(category=category, crowd=crowd, score=score, row=row, values=values)


def _check_known(values: Int64Array, counts: Int64Array, prepared: PreparedMap, side: str) -> None:
    unknown = (values == prepared.values - 1) & (counts > 0)
    if np.any(unknown):
        ids = prepared.unknown_ids()
        shown = ", ".join(str(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
        raise MetricsInputError(f"{side} map holds segment ids without a segment-table row: {shown}")


def _pixel_counts(table: _Table, ref: _Side, sub: _Side, n_cat: int) -> PixelCounts:
    cat_r = ref.category[table.ref]
    cat_s = sub.category[table.sub]
    n = table.count
    same = (cat_r == cat_s) & (cat_r >= 0)
    tp = np.bincount(cat_r[same], weights=n[same], minlength=n_cat)
    g_area = _sum_by(cat_r, n, n_cat)
    p_nonvoid = _sum_by(cat_s, np.where(table.ref != VOID, n, 0), n_cat)
    ref_band = (table.ref_bits & CATEGORY_BAND) != 0
    sub_band = (table.sub_bits & CATEGORY_BAND) != 0
    both = same & ref_band & sub_band
    b_inter = np.bincount(cat_r[both], weights=n[both], minlength=n_cat)
    b_ref = _sum_by(cat_r, np.where(ref_band, n, 0), n_cat)
    b_sub = _sum_by(cat_s, np.where(sub_band & (table.ref != VOID), n, 0), n_cat)
    tp_i = tp.astype(np.int64)
    b_inter_i = b_inter.astype(np.int64)
    return PixelCounts(
        tp=_frozen(tp_i),
        fp=_frozen(p_nonvoid - tp_i),
        fn=_frozen(g_area - tp_i),
        boundary_intersection=_frozen(b_inter_i),
        boundary_union=_frozen(b_ref + b_sub - b_inter_i),
    )


def _sum_by(index: Int64Array, weights: Int64Array, length: int) -> Int64Array:
    """Σ weights per index ≥ 0 (negative indices are void/unknown and dropped)."""
    keep = index >= 0
    return np.bincount(index[keep], weights=weights[keep], minlength=length).astype(np.int64)


@dataclass(frozen=True, eq=False)
class _Pairs:
    """Per (reference value, submission value) with overlap, and per-value totals."""

    ref: Int64Array
    sub: Int64Array
    intersection: Int64Array
    band_intersection: Int64Array  # |B(g) ∩ B(p)| with segment bands
    ref_area: Int64Array  # per reference value
    ref_band: Int64Array  # |B(g)|
    sub_area: Int64Array  # per submission value
    sub_band: Int64Array  # |B(p)|
    sub_void: Int64Array  # |p ∩ V|
    sub_band_void: Int64Array  # |B(p) ∩ V|

    @classmethod
    def of(cls, table: _Table, ref_values: int, sub_values: int) -> _Pairs:
        n = table.count
        pair_key = table.ref * sub_values + table.sub
        keys, inverse = np.unique(pair_key, return_inverse=True)
        seg_both = ((table.ref_bits & SEGMENT_BAND) != 0) & ((table.sub_bits & SEGMENT_BAND) != 0)
        intersection = np.bincount(inverse, weights=n, minlength=keys.size).astype(np.int64)
        band_intersection = np.bincount(inverse, weights=np.where(seg_both, n, 0), minlength=keys.size)
        ref_in_band = (table.ref_bits & SEGMENT_BAND) != 0
        sub_in_band = (table.sub_bits & SEGMENT_BAND) != 0
        on_void = table.ref == VOID
        return cls(
            ref=keys // sub_values,
            sub=keys % sub_values,
            intersection=intersection,
            band_intersection=band_intersection.astype(np.int64),
            ref_area=np.bincount(table.ref, weights=n, minlength=ref_values).astype(np.int64),
            ref_band=np.bincount(table.ref, weights=np.where(ref_in_band, n, 0), minlength=ref_values).astype(
                np.int64
            ),
            sub_area=np.bincount(table.sub, weights=n, minlength=sub_values).astype(np.int64),
            sub_band=np.bincount(table.sub, weights=np.where(sub_in_band, n, 0), minlength=sub_values).astype(
                np.int64
            ),
            sub_void=np.bincount(table.sub, weights=np.where(on_void, n, 0), minlength=sub_values).astype(
                np.int64
            ),
            sub_band_void=np.bincount(
                table.sub, weights=np.where(on_void & sub_in_band, n, 0), minlength=sub_values
            ).astype(np.int64),
        )


def _segment_counts(pairs: _Pairs, ref: _Side, sub: _Side, n_cat: int) -> tuple[SegmentCounts, SegmentCounts]:
    """Panopticapi's per-image matching, for mask IoU and for min(mask IoU, boundary IoU)."""
    r, s, inter = pairs.ref, pairs.sub, pairs.intersection
    cat_r = ref.category[r]
    candidate = (r != VOID) & (s != VOID) & (cat_r >= 0) & (cat_r == sub.category[s]) & ~ref.crowd[r]
    union = pairs.ref_area[r] + pairs.sub_area[s] - inter - pairs.sub_void[s]
    mask_match = candidate & (2 * inter > union)
    b_inter = pairs.band_intersection
    b_union = pairs.ref_band[r] + pairs.sub_band[s] - b_inter - pairs.sub_band_void[s]
    boundary_match = mask_match & (2 * b_inter > b_union)
    mask_iou = np.zeros(r.shape, dtype=np.float64)
    np.divide(inter, union, out=mask_iou, where=mask_match)
    boundary_iou = np.zeros(r.shape, dtype=np.float64)
    np.divide(b_inter, b_union, out=boundary_iou, where=boundary_match)

    # Reference rows: every non-crowd table row is a segment to find, pixels or not.
    ref_values = np.flatnonzero(ref.row >= 0)
    # Per category, the value of the last crowd row in table order (panopticapi's dict).
    crowd_values = ref_values[ref.crowd[ref_values]]
    last_crowd = np.full(n_cat, -1, dtype=np.int64)
    for value in crowd_values[np.argsort(ref.row[crowd_values], kind="stable")].tolist():
        last_crowd[ref.category[value]] = value
    crowd_overlap = np.zeros(sub.values, dtype=np.int64)
    target = last_crowd[np.maximum(sub.category[s], 0)]
    hits = (sub.category[s] >= 0) & (target >= 0) & (r == target)
    np.add.at(crowd_overlap, s[hits], inter[hits])

    sub_values = np.flatnonzero((sub.row >= 0) & (pairs.sub_area > 0))
    results = []
    for matched, iou in ((mask_match, mask_iou), (boundary_match, np.minimum(mask_iou, boundary_iou))):
        cat_m = cat_r[matched]
        tp = np.bincount(cat_m, minlength=n_cat).astype(np.int64)
        iou_sum = np.bincount(cat_m, weights=iou[matched], minlength=n_cat)
        found = np.zeros(ref.values, dtype=np.bool_)
        found[r[matched]] = True
        used = np.zeros(sub.values, dtype=np.bool_)
        used[s[matched]] = True
        missed = ref_values[~ref.crowd[ref_values] & ~found[ref_values]]
        fn = np.bincount(ref.category[missed], minlength=n_cat).astype(np.int64)
        unmatched = sub_values[~used[sub_values]]
        ignored = 2 * (pairs.sub_void[unmatched] + crowd_overlap[unmatched]) > pairs.sub_area[unmatched]
        fp = np.bincount(sub.category[unmatched[~ignored]], minlength=n_cat).astype(np.int64)
        results.append(
            SegmentCounts(tp=_frozen(tp), fp=_frozen(fp), fn=_frozen(fn), iou_sum=_frozen(iou_sum))
        )
    return results[0], results[1]


def _instance_counts(pairs: _Pairs, ref: _Side, sub: _Side, cats: tuple[CategoryInfo, ...]) -> InstanceCounts:
    thing = np.array([c.isthing for c in cats] + [False], dtype=np.bool_)  # index -1 → False
    gt_values = np.flatnonzero((ref.row >= 0) & thing[ref.category])
    gt_values = gt_values[np.argsort(ref.row[gt_values], kind="stable")]
    det_values = np.flatnonzero((sub.row >= 0) & thing[sub.category] & (pairs.sub_area > 0))
    det_values = det_values[np.argsort(sub.row[det_values], kind="stable")]
    gt_index = np.full(ref.values, -1, dtype=np.int64)
    gt_index[gt_values] = np.arange(gt_values.size)
    det_index = np.full(sub.values, -1, dtype=np.int64)
    det_index[det_values] = np.arange(det_values.size)
    r, s = pairs.ref, pairs.sub
    keep = (gt_index[r] >= 0) & (det_index[s] >= 0) & (ref.category[r] == sub.category[s])
    order = np.lexsort((gt_index[r[keep]], det_index[s[keep]]))
    return InstanceCounts(
        images=1,
        gt_image=_frozen(np.zeros(gt_values.size, dtype=np.int64)),
        gt_category=_frozen(ref.category[gt_values]),
        gt_crowd=_frozen(ref.crowd[gt_values]),
        gt_area=_frozen(pairs.ref_area[gt_values]),
        det_image=_frozen(np.zeros(det_values.size, dtype=np.int64)),
        det_category=_frozen(sub.category[det_values]),
        det_score=_frozen(sub.score[det_values]),
        det_area=_frozen(pairs.sub_area[det_values]),
        pair_det=_frozen(det_index[s[keep]][order]),
        pair_gt=_frozen(gt_index[r[keep]][order]),
        pair_intersection=_frozen(pairs.intersection[keep][order]),
    )


def _drift_counts(
    ref: PreparedMap, sub: PreparedMap, ref_side: _Side, sub_side: _Side, cat_pos: Mapping[int, int]
) -> DriftCounts:
    def category_at(prepared: PreparedMap, side: _Side) -> Any:
        flat = prepared.source.ids.reshape(-1)
        return lambda index: side.category[prepared.lookup.value_at(flat, index)]

    def positions(prepared: PreparedMap) -> Int64Array:
        return np.array([cat_pos.get(int(i), -1) for i in prepared.local_categories], dtype=np.int64)

    sums = class_drift(
        ref.crack_index(),
        sub.crack_index(),
        reference_at=category_at(ref, ref_side),
        submission_at=category_at(sub, sub_side),
        reference_positions=positions(ref),
        submission_positions=positions(sub),
        categories=len(cat_pos),
    )
    return DriftCounts(distance_sum=_frozen(sums.distance_sum), cracks=_frozen(sums.cracks))


def sum_counts(counts: Iterable[PairCounts]) -> PairCounts:
    """Sum per-image counts; instance material is concatenated, images in the given order.

    All items must share the engine version, taxonomy and boundary ratio. The order matters only for mask AP,
    where equal scores rank by image in this order (sum images by ascending image id to match
    pycocotools). Drift is kept only if every item has it.
    """
    items = list(counts)
    if not items:
        raise MetricsInputError("nothing to sum")
    first = items[0]
    key = [(c.id, c.isthing) for c in first.categories]
    for item in items[1:]:
        if item.engine_version != first.engine_version:
            raise MetricsInputError(
                f"counts of engine versions {first.engine_version} and {item.engine_version} cannot be summed;"
                " measure the older ones again"
            )
        if [(c.id, c.isthing) for c in item.categories] != key:
            raise MetricsInputError("counts measured with different taxonomies cannot be summed")
        if item.boundary_ratio != first.boundary_ratio:
            raise MetricsInputError(
                f"counts measured with boundary ratios {first.boundary_ratio} and {item.boundary_ratio} cannot be summed"
            )
    widths = {item.boundary_width for item in items}

    def total(get: Any) -> Any:
        return _frozen(np.sum([get(item) for item in items], axis=0))

    pixels = PixelCounts(
        tp=total(lambda c: c.pixels.tp),
        fp=total(lambda c: c.pixels.fp),
        fn=total(lambda c: c.pixels.fn),
        boundary_intersection=total(lambda c: c.pixels.boundary_intersection),
        boundary_union=total(lambda c: c.pixels.boundary_union),
    )

    def segment_total(get: Any) -> SegmentCounts:
        return SegmentCounts(
            tp=total(lambda c: get(c).tp),
            fp=total(lambda c: get(c).fp),
            fn=total(lambda c: get(c).fn),
            iou_sum=total(lambda c: get(c).iou_sum),
        )

    drifts = [item.drift for item in items]
    drift = None
    if all(d is not None for d in drifts):
        drift = DriftCounts(
            distance_sum=_frozen(np.sum([d.distance_sum for d in drifts if d is not None], axis=0)),
            cracks=_frozen(np.sum([d.cracks for d in drifts if d is not None], axis=0)),
        )
    return PairCounts(
        categories=first.categories,
        boundary_ratio=first.boundary_ratio,
        boundary_width=widths.pop() if len(widths) == 1 else None,
        images=sum(item.images for item in items),
        pixels=pixels,
        pq=segment_total(lambda c: c.pq),
        boundary_pq=segment_total(lambda c: c.boundary_pq),
        instances=_concatenate_instances([item.instances for item in items]),
        drift=drift,
    )


def _concatenate_instances(parts: Sequence[InstanceCounts]) -> InstanceCounts:
    image_offset = np.cumsum([0] + [p.images for p in parts[:-1]])
    gt_offset = np.cumsum([0] + [p.gt_area.size for p in parts[:-1]])
    det_offset = np.cumsum([0] + [p.det_area.size for p in parts[:-1]])

    def cat(arrays: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
        return _frozen(np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype=dtype))

    return InstanceCounts(
        images=sum(p.images for p in parts),
        gt_image=cat([p.gt_image + o for p, o in zip(parts, image_offset, strict=True)], np.int64),
        gt_category=cat([p.gt_category for p in parts], np.int64),
        gt_crowd=cat([p.gt_crowd for p in parts], np.bool_),
        gt_area=cat([p.gt_area for p in parts], np.int64),
        det_image=cat([p.det_image + o for p, o in zip(parts, image_offset, strict=True)], np.int64),
        det_category=cat([p.det_category for p in parts], np.int64),
        det_score=cat([p.det_score for p in parts], np.float64),
        det_area=cat([p.det_area for p in parts], np.int64),
        pair_det=cat([p.pair_det + o for p, o in zip(parts, det_offset, strict=True)], np.int64),
        pair_gt=cat([p.pair_gt + o for p, o in zip(parts, gt_offset, strict=True)], np.int64),
        pair_intersection=cat([p.pair_intersection for p in parts], np.int64),
    )


def with_categories(counts: PairCounts, categories: Sequence[CategoryInfo]) -> PairCounts:
    """The same counts laid out on ``categories``, a superset of ``counts.categories``.

    Counts measured against different taxonomy versions of one project can then be summed:
    a category a version lacks simply has zero counts there. A category must keep its
    ``isthing`` across versions (thing and stuff are counted differently).
    """
    target = tuple(categories)
    position = {c.id: i for i, c in enumerate(target)}
    for category in counts.categories:
        if category.id not in position:
            raise MetricsInputError(f"category {category.id} is missing from the target categories")
        if target[position[category.id]].isthing != category.isthing:
            raise MetricsInputError(f"category {category.id} changes isthing between taxonomies")
    if [c.id for c in counts.categories] == [c.id for c in target]:
        return counts
    where = np.array([position[c.id] for c in counts.categories], dtype=np.int64)
    n = len(target)

    def spread(values: NDArray[Any]) -> NDArray[Any]:
        out = np.zeros(n, dtype=values.dtype)
        out[where] = values
        return _frozen(out)

    def spread_segments(segments: SegmentCounts) -> SegmentCounts:
        return SegmentCounts(
            tp=spread(segments.tp),
            fp=spread(segments.fp),
            fn=spread(segments.fn),
            iou_sum=spread(segments.iou_sum),
        )

    pixels = counts.pixels
    instances = counts.instances
    remap = where if where.size else np.zeros(0, np.int64)
    return PairCounts(
        categories=target,
        boundary_ratio=counts.boundary_ratio,
        boundary_width=counts.boundary_width,
        images=counts.images,
        pixels=PixelCounts(
            tp=spread(pixels.tp),
            fp=spread(pixels.fp),
            fn=spread(pixels.fn),
            boundary_intersection=spread(pixels.boundary_intersection),
            boundary_union=spread(pixels.boundary_union),
        ),
        pq=spread_segments(counts.pq),
        boundary_pq=spread_segments(counts.boundary_pq),
        instances=replace(
            instances,
            gt_category=_frozen(remap[instances.gt_category]),
            det_category=_frozen(remap[instances.det_category]),
        ),
        drift=None
        if counts.drift is None
        else DriftCounts(distance_sum=spread(counts.drift.distance_sum), cracks=spread(counts.drift.cracks)),
        engine_version=counts.engine_version,
    )
