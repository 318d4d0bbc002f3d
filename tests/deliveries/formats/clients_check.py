"""Load an export with the format's own client libraries and compare with the source maps.

Runs inside the clients' venv (``.venv-clients``: Datumaro, cityscapesscripts, ultralytics,
pycocotools), driven by the tests through a subprocess, because those clients pin versions
(Pillow 12 for Datumaro, torch for ultralytics) that the application's venv does not take.
This file imports nothing from Tessera.

    python clients_check.py FORMAT EXPORT_DIR REFERENCE_NPZ

REFERENCE_NPZ holds ``map_<stem>`` arrays (segment ids, 0 = void) and ``table``: JSON with
``images: {stem: {split, segments: [[id, category_id, iscrowd], ...]}}`` and
``categories: [[id, name, isthing, cityscapes_id], ...]``. The last line printed is JSON:
``{"checks": {name: {"ok": bool, "detail": str}}, "versions": {...}}``.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

CHECKS: dict[str, dict[str, Any]] = {}
VERSIONS: dict[str, str] = {}


def check(name: str, ok: bool, detail: str = "") -> None:
    CHECKS[name] = {"ok": bool(ok), "detail": detail[:2000]}


@contextlib.contextmanager
def guarded(name: str) -> Iterator[None]:
    try:
        yield
    except BaseException as e:  # a crash in a client is a failed check, not a crashed run
        check(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    with open(os.devnull, "w") as dn, contextlib.redirect_stdout(dn), contextlib.redirect_stderr(dn):
        yield


class Reference:
    def __init__(self, path: str) -> None:
        z = np.load(path)
        t = json.loads(str(z["table"]))
        self.maps = {k[4:]: z[k] for k in z.files if k.startswith("map_")}
        self.images = t["images"]
        self.cats = {c[0]: {"name": c[1], "isthing": bool(c[2]), "cityscapes": c[3]} for c in t["categories"]}
        self.name_of = {cid: c["name"] for cid, c in self.cats.items()}

    def segments(self, stem: str) -> list[tuple[int, int, int]]:
        m = self.maps[stem]
        present = set(np.unique(m).tolist())
        return [(s, c, k) for s, c, k in self.images[stem]["segments"] if s in present]

    def things(self, stem: str, crowd: int | None = None) -> list[tuple[int, int, int]]:
        return [
            (s, c, k)
            for s, c, k in self.segments(stem)
            if self.cats[c]["isthing"] and (crowd is None or k == crowd)
        ]


def compare_objects(
    ref: Reference,
    stem: str,
    objects: Sequence[tuple[str, int | None, Any]],
    expected: list[tuple[int, int, int]],
) -> list[str]:
    """Every exported object must equal one expected reference segment pixel for pixel, with
    the same class name (and crowd flag when given); every expected segment must be found."""
    m = ref.maps[stem]
    left = {s: (c, k) for s, c, k in expected}
    problems = []
    for name, crowd, mask in objects:
        mask = np.asarray(mask, bool)
        if mask.shape != m.shape:
            problems.append(f"{stem}: {name} mask shape {mask.shape} != {m.shape}")
            continue
        ids = np.unique(m[mask])
        sid = int(ids[0]) if len(ids) == 1 else None
        if sid is None or sid not in left or not np.array_equal(m == sid, mask):
            problems.append(f"{stem}: {name} object ({int(mask.sum())} px) equals no expected segment")
            continue
        cid, k = left.pop(sid)
        if ref.name_of[cid] != name:
            problems.append(f"{stem}: segment {sid} is {ref.name_of[cid]}, export says {name}")
        if crowd is not None and bool(crowd) != bool(k):
            problems.append(f"{stem}: segment {sid} iscrowd {k}, export says {crowd}")
    problems += [f"{stem}: segment {s} ({ref.name_of[c]}) missing" for s, (c, _) in left.items()]
    return problems


def datumaro_items(root: str, fmt: str) -> tuple[Any, Callable[[int], str]]:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    VERSIONS["datumaro"] = dm.__version__
    with quiet():
        ds = dm.Dataset.import_from(root, fmt)
    labels = ds.categories()[AnnotationType.label]
    return ds, lambda i: labels[i].name


def poly_mask(points: list[float], h: int, w: int) -> np.ndarray:
    from pycocotools import mask as mu

    out: np.ndarray = mu.decode(mu.frPyObjects([list(map(float, points))], h, w)[0]).astype(bool)
    return out


# ----------------------------------------------------------------------------- COCO
def check_coco(root: str, ref: Reference) -> None:
    from datumaro.components.annotation import Mask, Polygon

    with guarded("datumaro coco_instances"):
        ds, label = datumaro_items(root, "coco_instances")
        problems = []
        n = 0
        for item in ds:
            stem = item.id
            h, w = ref.maps[stem].shape
            objs: dict[int, list[Any]] = {}
            for a in item.annotations:
                if isinstance(a, Mask | Polygon):
                    objs.setdefault(a.id, []).append(a)
            exported = []
            for parts in objs.values():
                mask = np.zeros((h, w), bool)
                for a in parts:
                    mask |= poly_mask(a.points, h, w) if isinstance(a, Polygon) else np.asarray(a.image, bool)
                exported.append(
                    (label(parts[0].label), int(parts[0].attributes.get("is_crowd", False)), mask)
                )
            n += len(exported)
            problems += compare_objects(ref, stem, exported, ref.things(stem))
        check(
            "datumaro coco_instances",
            not problems and len(ds) == len(ref.maps),
            "; ".join(problems[:10]) or f"{len(ds)} items, {n} objects equal the reference",
        )


# ----------------------------------------------------------------------------- COCO panoptic
def rgb2id(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.uint32)
    out: np.ndarray = a[..., 0] + (a[..., 1] << 8) + (a[..., 2] << 16)
    return out


def check_coco_panoptic(root: str, ref: Reference) -> None:
    from datumaro.components.annotation import Mask

    with guarded("datumaro coco_panoptic"):
        ds, label = datumaro_items(root, "coco_panoptic")
        problems = []
        for item in ds:
            stem = item.id
            exported = [
                (label(a.label), int(a.attributes.get("is_crowd", False)), np.asarray(a.image, bool))
                for a in item.annotations
                if isinstance(a, Mask)
            ]
            exact = compare_objects(ref, stem, exported, ref.segments(stem))
            if exact:  # exported with merge_stuff=True: one segment per stuff class
                merged = merge_stuff(ref, stem)
                exact = compare_objects(merged, stem, exported, merged.segments(stem))
            problems += exact
        check(
            "datumaro coco_panoptic",
            not problems and len(ds) == len(ref.maps),
            "; ".join(problems[:10]) or f"{len(ds)} items, every segment equals the reference",
        )


def check_panoptic(root: str, ref: Reference) -> None:
    check_coco_panoptic(root, ref)
    check_panoptic_pq(root, ref)


def check_panoptic_pq(root: str, ref: Reference) -> None:
    """panopticapi's own evaluator: the export against itself and against a ground truth
    rendered from the reference maps gives PQ = 1 (all, things, stuff), and a copy of the
    export with one thing relabelled gives less (so the check can fail)."""
    with guarded("panopticapi pq_compute"):
        from panopticapi.evaluation import pq_compute  # type: ignore[import-not-found]
        from panopticapi.utils import rgb2id as their_rgb2id  # type: ignore[import-not-found]

        VERSIONS["panopticapi"] = "panopticapi-lite 0.2.0"
        jsons = sorted(glob.glob(os.path.join(root, "annotations", "panoptic_*.json")))
        details = []
        problems = []
        tmp = tempfile.mkdtemp(prefix="pq-")
        try:
            for jf in jsons:
                with open(jf, encoding="utf-8") as f:
                    doc = json.load(f)
                png_dir = jf[: -len(".json")]
                with quiet():
                    own = pq_compute(jf, jf, png_dir, png_dir)
                gt_json, gt_dir = _panoptic_ground_truth(doc, png_dir, ref, tmp, their_rgb2id)
                with quiet():
                    vs_ref = pq_compute(gt_json, jf, gt_dir, png_dir)
                bad_json = _relabel_one_thing(doc, tmp)
                with quiet():
                    bad = pq_compute(gt_json, bad_json, gt_dir, png_dir)
                split = os.path.basename(png_dir)
                for name, r in (("export vs export", own), ("reference vs export", vs_ref)):
                    pqs = {k: r[k]["pq"] for k in ("All", "Things", "Stuff")}
                    if any(abs(v - 1) > 1e-12 for v in pqs.values()) or min(r[k]["n"] for k in pqs) < 1:
                        problems.append(f"{split} {name}: {pqs}")
                if not bad["Things"]["pq"] < 1:
                    problems.append(f"{split}: a relabelled thing still gives PQ {bad['Things']['pq']}")
                details.append(
                    f"{split}: PQ {vs_ref['All']['pq']:.3f} vs reference "
                    f"({vs_ref['Things']['n']} thing, {vs_ref['Stuff']['n']} stuff classes), "
                    f"{bad['Things']['pq']:.3f} with one thing relabelled"
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        check(
            "panopticapi pq_compute",
            bool(jsons) and not problems,
            "; ".join(problems[:10]) or "; ".join(details) or "no annotations/panoptic_*.json",
        )


def _panoptic_ground_truth(
    doc: dict[str, Any], png_dir: str, ref: Reference, tmp: str, their_rgb2id: Any
) -> tuple[str, str]:
    """The reference maps as a COCO panoptic ground truth for ``doc``'s images (stuff merged
    per class where the export merged it), written with the export's image ids and names."""
    split = os.path.basename(png_dir)
    gt_dir = os.path.join(tmp, f"gt_{split}")
    os.makedirs(gt_dir)
    by_name = {c["name"]: c["id"] for c in doc["categories"]}
    annotations = []
    for a in doc["annotations"]:
        stem = os.path.splitext(a["file_name"])[0]
        exported = their_rgb2id(np.array(Image.open(os.path.join(png_dir, a["file_name"])), dtype=np.uint8))
        source = ref
        if len(np.unique(exported)) != len(np.unique(ref.maps[stem])):  # merge_stuff=True
            source = merge_stuff(ref, stem)
        m = source.maps[stem].astype(np.int64)
        rgb = np.stack([m % 256, m // 256 % 256, m // 65536], -1).astype(np.uint8)
        Image.fromarray(rgb).save(os.path.join(gt_dir, a["file_name"]))
        infos = [
            {
                "id": s,
                "category_id": by_name[ref.name_of[c]],
                "iscrowd": int(k),
                "area": int((m == s).sum()),
                "bbox": [0, 0, 1, 1],
            }
            for s, c, k in source.segments(stem)
        ]
        annotations.append({"image_id": a["image_id"], "file_name": a["file_name"], "segments_info": infos})
    path = os.path.join(tmp, f"gt_{split}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"images": doc["images"], "annotations": annotations, "categories": doc["categories"]}, f)
    return path, gt_dir


def _relabel_one_thing(doc: dict[str, Any], tmp: str) -> str:
    """A copy of the export's JSON where the first non-crowd thing segment has another thing
    category."""
    things = [c["id"] for c in doc["categories"] if c["isthing"]]
    bad = json.loads(json.dumps(doc))
    for a in bad["annotations"]:
        for s in a["segments_info"]:
            if s["category_id"] in things and not s["iscrowd"]:
                s["category_id"] = next(t for t in things if t != s["category_id"])
                path = os.path.join(tmp, f"bad_{len(os.listdir(tmp))}.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(bad, f)
                return path
    raise AssertionError("the export has no thing segment to relabel")


def merge_stuff(ref: Reference, stem: str) -> Reference:
    """A copy of ``ref`` restricted to ``stem`` where stuff segments of one class are one."""
    m = ref.maps[stem].copy()
    first: dict[int, int] = {}
    segs = []
    for s, c, k in ref.segments(stem):
        if not ref.cats[c]["isthing"]:
            keep = first.setdefault(c, s)
            if keep != s:
                m[m == s] = keep
                continue
        segs.append([s, c, k])
    out = Reference.__new__(Reference)
    out.__dict__.update(ref.__dict__)
    out.maps = {stem: m}
    out.images = {stem: {"segments": segs}}
    return out


# ----------------------------------------------------------------------------- Cityscapes
def check_cityscapes(root: str, ref: Reference) -> None:
    names = {}
    with open(os.path.join(root, "tessera_names.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            names[row["name"]] = row["stem"]
    with guarded("cityscapesscripts labels"):
        from cityscapesscripts.helpers import labels as cs

        VERSIONS["cityscapesscripts"] = "2.3.0"
        bad = []
        for cat in ref.cats.values():
            lab = cs.name2label.get(cat["name"])
            if lab is None or lab.id != cat["cityscapes"]:
                bad.append(
                    f"{cat['name']}: taxonomy id {cat['cityscapes']} != table {getattr(lab, 'id', None)}"
                )
            elif lab.hasInstances != cat["isthing"]:
                bad.append(f"{cat['name']}: hasInstances {lab.hasInstances} != isthing {cat['isthing']}")
        problems = []
        for path in sorted(glob.glob(os.path.join(root, "gtFine", "*", "*", "*_gtFine_labelIds.png"))):
            stem = names[os.path.basename(path)[: -len("_gtFine_labelIds.png")]]
            lab = np.array(Image.open(path)).astype(np.int64)
            col = np.array(Image.open(path.replace("_labelIds", "_color")).convert("RGB"))
            m = ref.maps[stem]
            exp = np.zeros(m.shape, np.int64)
            for s, c, _ in ref.segments(stem):
                exp[m == s] = ref.cats[c]["cityscapes"]
            if not np.array_equal(lab, exp):
                problems.append(f"{stem}: labelIds differ on {int((lab != exp).sum())} px")
            lut = np.zeros((256, 3), np.uint8)
            for lid, lab_ in cs.id2label.items():
                if 0 <= lid < 256:
                    lut[lid] = lab_.color
            if not np.array_equal(lut[lab], col):
                problems.append(f"{stem}: color.png differs from the official label colours")
            train = path.replace("_labelIds", "_labelTrainIds")
            if os.path.exists(train):
                tr = np.array(Image.open(train)).astype(np.int64)
                lut_t = np.full(256, 255)
                for lid, lab_ in cs.id2label.items():
                    if 0 <= lid < 256:
                        lut_t[lid] = 255 if lab_.trainId in (-1, 255) else lab_.trainId
                if not np.array_equal(lut_t[lab], tr):
                    problems.append(f"{stem}: labelTrainIds != cityscapesscripts trainId(labelIds)")
        check(
            "cityscapesscripts labels",
            not bad and not problems,
            "; ".join(bad + problems[:10])
            or "label ids, hasInstances, colours (and train ids) agree with the official table",
        )
    with guarded("cityscapesscripts instances2dict"):
        if not hasattr(np, "in1d"):  # cityscapesscripts 2.3.0 calls np.in1d, removed in NumPy 2.4
            np.in1d = lambda a, b, invert=False: np.isin(np.ravel(a), b, invert=invert)  # type: ignore[attr-defined]
        from cityscapesscripts.evaluation.instances2dict import instances2dict
        from cityscapesscripts.helpers.labels import id2label

        files = sorted(glob.glob(os.path.join(root, "gtFine", "*", "*", "*_gtFine_instanceIds.png")))
        with quiet():
            inst = instances2dict(files)
        problems = []
        n = 0
        for path in files:
            stem = names[os.path.basename(path)[: -len("_gtFine_instanceIds.png")]]
            arr = np.array(Image.open(path)).astype(np.int64)
            objects = []
            for lname, lst in inst[os.path.abspath(path)].items():
                for o in lst:
                    if o["instID"] < 1000:
                        continue
                    mask = arr == o["instID"]
                    if int(mask.sum()) != o["pixelCount"] or id2label[o["labelID"]].name != lname:
                        problems.append(f"{stem}: instances2dict record {o['instID']} inconsistent")
                    objects.append((lname, 0, mask))
            n += len(objects)
            problems += compare_objects(ref, stem, objects, ref.things(stem, crowd=0))
        check(
            "cityscapesscripts instances2dict",
            not problems,
            "; ".join(problems[:10]) or f"{len(files)} images, {n} instances equal the reference things",
        )
    with guarded("cityscapesscripts evalPixelLevelSemanticLabeling"):
        check_cityscapes_evaluator(root, ref, names)
    with guarded("datumaro cityscapes"):
        from cityscapesscripts.helpers import labels as cs
        from datumaro.components.annotation import Mask

        ds, label = datumaro_items(root, "cityscapes")
        train_ids = bool(glob.glob(os.path.join(root, "gtFine", "*", "*", "*_labelTrainIds.png")))
        problems = []
        n = 0
        for item in ds:
            stem = names[os.path.basename(item.id)]
            m = ref.maps[stem]
            got = [
                (label(a.label), np.asarray(a.image, bool)) for a in item.annotations if isinstance(a, Mask)
            ]
            n += len(got)
            # PyPI Datumaro reads labelTrainIds when present (semantic classes), else only the
            # pixels of instanceIds that hold a bare label id: stuff, crowd and void. With train
            # ids it drops train id 0 (road): its loader tests `if label_id:`.
            expected: dict[str, np.ndarray] = {}
            for s, c, k in ref.segments(stem):
                cat = ref.cats[c]
                if train_ids and cs.name2label[cat["name"]].trainId == 0:
                    continue
                if train_ids or not cat["isthing"] or k:
                    expected.setdefault(cat["name"], np.zeros(m.shape, bool))
                    expected[cat["name"]] |= m == s
            got_d = dict(got)
            if set(got_d) != set(expected) or any(
                not np.array_equal(got_d[k], v) for k, v in expected.items()
            ):
                problems.append(f"{stem}: classes {sorted(got_d)} vs expected {sorted(expected)}")
        check(
            "datumaro cityscapes",
            not problems and len(ds) == len(ref.maps),
            "; ".join(problems[:10])
            or f"{len(ds)} items, {n} class masks equal the reference"
            + (" (train ids)" if train_ids else ""),
        )


def check_cityscapes_evaluator(root: str, ref: Reference, names: dict[str, str]) -> None:
    """The official pixel-level evaluator, the export's labelIds as predictions against a
    ground truth (labelIds + instanceIds) rendered from the reference: IoU and iIoU 1 for
    every class present; a prediction with one class's pixels changed scores less."""
    if not hasattr(np, "in1d"):  # cityscapesscripts 2.3.0 calls np.in1d, removed in NumPy 2.4
        np.in1d = lambda a, b, invert=False: np.isin(np.ravel(a), b, invert=invert)  # type: ignore[attr-defined]
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev

    preds = sorted(glob.glob(os.path.join(root, "gtFine", "*", "*", "*_gtFine_labelIds.png")))
    tmp = tempfile.mkdtemp(prefix="cs-eval-")
    try:
        gts, broken = [], []
        for k, path in enumerate(preds):
            name = os.path.basename(path)[: -len("_gtFine_labelIds.png")]
            stem = names[name]
            m = ref.maps[stem]
            label = np.zeros(m.shape, np.uint8)
            inst = np.zeros(m.shape, np.uint16)
            per_class: dict[int, int] = {}
            for s, c, crowd in ref.segments(stem):
                lid = ref.cats[c]["cityscapes"]
                label[m == s] = lid
                if ref.cats[c]["isthing"] and not crowd:
                    inst[m == s] = lid * 1000 + per_class.setdefault(lid, 0)
                    per_class[lid] += 1
                else:
                    inst[m == s] = lid
            gt = os.path.join(tmp, f"{name}_gtFine_labelIds.png")
            Image.fromarray(label).save(gt)
            Image.fromarray(inst).save(gt.replace("_labelIds", "_instanceIds"))
            gts.append(gt)
            if k == 0:  # the first prediction with its first class painted as another one
                arr = np.array(Image.open(path))
                present = [v for v in np.unique(arr).tolist() if v]
                arr[arr == present[0]] = present[-1] if len(present) > 1 else 26
                wrong = os.path.join(tmp, f"wrong_{name}_gtFine_labelIds.png")
                Image.fromarray(arr).save(wrong)
                broken.append(wrong)
            else:
                broken.append(path)
        a = ev.args
        a.JSONOutput, a.quiet, a.evalPixelAccuracy = False, True, False
        with quiet():
            result = ev.evaluateImgLists(preds, gts, a)
            worse = ev.evaluateImgLists(broken, gts, a)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    scores = {k: v for k, v in result["classScores"].items() if v == v}  # nan: class absent
    inst_scores = {k: v for k, v in result["classInstScores"].items() if v == v}
    expected = {ref.cats[c]["name"] for st in ref.maps for _, c, _ in ref.segments(st)}
    problems = [f"{k}: IoU {v}" for k, v in scores.items() if v != 1.0]
    problems += [f"{k}: iIoU {v}" for k, v in inst_scores.items() if v != 1.0]
    if set(scores) != expected:
        problems.append(f"classes scored {sorted(scores)} != present {sorted(expected)}")
    if not worse["averageScoreClasses"] < 1:
        problems.append("a prediction with a class painted over still scores mIoU 1")
    check(
        "cityscapesscripts evalPixelLevelSemanticLabeling",
        bool(preds) and not problems,
        "; ".join(problems[:10])
        or f"{len(preds)} images: IoU 1 for {len(scores)} classes, iIoU 1 for {len(inst_scores)}; "
        f"mIoU {worse['averageScoreClasses']:.3f} with one class painted over",
    )


# ----------------------------------------------------------------------------- VOC
def check_voc(root: str, ref: Reference) -> None:
    from datumaro.components.annotation import Mask

    with guarded("datumaro voc_segmentation"):
        ds, label = datumaro_items(root, "voc_segmentation")
        problems = []
        n = 0
        for item in ds:
            stem = item.id
            masks = [a for a in item.annotations if isinstance(a, Mask)]
            # Datumaro gives one mask per object of SegmentationObject (label from the class
            # PNG); stuff (0) is no object; index 255 (void, crowd) comes back as one mask of
            # the label "ignored" declared last in labelmap.txt
            m = ref.maps[stem]
            ignored = m == 0 if void_ignored(root) else np.zeros(m.shape, bool)
            for s, _, _ in ref.things(stem, crowd=1):
                ignored |= m == s
            got_ignored = [np.asarray(a.image, bool) for a in masks if label(a.label) == "ignored"]
            if (ignored.any() or got_ignored) and not (
                len(got_ignored) == 1 and np.array_equal(got_ignored[0], ignored)
            ):
                problems.append(f"{stem}: 'ignored' (255) mask differs from void + crowd")
            objects = [
                (label(a.label), None, np.asarray(a.image, bool))
                for a in masks
                if label(a.label) != "ignored"
            ]
            n += len(objects)
            problems += compare_objects(ref, stem, objects, ref.things(stem, crowd=0))
        check(
            "datumaro voc_segmentation",
            not problems and len(ds) == len(ref.maps),
            "; ".join(problems[:10]) or f"{len(ds)} items, {n} objects equal the reference",
        )


def void_ignored(root: str) -> bool:
    with open(os.path.join(root, "labelmap.txt"), encoding="utf-8") as f:
        return any(line.startswith("ignored:") for line in f)


# ----------------------------------------------------------------------------- YOLO
def check_yolo(root: str, ref: Reference) -> None:
    with guarded("ultralytics verify_image_label"):
        os.environ.setdefault("YOLO_OFFLINE", "1")
        with quiet():
            import ultralytics  # type: ignore[import-not-found]
            from ultralytics.data.utils import (  # type: ignore[import-not-found]
                check_det_dataset,
                polygon2mask,
                verify_image_label,
            )
        VERSIONS["ultralytics"] = ultralytics.__version__
        with quiet():
            data = check_det_dataset(os.path.join(root, "data.yaml"), autodownload=False)
        names = data["names"]
        problems = []
        worst = 1.0
        n = 0
        for lb in sorted(glob.glob(os.path.join(root, "labels", "*", "*.txt"))):
            split = os.path.basename(os.path.dirname(lb))
            stem = os.path.splitext(os.path.basename(lb))[0]
            ims = glob.glob(os.path.join(root, "images", split, stem + ".*"))
            if not ims:
                problems.append(f"{stem}: image missing")
                continue
            with quiet():
                r = verify_image_label((ims[0], lb, "", False, len(names), 0, 0, False))
            segments, nc, msg = r[3], r[8], r[9]
            if nc:
                problems.append(f"{stem}: corrupt: {msg.strip()}")
                continue
            m = ref.maps[stem]
            h, w = m.shape
            with open(lb, encoding="utf-8") as f:
                classes = [int(line.split()[0]) for line in f if line.strip()]
            objects = []
            for cls, seg in zip(classes, segments, strict=True):
                pts = (np.asarray(seg) * [w, h]).ravel().tolist()
                exact = poly_mask(pts, h, w)  # pycocotools' pixel-centre rule: exact
                objects.append((names[cls], None, exact))
                filled = polygon2mask((h, w), [np.asarray(seg) * [w, h]], color=1, downsample_ratio=1).astype(
                    bool
                )
                u = (filled | exact).sum()
                worst = min(worst, float((filled & exact).sum() / u) if u else 1.0)
            n += len(objects)
            problems += compare_objects(ref, stem, objects, ref.things(stem, crowd=0))
        check(
            "ultralytics verify_image_label",
            not problems,
            "; ".join(problems[:10])
            or f"{n} polygons verified; pycocotools raster exact; ultralytics polygon2mask (cv2.fillPoly) "
            f"worst IoU {worst:.3f}",
        )
        CHECKS["ultralytics verify_image_label"]["polygon2mask_worst_iou"] = worst


def main(argv: list[str]) -> int:
    fmt, root, ref_path = argv
    ref = Reference(ref_path)
    {
        "coco": check_coco,
        "coco-panoptic": check_panoptic,
        "cityscapes": check_cityscapes,
        "voc": check_voc,
        "yolo": check_yolo,
    }[fmt](root, ref)
    print(json.dumps({"checks": CHECKS, "versions": VERSIONS}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
