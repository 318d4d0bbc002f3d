"""Speed of the quality engine on Cityscapes-size pairs, against the straightforward way.

    .venv/bin/python bench/bench_metrics.py [--pairs 3] [--repeats 15] [--baseline-repeats 1]

Deterministic synthetic pairs (seeded): 2048x1024, 19 Cityscapes classes (8 things), ~40
instances, the prediction's boundaries moved by a few pixels, some instances missed, some
spurious, a few relabelled. Both ways compute the full metric set — class IoU, boundary IoU
(r = 0.02), PQ, boundary PQ, mask AP, P/R/F1 — on one core:

* engine: ``measure_pair`` (one joint histogram, bit-packed bands) + the ratio functions;
  once with both maps raw, once with the reference prepared beforehand (cached bands);
* straightforward: one boolean mask per class and per segment, per-mask erosion for every
  band (boundary-iou-api's recipe, via separable min filters), pycocotools RLE + COCOeval.

Timings are time.perf_counter medians and p95 over repeats. The machine is shared and noisy:
compare the ratio measured in the same run, not absolute numbers across runs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from scipy import ndimage  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.metrics import (  # noqa: E402
    CategoryInfo,
    LabelledMap,
    PairCounts,
    Segment,
    boundary_drift,
    boundary_iou,
    boundary_panoptic_quality,
    boundary_width,
    class_iou,
    detection_prf,
    mask_ap,
    measure_pair,
    panoptic_quality,
    prepare_map,
)

HEIGHT, WIDTH = 1024, 2048
RATIO = 0.02
# Cityscapes' 19 evaluation classes, id = trainId + 1; ids 12..19 are things.
CATEGORIES = tuple(CategoryInfo(id=i, isthing=i >= 12) for i in range(1, 20))
STUFF = [c.id for c in CATEGORIES if not c.isthing]
THINGS = [c.id for c in CATEGORIES if c.isthing]


@dataclass(frozen=True)
class Pair:
    gt: LabelledMap
    pred: LabelledMap


def _wavy(rng: np.random.Generator, n: int, amplitude: float) -> NDArray[np.float64]:
    """A smooth random offset curve of n samples (a few low-frequency sines)."""
    x = np.arange(n)
    out = np.zeros(n)
    for _ in range(3):
        out += (
            amplitude
            * rng.uniform(0.2, 1)
            * np.sin(2 * np.pi * x / rng.uniform(150, 900) + rng.uniform(0, 6.3))
        )
    return out


def _scene(rng: np.random.Generator, jitter: float, spec: dict[str, Any]) -> NDArray[np.int64]:
    """Class-id map plus instance index map packed as class*1000 + instance (0 = void)."""
    rows = np.arange(HEIGHT)[:, None]
    cols = np.arange(WIDTH)[None, :]
    labels = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    # Horizontal stuff layers with wavy borders: sky, building, vegetation, sidewalk, road.
    layers = [
        (23, 0),
        (11, spec["sky"]),
        (21, spec["building"]),
        (9, spec["vegetation"]),
        (8, spec["sidewalk"]),
    ]
    layer_ids = [11, 3, 9, 2, 1]  # sky, building, vegetation, sidewalk, road
    borders = [b for _, b in layers[1:]]
    previous = np.full(WIDTH, -1.0)
    for index, class_id in enumerate(layer_ids):
        if index < len(borders):
            border = borders[index] + spec["waves"][index] + (_wavy(rng, WIDTH, jitter) if jitter else 0)
        else:
            border = np.full(WIDTH, HEIGHT + 1.0)
        labels[(rows > previous[None, :]) & (rows <= border[None, :])] = class_id
        previous = border
    # Stuff blobs: poles, signs, lights, fences, walls, terrain.
    for class_id, cy, cx, ry, rx in spec["stuff_blobs"]:
        dy, dx = rng.normal(0, jitter, 2) if jitter else (0.0, 0.0)
        e = ((rows - cy - dy) / ry) ** 2 + ((cols - cx - dx) / rx) ** 2 <= 1
        labels[e] = class_id
    # Instances: ellipses, later ones in front.
    for k, (class_id, cy, cx, ry, rx) in enumerate(spec["instances"]):
        if jitter:
            if k in spec["missed"]:
                continue
            dy, dx = rng.normal(0, jitter, 2)
            grow = rng.uniform(-jitter, jitter)
            ry, rx = max(ry + grow, 3), max(rx + grow, 3)
            cy, cx = cy + dy, cx + dx
            class_id = spec["relabel"].get(k, class_id)
        y0, y1 = max(int(cy - ry) - 1, 0), min(int(cy + ry) + 2, HEIGHT)
        x0, x1 = max(int(cx - rx) - 1, 0), min(int(cx + rx) + 2, WIDTH)
        sub_r = rows[y0:y1]
        sub_c = cols[:, x0:x1]
        e = ((sub_r - cy) / ry) ** 2 + ((sub_c - cx) / rx) ** 2 <= 1
        labels[y0:y1, x0:x1][e] = class_id * 1000 + k + 1
    if jitter:
        for class_id, cy, cx, ry, rx in spec["spurious"]:
            e = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
            labels[e] = class_id * 1000 + 900 + int(cy) % 97
    else:
        # Ground truth has a little void (ego vehicle hood, unlabelled specks).
        labels[HEIGHT - 40 :, 600:1400] = 0
    return labels


def _spec(rng: np.random.Generator) -> dict[str, Any]:
    instances = []
    for _ in range(40):
        class_id = int(rng.choice(THINGS, p=[0.35, 0.08, 0.3, 0.07, 0.05, 0.03, 0.05, 0.07]))
        size = {12: (60, 22), 13: (55, 22), 14: (60, 110), 15: (90, 150), 16: (110, 200), 17: (90, 230)}.get(
            class_id, (40, 25)
        )
        ry, rx = size[0] * rng.uniform(0.5, 1.3), size[1] * rng.uniform(0.5, 1.3)
        cy = rng.uniform(480, 900)
        cx = rng.uniform(50, WIDTH - 50)
        instances.append((class_id, cy, cx, ry, rx))
    stuff_blobs = []
    for _ in range(30):
        class_id = int(rng.choice([4, 5, 6, 7, 8, 10]))
        stuff_blobs.append(
            (class_id, rng.uniform(300, 700), rng.uniform(0, WIDTH), rng.uniform(10, 120), rng.uniform(4, 60))
        )
    return {
        "sky": 240.0,
        "building": 450.0,
        "vegetation": 560.0,
        "sidewalk": 640.0,
        "waves": [_wavy(rng, WIDTH, a) for a in (40, 60, 30, 20)],
        "stuff_blobs": stuff_blobs,
        "instances": instances,
        "missed": set(rng.choice(40, size=4, replace=False).tolist()),
        "relabel": {int(k): int(rng.choice(THINGS)) for k in rng.choice(40, size=2, replace=False)},
        "spurious": [
            (int(rng.choice(THINGS)), rng.uniform(500, 900), rng.uniform(100, WIDTH - 100), 30.0, 20.0)
            for _ in range(4)
        ],
    }


def _labelled(labels: NDArray[np.int64], rng: np.random.Generator, *, scored: bool) -> LabelledMap:
    """Cityscapes-style ids (stuff: class id, things: class*1000 + k) as a uint16 map."""
    present = np.unique(labels)
    segments = []
    for value in present.tolist():
        if value == 0:
            continue
        category = value if value < 1000 else value // 1000
        score = float(np.round(rng.uniform(0.3, 1.0), 3)) if scored and category >= 12 else None
        segments.append(Segment(id=value, category_id=category, iscrowd=False, score=score))
    return LabelledMap(ids=labels.astype(np.uint16), segments=tuple(segments))


def make_pairs(count: int, seed: int = 2024) -> list[Pair]:
    pairs = []
    for index in range(count):
        rng = np.random.default_rng(seed + index)
        spec = _spec(rng)
        gt = _scene(rng, 0.0, spec)
        pred = _scene(rng, 3.0, spec)
        pairs.append(Pair(gt=_labelled(gt, rng, scored=False), pred=_labelled(pred, rng, scored=True)))
    return pairs


def engine_metrics(counts: PairCounts) -> dict[str, Any]:
    ious = class_iou(counts)
    bious = boundary_iou(counts)
    pq = panoptic_quality(counts)
    bpq = boundary_panoptic_quality(counts)
    ap = mask_ap(counts)
    prf50 = detection_prf(counts, iou_threshold=0.5)
    prf75 = detection_prf(counts, iou_threshold=0.75)
    return {
        "class_iou": ious.per_class,
        "boundary_iou": bious.per_class,
        "pq": pq.all.pq,
        "boundary_pq": bpq.all.pq,
        "ap": ap.ap,
        "f1_50": prf50.overall.f1,
        "f1_75": prf75.overall.f1,
    }


# --------------------------------------------------------------------------- straightforward


def _band(mask: NDArray[np.bool_], d: int) -> NDArray[np.bool_]:
    """boundary-iou-api's mask_to_boundary: mask - erode^d(pad₁(mask)), one mask at a time."""
    padded = np.pad(mask.astype(np.uint8), 1)
    # Separable (2d+1)² minimum = d 3x3 erosions; outside the padding counts as 1, as in cv2.
    eroded = ndimage.minimum_filter(padded, size=2 * d + 1, mode="constant", cval=1)
    return mask & ~eroded[1:-1, 1:-1].astype(bool)


