"""The PNG-based exports (COCO panoptic, Cityscapes, ADE20K, VOC, png), decoded with Pillow and
the formats' own rules, compared with the source maps pixel by pixel."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from deliveries.formats import (
    FORMATS,
    CityscapesExporter,
    ExportCategory,
    ExportError,
    ExportImage,
    ExportSegment,
    Taxonomy,
    VocExporter,
    read_png,
    rgb_to_id,
    voc_colormap,
)
from deliveries.formats.cityscapes import CITYSCAPES_COLORS
from tests.deliveries.formats.scenes import TAXONOMY, Scene, same_partition

CROWDED = ("crowded_0002",)


def semantic(scene: Scene, value_of: dict[int, int], void: int = 0) -> np.ndarray:
    lut = np.full(int(scene.map.max()) + 1, void, np.int64)
    for g in scene.segments:
        lut[g.id] = value_of[g.category_id]
    out: np.ndarray = lut[scene.map]
    return out


def merged_stuff(scene: Scene) -> np.ndarray:
    m = scene.map.copy()
    first: dict[int, int] = {}
    for g in scene.segments:
        if not TAXONOMY.by_id[g.category_id].isthing:
            m[scene.map == g.id] = first.setdefault(g.category_id, g.id)
    return m


# ----------------------------------------------------------------------------- COCO panoptic
@pytest.mark.parametrize("merge", [True, False])
def test_panoptic_png_decodes_to_the_map_and_json_lists_every_id(
    export_all: Any, scenes: Any, merge: Any
) -> None:
    root = export_all("coco-panoptic", merge_stuff=merge) if merge else export_all("coco-panoptic")

    for split in ("train", "val"):
        doc = json.loads((root / "annotations" / f"panoptic_{split}.json").read_text())
        png_dir = root / "annotations" / f"panoptic_{split}"  # the JSON path minus .json
        cats = {c["id"]: c for c in doc["categories"]}
        for ann in doc["annotations"]:
            scene = next(s for s in scenes if f"{s.stem}.png" == ann["file_name"])
            im = Image.open(png_dir / ann["file_name"])
            assert im.mode == "RGB"
            pid = rgb_to_id(np.asarray(im))
            expected = merged_stuff(scene) if merge else scene.map
            assert np.array_equal(pid, expected)  # the ids are the map's own
            infos = {s["id"]: s for s in ann["segments_info"]}
            assert set(infos) == set(np.unique(pid).tolist()) - {0}
            table = {g.id: g for g in scene.segments}
            for sid, info in infos.items():
                mask = pid == sid
                ys, xs = np.nonzero(mask)
                assert info["area"] == int(mask.sum())
                assert info["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
                assert info["category_id"] == table[sid].category_id
                assert info["iscrowd"] == int(table[sid].iscrowd)
                assert cats[info["category_id"]]["isthing"] in (0, 1)
        assert all(len(c["color"]) == 3 for c in doc["categories"])


def test_panoptic_ids_above_255_use_the_green_channel(export_all: Any) -> None:
    im = np.asarray(Image.open(export_all("coco-panoptic") / "annotations/panoptic_train/crowded_0002.png"))
    assert im[..., 1].max() == 1  # ids 256..301


# ----------------------------------------------------------------------------- Cityscapes
def cityscapes_files(root: Path) -> dict[str, Path]:
    with open(root / "tessera_names.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {r["stem"]: root / "gtFine" / r["split"] / r["city"] / f"{r['name']}_gtFine" for r in rows}


def test_cityscapes_names_keep_cityscapes_stems_and_number_the_others(export_all: Any) -> None:
    files = cityscapes_files(export_all("cityscapes"))

    assert files["aachen_000001_000019"].name == "aachen_000001_000019_gtFine"
    assert files["aachen_000001_000019"].parent.name == "aachen"
    assert files["street_0001"].name == "tessera_000000_000000_gtFine"
    assert files["noise_0006"].name == "tessera_000000_000005_gtFine"


def test_cityscapes_label_instance_and_color_images(export_all: Any, scenes: Any) -> None:
    files = cityscapes_files(export_all("cityscapes"))
    label_of = {c.id: c.export_ids["cityscapes"] for c in TAXONOMY.categories}

    for scene in scenes:
        base = files[scene.stem]
        lab = Image.open(f"{base}_labelIds.png")
        inst = Image.open(f"{base}_instanceIds.png")
        assert (lab.mode, inst.mode) == ("L", "I;16")
        lab_a, inst_a = np.asarray(lab).astype(np.int64), np.asarray(inst).astype(np.int64)
        assert np.array_equal(lab_a, semantic(scene, label_of))
        expected = semantic(scene, label_of)
        counters: dict[int, int] = {}
        for g in sorted(scene.segments, key=lambda g: g.id):
            if TAXONOMY.by_id[g.category_id].isthing and not g.iscrowd and (scene.map == g.id).any():
                lid = label_of[g.category_id]
                expected[scene.map == g.id] = lid * 1000 + counters.get(lid, 0)
                counters[lid] = counters.get(lid, 0) + 1
        assert np.array_equal(inst_a, expected)
        assert np.array_equal(np.where(inst_a >= 1000, inst_a // 1000, inst_a), lab_a)
        color = np.asarray(Image.open(f"{base}_color.png").convert("RGB"))
        lut = np.zeros((256, 3), np.uint8)
        for lid, rgb in CITYSCAPES_COLORS.items():
            lut[lid] = rgb
        assert np.array_equal(color, lut[lab_a])


def test_cityscapes_without_mapping_fails_before_writing(tmp_path: Any) -> None:
    taxonomy = Taxonomy(
        (
            ExportCategory(1, "road", "#804080", False, {"cityscapes": 7}),
            ExportCategory(2, "kerb", "#ffffff", False),
        )
    )

    with pytest.raises(ExportError, match="missing for: kerb"):
        CityscapesExporter().export([], taxonomy, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_cityscapes_train_ids_follow_the_official_table(export_all: Any, scenes: Any) -> None:
    files = cityscapes_files(export_all("cityscapes", train_ids=True))
    train = {7: 0, 23: 10, 24: 11, 26: 13, 33: 18}

    for scene in scenes:
        lab = np.asarray(Image.open(f"{files[scene.stem]}_labelIds.png")).astype(np.int64)
        tr = np.asarray(Image.open(f"{files[scene.stem]}_labelTrainIds.png")).astype(np.int64)
        expected = np.vectorize(lambda v: train.get(v, 255))(lab)
        assert np.array_equal(tr, expected)


# ----------------------------------------------------------------------------- ADE20K
def test_ade20k_indices_start_at_1_in_taxonomy_order_with_0_for_void(export_all: Any, scenes: Any) -> None:
    root = export_all("ade20k")
    index_of = {c.id: k for k, c in enumerate(TAXONOMY.categories, start=1)}

    for scene in scenes:
        split = {"train": "training", "val": "validation"}[scene.split]
        im = Image.open(root / "annotations" / split / f"{scene.stem}.png")
        assert im.mode == "L"
        assert np.array_equal(np.asarray(im), semantic(scene, index_of))
        assert (root / "images" / split / f"{scene.stem}.png").is_file()
    with open(root / "objectInfo150.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["Idx"]), r["Name"]) for r in rows] == [
        (k, c.name) for c, k in zip(TAXONOMY.categories, range(1, 6), strict=True)
    ]
    assert sum(float(r["Ratio"]) for r in rows) < 1  # void takes the rest
    assert int(rows[0]["Val"]) == 1  # road appears in one validation image


def test_ade20k_refuses_more_than_255_classes(tmp_path: Any) -> None:
    taxonomy = Taxonomy(tuple(ExportCategory(i, f"c{i}", "#000000", False) for i in range(1, 257)))
    with pytest.raises(ExportError, match="at most 255 classes"):
        FORMATS["ade20k"].export([], taxonomy, tmp_path / "out")


# ----------------------------------------------------------------------------- VOC
def test_voc_palette_pngs_labelmap_and_void_as_255(export_all: Any, scenes: Any) -> None:
    root = export_all("voc", exclude=CROWDED)
    index_of = {c.id: k for k, c in enumerate(TAXONOMY.categories, start=1)}
    pal = voc_colormap()

    lines = (root / "labelmap.txt").read_text().splitlines()
    assert lines[1] == "background:0,0,0::"
    assert lines[-1] == "ignored:224,224,192::"
    for k, line in enumerate(lines[2:-1], start=1):
        assert line.split(":")[1] == ",".join(map(str, pal[k]))
    for scene in scenes:
        if scene.stem in CROWDED:
            continue
        cls = Image.open(root / "SegmentationClass" / f"{scene.stem}.png")
        obj = Image.open(root / "SegmentationObject" / f"{scene.stem}.png")
        assert cls.mode == obj.mode == "P"
        assert np.array_equal(np.array(cls.getpalette()).reshape(-1, 3)[:256], pal)
        assert np.array_equal(np.asarray(cls), semantic(scene, index_of, void=255))
        obj_a = np.asarray(obj)
        k = 0
        for g in sorted(scene.segments, key=lambda g: g.id):
            if not (scene.map == g.id).any() or not TAXONOMY.by_id[g.category_id].isthing:
                continue
            if g.iscrowd:
                assert (obj_a[scene.map == g.id] == 255).all()
            else:
                k += 1
                assert np.array_equal(obj_a == k, scene.map == g.id)
    listed = (root / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert listed == [s.stem for s in scenes if s.split == "val"]


def test_voc_void_auto_is_background_for_things_only_taxonomies(tmp_path: Any) -> None:
    taxonomy = Taxonomy((ExportCategory(1, "car", "#ff0000", True),))
    m = np.zeros((4, 4), np.uint16)
    m[1:3, 1:3] = 7
    image = ExportImage("a", 4, 4, m, (ExportSegment(7, 1),))

    VocExporter().export([image], taxonomy, tmp_path / "auto")
    VocExporter(void="ignore").export([image], taxonomy, tmp_path / "ignore")

    auto = np.asarray(Image.open(tmp_path / "auto" / "SegmentationClass" / "a.png"))
    ignore = np.asarray(Image.open(tmp_path / "ignore" / "SegmentationClass" / "a.png"))
    assert auto[0, 0] == 0
    assert ignore[0, 0] == 255
    assert "ignored" not in (tmp_path / "auto" / "labelmap.txt").read_text()


def test_voc_refuses_more_than_254_objects_in_an_image(tmp_path: Any, scenes: Any) -> None:
    crowded = next(s for s in scenes if s.stem == "crowded_0002")
    with pytest.raises(ExportError, match="more than 254 objects"):
        FORMATS["voc"].export([crowded.export_image()], TAXONOMY, tmp_path / "out")


# ----------------------------------------------------------------------------- png
def test_png_layout_semantic_and_instance_indices(export_all: Any, scenes: Any) -> None:
    root = export_all("png")
    classes = json.loads((root / "classes.json").read_text())
    index_of = {c["category_id"]: c["index"] for c in classes}
    records = {
        json.loads(line)["stem"]: json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()
    }

    for scene in scenes:
        rec = records[scene.stem]
        sem = np.asarray(Image.open(root / rec["semantic"]))
        ins = np.asarray(Image.open(root / rec["instances"])).astype(np.int64)
        assert np.array_equal(sem, semantic(scene, index_of))
        things = np.isin(scene.map, [g.id for g in scene.segments if TAXONOMY.by_id[g.category_id].isthing])
        assert ((ins > 0) == things).all()
        assert same_partition(np.where(things, scene.map, 0), ins)
    assert Image.open(root / records["crowded_0002"]["instances"]).mode == "I;16"  # 299 instances
    assert Image.open(root / records["street_0001"]["instances"]).mode == "L"
    assert records["street_0001"]["crowd"] == [6]  # segment 40, the 6th thing by segment id


def test_png_semantic_is_16_bit_above_255_classes_and_reads_back(tmp_path: Any) -> None:
    taxonomy = Taxonomy(tuple(ExportCategory(i, f"c{i}", "#000000", i % 2 == 0) for i in range(1, 301)))
    m = np.zeros((5, 7), np.uint16)
    m[:, :3] = 1  # category 299 (stuff): class index 299
    m[1:4, 4:6] = 2  # category 300 (thing): class index 300
    image = ExportImage("wide", 7, 5, m, (ExportSegment(1, 299), ExportSegment(2, 300)))

    FORMATS["png"].export([image], taxonomy, tmp_path / "out")

    sem = Image.open(tmp_path / "out" / "semantic" / "train" / "wide.png")
    assert sem.mode == "I;16"
    expected = np.where(m == 1, 299, np.where(m == 2, 300, 0))
    assert np.array_equal(np.asarray(sem).astype(np.int64), expected)
    assert Image.open(tmp_path / "out" / "instances" / "train" / "wide.png").mode == "L"
    (read,) = read_png(tmp_path / "out")
    assert same_partition(read.index_map, m)
    assert {s.category_id for s in read.segments} == {299, 300}
