import numpy as np
import pytest

from annotation.masks import (
    BoundingBox,
    CategorySpec,
    SegmentSpec,
    SegmentStats,
    ValidationIssue,
    segment_stats,
    validate_structure,
    validate_submission,
)

ROAD = CategorySpec(id=1, name="road", isthing=False)
SKY = CategorySpec(id=2, name="sky", isthing=False)
CAR = CategorySpec(id=3, name="car", isthing=True, min_area=4)
PERSON = CategorySpec(id=4, name="person", isthing=True)
TAXONOMY = [ROAD, SKY, CAR, PERSON]

# 4 x 6: sky on top, road below, two cars (ids 3 and 4) and a person (5) on the road.
SCENE = np.array(
    [
        [2, 2, 2, 2, 2, 2],
        [2, 2, 2, 2, 2, 2],
        [1, 3, 3, 1, 4, 4],
        [1, 3, 3, 5, 4, 4],
    ],
    dtype=np.uint16,
)
SCENE_SEGMENTS = [
    SegmentSpec(id=1, category_id=ROAD.id),
    SegmentSpec(id=2, category_id=SKY.id),
    SegmentSpec(id=3, category_id=CAR.id),
    SegmentSpec(id=4, category_id=CAR.id),
    SegmentSpec(id=5, category_id=PERSON.id),
]


def structure(index_map=SCENE, segments=SCENE_SEGMENTS, *, mode="panoptic", expected_shape=(4, 6)):
    return validate_structure(
        index_map, segments, categories=TAXONOMY, mode=mode, expected_shape=expected_shape
    )


def submission(index_map=SCENE, segments=SCENE_SEGMENTS, *, mode="panoptic", allow_void=False, stats=None):
    return validate_submission(
        index_map, segments, categories=TAXONOMY, mode=mode, allow_void=allow_void, stats=stats
    )


def codes(issues: list[ValidationIssue]) -> list[str]:
    return [issue.code for issue in issues]


# --- structure -----------------------------------------------------------------------------------


def test_consistent_panoptic_revision_has_no_structure_issues():
    assert structure() == []


def test_map_of_another_size_than_the_image_is_a_size_mismatch():
    assert structure(expected_shape=(5, 6)) == [
        ValidationIssue(
            code="size_mismatch", message="the index map is 4x6 (height x width), but the image is 5x6"
        )
    ]


def test_id_painted_but_not_in_the_table_is_a_missing_segment():
    assert structure(segments=SCENE_SEGMENTS[:-1]) == [
        ValidationIssue(
            code="missing_segment",
            message="pixels use segment id 5, which has no entry in the segment table",
            segment_id=5,
        )
    ]


def test_table_entries_without_pixels_are_empty_segments_named_by_id():
    segments = [
        *SCENE_SEGMENTS,
        SegmentSpec(id=9, category_id=PERSON.id),
        SegmentSpec(id=7, category_id=CAR.id),
    ]

    assert structure(segments=segments) == [
        ValidationIssue(
            code="empty_segment", message="segment 7 is in the segment table but has no pixels", segment_id=7
        ),
        ValidationIssue(
            code="empty_segment", message="segment 9 is in the segment table but has no pixels", segment_id=9
        ),
    ]


def test_id_listed_twice_in_the_table_is_a_duplicate_id():
    segments = [*SCENE_SEGMENTS, SegmentSpec(id=5, category_id=PERSON.id)]

    assert structure(segments=segments) == [
        ValidationIssue(
            code="duplicate_id", message="segment id 5 appears 2 times in the segment table", segment_id=5
        )
    ]


def test_void_id_in_the_table_is_an_invalid_id():
    segments = [*SCENE_SEGMENTS, SegmentSpec(id=0, category_id=CAR.id)]

    assert codes(structure(segments=segments)) == ["invalid_id"]
    assert structure(segments=segments)[0].message == (
        "segment id 0 is reserved for void (unlabelled) pixels and cannot be in the table"
    )


def test_id_beyond_uint16_in_the_table_is_an_invalid_id():
    segments = [*SCENE_SEGMENTS, SegmentSpec(id=70000, category_id=CAR.id)]

    assert structure(segments=segments) == [
        ValidationIssue(code="invalid_id", message="segment id 70000 is outside [1, 65535]", segment_id=70000)
    ]


def test_category_missing_from_the_taxonomy_is_an_unknown_category():
    segments = [*SCENE_SEGMENTS[:4], SegmentSpec(id=5, category_id=99)]

    assert structure(segments=segments) == [
        ValidationIssue(
            code="unknown_category",
            message="segment 5 uses category 99, which is not in the taxonomy",
            segment_id=5,
        )
    ]


def test_semantic_mode_allows_one_segment_per_category():
    assert structure(mode="semantic") == [
        ValidationIssue(
            code="semantic_duplicate_category",
            message="category 3 (car) has 2 segments (3, 4); semantic annotation allows one segment per category",
        )
    ]


def test_semantic_mode_has_no_crowd_regions():
    index_map = np.array([[1, 2]], dtype=np.uint16)
    segments = [SegmentSpec(id=1, category_id=ROAD.id), SegmentSpec(id=2, category_id=CAR.id, iscrowd=True)]

    assert structure(index_map, segments, mode="semantic", expected_shape=(1, 2)) == [
        ValidationIssue(
            code="crowd_not_allowed",
            message="segment 2 is marked crowd; semantic annotation has no crowd regions",
            segment_id=2,
        )
    ]