def straightforward_metrics(pair: Pair) -> dict[str, Any]:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    d = boundary_width(HEIGHT, WIDTH, ratio=RATIO)
    gt_ids, pred_ids = pair.gt.ids, pair.pred.ids
    gt_seg = {s.id: s for s in pair.gt.segments}
    pred_seg = {s.id: s for s in pair.pred.segments}
    void = gt_ids == 0
    gt_cls = np.zeros(gt_ids.shape, dtype=np.int64)
    pred_cls = np.zeros(pred_ids.shape, dtype=np.int64)
    for s in pair.gt.segments:
        gt_cls[gt_ids == s.id] = s.category_id
    for s in pair.pred.segments:
        pred_cls[pred_ids == s.id] = s.category_id
    class_scores: dict[int, float | None] = {}
    boundary_scores: dict[int, float | None] = {}
    for c in CATEGORIES:
        g = gt_cls == c.id
        p = pred_cls == c.id
        tp = np.count_nonzero(g & p)
        fp = np.count_nonzero(p & ~g & ~void)
        fn = np.count_nonzero(g & ~p)
        class_scores[c.id] = tp / (tp + fp + fn) if tp + fp + fn else None
        bg = _band(g, d)
        bp = _band(p, d) & ~void
        union = np.count_nonzero(bg | bp)
        boundary_scores[c.id] = np.count_nonzero(bg & bp) / union if union else None

    # PQ and boundary PQ, panopticapi / boundary-iou-api style: one mask per segment.
    gt_masks = {i: gt_ids == i for i in gt_seg}
    pred_masks = {i: pred_ids == i for i in pred_seg}
    gt_bands = {i: _band(m, d) for i, m in gt_masks.items()}
    pred_bands = {i: _band(m, d) for i, m in pred_masks.items()}
    stats = {key: {c.id: [0, 0, 0, 0.0] for c in CATEGORIES} for key in ("mask", "boundary")}
    for key in stats:
        matched_gt: set[int] = set()
        matched_pred: set[int] = set()
        for gi, gm in gt_masks.items():
            for pi, pm in pred_masks.items():
                if gt_seg[gi].category_id != pred_seg[pi].category_id:
                    continue
                inter = np.count_nonzero(gm & pm)
                if inter == 0:
                    continue
                union = np.count_nonzero(gm) + np.count_nonzero(pm) - inter - np.count_nonzero(pm & void)
                iou = inter / union
                if key == "boundary":
                    b_inter = np.count_nonzero(gt_bands[gi] & pred_bands[pi])
                    b_union = (
                        np.count_nonzero(gt_bands[gi])
                        + np.count_nonzero(pred_bands[pi])
                        - b_inter
                        - np.count_nonzero(pred_bands[pi] & void)
                    )
                    iou = min(iou, b_inter / b_union)
                if iou > 0.5:
                    entry = stats[key][gt_seg[gi].category_id]
                    entry[0] += 1
                    entry[3] += iou
                    matched_gt.add(gi)
                    matched_pred.add(pi)
        for gi in gt_masks:
            if gi not in matched_gt:
                stats[key][gt_seg[gi].category_id][2] += 1
        for pi, pm in pred_masks.items():
            if pi not in matched_pred and np.count_nonzero(pm & void) * 2 <= np.count_nonzero(pm):
                stats[key][pred_seg[pi].category_id][1] += 1
    pq_values = {}
    for key, table in stats.items():
        values = [e[3] / (e[0] + 0.5 * e[1] + 0.5 * e[2]) for e in table.values() if e[0] + e[1] + e[2]]
        pq_values[key] = sum(values) / len(values) if values else None

    # Mask AP with pycocotools: RLE per thing segment, COCOeval segm.
    gt_anns, dt_anns = [], []
    for n, (i, m) in enumerate(gt_masks.items(), start=1):
        if gt_seg[i].category_id < 12:
            continue
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        gt_anns.append(
            {
                "id": n,
                "image_id": 1,
                "category_id": gt_seg[i].category_id,
                "segmentation": rle,
                "area": float(mask_utils.area(rle)),
                "bbox": mask_utils.toBbox(rle).tolist(),
                "iscrowd": 0,
            }
        )
    for i, m in pred_masks.items():
        if pred_seg[i].category_id < 12:
            continue
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        dt_anns.append(
            {
                "image_id": 1,
                "category_id": pred_seg[i].category_id,
                "segmentation": rle,
                "score": pred_seg[i].rank_score,
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {
            "images": [{"id": 1, "height": HEIGHT, "width": WIDTH}],
            "annotations": gt_anns,
            "categories": [{"id": c.id} for c in CATEGORIES],
        }
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dt_anns)
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {
        "class_iou": class_scores,
        "boundary_iou": boundary_scores,
        "pq": pq_values["mask"],
        "boundary_pq": pq_values["boundary"],
        "ap": float(evaluator.stats[0]),
    }


# --------------------------------------------------------------------------- timing


def _time(function: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1e3, p95 * 1e3


def _largest_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    worst = 0.0
    for key in ("pq", "boundary_pq", "ap"):
        worst = max(worst, abs(a[key] - b[key]))
    for key in ("class_iou", "boundary_iou"):
        for c, value in a[key].items():
            other = b[key][c]
            if (value is None) != (other is None):
                return math.inf
            if value is not None:
                worst = max(worst, abs(value - other))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15, help="engine repeats per pair")
    parser.add_argument("--baseline-repeats", type=int, default=1, help="straightforward repeats per pair")
    args = parser.parse_args()

    pairs = make_pairs(args.pairs)
    d = boundary_width(HEIGHT, WIDTH, ratio=RATIO)
    instances = [sum(1 for s in p.gt.segments if s.category_id >= 12) for p in pairs]
    print(f"{len(pairs)} pairs {WIDTH}x{HEIGHT}, band width d = {d} px, gt instances {instances}, one core")

    def copy_floor(pair: Pair) -> None:
        pair.gt.ids.copy()
        pair.pred.ids.copy()

    def engine(pair: Pair) -> dict[str, Any]:
        return engine_metrics(measure_pair(pair.gt, pair.pred, categories=CATEGORIES, boundary_ratio=RATIO))

    prepared = [prepare_map(p.gt, boundary_ratio=RATIO) for p in pairs]

    def engine_cached(index: int) -> dict[str, Any]:
        counts = measure_pair(prepared[index], pairs[index].pred, categories=CATEGORIES, boundary_ratio=RATIO)
        return engine_metrics(counts)

    def engine_drift(index: int) -> dict[str, Any]:
        counts = measure_pair(
            prepared[index], pairs[index].pred, categories=CATEGORIES, boundary_ratio=RATIO, drift=True
        )
        result = engine_metrics(counts)
        result["drift"] = boundary_drift(counts).per_class
        return result

    rows: dict[str, list[float]] = {"floor": [], "engine": [], "cached": [], "drift": [], "baseline": []}
    worst = 0.0
    for index, pair in enumerate(pairs):
        engine(pair)  # warm-up (imports, allocator)
        # Round-robin, so that load from other processes hits every variant alike.
        for round_number in range(args.repeats):
            rows["floor"] += _time(partial(copy_floor, pair), 1)
            rows["engine"] += _time(partial(engine, pair), 1)
            rows["cached"] += _time(partial(engine_cached, index), 1)
            if round_number % 3 == 0:
                rows["drift"] += _time(partial(engine_drift, index), 1)
        rows["baseline"] += _time(partial(straightforward_metrics, pair), args.baseline_repeats)
        worst = max(worst, _largest_difference(engine(pair), straightforward_metrics(pair)))

    labels = {
        "floor": "copy both uint16 maps (memory floor)",
        "engine": "engine, full metric set",
        "cached": "engine, reference prepared (bands cached)",
        "drift": "engine, cached reference + boundary drift",
        "baseline": "straightforward (masks, erosions, COCOeval)",
    }
    print(f"{'':46s} {'median ms':>10s} {'p95 ms':>10s} {'min ms':>10s}")
    for key, label in labels.items():
        median, p95 = _summary(rows[key])
        print(f"{label:46s} {median:10.2f} {p95:10.2f} {min(rows[key]) * 1e3:10.2f}")
    base = statistics.median(rows["baseline"])
    print(
        f"speed-up vs straightforward (medians): {base / statistics.median(rows['engine']):.0f}x (raw maps), "
        f"{base / statistics.median(rows['cached']):.0f}x (cached reference)"
    )
    print(f"largest difference between the two ways: {worst:.3g}")


if __name__ == "__main__":
    main()
