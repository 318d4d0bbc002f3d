"""Delivery formats: pure exporters and readers (numpy, Pillow, pycocotools; no Django).

Every exporter takes an iterable of :class:`ExportImage` (streamed: one map in memory at a
time), the :class:`Taxonomy` and an output folder (new or empty), writes the format's standard
layout and returns an :class:`ExportSummary`::

    summary = FORMATS["coco"].export(images, taxonomy, out_dir, progress=callback)
    FORMATS["coco"].with_options(polygons=True)   # or CocoExporter(polygons=True)

``FORMATS[name].version`` is the exporter's version for the release manifest. Readers yield
:class:`ImportedImage` (uint16 index map with ids 1..N, segment table with the file's category
ids) and raise :class:`FormatError` (file, item, problem) on malformed input. What each layout
contains is documented in the format modules and in ``docs/formats.md``.
"""

from __future__ import annotations

from ._base import export_formats
from .ade20k import Ade20kExporter
from .archive import safe_extract_zip
from .cityscapes import CityscapesExporter
from .coco import CocoExporter, coco_categories, read_coco
from .coco_panoptic import CocoPanopticExporter, read_coco_panoptic, rgb_to_id
from .indexpng import IndexPngExporter, png_categories, read_png
from .model import (
    ClassIndex,
    ExportCategory,
    Exporter,
    ExportError,
    ExportImage,
    ExportSegment,
    ExportSummary,
    FormatError,
    ImageStats,
    ImportedCategory,
    ImportedImage,
    ImportedSegment,
    ProgressCallback,
    Taxonomy,
)
from .voc import VocExporter, voc_colormap
from .yolo import YoloExporter

FORMATS: dict[str, Exporter] = {
    "coco": CocoExporter(),
    "coco-panoptic": CocoPanopticExporter(),
    "cityscapes": CityscapesExporter(),
    "ade20k": Ade20kExporter(),
    "voc": VocExporter(),
    "yolo": YoloExporter(),
    "png": IndexPngExporter(),
}


def format_versions() -> dict[str, str]:
    """``{format name: exporter version}`` for the release manifest."""
    return {name: exporter.version for name, exporter in FORMATS.items()}


__all__ = [
    "FORMATS",
    "Ade20kExporter",
    "CityscapesExporter",
    "ClassIndex",
    "CocoExporter",
    "CocoPanopticExporter",
    "ExportCategory",
    "ExportError",
    "ExportImage",
    "ExportSegment",
    "ExportSummary",
    "Exporter",
    "FormatError",
    "ImageStats",
    "ImportedCategory",
    "ImportedImage",
    "ImportedSegment",
    "IndexPngExporter",
    "ProgressCallback",
    "Taxonomy",
    "VocExporter",
    "YoloExporter",
    "coco_categories",
    "export_formats",
    "format_versions",
    "png_categories",
    "read_coco",
    "read_coco_panoptic",
    "read_png",
    "rgb_to_id",
    "safe_extract_zip",
    "voc_colormap",
]
