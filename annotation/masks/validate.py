"""Rules an annotation revision (index map + segment table) must meet, as pure functions.

``validate_structure`` checks that map, table and taxonomy agree and that the project mode's
rules hold; a draft must pass it to be saved. ``validate_submission`` adds the rules a revision
must meet before it is handed to QA. Both return a list of issues, empty when all is well, so a
caller can show every problem at once; each issue has a stable ``code`` and a message that
names the segments and categories concerned.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from annotation.masks._arrays import MAX_SEGMENT_ID, as_index_map
from annotation.masks.stats import SegmentStats, segment_stats

Mode = Literal["semantic", "instance", "panoptic"]
MODES: tuple[Mode, ...] = ("semantic", "instance", "panoptic")


@dataclass(frozen=True)
class SegmentSpec:
    """One row of a revision's segment table."""

    id: int
    category_id: int
    iscrowd: bool = False
    confirmed: bool = True


@dataclass(frozen=True)
class CategorySpec:
    """One taxonomy category; ``min_area`` is the smallest allowed segment, in pixels."""

    id: int
    name: str
    isthing: bool
    min_area: int = 0


@dataclass(frozen=True)
class ValidationIssue:
    """A rule a revision breaks: stable ``code``, human ``message``, segment concerned if one."""

    code: str
    message: str
    segment_id: int | None = None


def validate_structure(
    index_map: npt.NDArray[np.integer],
    segments: Sequence[SegmentSpec],
    *,
    categories: Sequence[CategorySpec],
    mode: Mode,
    expected_shape: tuple[int, int],
) -> list[ValidationIssue]:
    """Issues with the map's shape, the map/table correspondence, categories and mode rules.

    Codes: ``size_mismatch``; ``invalid_id`` (table id outside [1, 65535]; 0 is void);
    ``duplicate_id``; ``missing_segment`` (id in the map, not in the table); ``empty_segment``
    (id in the table, no pixels); ``unknown_category``; ``semantic_duplicate_category`` and
    ``crowd_not_allowed`` (semantic: one segment per category, no crowd);
    ``stuff_duplicate`` and ``crowd_not_allowed`` (panoptic: one segment per stuff category,
    crowd only on things); ``instance_stuff_category`` (instance: thing categories only).
    Precondition: ``index_map`` is a 2-D integer array with values in [0, 65535].
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    array = as_index_map(index_map)
    issues: list[ValidationIssue] = []
    if array.shape != tuple(expected_shape):
        issues.append(
            ValidationIssue(
                code="size_mismatch",
                message=(
                    f"the index map is {array.shape[0]}x{array.shape[1]} (height x width), "
                    f"but the image is {expected_shape[0]}x{expected_shape[1]}"
                ),
            )
        )
    issues += _table_issues(array, segments)
    category_by_id = {category.id: category for category in categories}
    issues += _category_issues(segments, category_by_id)
    known = [segment for segment in segments if segment.category_id in category_by_id]
    if mode == "semantic":
        issues += _semantic_issues(known, category_by_id)
    elif mode == "panoptic":
        issues += _panoptic_issues(known, category_by_id)
    else:
        issues += _instance_issues(known, category_by_id)
    return issues


def validate_submission(
    index_map: npt.NDArray[np.integer],
    segments: Sequence[SegmentSpec],
    *,
    categories: Sequence[CategorySpec],
    mode: Mode,
    allow_void: bool,
    stats: Mapping[int, SegmentStats] | None = None,
) -> list[ValidationIssue]:
    """Issues that block submitting a structurally valid revision to QA.

    Codes: ``void_pixels`` (panoptic without ``allow_void``: every pixel must belong to a
    segment); ``below_min_area`` (area < category ``min_area``; crowd segments are exempt);
    ``unconfirmed_prelabel`` (a pre-label nobody confirmed). ``stats`` may pass precomputed
    ``segment_stats(index_map)``. Call after ``validate_structure`` reported nothing: segments
    with unknown categories are skipped here.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    array = as_index_map(index_map)
    if stats is None:
        stats = segment_stats(array)
    issues: list[ValidationIssue] = []
    if mode == "panoptic" and not allow_void:
        void = int(np.count_nonzero(array == 0))
        if void:
            issues.append(
                ValidationIssue(
                    code="void_pixels",
                    message=(
                        f"{void} of {array.size} pixels ({_share(void, array.size)}) are unlabelled; "
                        "panoptic annotation must cover the whole image"
                    ),
                )
            )
    category_by_id = {category.id: category for category in categories}
    for segment in segments:
        category = category_by_id.get(segment.category_id)
        if category is None or segment.iscrowd:
            continue
        area = stats[segment.id].area if segment.id in stats else 0
        if area < category.min_area:
            issues.append(
                ValidationIssue(
                    code="below_min_area",
                    message=(
                        f"segment {segment.id} ({category.name}) has {area} pixels; "
                        f"category {category.name} needs at least {category.min_area}"
                    ),
                    segment_id=segment.id,
                )
            )
    for segment in segments:
        if not segment.confirmed:
            issues.append(
                ValidationIssue(
                    code="unconfirmed_prelabel",
                    message=f"segment {segment.id} is an unconfirmed pre-label; confirm or delete it before submitting",
                    segment_id=segment.id,
                )
            )
    return issues


