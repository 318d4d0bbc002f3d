"""Inputs, results and errors shared by every exporter and reader (plain frozen dataclasses)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

IndexMap = npt.NDArray[np.uint16]
MapSource = npt.NDArray[Any] | Callable[[], npt.NDArray[Any]]
ImageSource = bytes | str | os.PathLike[str] | Callable[[], bytes]
ProgressCallback = Callable[[int, str], None]
"""Called after each image with (images done so far, stem of the image just written)."""

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ExportError(ValueError):
    """The input cannot be written in the requested format (raised before or while writing)."""

    def __init__(self, problem: str, *, stem: str | None = None) -> None:
        self.problem = problem
        self.stem = stem
        super().__init__(f"{stem}: {problem}" if stem else problem)


class FormatError(ValueError):
    """A file being read is malformed: which file, which item inside it, and what is wrong."""

    def __init__(self, file: str | os.PathLike[str], item: str, problem: str) -> None:
        self.file = str(file)
        self.item = item
        self.problem = problem
        super().__init__(f"{self.file}: {item}: {problem}")


@dataclass(frozen=True)
class ExportCategory:
    """A taxonomy category. ``id`` is the project's own (>= 1); ``export_ids`` holds per-format
    ids such as ``{"cityscapes": 26}``."""

    id: int
    name: str
    color: str
    isthing: bool
    export_ids: Mapping[str, int] = field(default_factory=dict)

    @property
    def rgb(self) -> tuple[int, int, int]:
        c = self.color
        return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


@dataclass(frozen=True)
class Taxonomy:
    """The categories in taxonomy order (the order index-based formats number them in)."""

    categories: tuple[ExportCategory, ...]

    def __post_init__(self) -> None:
        ids = [c.id for c in self.categories]
        if len(set(ids)) != len(ids):
            raise ExportError(
                f"duplicate category ids in taxonomy: {sorted(i for i in ids if ids.count(i) > 1)}"
            )
        if any(i < 1 for i in ids):
            raise ExportError("category ids must be >= 1 (0 is void in every format)")
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ExportError("duplicate category names in taxonomy")
        bad = [c.name for c in self.categories if not _COLOR.match(c.color)]
        if bad:
            raise ExportError(f"category colours must be '#rrggbb': {bad}")

    @cached_property
    def by_id(self) -> Mapping[int, ExportCategory]:
        return {c.id: c for c in self.categories}

    @property
    def things(self) -> tuple[ExportCategory, ...]:
        return tuple(c for c in self.categories if c.isthing)


@dataclass(frozen=True)
class ExportSegment:
    """One row of the segment table: ``id`` is the value in the index map (1..65535)."""

    id: int
    category_id: int
    iscrowd: bool = False


@dataclass(frozen=True)
class ExportImage:
    """One image to export. ``index_map`` is a (height, width) integer array of segment ids
    (0 = void) or a zero-argument callable that loads it, so that an iterable of images can be
    streamed without holding every map. ``image`` (bytes, a path, or a callable returning bytes)
    is copied into the layouts that carry source images; ``file_name`` is the source image's
    name (default ``<stem>.jpg``, or the stem plus the path's suffix)."""

    stem: str
    width: int
    height: int
    index_map: MapSource
    segments: tuple[ExportSegment, ...]
    split: str = "train"
    file_name: str = ""
    image: ImageSource | None = None

    @property
    def image_file_name(self) -> str:
        if self.file_name:
            return self.file_name
        if isinstance(self.image, str | os.PathLike):
            return self.stem + (Path(self.image).suffix or ".jpg")
        return self.stem + ".jpg"

    def load_map(self) -> IndexMap:
        """The map as a uint16 array, checked against width/height."""
        raw = self.index_map() if callable(self.index_map) else self.index_map
        arr = np.asarray(raw)
        if arr.shape != (self.height, self.width):
            raise ExportError(
                f"index map shape {arr.shape} != (height, width) ({self.height}, {self.width})",
                stem=self.stem,
            )
        if arr.dtype == np.uint16:
            return arr
        if not np.issubdtype(arr.dtype, np.integer):
            raise ExportError(f"index map must be integer, got {arr.dtype}", stem=self.stem)
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
            raise ExportError("index map values must be within 0..65535", stem=self.stem)
        return arr.astype(np.uint16)

    def check_names(self) -> None:
        if not _NAME_PART.match(self.stem) or self.stem in (".", ".."):
            raise ExportError("stem must be a plain file name ([A-Za-z0-9._-], no folders)", stem=self.stem)
        if not _NAME_PART.match(self.split):
            raise ExportError(f"split {self.split!r} must match [A-Za-z0-9._-]+", stem=self.stem)
        if not _NAME_PART.match(self.image_file_name):
            raise ExportError(f"file_name {self.image_file_name!r} must be a plain file name", stem=self.stem)


@dataclass(frozen=True)
class ClassIndex:
    """One row of a format's class table: the value ``index`` written for ``category_id``
    (None for values that are no category, e.g. VOC's background 0)."""

    index: int
    category_id: int | None
    name: str


@dataclass(frozen=True)
class ImageStats:
    """What an export pass saw of one image: the segments present in its map (ascending id)
    and their pixel counts, and the image's size in pixels (void = pixels - sum of areas)."""

    stem: str
    pixels: int
    segments: tuple[ExportSegment, ...]
    areas: tuple[int, ...]


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote. ``segments`` counts the objects written in the format's own terms
    (annotations, segments_info entries, polygon lines, object indices...); ``skipped`` counts
    segments left out by reason (e.g. ``stuff`` in COCO instances, ``crowd`` in YOLO)."""

    format: str
    version: str
    images: int
    segments: int
    files: int
    splits: Mapping[str, int]
    skipped: Mapping[str, int]
    source_images: int
    notes: tuple[str, ...] = ()


class Exporter(Protocol):
    """A format writer: ``FORMATS[name].export(images, taxonomy, out_dir)``."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        """Raise :class:`ExportError` if the format cannot carry this taxonomy."""

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        """The value written for each category (class index, label id or category id)."""
        ...

    def export(
        self,
        images: Iterable[ExportImage],
        taxonomy: Taxonomy,
        out_dir: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> ExportSummary: ...


@dataclass(frozen=True)
class ImportedSegment:
    """A segment read from a file: ``id`` in the returned map (1..N), the file's own category id,
    and ``source_id`` (annotation / segment id in the file) for error messages and provenance."""

    id: int
    category_id: int
    iscrowd: bool
    area: int
    source_id: int | None = None


@dataclass(frozen=True)
class ImportedImage:
    """One image read from a file. ``index_map`` is uint16 with compacted ids 1..N and 0 for
    void; ``overlap_pixels`` counts pixels claimed by more than one annotation (COCO
    instances), ``notes`` says what was resolved or dropped."""

    file_name: str
    width: int
    height: int
    index_map: IndexMap
    segments: tuple[ImportedSegment, ...]
    split: str | None = None
    overlap_pixels: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportedCategory:
    id: int
    name: str
    isthing: bool | None = None
    color: str | None = None
