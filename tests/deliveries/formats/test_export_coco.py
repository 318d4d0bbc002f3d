"""COCO instances export, loaded with pycocotools (the format's own client)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from deliveries.formats import FORMATS
from deliveries.formats._maps import rle_string_to_counts
from tests.deliveries.formats.scenes import TAXONOMY, Scene


def load(root: Path, split: str) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(root / "annotations" / f"instances_{split}.json"))


def scenes_of(scenes: list[Scene], split: str) -> dict[str, Scene]:
    return {s.stem: s for s in scenes if s.split == split}


def thing_ids(scene: Scene, crowd: bool | None = None) -> dict[int, tuple[int, bool]]:
    present = set(np.unique(scene.map).tolist())
    return {
        g.id: (g.category_id, g.iscrowd)
        for g in scene.segments
        if g.id in present and TAXONOMY.by_id[g.category_id].isthing and (crowd is None or g.iscrowd == crowd)
    }


@pytest.mark.parametrize("polygons", [False, True])
@pytest.mark.parametrize("split", ["train", "val"])
def test_every_thing_decodes_with_annToMask_to_its_exact_pixels(
    export_all: Any, scenes: Any, polygons: Any, split: Any
) -> None:
    coco = load(export_all("coco", polygons=polygons), split)

    for stem, scene in scenes_of(scenes, split).items():
        (img,) = [im for im in coco.dataset["images"] if im["file_name"] == f"{stem}.png"]
        anns = coco.imgToAnns[img["id"]]
        expected = thing_ids(scene)
        assert len(anns) == len(expected)
        for a in anns:
            mask = coco.annToMask(a).astype(bool)
            (sid,) = np.unique(scene.map[mask])
            assert np.array_equal(mask, scene.map == sid)
            assert (a["category_id"], bool(a["iscrowd"])) == expected.pop(int(sid))
            assert a["area"] == int(mask.sum())
            ys, xs = np.nonzero(mask)
            assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_rle_counts_are_compressed_strings_summing_to_h_times_w_and_crowd_is_uncompressed(
    export_all: Any,
) -> None:
    data = json.loads((export_all("coco") / "annotations" / "instances_train.json").read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}

    kinds = set()
    for a in data["annotations"]:
        seg = a["segmentation"]
        h, w = sizes[a["image_id"]]
        assert seg["size"] == [h, w]
        counts = seg["counts"] if a["iscrowd"] else rle_string_to_counts(seg["counts"])
        assert isinstance(seg["counts"], list) == bool(a["iscrowd"])
        assert sum(counts) == h * w
        kinds.add(a["iscrowd"])
    assert kinds == {0, 1}


def test_polygons_mode_keeps_crowd_as_rle_and_splits_multi_part_objects(export_all: Any, scenes: Any) -> None:
    data = json.loads(
        (export_all("coco", polygons=True) / "annotations" / "instances_train.json").read_text()
    )

    crowd = [a for a in data["annotations"] if a["iscrowd"]]
    non_crowd = [a for a in data["annotations"] if not a["iscrowd"]]
    assert crowd
    assert all(isinstance(a["segmentation"], dict) for a in crowd)
    assert all(isinstance(a["segmentation"], list) for a in non_crowd)
    assert all(len(p) >= 6 and len(p) % 2 == 0 for a in non_crowd for p in a["segmentation"])
    # the two-part car of street_0001 (segment 20) is one annotation with two polygons
    assert any(len(a["segmentation"]) == 2 and a["area"] == 6 * 6 + 5 * 10 for a in non_crowd)


@pytest.mark.parametrize("polygons", [False, True])
def test_cocoeval_of_the_export_against_ground_truth_from_the_maps_gives_ap_1(
    export_all: Any, scenes: Any, polygons: Any
) -> None:
    coco = load(export_all("coco", polygons=polygons), "train")
    gt = reference_coco(coco, scenes_of(scenes, "train"))
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": coco.annToRLE(a),
            "score": 1.0,
        }
        for a in coco.dataset["annotations"]
    ]

    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "segm")
        ev.params.maxDets = [1, 10, 1000]  # crowded_0002 has 299 instances
        ev.evaluate()
        ev.accumulate()
        ev.summarize()

    # AP@[.5:.95], all areas, maxDets=1000 (summarize()'s first line is fixed to maxDets=100)
    precision = ev.eval["precision"][:, :, :, 0, 2]
    assert precision[precision > -1].mean() == pytest.approx(1.0)
    assert ev.stats[1] == pytest.approx(1.0)


def reference_coco(export: COCO, scenes: dict[str, Scene]) -> COCO:
    from pycocotools import mask as mask_utils

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for im in export.dataset["images"]:
        scene = scenes[im["file_name"][:-4]]
        images.append(im)
        for sid, (cid, crowd) in thing_ids(scene).items():
            rle = mask_utils.encode(np.asfortranarray((scene.map == sid).astype(np.uint8)))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": cid,
                    "segmentation": rle,
                    "area": float(mask_utils.area(rle)),
                    "bbox": mask_utils.toBbox(rle).tolist(),
                    "iscrowd": int(crowd),
                }
            )
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": export.dataset["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def test_ids_are_unique_positive_across_splits_and_only_thing_categories_are_listed(export_all: Any) -> None:
    root = export_all("coco")
    docs = [json.loads((root / "annotations" / f"instances_{s}.json").read_text()) for s in ("train", "val")]

    image_ids = [im["id"] for d in docs for im in d["images"]]
    ann_ids = [a["id"] for d in docs for a in d["annotations"]]
    assert len(set(image_ids)) == len(image_ids)
    assert min(image_ids) >= 1
    assert len(set(ann_ids)) == len(ann_ids)
    assert min(ann_ids) >= 1
    assert [c["id"] for c in docs[0]["categories"]] == [11, 12, 40]


def test_stuff_segments_are_counted_as_skipped(tmp_path: Any, scenes: Any, source_dir: Any) -> None:
    summary = FORMATS["coco"].export((s.export_image(source_dir) for s in scenes), TAXONOMY, tmp_path / "x")

    stuff = sum(
        1
        for s in scenes
        for g in s.segments
        if not TAXONOMY.by_id[g.category_id].isthing and (s.map == g.id).any()
    )
    assert summary.skipped["stuff"] == stuff
    assert summary.images == len(scenes)
    assert summary.source_images == len(scenes)
    assert (tmp_path / "x" / "images" / "train" / "street_0001.png").is_file()
