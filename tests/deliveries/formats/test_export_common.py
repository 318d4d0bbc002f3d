"""What every exporter shares: registry, streaming, progress, refusals; YOLO labels; the PNG
encoder and the run statistics the exporters are built on."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pycocotools import mask as mask_utils

from deliveries.formats import (
    FORMATS,
    ExportError,
    ExportImage,
    ExportSegment,
    ImageStats,
    export_formats,
    format_versions,
)
from deliveries.formats._maps import counts_to_rle_string, map_runs, rle_string_to_counts
from deliveries.formats._png import encode_label_png, encode_png, lut_bytes
from tests.deliveries.formats.scenes import TAXONOMY, Scene

ALL = ["coco", "coco-panoptic", "cityscapes", "ade20k", "voc", "yolo", "png"]


def test_registry_names_and_versions() -> None:
    assert sorted(FORMATS) == sorted(ALL)
    assert all(v.count(".") == 2 for v in format_versions().values())


@pytest.mark.parametrize("fmt", ALL)
def test_images_are_streamed_one_map_at_a_time_and_progress_is_reported(
    tmp_path: Any, scenes: Any, fmt: Any
) -> None:
    alive = {"now": 0, "max": 0}
    done = []

    def images() -> Iterator[ExportImage]:
        for s in scenes:
            if fmt == "voc" and s.stem == "crowded_0002":
                continue
            alive["now"] += 1
            alive["max"] = max(alive["max"], alive["now"])
            yield s.export_image()
            alive["now"] -= 1  # the exporter asks for the next image only when done with this one

    summary = FORMATS[fmt].export(
        images(), TAXONOMY, tmp_path / "out", progress=lambda n, stem: done.append(stem)
    )

    assert alive["max"] == 1
    assert done == [s.stem for s in scenes if not (fmt == "voc" and s.stem == "crowded_0002")]
    assert summary.images == len(done)
    assert summary.format == fmt
    assert not any(p.name.startswith(".tessera-tmp") for p in (tmp_path / "out").iterdir())


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_one_pass_over_the_images_writes_every_format_as_its_own_export_would(
    tmp_path: Any, scenes: Any, source_dir: Any
) -> None:
    loads: list[str] = []
    seen: list[ImageStats] = []
    fmts = [f for f in ALL if f != "voc"]  # crowded_0002 holds more objects than VOC allows

    def loader(s: Scene) -> Any:
        def load() -> np.ndarray:
            loads.append(s.stem)
            return s.map

        return load

    def images() -> Iterator[ExportImage]:
        for s in scenes:
            image = s.export_image(source_dir)
            yield ExportImage(
                stem=image.stem,
                width=image.width,
                height=image.height,
                index_map=loader(s),
                segments=image.segments,
                split=image.split,
                image=image.image,
            )

    together = export_formats(
        images(),
        TAXONOMY,
        {f: (FORMATS[f], tmp_path / "all" / f) for f in fmts},  # type: ignore[misc]
        observe=seen.append,
    )

    assert loads == [s.stem for s in scenes]  # each map loaded once for every format
    for f in fmts:
        alone = FORMATS[f].export((s.export_image(source_dir) for s in scenes), TAXONOMY, tmp_path / f)
        assert together[f] == alone
        assert _files(tmp_path / "all" / f) == _files(tmp_path / f), f
    for stats, s in zip(seen, scenes, strict=True):
        present = sorted(set(np.unique(s.map).tolist()) - {0})
        assert [g.id for g in stats.segments] == present
        assert list(stats.areas) == [int((s.map == i).sum()) for i in present]
        assert stats.pixels == s.map.size


def test_one_pass_checks_every_target_before_writing_anything(tmp_path: Any, scenes: Any) -> None:
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "old.txt").write_text("x")

    with pytest.raises(ExportError, match="is not empty"):
        export_formats(
            (s.export_image() for s in scenes),
            TAXONOMY,
            {"coco": (FORMATS["coco"], tmp_path / "coco"), "voc": (FORMATS["voc"], tmp_path / "voc")},  # type: ignore[dict-item]
        )

    assert not (tmp_path / "coco").exists()
    assert _files(tmp_path / "voc") == {"old.txt": b"x"}


def test_non_empty_output_folder_is_refused(tmp_path: Any) -> None:
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ExportError, match="not empty"):
        FORMATS["coco"].export([], TAXONOMY, tmp_path)


def test_repeated_stem_fails_instead_of_overwriting(tmp_path: Any, scenes: Any) -> None:
    s = scenes[0]
    with pytest.raises(FileExistsError):
        FORMATS["png"].export([s.export_image(), s.export_image()], TAXONOMY, tmp_path / "out")


@pytest.mark.parametrize(
    ("map_", "segments", "message"),
    [
        (np.zeros((3, 5), np.uint16), (), "shape"),
        (np.full((4, 5), 3, np.uint16), (ExportSegment(2, 3),), "without a segment row"),
        (np.full((4, 5), 3, np.uint16), (ExportSegment(3, 99),), "not in the taxonomy"),
        (np.full((4, 5), 3, np.uint16), (ExportSegment(3, 3), ExportSegment(3, 3)), "twice"),
        (np.full((4, 5), 1.5), (), "integer"),
    ],
)
def test_bad_images_are_refused_with_the_stem(tmp_path: Any, map_: Any, segments: Any, message: Any) -> None:
    image = ExportImage("bad_one", 5, 4, map_, segments)
    with pytest.raises(ExportError, match=message) as err:
        FORMATS["coco"].export([image], TAXONOMY, tmp_path / "out")
    assert err.value.stem == "bad_one"


def test_stem_with_a_folder_is_refused(tmp_path: Any) -> None:
    image = ExportImage("../evil", 1, 1, np.zeros((1, 1), np.uint16), ())
    with pytest.raises(ExportError, match="plain file name"):
        FORMATS["coco"].export([image], TAXONOMY, tmp_path / "out")


# ----------------------------------------------------------------------------- YOLO
def yolo_raster(line: str, h: int, w: int) -> tuple[int, np.ndarray]:
    cls, *coords = line.split()
    xy = (np.array(coords, float).reshape(-1, 2) * [w, h]).ravel().tolist()
    rle = mask_utils.frPyObjects([xy], h, w)
    return int(cls), mask_utils.decode(rle)[:, :, 0].astype(bool)


def test_yolo_lines_rasterise_to_the_exact_thing_masks(export_all: Any, scenes: Any) -> None:
    root = export_all("yolo")
    data = yaml.safe_load((root / "data.yaml").read_text())
    names = data["names"]
    assert names == {0: "person", 1: "car", 2: "bicycle"}
    assert (data["train"], data["val"], data["nc"]) == ("images/train", "images/val", 3)
    for scene in scenes:
        h, w = scene.map.shape
        lines = (root / "labels" / scene.split / f"{scene.stem}.txt").read_text().splitlines()
        expected = {
            g.id: TAXONOMY.by_id[g.category_id].name
            for g in scene.segments
            if TAXONOMY.by_id[g.category_id].isthing and not g.iscrowd and (scene.map == g.id).any()
        }
        assert len(lines) == len(expected)
        for line in lines:
            values = [float(v) for v in line.split()[1:]]
            assert len(values) >= 6
            assert all(0 <= v <= 1 for v in values)
            cls, mask = yolo_raster(line, h, w)
            (sid,) = np.unique(scene.map[mask])
            assert np.array_equal(mask, scene.map == sid)
            assert names[cls] == expected.pop(int(sid))
        assert (root / "images" / scene.split / f"{scene.stem}.png").is_file()


def test_yolo_multi_part_and_holed_objects_are_one_line_each(export_all: Any) -> None:
    lines = (export_all("yolo") / "labels" / "train" / "street_0001.txt").read_text().splitlines()
    # car 20 has two parts, car 60 two holes, the bicycle wheel a hole: still one line each
    assert len(lines) == 10  # 11 things, one of them a crowd


# ----------------------------------------------------------------------------- PNG encoder
def decode(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    im.load()
    return np.asarray(im)


def idat(data: bytes) -> bytes:
    return data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]


maps = arrays(np.uint16, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.integers(0, 4))


@settings(max_examples=200, deadline=None)
@given(maps, st.sampled_from(["L", "P", "RGB", "I;16"]), st.integers(0, 2**32 - 1), st.booleans())
def test_sparse_png_encoder_decodes_to_the_lookup_image(m: Any, mode: Any, seed: Any, blocky: Any) -> None:
    if blocky:  # long runs, copies, identical rows
        m = np.repeat(np.repeat(m, 7, axis=0), 9, axis=1)[:40, :300]
    rng = np.random.default_rng(seed)
    bpp = {"L": 1, "P": 1, "RGB": 3, "I;16": 2}[mode]
    lut = rng.integers(0, 256, (5, bpp)).astype(np.uint8)
    lut[rng.integers(0, 5)] = lut[rng.integers(0, 5)]  # equal values for two ids

    data = encode_label_png(map_runs(m).pixels, lut, mode, palette=bytes(768) if mode == "P" else None)

    expected = lut[m]
    if mode == "I;16":
        expected = (expected[..., 0].astype(np.uint16) << 8) | expected[..., 1]
    elif bpp == 1:
        expected = expected[..., 0]
    assert np.array_equal(decode(data), expected)
    zlib.decompress(idat(data))  # zlib verifies the Adler-32 written from the sparse sums


@pytest.mark.parametrize("mode", ["L", "I;16", "RGB"])
def test_dense_png_encoder_round_trips(mode: Any) -> None:
    rng = np.random.default_rng(1)
    shape = (13, 17, 3) if mode == "RGB" else (13, 17)
    arr = rng.integers(0, 2**16 if mode == "I;16" else 256, shape).astype(
        np.uint16 if mode == "I;16" else np.uint8
    )
    assert np.array_equal(decode(encode_png(arr, mode)), arr)


def test_lut_bytes_big_endian_16_bit() -> None:
    assert lut_bytes(np.array([0x0102]), "I;16").tolist() == [[1, 2]]


# ----------------------------------------------------------------------------- run statistics
@settings(max_examples=150, deadline=None)
@given(maps)
def test_map_runs_give_areas_bboxes_and_pycocotools_rle(m: Any) -> None:
    runs = map_runs(m)

    assert runs.ids.tolist() == sorted(set(np.unique(m).tolist()) - {0})
    for k, sid in enumerate(runs.ids.tolist()):
        mask = m == sid
        ys, xs = np.nonzero(mask)
        assert runs.areas[k] == mask.sum()
        assert runs.bboxes[k].tolist() == [xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1]
        ours = runs.rle_counts(k)
        theirs = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert counts_to_rle_string(ours) == theirs["counts"].decode()
        assert rle_string_to_counts(theirs["counts"].decode()) == ours


def test_rle_string_decoder_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid character"):
        rle_string_to_counts("ab~")
    with pytest.raises(ValueError, match="truncated"):
        rle_string_to_counts("0o")


def test_scene_fixture_has_the_promised_properties(scenes: list[Scene], source_dir: Path) -> None:
    street = scenes[0]
    assert (street.map == 0).any()
    assert any(g.iscrowd for g in street.segments)
    assert max(int(s.map.max()) for s in scenes) > 255
    assert any(s.map.shape[0] % 2 and s.map.shape[1] % 2 for s in scenes)
