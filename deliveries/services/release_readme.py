"""README.md at the top of a release archive: what each folder holds, the splits, the class
table of each format and the things a client's loader must know (Cityscapes renaming, void).
Written from the manifest, so it cannot disagree with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from deliveries.formats.cityscapes import CITYSCAPES_NAME, GENERATED_CITY

_LAYOUTS = {
    "coco": "COCO instances: `annotations/instances_<split>.json` (RLE masks, or polygons if so "
    "chosen), `images/<split>/` with the images. Only thing categories; stuff is in coco-panoptic.",
    "coco-panoptic": "COCO panoptic: `annotations/panoptic_<split>.json` and "
    "`annotations/panoptic_<split>/*.png` (id = R + 256 G + 256² B, 0 = void).",
    "cityscapes": "Cityscapes gtFine: `gtFine/<split>/<city>/<name>_gtFine_{labelIds,instanceIds,color}.png` "
    "(label ids, not train ids; instance ids = label id * 1000 + k), `tessera_names.csv`.",
    "ade20k": "ADE20K SceneParsing: `annotations/<training|validation|testing>/*.png` (0 = other, "
    "classes 1..N), `objectInfo150.csv`.",
    "voc": "Pascal VOC: `SegmentationClass/`, `SegmentationObject/` (palette PNGs, 255 = void "
    "where declared), `labelmap.txt`, `ImageSets/Segmentation/<split>.txt`.",
    "yolo": "Ultralytics YOLO segmentation: `data.yaml`, `images/<split>/`, `labels/<split>/*.txt` "
    "(one ring per instance: holes and parts joined by zero-width bridges).",
    "png": "Index PNGs: `semantic/<split>/`, `instances/<split>/`, `classes.json`, `index.jsonl`.",
}


class _NamedImage(Protocol):
    @property
    def stem(self) -> str: ...

    @property
    def split(self) -> str: ...

    @property
    def file_name(self) -> str: ...


# Layouts whose usual loaders find images by a fixed suffix rather than by a name in a file.
_JPEG_NAMED = {"voc": "`JPEGImages/<id>.jpg`", "ade20k": "`images/<split>/<name>.jpg`"}


def _table(rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| value | category id | name |", "|---:|---:|---|"]
    lines += [f"| {index} | {'' if cid is None else cid} | {name} |" for index, cid, name in rows]
    return lines


def release_readme(manifest: Mapping[str, Any], named: Sequence[_NamedImage]) -> str:
    project = manifest["project"]
    splits = manifest["splits"]
    options = splits["options"]
    lines = [
        f"# {project['name']} — release {manifest['release']}",
        "",
        f"Made by Tessera {manifest['tessera_version']} on {manifest['created_at'][:10]}: "
        f"{manifest['counts']['images']} images. `manifest.json` lists every file with its sha256 "
        "and size; `images.csv` maps each image's name in the exports (`stem`) to the project's "
        "file name, its split and the revision delivered; `qa_report.html` / `.json` hold the "
        "class distribution and the QA figures.",
        "",
        "## Folders",
        "",
    ]
    lines += [f"- `{fmt}/` — {_LAYOUTS.get(fmt, fmt)}" for fmt in manifest["formats"]]
    counts = ", ".join(f"{n} {split}" for split, n in splits["images"].items())
    lines += [
        "",
        "## Splits",
        "",
        f"{counts}. An image's split comes from its batch where the release maps batches to splits "
        f"({dict(options.get('batches') or {}) or 'none here'}), otherwise from the sha256 of the "
        f"image file (val share {options.get('val_share', 0.0)}, test share "
        f"{options.get('test_share', 0.0)}), so an image keeps its split from one release to the "
        "next while the shares stay the same.",
    ]
    lines += _images_section(manifest, named)
    if "cityscapes" in manifest["formats"]:
        renamed = [n for n in named if not _keeps_name(n.stem)]
        lines += [
            "",
            "## Cityscapes file names",
            "",
            "Cityscapes tools parse `<city>_<seq:06>_<frame:06>` out of every file name. An image "
            "whose stem already has that form keeps it; any other is renamed "
            f"`{GENERATED_CITY}_<seq>_<frame>` in the city folder `{GENERATED_CITY}`, numbered in "
            f"export order ({len(renamed)} of {len(named)} images here). "
            "`cityscapes/tessera_names.csv` maps every stem to its Cityscapes name: rename your "
            "reference the same way before comparing with it.",
        ]
    lines += [
        "",
        "## Class tables",
        "",
        "The value each format writes for each category. Classes keep their values from one "
        "release to the next: the table holds every category the project ever had, in the order "
        "they were introduced (retired ones keep their place).",
    ]
    changes = manifest.get("class_table_changes") or []
    if manifest.get("previous_release") is not None:
        lines += [
            "",
            f"Compared with release {manifest['previous_release']}: "
            + ("; ".join(changes) if changes else "no change."),
        ]
    for fmt, rows in manifest["class_tables"].items():
        lines += ["", f"### {fmt}", "", *_table(rows)]
    return "\n".join(lines) + "\n"


def _images_section(manifest: Mapping[str, Any], named: Sequence[_NamedImage]) -> list[str]:
    """Images are copied as they are (re-encoding them as JPEG would change their pixels), so a
    VOC or ADE20K loader that assumes ``.jpg`` must be told the suffix."""
    formats = [fmt for fmt in manifest["formats"] if fmt in _JPEG_NAMED]
    if not manifest.get("include_images") or not formats:
        return []
    suffixes = sorted({_suffix(n.file_name) for n in named})
    if set(suffixes) <= {".jpg"}:
        return []
    shown = ", ".join(f"`{s}`" for s in suffixes)
    where = " and ".join(f"`{fmt}/` ({_JPEG_NAMED[fmt]})" for fmt in formats)
    first = next(s for s in suffixes if s != ".jpg")
    return [
        "",
        "## Images",
        "",
        f"The images are the project's original files, byte for byte, with their own suffix ({shown} "
        f"here), not re-encoded as JPEG. Loaders that assume JPEG names in {where} must be told the "
        f"suffix: torchvision's `VOCSegmentation` opens `<id>.jpg` only; mmseg's VOC and ADE20K "
        f"datasets take `img_suffix='{first}'`.",
    ]


def _suffix(file_name: str) -> str:
    """The suffix the exporters give a copied image (``.jpg`` when the name has none)."""
    return "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ".jpg"


def _keeps_name(stem: str) -> bool:
    match = CITYSCAPES_NAME.match(stem)
    return bool(match and match.group(1) != GENERATED_CITY)
