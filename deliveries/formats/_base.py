"""What every exporter shares: the output folder, per-image preparation and checks, streamed
JSON files, source-image copies, counting and progress."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, Self

import numpy as np

from ._maps import MapRuns, map_runs
from .model import (
    ClassIndex,
    ExportError,
    ExportImage,
    ExportSegment,
    ExportSummary,
    ImageStats,
    IndexMap,
    ProgressCallback,
    Taxonomy,
)


@dataclass(frozen=True)
class Prepared:
    """An image whose map is loaded and checked: every non-zero id in the map has a segment
    row whose category is in the taxonomy. ``segments`` lists only the segments present in the
    map, in ascending id order, aligned with ``runs.ids``."""

    image: ExportImage
    map: IndexMap
    runs: MapRuns
    segments: tuple[ExportSegment, ...]
    absent: int  # rows of the segment table with no pixels


def prepare(image: ExportImage, taxonomy: Taxonomy) -> Prepared:
    image.check_names()
    m = image.load_map()
    runs = map_runs(m)
    table: dict[int, ExportSegment] = {}
    for s in image.segments:
        if s.id in table:
            raise ExportError(f"segment id {s.id} appears twice in the segment table", stem=image.stem)
        if not 1 <= s.id <= 65535:
            raise ExportError(f"segment id {s.id} outside 1..65535", stem=image.stem)
        if s.category_id not in taxonomy.by_id:
            raise ExportError(
                f"segment {s.id}: category {s.category_id} is not in the taxonomy", stem=image.stem
            )
        table[s.id] = s
    present = runs.ids.tolist()
    missing = [i for i in present if i not in table]
    if missing:
        raise ExportError(f"index map ids without a segment row: {missing[:10]}", stem=image.stem)
    return Prepared(image, m, runs, tuple(table[i] for i in present), len(table) - len(present))


class Output:
    """The export folder. It must be new or empty, so no stale file of an earlier export can be
    mistaken for part of this one and a repeated stem fails instead of overwriting."""

    @staticmethod
    def check_empty(root: str | os.PathLike[str]) -> None:
        path = Path(root)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ExportError(f"output folder {path} is not empty")

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.check_empty(root)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirs: set[Path] = set()
        self.files = 0
        self._tmp: Path | None = None

    def path(self, rel: str) -> Path:
        """Where to write ``rel`` (folders are created on first use; counted as one file)."""
        p = self.root / rel
        parent = p.parent
        if parent not in self._dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        self.files += 1
        return p

    def tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=".tessera-tmp-", dir=self.root))
        return self._tmp

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def write_text(self, rel: str, text: str) -> None:
        with open(self.path(rel), "x", encoding="utf-8", newline="\n") as f:
            f.write(text)

    def copy_image(self, image: ExportImage, rel: str) -> bool:
        """Copy the source image if the caller provided one."""
        src = image.image
        if src is None:
            return False
        dest = self.path(rel)
        if isinstance(src, str | os.PathLike):
            with open(src, "rb") as fi, open(dest, "xb") as fo:
                shutil.copyfileobj(fi, fo, 1 << 20)
        else:
            data = src() if callable(src) else src
            with open(dest, "xb") as fo:
                fo.write(data)
        return True


class JsonArray:
    """Items of one JSON array spooled to a temporary file, so that a JSON document that must
    list every image is assembled at the end without holding its records in memory."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.path = tmp / name
        self._f: IO[str] = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.count = 0

    def append(self, item: Any) -> None:
        if self.count:
            self._f.write(",\n")
        self._f.write(json.dumps(item, separators=(",", ":")))
        self.count += 1

    def close(self) -> None:
        self._f.close()

    def copy_into(self, out: IO[str]) -> None:
        self.close()
        with open(self.path, encoding="utf-8") as f:
            shutil.copyfileobj(f, out, 1 << 16)  # small chunks: memory stays flat in the image count


def write_json_document(
    path: Path, head: dict[str, Any], arrays: dict[str, JsonArray], tail: dict[str, Any]
) -> None:
    """``{**head, <arrays streamed>, **tail}`` written to ``path``."""
    with open(path, "x", encoding="utf-8") as out:
        out.write("{")
        first = True
        for key, value in head.items():
            out.write(
                ("" if first else ",\n") + json.dumps(key) + ":" + json.dumps(value, separators=(",", ":"))
            )
            first = False
        for key, arr in arrays.items():
            out.write(("" if first else ",\n") + json.dumps(key) + ":[\n")
            arr.copy_into(out)
            out.write("]")
            first = False
        for key, value in tail.items():
            out.write(
                ("" if first else ",\n") + json.dumps(key) + ":" + json.dumps(value, separators=(",", ":"))
            )
            first = False
        out.write("}\n")