def _share(part: int, whole: int) -> str:
    """``part/whole`` as a percentage that never rounds a non-zero share down to 0."""
    share = part / whole
    return "<0.01%" if 0 < share < 0.0001 else f"{share:.2%}"


def _table_issues(array: npt.NDArray[np.uint16], segments: Sequence[SegmentSpec]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for segment in segments:
        if segment.id == 0:
            issues.append(
                ValidationIssue(
                    code="invalid_id",
                    message="segment id 0 is reserved for void (unlabelled) pixels and cannot be in the table",
                    segment_id=0,
                )
            )
        elif not 1 <= segment.id <= MAX_SEGMENT_ID:
            issues.append(
                ValidationIssue(
                    code="invalid_id",
                    message=f"segment id {segment.id} is outside [1, {MAX_SEGMENT_ID}]",
                    segment_id=segment.id,
                )
            )
    for segment_id, times in sorted(Counter(segment.id for segment in segments).items()):
        if times > 1:
            issues.append(
                ValidationIssue(
                    code="duplicate_id",
                    message=f"segment id {segment_id} appears {times} times in the segment table",
                    segment_id=segment_id,
                )
            )
    in_map = {int(segment_id) for segment_id in np.flatnonzero(np.bincount(array.ravel()))} - {0}
    in_table = {segment.id for segment in segments if 1 <= segment.id <= MAX_SEGMENT_ID}
    issues += [
        ValidationIssue(
            code="missing_segment",
            message=f"pixels use segment id {segment_id}, which has no entry in the segment table",
            segment_id=segment_id,
        )
        for segment_id in sorted(in_map - in_table)
    ]
    issues += [
        ValidationIssue(
            code="empty_segment",
            message=f"segment {segment_id} is in the segment table but has no pixels",
            segment_id=segment_id,
        )
        for segment_id in sorted(in_table - in_map)
    ]
    return issues


def _category_issues(
    segments: Sequence[SegmentSpec], category_by_id: Mapping[int, CategorySpec]
) -> list[ValidationIssue]:
    return [
        ValidationIssue(
            code="unknown_category",
            message=f"segment {segment.id} uses category {segment.category_id}, which is not in the taxonomy",
            segment_id=segment.id,
        )
        for segment in segments
        if segment.category_id not in category_by_id
    ]


def _segments_by_category(segments: Sequence[SegmentSpec]) -> dict[int, list[int]]:
    by_category: dict[int, list[int]] = {}
    for segment in segments:
        by_category.setdefault(segment.category_id, []).append(segment.id)
    return by_category


def _ids(segment_ids: Sequence[int]) -> str:
    return ", ".join(str(segment_id) for segment_id in segment_ids)


def _semantic_issues(
    segments: Sequence[SegmentSpec], category_by_id: Mapping[int, CategorySpec]
) -> list[ValidationIssue]:
    issues = [
        ValidationIssue(
            code="semantic_duplicate_category",
            message=(
                f"category {category_id} ({category_by_id[category_id].name}) has {len(ids)} segments "
                f"({_ids(ids)}); semantic annotation allows one segment per category"
            ),
        )
        for category_id, ids in sorted(_segments_by_category(segments).items())
        if len(ids) > 1
    ]
    issues += [
        ValidationIssue(
            code="crowd_not_allowed",
            message=f"segment {segment.id} is marked crowd; semantic annotation has no crowd regions",
            segment_id=segment.id,
        )
        for segment in segments
        if segment.iscrowd
    ]
    return issues


def _panoptic_issues(
    segments: Sequence[SegmentSpec], category_by_id: Mapping[int, CategorySpec]
) -> list[ValidationIssue]:
    stuff = [segment for segment in segments if not category_by_id[segment.category_id].isthing]
    issues = [
        ValidationIssue(
            code="stuff_duplicate",
            message=(
                f"stuff category {category_id} ({category_by_id[category_id].name}) has {len(ids)} segments "
                f"({_ids(ids)}); panoptic annotation allows one segment per stuff category"
            ),
        )
        for category_id, ids in sorted(_segments_by_category(stuff).items())
        if len(ids) > 1
    ]
    issues += [
        ValidationIssue(
            code="crowd_not_allowed",
            message=(
                f"segment {segment.id} is a crowd region of stuff category {segment.category_id} "
                f"({category_by_id[segment.category_id].name}); only thing categories can have crowd regions"
            ),
            segment_id=segment.id,
        )
        for segment in stuff
        if segment.iscrowd
    ]
    return issues


def _instance_issues(
    segments: Sequence[SegmentSpec], category_by_id: Mapping[int, CategorySpec]
) -> list[ValidationIssue]:
    return [
        ValidationIssue(
            code="instance_stuff_category",
            message=(
                f"segment {segment.id} uses stuff category {segment.category_id} "
                f"({category_by_id[segment.category_id].name}); instance annotation only labels thing categories"
            ),
            segment_id=segment.id,
        )
        for segment in segments
        if not category_by_id[segment.category_id].isthing
    ]
