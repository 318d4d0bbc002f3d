"""Readers for imports: round trips export -> read -> same maps (up to id renaming), and every
malformed-input path raising FormatError with file, item and problem."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from deliveries.formats import (
    FormatError,
    coco_categories,
    png_categories,
    read_coco,
    read_coco_panoptic,
    read_png,
    safe_extract_zip,
)
from deliveries.formats._maps import counts_to_rle_string
from tests.deliveries.formats.scenes import TAXONOMY, Scene, same_partition


def by_stem(scenes: list[Scene]) -> dict[str, Scene]:
    return {s.stem: s for s in scenes}


def things_only(scene: Scene) -> np.ndarray:
    keep = [g.id for g in scene.segments if TAXONOMY.by_id[g.category_id].isthing]
    return np.where(np.isin(scene.map, keep), scene.map, 0)


def assert_segments_match(scene: Scene, got: Any, source_map: np.ndarray) -> None:
    """Each read segment covers exactly one source segment, with its category and crowd flag."""
    table = {g.id: g for g in scene.segments}
    for seg in got.segments:
        (sid,) = np.unique(source_map[got.index_map == seg.id])
        assert table[int(sid)].category_id == seg.category_id
        assert table[int(sid)].iscrowd == seg.iscrowd
        assert seg.area == int((got.index_map == seg.id).sum())


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("polygons", [False, True])
def test_coco_round_trip_gives_back_the_thing_partition(export_all: Any, scenes: Any, polygons: Any) -> None:
    root = export_all("coco", polygons=polygons)
    stems = by_stem(scenes)

    n = 0
    for split in ("train", "val"):
        for got in read_coco(root / "annotations" / f"instances_{split}.json", root / "images" / split):
            scene = stems[got.file_name[:-4]]
            assert got.index_map.dtype == np.uint16
            assert same_partition(got.index_map, things_only(scene))
            assert_segments_match(scene, got, scene.map)
            assert [s.id for s in got.segments] == list(range(1, len(got.segments) + 1))
            assert got.overlap_pixels == 0
            n += 1
    assert n == len(scenes)
    assert [c.id for c in coco_categories(root / "annotations" / "instances_train.json")] == [11, 12, 40]


def test_coco_panoptic_round_trip_is_exact_up_to_renaming(export_all: Any, scenes: Any) -> None:
    root = export_all("coco-panoptic")
    stems = by_stem(scenes)

    for split in ("train", "val"):
        for got in read_coco_panoptic(root / "annotations" / f"panoptic_{split}.json"):
            scene = stems[got.file_name[:-4]]
            assert same_partition(got.index_map, scene.map)
            assert_segments_match(scene, got, scene.map)
    cats = coco_categories(root / "annotations" / "panoptic_train.json")
    assert [(c.id, c.isthing, c.color) for c in cats][:1] == [(3, False, "#804080")]


def test_png_round_trip_is_exact_up_to_renaming(export_all: Any, scenes: Any) -> None:
    root = export_all("png")
    stems = by_stem(scenes)

    got_all = list(read_png(root))

    assert len(got_all) == len(scenes)
    for got in got_all:
        scene = stems[got.file_name[:-4]]
        assert got.split == scene.split
        if scene.stem == "aachen_000001_000019":  # two sky segments: one per class in this layout
            assert len(got.segments) == len(scene.segments) - 1
            continue
        assert same_partition(got.index_map, scene.map)
        assert_segments_match(scene, got, scene.map)
    assert [c.id for c in png_categories(root)] == [c.id for c in TAXONOMY.categories]


# ----------------------------------------------------------------------------- COCO errors
def coco_doc(annotations: list[dict[str, Any]], **image: Any) -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3, **image}],
        "annotations": annotations,
        "categories": [{"id": 7, "name": "car"}],
    }


def ann(seg: Any, **kw: Any) -> dict[str, Any]:
    return {"id": 5, "image_id": 1, "category_id": 7, "segmentation": seg, "iscrowd": 0, **kw}


def write(tmp_path: Path, doc: Any) -> Path:
    p = tmp_path / "instances.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize(
    ("doc", "item", "problem"),
    [
        (
            coco_doc([ann({"size": [3, 4], "counts": [0, 5, 2]})]),
            "annotation 5",
            "sum to 7, not height*width = 12",
        ),
        (
            coco_doc([ann({"size": [3, 4], "counts": counts_to_rle_string([0, 5, 2])})]),
            "annotation 5",
            "sum to 7",
        ),
        (coco_doc([ann({"size": [4, 3], "counts": [12]})]), "annotation 5", "RLE size [4, 3]"),
        (coco_doc([ann({"size": [3, 4], "counts": [14, -2]})]), "annotation 5", "negative run"),
        (coco_doc([ann({"size": [3, 4], "counts": "0~"})]), "annotation 5", "invalid character"),
        (coco_doc([ann([[0, 0, 1, 1]])]), "annotation 5", "2 points; at least 3"),
        (coco_doc([ann([[0, 0, 1, 1, 2]])]), "annotation 5", "odd number"),
        (coco_doc([ann([[0, 0, 1, 1, 2, 2]], category_id=9)]), "annotation 5", "category_id 9"),
        (coco_doc([ann([[0, 0, 1, 1, 2, 2]], image_id=2)]), "annotation 5", "image_id 2"),
        (coco_doc([ann([[0, 0, 1, 1, 2, 2]]), ann([[0, 0, 1, 1, 2, 2]])]), "annotation 5", "duplicate"),
        (
            coco_doc([{"id": 5, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}]),
            "annotation 5",
            "no segmentation",
        ),
        (coco_doc([], width="4"), "image 1", "'width' must be an integer"),
        ({"images": []}, "annotations", "must be a list"),
    ],
)
def test_malformed_coco_is_refused_before_any_image(tmp_path: Any, doc: Any, item: Any, problem: Any) -> None:
    path = write(tmp_path, doc)

    with pytest.raises(FormatError, match=re.escape(problem)) as err:
        next(read_coco(path))

    assert err.value.file == str(path)
    assert err.value.item == item


def test_coco_image_size_is_checked_against_the_image_file(tmp_path: Any) -> None:
    path = write(tmp_path, coco_doc([ann([[0, 0, 2, 0, 2, 2]])]))
    Image.new("RGB", (5, 3)).save(tmp_path / "a.jpg")

    with pytest.raises(FormatError, match="image is 5x3, annotations say 4x3"):
        next(read_coco(path, tmp_path))


def test_overlapping_coco_instances_smaller_on_top_and_reported(tmp_path: Any) -> None:
    big = ann([[0, 0, 4, 0, 4, 3, 0, 3]], id=1)  # whole image
    small = ann([[1, 1, 3, 1, 3, 2, 1, 2]], id=2)  # 2 pixels inside it
    hidden = ann([[1, 1, 3, 1, 3, 2, 1, 2]], id=3)  # same 2 pixels again: covered by id 2
    path = write(tmp_path, coco_doc([big, small, hidden]))

    (got,) = read_coco(path)

    assert got.overlap_pixels == 2
    assert [s.source_id for s in got.segments] == [1, 2]
    assert got.index_map.tolist() == [[1, 1, 1, 1], [1, 2, 2, 1], [1, 1, 1, 1]]
    assert any("annotation 3 dropped" in n for n in got.notes)


# ----------------------------------------------------------------------------- panoptic errors
def panoptic(tmp_path: Path, ids: np.ndarray, infos: list[dict[str, Any]], mode: str = "RGB") -> Path:
    (tmp_path / "pan").mkdir(exist_ok=True)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
    Image.fromarray(rgb).convert(mode).save(tmp_path / "pan" / "a.png")
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": ids.shape[1], "height": ids.shape[0]}],
        "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": infos}],
        "categories": [{"id": 7, "name": "car", "isthing": 1}],
    }
    path = tmp_path / "pan.json"
    path.write_text(json.dumps(doc))
    return path


def test_panoptic_png_id_without_segments_info_is_refused(tmp_path: Any) -> None:
    path = panoptic(tmp_path, np.array([[0, 300], [300, 5]]), [{"id": 300, "category_id": 7}])

    with pytest.raises(FormatError, match=r"PNG ids without a segments_info entry: \[5\]"):
        next(read_coco_panoptic(path))


@pytest.mark.parametrize(
    ("infos", "problem"),
    [
        ([{"id": 0, "category_id": 7}], "outside 1..2"),
        ([{"id": 3, "category_id": 8}], "category_id 8"),
        ([{"id": 3, "category_id": 7}, {"id": 3, "category_id": 7}], "listed twice"),
    ],
)
def test_panoptic_bad_segments_info_is_refused(tmp_path: Any, infos: Any, problem: Any) -> None:
    path = panoptic(tmp_path, np.array([[3]]), infos)
    with pytest.raises(FormatError, match=problem):
        next(read_coco_panoptic(path))


def test_panoptic_wrong_mode_and_size_are_refused(tmp_path: Any) -> None:
    path = panoptic(tmp_path, np.array([[3, 3]]), [{"id": 3, "category_id": 7}], mode="L")
    with pytest.raises(FormatError, match="8-bit RGB"):
        next(read_coco_panoptic(path))
    doc = json.loads(path.read_text())
    doc["images"][0]["width"] = 3
    path.write_text(json.dumps(doc))
    panoptic(tmp_path, np.array([[3, 3]]), [{"id": 3, "category_id": 7}])
    doc2 = json.loads(path.read_text())
    doc2["images"][0]["width"] = 3
    path.write_text(json.dumps(doc2))
    with pytest.raises(FormatError, match="PNG is 2x1, image is 3x1"):
        next(read_coco_panoptic(path))


def test_panoptic_keeps_void_and_drops_absent_segments_with_a_note(tmp_path: Any) -> None:
    path = panoptic(
        tmp_path, np.array([[0, 70000]]), [{"id": 70000, "category_id": 7}, {"id": 9, "category_id": 7}]
    )

    (got,) = read_coco_panoptic(path)

    assert got.index_map.tolist() == [[0, 1]]
    assert got.notes == ("segment 9 listed in segments_info but absent from the PNG: dropped",)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("{outside}", "is an absolute path"),
        ("../outside/a.png", "contains '..'"),
        ("sub\\a.png", "with '/' separators"),
        ("C:/a.png", "is an absolute path"),
    ],
)
def test_file_names_outside_their_folder_are_refused_before_any_file_is_opened(
    tmp_path: Any, name: str, problem: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (1, 1)).save(outside / "a.png")
    name = name.format(outside=outside / "a.png")
    pan = panoptic(tmp_path, np.array([[3]]), [{"id": 3, "category_id": 7}])
    doc = json.loads(pan.read_text())
    doc["annotations"][0]["file_name"] = name
    pan.write_text(json.dumps(doc))
    coco = write(tmp_path, coco_doc([ann([[0, 0, 2, 0, 2, 2]])]))
    doc = json.loads(coco.read_text())
    doc["images"][0]["file_name"] = name
    coco.write_text(json.dumps(doc))

    with pytest.raises(FormatError, match=re.escape(problem)) as err:
        next(read_coco_panoptic(pan))
    assert (err.value.item, err.value.file) == ("annotation for image 1", str(pan))
    with pytest.raises(FormatError, match=re.escape(problem)) as err:
        next(read_coco(coco, tmp_path))
    assert err.value.item == "image 1"
    assert list(read_coco(coco))  # without images_dir the name is only matched, never opened


def test_a_symbolic_link_out_of_the_png_folder_is_refused(tmp_path: Any) -> None:
    path = panoptic(tmp_path, np.array([[3]]), [{"id": 3, "category_id": 7}])
    secret = tmp_path / "secret.png"
    (tmp_path / "pan" / "a.png").rename(secret)
    (tmp_path / "pan" / "a.png").symlink_to(secret)

    with pytest.raises(FormatError, match=r"'a.png' leads outside its folder \(symbolic link\)"):
        next(read_coco_panoptic(path))


# ----------------------------------------------------------------------------- png errors
def test_png_reader_refuses_instances_on_stuff_and_unknown_classes(export_all: Any, tmp_path: Any) -> None:
    root = export_all("png")
    bad = tmp_path / "bad"
    for name in ("classes.json", "index.jsonl"):
        (bad / name).parent.mkdir(parents=True, exist_ok=True)
        (bad / name).write_text((root / name).read_text())
    line = json.loads((root / "index.jsonl").read_text().splitlines()[-1])
    (bad / line["semantic"]).parent.mkdir(parents=True, exist_ok=True)
    (bad / line["instances"]).parent.mkdir(parents=True, exist_ok=True)
    h, w = line["height"], line["width"]
    Image.fromarray(np.full((h, w), 1, np.uint8)).save(bad / line["semantic"])  # road: stuff
    Image.fromarray(np.full((h, w), 1, np.uint8)).save(bad / line["instances"])
    (bad / "index.jsonl").write_text(json.dumps(line) + "\n")

    with pytest.raises(FormatError, match="lies on stuff class 'road'"):
        next(read_png(bad))

    Image.fromarray(np.full((h, w), 9, np.uint8)).save(bad / line["semantic"])
    with pytest.raises(FormatError, match=r"class indices not in classes.json: \[9\]"):
        next(read_png(bad))

    Image.fromarray(np.zeros((h + 1, w), np.uint8)).save(bad / line["semantic"])
    with pytest.raises(FormatError, match="index says"):
        next(read_png(bad))


# ----------------------------------------------------------------------------- zip
def make_zip(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_safe_extract_zip_extracts_plain_members(tmp_path: Any) -> None:
    z = make_zip(tmp_path / "ok.zip", [("annotations/a.json", b"{}"), ("images/b.png", b"x")])

    written = safe_extract_zip(z, tmp_path / "out")

    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "annotations/a.json",
        "images/b.png",
    ]


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
@pytest.mark.parametrize(
    ("members", "symlink", "problem"),
    [
        ([("../escape.txt", b"x")], None, "escapes the target"),
        ([("a/../../escape.txt", b"x")], None, "escapes the target"),
        ([("/etc/cron.d/x", b"x")], None, "absolute path"),
        ([("C:/x", b"x")], None, "absolute path"),
        ([("a\\..\\b", b"x")], None, "backslash"),
        ([("ok.txt", b"x")], "link", "symbolic link"),
        ([("a.txt", b"x"), ("a.txt", b"y")], None, "duplicate"),
    ],
)
def test_safe_extract_zip_refuses_dangerous_members_and_writes_nothing(
    tmp_path: Any, members: Any, symlink: Any, problem: Any
) -> None:
    z = make_zip(tmp_path / "bad.zip", members, symlink)

    with pytest.raises(FormatError, match=problem):
        safe_extract_zip(z, tmp_path / "out")

    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not (tmp_path / "escape.txt").exists()


def test_safe_extract_zip_limits_the_uncompressed_size(tmp_path: Any) -> None:
    z = make_zip(tmp_path / "bomb.zip", [("big.bin", bytes(10_000))])
    with pytest.raises(FormatError, match="exceeds the limit"):
        safe_extract_zip(z, tmp_path / "out", max_bytes=1000)


def test_not_a_zip_is_a_format_error(tmp_path: Any) -> None:
    (tmp_path / "x.zip").write_bytes(b"nope")
    with pytest.raises(FormatError, match="not a readable zip"):
        safe_extract_zip(tmp_path / "x.zip", tmp_path / "out")
    assert os.listdir(tmp_path) == ["x.zip"]
