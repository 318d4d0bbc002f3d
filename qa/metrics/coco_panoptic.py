"""Read COCO panoptic ground truth and predictions, and evaluate them into a report.

Format (panopticapi): a JSON file with ``annotations`` (``image_id``, ``file_name``,
``segments_info`` rows ``id``, ``category_id``, optional ``iscrowd``, optional ``score``) and,
for ground truth, ``images`` (``id``, ``width``, ``height``) and ``categories`` (``id``,
``isthing``). Each annotation's PNG lives in a folder, by default the JSON path without
".json"; pixel ids are R + 256·G + 256²·B, 0 = void. Images match by ``image_id``.

Every problem raises :class:`DatasetError` naming the file at fault and what is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from qa.metrics.counts import measure_pair
from qa.metrics.maps import CategoryInfo, LabelledMap, MetricsInputError, Segment
from qa.metrics.report import ImageCounts, evaluation_report


class DatasetError(Exception):
    """Bad evaluation input: ``path`` is the file at fault, ``message`` says what is wrong."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        # Reports print this on one line.
        self.message = " ".join(message.split())
        super().__init__(f"{self.path}: {self.message}")


@dataclass(frozen=True)
class PanopticAnnotation:
    image_id: int
    file_name: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class PanopticFile:
    """A parsed panoptic JSON file (``images``/``categories`` are empty for predictions)."""

    path: Path
    annotations: tuple[PanopticAnnotation, ...]
    images: Mapping[int, tuple[int, int]]  # image id → (height, width)
    categories: tuple[CategoryInfo, ...]