class Tally:
    """Counts that become the ExportSummary."""

    def __init__(self) -> None:
        self.images = 0
        self.segments = 0
        self.source_images = 0
        self.splits: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < 50:
            self.notes.append(text)


class BaseExporter:
    """Template for the exporters: ``begin`` (after the taxonomy checks), ``write`` per image,
    ``finish``. Subclasses are frozen dataclasses whose fields are the format's options."""

    name: ClassVar[str]
    version: ClassVar[str]
    spec: ClassVar[str]

    def with_options(self, **options: Any) -> Self:
        """A copy with other option values, e.g. ``FORMATS["coco"].with_options(polygons=True)``."""
        return dataclasses.replace(self, **options)  # type: ignore[type-var]

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        """Raise ExportError before anything is written if the taxonomy cannot be expressed."""

    def class_table(self, taxonomy: Taxonomy) -> list[ClassIndex]:
        """The value each category gets in this format's files (for the release manifest, so
        a client can see that class indices did not move between releases)."""
        return [ClassIndex(c.id, c.id, c.name) for c in taxonomy.categories]

    def begin(self, taxonomy: Taxonomy, out: Output, tally: Tally) -> Any:
        return None

    def write(self, state: Any, item: Prepared, out: Output, tally: Tally) -> None:
        raise NotImplementedError

    def finish(self, state: Any, out: Output, tally: Tally) -> None:
        return None

    def close(self, state: Any) -> None:
        """Release what ``begin`` opened; called after ``finish`` and on errors."""

    def export(
        self,
        images: Iterable[ExportImage],
        taxonomy: Taxonomy,
        out_dir: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> ExportSummary:
        return export_formats(images, taxonomy, {self.name: (self, out_dir)}, progress=progress)[self.name]


def export_formats(
    images: Iterable[ExportImage],
    taxonomy: Taxonomy,
    targets: Mapping[str, tuple[BaseExporter, str | os.PathLike[str]]],
    *,
    progress: ProgressCallback | None = None,
    observe: Callable[[ImageStats], None] | None = None,
) -> dict[str, ExportSummary]:
    """Write several formats in one pass over ``images``: each map is loaded and analysed once
    and handed to every exporter in turn (``targets``: name -> (exporter, its output folder)),
    so the formats of a release cost one map decode and one run analysis per image, not one
    per format. Every taxonomy check and every output folder is checked before anything is
    written. ``observe`` receives each image's segment statistics (for reports); ``progress``
    is called once per image, after every format has written it."""
    for exporter, out_dir in targets.values():
        exporter.check_taxonomy(taxonomy)
        Output.check_empty(out_dir)
    outs = {name: Output(out_dir) for name, (_, out_dir) in targets.items()}
    tallies = {name: Tally() for name in targets}
    states: dict[str, Any] = {}
    try:
        for name, (exporter, _) in targets.items():
            states[name] = exporter.begin(taxonomy, outs[name], tallies[name])
        for done, image in enumerate(images, start=1):
            item = prepare(image, taxonomy)
            for name, (exporter, _) in targets.items():
                tally = tallies[name]
                if item.absent:
                    tally.skipped["empty"] += item.absent
                exporter.write(states[name], item, outs[name], tally)
                tally.images += 1
                tally.splits[image.split] += 1
            if observe is not None:
                observe(
                    ImageStats(
                        stem=image.stem,
                        pixels=image.width * image.height,
                        segments=item.segments,
                        areas=tuple(int(a) for a in item.runs.areas.tolist()),
                    )
                )
            if progress is not None:
                progress(done, image.stem)
        for name, (exporter, _) in targets.items():
            exporter.finish(states[name], outs[name], tallies[name])
    finally:
        for name, state in states.items():
            if state is not None:
                targets[name][0].close(state)
        for out in outs.values():
            out.cleanup()
    return {
        name: ExportSummary(
            format=exporter.name,
            version=exporter.version,
            images=tallies[name].images,
            segments=tallies[name].segments,
            files=outs[name].files,
            splits=dict(tallies[name].splits),
            skipped=dict(tallies[name].skipped),
            source_images=tallies[name].source_images,
            notes=tuple(tallies[name].notes),
        )
        for name, (exporter, _) in targets.items()
    }


def category_lut(ids: np.ndarray[Any, Any], values: list[int], size: int = 65536) -> np.ndarray[Any, Any]:
    """A lookup table indexed by segment id (0 stays 0)."""
    lut = np.zeros(size, dtype=np.int64)
    lut[ids] = values
    return lut