def test_panoptic_mode_allows_one_segment_per_stuff_category():
    index_map = np.array([[1, 6, 2]], dtype=np.uint16)
    segments = [
        SegmentSpec(id=1, category_id=ROAD.id),
        SegmentSpec(id=6, category_id=ROAD.id),
        SegmentSpec(id=2, category_id=SKY.id),
    ]

    assert structure(index_map, segments, expected_shape=(1, 3)) == [
        ValidationIssue(
            code="stuff_duplicate",
            message=(
                "stuff category 1 (road) has 2 segments (1, 6); panoptic annotation allows one segment per stuff category"
            ),
        )
    ]


def test_panoptic_mode_refuses_crowd_on_stuff():
    segments = [SegmentSpec(id=1, category_id=ROAD.id, iscrowd=True), *SCENE_SEGMENTS[1:]]

    assert structure(segments=segments) == [
        ValidationIssue(
            code="crowd_not_allowed",
            message="segment 1 is a crowd region of stuff category 1 (road); only thing categories can have crowd regions",
            segment_id=1,
        )
    ]


def test_panoptic_mode_allows_crowd_on_things():
    segments = [*SCENE_SEGMENTS[:4], SegmentSpec(id=5, category_id=PERSON.id, iscrowd=True)]

    assert structure(segments=segments) == []


def test_instance_mode_labels_thing_categories_only():
    index_map = np.array([[0, 3, 1]], dtype=np.uint16)
    segments = [SegmentSpec(id=3, category_id=CAR.id), SegmentSpec(id=1, category_id=ROAD.id)]

    assert structure(index_map, segments, mode="instance", expected_shape=(1, 3)) == [
        ValidationIssue(
            code="instance_stuff_category",
            message="segment 1 uses stuff category 1 (road); instance annotation only labels thing categories",
            segment_id=1,
        )
    ]


def test_instance_mode_allows_several_segments_of_a_thing_and_void():
    index_map = np.array([[0, 3, 4]], dtype=np.uint16)
    segments = [SegmentSpec(id=3, category_id=CAR.id), SegmentSpec(id=4, category_id=CAR.id, iscrowd=True)]

    assert structure(index_map, segments, mode="instance", expected_shape=(1, 3)) == []


def test_structure_reports_every_problem_at_once():
    segments = [*SCENE_SEGMENTS[:3], SegmentSpec(id=4, category_id=42), SegmentSpec(id=8, category_id=CAR.id)]

    assert codes(structure(segments=segments, mode="semantic")) == [
        "missing_segment",
        "empty_segment",
        "unknown_category",
        "semantic_duplicate_category",
    ]


def test_unknown_mode_is_a_programming_error():
    with pytest.raises(ValueError, match="mode must be one of semantic, instance, panoptic, got 'video'"):
        structure(mode="video")


# --- submission ----------------------------------------------------------------------------------


def test_complete_panoptic_revision_can_be_submitted():
    assert submission() == []


def test_panoptic_void_pixels_are_refused_with_their_count_and_share():
    index_map = SCENE.copy()
    index_map[0, :3] = 0

    assert submission(index_map) == [
        ValidationIssue(
            code="void_pixels",
            message="3 of 24 pixels (12.50%) are unlabelled; panoptic annotation must cover the whole image",
        )
    ]


def test_a_tiny_void_share_is_not_rounded_to_zero_percent():
    index_map = np.full((200, 100), 2, dtype=np.uint16)
    index_map[0, 0] = 0

    issues = submission(index_map, [SegmentSpec(id=2, category_id=SKY.id)])

    assert issues[0].message.startswith("1 of 20000 pixels (<0.01%) are unlabelled")


def test_panoptic_void_is_accepted_when_the_project_allows_it():
    index_map = SCENE.copy()
    index_map[0, :3] = 0

    assert submission(index_map, allow_void=True) == []


def test_instance_mode_does_not_require_full_coverage():
    index_map = np.array([[0, 0, 3, 3], [0, 0, 3, 3]], dtype=np.uint16)

    assert submission(index_map, [SegmentSpec(id=3, category_id=CAR.id)], mode="instance") == []


def test_segment_smaller_than_its_category_minimum_is_refused():
    index_map = SCENE.copy()
    index_map[3, 4] = 1  # car 4 now has 3 pixels; cars need 4

    assert submission(index_map) == [
        ValidationIssue(
            code="below_min_area",
            message="segment 4 (car) has 3 pixels; category car needs at least 4",
            segment_id=4,
        )
    ]


def test_crowd_segments_are_exempt_from_the_minimum_area():
    index_map = SCENE.copy()
    index_map[3, 4] = 1
    segments = [*SCENE_SEGMENTS[:3], SegmentSpec(id=4, category_id=CAR.id, iscrowd=True), SCENE_SEGMENTS[4]]

    assert submission(index_map, segments) == []


def test_unconfirmed_prelabel_is_refused():
    segments = [*SCENE_SEGMENTS[:4], SegmentSpec(id=5, category_id=PERSON.id, confirmed=False)]

    assert submission(segments=segments) == [
        ValidationIssue(
            code="unconfirmed_prelabel",
            message="segment 5 is an unconfirmed pre-label; confirm or delete it before submitting",
            segment_id=5,
        )
    ]


def test_submission_uses_the_stats_it_is_given():
    # Precomputed stats claim car 3 has 1 pixel: the check trusts them instead of recounting.
    stats = {
        **segment_stats(SCENE),
        3: SegmentStats(segment_id=3, area=1, bbox=BoundingBox(x=1, y=2, width=1, height=1)),
    }

    assert [(issue.code, issue.segment_id) for issue in submission(stats=stats)] == [("below_min_area", 3)]