def _load_json(path: Path) -> Any:
    if not path.exists():
        raise DatasetError(path, "no such file")
    if not path.is_file():
        raise DatasetError(path, "not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DatasetError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise DatasetError(
            path, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except OSError as error:
        raise DatasetError(path, f"cannot be read ({error.strerror})") from None


def _int(value: object, path: Path, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(path, f"{what} must be an integer, got {value!r}")
    return value


def _list(container: Mapping[str, Any], key: str, path: Path, where: str) -> list[Any]:
    value = container.get(key)
    if not isinstance(value, list):
        raise DatasetError(path, f"{where} needs a list '{key}'")
    return value


def _object(value: Any, path: Path, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DatasetError(path, f"{where} must be a JSON object")
    return value


def read_panoptic_json(path: Path | str, *, ground_truth: bool) -> PanopticFile:
    """Parse and check one panoptic JSON file (structure only; PNGs are read later)."""
    file = Path(path)
    data = _object(_load_json(file), file, "the top level")
    categories: list[CategoryInfo] = []
    images: dict[int, tuple[int, int]] = {}
    if ground_truth:
        for raw in _list(data, "categories", file, "the top level"):
            entry = _object(raw, file, "a category")
            category_id = _int(entry.get("id"), file, "category id")
            if "isthing" not in entry or entry["isthing"] not in (0, 1, True, False):
                raise DatasetError(file, f"category {category_id} needs isthing 0 or 1")
            if any(c.id == category_id for c in categories):
                raise DatasetError(file, f"category {category_id} appears twice")
            categories.append(
                CategoryInfo(id=category_id, isthing=bool(entry["isthing"]), name=str(entry.get("name", "")))
            )
        for raw in _list(data, "images", file, "the top level"):
            entry = _object(raw, file, "an image")
            image_id = _int(entry.get("id"), file, "image id")
            height = _int(entry.get("height"), file, f"height of image {image_id}")
            width = _int(entry.get("width"), file, f"width of image {image_id}")
            if height <= 0 or width <= 0:
                raise DatasetError(file, f"image {image_id} has size {width}x{height}")
            if image_id in images:
                raise DatasetError(file, f"image {image_id} appears twice in images")
            images[image_id] = (height, width)
    annotations: list[PanopticAnnotation] = []
    seen_images: set[int] = set()
    for raw in _list(data, "annotations", file, "the top level"):
        entry = _object(raw, file, "an annotation")
        image_id = _int(entry.get("image_id"), file, "annotation image_id")
        if image_id in seen_images:
            raise DatasetError(file, f"image {image_id} has two annotations")
        seen_images.add(image_id)
        file_name = entry.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            raise DatasetError(file, f"annotation of image {image_id} needs a file_name")
        segments = []
        ids: set[int] = set()
        for raw_segment in _list(entry, "segments_info", file, f"annotation of image {image_id}"):
            segment = _object(raw_segment, file, f"a segment of image {image_id}")
            segment_id = _int(segment.get("id"), file, f"segment id in image {image_id}")
            if segment_id <= 0 or segment_id >= 1 << 24:
                raise DatasetError(file, f"image {image_id}: segment id {segment_id} is not in 1 .. 2²⁴-1")
            if segment_id in ids:
                raise DatasetError(file, f"image {image_id}: segment id {segment_id} appears twice")
            ids.add(segment_id)
            category_id = _int(segment.get("category_id"), file, f"category_id of segment {segment_id}")
            crowd = segment.get("iscrowd", 0)
            if crowd not in (0, 1, True, False):
                raise DatasetError(file, f"image {image_id}: segment {segment_id} has iscrowd {crowd!r}")
            score = segment.get("score")
            if score is not None and (
                isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
            ):
                raise DatasetError(file, f"image {image_id}: segment {segment_id} has score {score!r}")
            segments.append(
                Segment(
                    id=segment_id,
                    category_id=category_id,
                    iscrowd=bool(crowd),
                    score=None if score is None else float(score),
                )
            )
        annotations.append(
            PanopticAnnotation(image_id=image_id, file_name=file_name, segments=tuple(segments))
        )
    return PanopticFile(
        path=file, annotations=tuple(annotations), images=images, categories=tuple(categories)
    )


def read_panoptic_png(path: Path) -> NDArray[np.uint32]:
    """Segment ids of a COCO panoptic PNG: R + 256·G + 256²·B."""
    if not path.exists():
        raise DatasetError(path, "no such file")
    try:
        with Image.open(path) as image:
            if image.mode != "RGB":
                raise DatasetError(path, f"expected an RGB PNG, got mode {image.mode}")
            rgb = np.asarray(image, dtype=np.uint32)
    except (UnidentifiedImageError, OSError):
        raise DatasetError(path, "not a readable PNG image") from None
    ids: NDArray[np.uint32] = rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)
    return ids


def _labelled_map(
    path: Path,
    annotation: PanopticAnnotation,
    *,
    size: tuple[int, int],
    size_source: str,
    require_pixels: bool,
) -> LabelledMap:
    ids = read_panoptic_png(path)
    height, width = size
    if ids.shape != size:
        raise DatasetError(
            path,
            f"is {ids.shape[1]}x{ids.shape[0]} but image {annotation.image_id} is {size_source} {width}x{height}",
        )
    present = np.unique(ids)
    declared = {s.id for s in annotation.segments}
    for value in present.tolist():
        if value != 0 and value not in declared:
            raise DatasetError(
                path,
                f"segment id {value} is in the PNG but not in segments_info of image {annotation.image_id}",
            )
    if require_pixels:
        present_set = set(present.tolist())
        for segment in annotation.segments:
            if segment.id not in present_set:
                raise DatasetError(
                    path,
                    f"segment id {segment.id} of image {annotation.image_id} is in segments_info but not in the PNG",
                )
    return LabelledMap(ids=ids, segments=annotation.segments)


def _png_dir(json_path: Path, given: Path | str | None) -> Path:
    if given is not None:
        return Path(given)
    if json_path.suffix != ".json":
        raise DatasetError(json_path, "cannot derive the PNG folder from a name not ending in .json; give it")
    return json_path.with_suffix("")


def _check_categories(file: PanopticFile, known: Mapping[int, CategoryInfo]) -> None:
    for annotation in file.annotations:
        for segment in annotation.segments:
            if segment.category_id not in known:
                raise DatasetError(
                    file.path,
                    f"image {annotation.image_id}: segment {segment.id} has category_id {segment.category_id},"
                    " which is not among the ground-truth categories",
                )


def iter_pairs(
    *,
    gt_json: Path | str,
    pred_json: Path | str,
    gt_dir: Path | str | None = None,
    pred_dir: Path | str | None = None,
) -> Iterator[tuple[int, LabelledMap, LabelledMap, tuple[CategoryInfo, ...]]]:
    """Yield (image id, gt map, pred map, categories) in ground-truth order, checking everything."""
    gt = read_panoptic_json(gt_json, ground_truth=True)
    pred = read_panoptic_json(pred_json, ground_truth=False)
    known = {c.id: c for c in gt.categories}
    _check_categories(gt, known)
    _check_categories(pred, known)
    gt_folder = _png_dir(gt.path, gt_dir)
    pred_folder = _png_dir(pred.path, pred_dir)
    predictions = {a.image_id: a for a in pred.annotations}
    gt_ids = {a.image_id for a in gt.annotations}
    for image_id in predictions:
        if image_id not in gt_ids:
            raise DatasetError(
                pred.path, f"annotation for image_id {image_id}, which the ground truth does not have"
            )
    for annotation in gt.annotations:
        if annotation.image_id not in gt.images:
            raise DatasetError(
                gt.path, f"annotation for image_id {annotation.image_id}, which is not in images"
            )
        if annotation.image_id not in predictions:
            raise DatasetError(pred.path, f"no annotation for image_id {annotation.image_id}")
    for annotation in gt.annotations:
        gt_png = gt_folder / annotation.file_name
        size = gt.images[annotation.image_id]
        gt_map = _labelled_map(gt_png, annotation, size=size, size_source="declared", require_pixels=False)
        prediction = predictions[annotation.image_id]
        pred_png = pred_folder / prediction.file_name
        pred_map = _labelled_map(
            pred_png, prediction, size=size, size_source="in the ground truth", require_pixels=True
        )
        yield annotation.image_id, gt_map, pred_map, gt.categories


def evaluate_coco_panoptic(
    *,
    gt_json: Path | str,
    pred_json: Path | str,
    gt_dir: Path | str | None = None,
    pred_dir: Path | str | None = None,
    boundary_ratio: float = 0.02,
    drift: bool = True,
) -> dict[str, Any]:
    """Measure every image and build the report of :func:`qa.metrics.report.evaluation_report`."""
    images = []
    for image_id, gt_map, pred_map, categories in iter_pairs(
        gt_json=gt_json, pred_json=pred_json, gt_dir=gt_dir, pred_dir=pred_dir
    ):
        try:
            counts = measure_pair(
                gt_map, pred_map, categories=categories, boundary_ratio=boundary_ratio, drift=drift
            )
        except MetricsInputError as error:
            # The reader checks everything measure_pair does; this is a safety net.
            raise DatasetError(gt_json, f"image {image_id}: {error}") from None
        images.append(ImageCounts(image_id=image_id, counts=counts))
    if not images:
        raise DatasetError(gt_json, "no annotations to evaluate")
    return evaluation_report(images, boundary_ratio=boundary_ratio)
