import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pycocotools import mask as coco_mask

from annotation.masks import (
    MaskFormatError,
    decode_rle,
    encode_rle,
    index_map_to_rles,
    rles_to_index_map,
)

# pycocotools' own decode trips numpy 2's copy-keyword deprecation; the package under test does not.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def coco_encode(mask: npt.NDArray[np.bool_]) -> dict[str, object]:
    encoded = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": encoded["size"], "counts": encoded["counts"].decode("ascii")}


@st.composite
def index_maps(draw: st.DrawFn) -> npt.NDArray[np.uint16]:
    """Maps of a few ids, either noisy or made of blocks (long runs, like real annotations)."""
    height, width = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    ids = draw(st.lists(st.integers(0, 65535), min_size=1, max_size=6, unique=True))
    block = draw(st.sampled_from([1, 3, 8]))
    small = draw(
        hnp.arrays(np.int64, (-(-height // block), -(-width // block)), elements=st.integers(0, len(ids) - 1))
    )
    blocks = np.kron(small, np.ones((block, block), dtype=np.int64))[:height, :width]
    return np.asarray(ids, dtype=np.uint16)[blocks]


masks = hnp.arrays(
    np.bool_,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=30),
    elements=st.booleans(),
)


# --- one mask ------------------------------------------------------------------------------------


def test_encode_rle_counts_runs_column_major():
    # Column-major pixels 0,1 | 1,1 -> runs: one 0, three 1s -> counts [1, 3] -> "13".
    mask = np.array([[False, True], [True, True]])

    assert encode_rle(mask) == {"size": [2, 2], "counts": "13"}


@settings(max_examples=80, deadline=None)
@given(mask=masks)
def test_encode_rle_is_identical_to_pycocotools_encode(mask):
    assert encode_rle(mask) == coco_encode(mask)


@settings(max_examples=80, deadline=None)
@given(mask=masks)
def test_decode_rle_inverts_encode_rle(mask):
    assert np.array_equal(decode_rle(encode_rle(mask)), mask)


def test_decode_rle_reads_uncompressed_list_counts_column_major():
    rle = {"size": [2, 3], "counts": [1, 3, 2]}

    assert np.array_equal(decode_rle(rle), [[False, True, False], [True, True, False]])


def test_decode_rle_reads_a_delta_coded_negative_number():
    # counts [0, 5, 10, 2]: the 4th is stored as 2 - 5 = -3, one group "M" (29 = 0b11101, sign bit set).
    mask = decode_rle({"size": [1, 17], "counts": "05:M"})

    assert np.flatnonzero(mask[0]).tolist() == [0, 1, 2, 3, 4, 15, 16]


def test_decode_rle_reads_a_number_spread_over_two_groups():
    # 100 = 4 + 3*32: "T" is 4 with the continuation bit (4 | 32 = 36 -> 'T'), then "3".
    mask = decode_rle({"size": [1, 101], "counts": "T31"})

    assert np.flatnonzero(mask[0]).tolist() == [100]


def test_decode_rle_accepts_bytes_counts_as_pycocotools_writes_them():
    assert np.array_equal(decode_rle({"size": [2, 2], "counts": b"13"}), [[False, True], [True, True]])


@settings(max_examples=80, deadline=None)
@given(mask=masks)
def test_decode_rle_equals_pycocotools_decode_for_compressed_and_list_counts(mask):
    compressed = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    flat = mask.ravel(order="F").astype(np.int8)
    boundaries = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], boundaries])).tolist()
    uncompressed = {"size": list(mask.shape), "counts": counts}
    expected = coco_mask.decode(compressed).astype(bool)

    assert np.array_equal(decode_rle(compressed), expected)
    assert np.array_equal(decode_rle(uncompressed), expected)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [2, 2], "counts": [1, 2]}, "RLE counts sum to 3, but size 2x2 needs exactly 4 pixels"),
        ({"size": [2, 2], "counts": [1, 2, 3]}, "RLE counts sum to 6, but size 2x2 needs exactly 4 pixels"),
        ({"size": [3, 3], "counts": "22"}, "RLE counts sum to 4, but size 3x3 needs exactly 9 pixels"),
        ({"size": [2, 2], "counts": []}, "RLE counts sum to 0, but size 2x2 needs exactly 4 pixels"),
        ({"size": [1, 4], "counts": [3, -1, 2]}, r"RLE run 1 is negative \(-1\)"),
        # counts 0, 2, 5 and a delta of -3 on the 2: run 3 is 2 - 3 = -1.
        ({"size": [1, 6], "counts": "025M"}, r"RLE run 3 is negative \(-1\)"),
        ({"size": [1, 4], "counts": [1.0, 3.0]}, "RLE counts must be integers, got float64 values"),
        ({"size": [1, 4], "counts": [True, 3]}, "RLE counts must be integers, got booleans"),
        ({"size": [1, 4], "counts": [[1, 3]]}, r"RLE counts must be a flat list, got shape \(1, 2\)"),
        ({"size": [1, 4], "counts": 4}, "RLE counts must be a string or a list of integers, got int"),
        ({"size": [1, 4], "counts": "1~"}, "invalid character at position 1"),
        ({"size": [1, 4], "counts": "1é"}, "compressed RLE counts must be ASCII"),
        ({"size": [1, 4], "counts": "1P"}, "end in the middle of a number"),
        ({"size": [1, 4], "counts": "PPPPPPP0"}, "a number too large for a run length"),
        ({"size": [4], "counts": [4]}, r"RLE size must be \[height, width\] \(two integers\), got \[4\]"),
        ({"size": [2.0, 2], "counts": [4]}, r"RLE size must be \[height, width\]"),
        ({"size": [0, 4], "counts": []}, r"RLE size must be positive, got \[0, 4\]"),
        ({"counts": [4]}, "RLE must be a mapping with 'size' and 'counts'"),
    ],
)
def test_decode_rle_rejects_malformed_rles_with_a_clear_message(rle, message):
    with pytest.raises(MaskFormatError, match=message):
        decode_rle(rle)


def test_decode_rle_rejects_a_size_other_than_expected():
    with pytest.raises(MaskFormatError, match=r"RLE size is 2x2 \(height x width\), but the image is 2x3"):
        decode_rle({"size": [2, 2], "counts": [4]}, expected_shape=(2, 3))


def test_encode_rle_rejects_a_non_boolean_mask():
    with pytest.raises(MaskFormatError, match=r"non-empty 2-D bool array, got uint8 of shape \(2, 2\)"):
        encode_rle(np.ones((2, 2), dtype=np.uint8))


# --- whole index maps ----------------------------------------------------------------------------


def test_index_map_to_rles_encodes_each_requested_id():
    index_map = np.array([[0, 7], [7, 9]], dtype=np.uint16)

    rles = index_map_to_rles(index_map, [7, 9])

    # Column-major: 0, 7 | 7, 9.
    assert rles == {7: {"size": [2, 2], "counts": "121"}, 9: {"size": [2, 2], "counts": "31"}}


def test_index_map_to_rles_gives_an_absent_id_the_rle_of_an_empty_mask():
    rles = index_map_to_rles(np.ones((2, 3), dtype=np.uint16), [5])

    assert rles[5] == coco_encode(np.zeros((2, 3), dtype=bool))


def test_index_map_to_rles_rejects_an_id_outside_uint16():
    with pytest.raises(MaskFormatError, match=r"segment id 70000 is outside \[0, 65535\]"):
        index_map_to_rles(np.ones((2, 2), dtype=np.uint16), [70000])


@settings(max_examples=80, deadline=None)
@given(index_map=index_maps())
def test_index_map_to_rles_equals_encoding_each_segment_mask_on_its_own(index_map):
    ids = [int(i) for i in np.unique(index_map)] + [12345]

    rles = index_map_to_rles(index_map, ids)

    assert rles == {i: coco_encode(index_map == i) for i in ids}


@settings(max_examples=60, deadline=None)
@given(index_map=index_maps())
def test_rles_to_index_map_inverts_index_map_to_rles(index_map):
    ids = [int(i) for i in np.unique(index_map) if i != 0]
    height, width = index_map.shape

    rebuilt = rles_to_index_map(index_map_to_rles(index_map, ids), height=height, width=width)

    assert rebuilt.dtype == np.uint16
    assert np.array_equal(rebuilt, index_map)


def test_rles_to_index_map_of_no_rles_is_all_void():
    assert np.array_equal(rles_to_index_map({}, height=2, width=3), np.zeros((2, 3), dtype=np.uint16))


OVERLAPPING = {
    4: {"size": [2, 3], "counts": [1, 3, 2]},  # pixels (1,0), (0,1), (1,1)
    9: {"size": [2, 3], "counts": [3, 2, 1]},  # pixels (1,1), (0,2)
}


def test_rles_to_index_map_rejects_overlap_naming_both_segments_and_a_shared_pixel():
    with pytest.raises(
        MaskFormatError, match=r"RLEs of segments 4 and 9 overlap \(first shared pixel at row 1, column 1\)"
    ):
        rles_to_index_map(OVERLAPPING, height=2, width=3)


def test_rles_to_index_map_first_rule_gives_shared_pixels_to_the_earlier_rle():
    index_map = rles_to_index_map(OVERLAPPING, height=2, width=3, overlap="first")

    assert index_map.tolist() == [[0, 4, 9], [4, 4, 0]]


def test_rles_to_index_map_last_rule_paints_later_rles_over_earlier_ones():
    index_map = rles_to_index_map(OVERLAPPING, height=2, width=3, overlap="last")

    assert index_map.tolist() == [[0, 4, 9], [4, 9, 0]]


def test_rles_to_index_map_names_the_segment_whose_rle_is_malformed():
    rles = {3: {"size": [2, 2], "counts": [4]}, 8: {"size": [2, 2], "counts": [1, 1]}}

    with pytest.raises(MaskFormatError, match="RLE of segment 8: RLE counts sum to 2"):
        rles_to_index_map(rles, height=2, width=2)


def test_rles_to_index_map_rejects_an_rle_of_another_size():
    with pytest.raises(MaskFormatError, match="RLE of segment 3: size is 1x4, the image is 2x2"):
        rles_to_index_map({3: {"size": [1, 4], "counts": [4]}}, height=2, width=2)


@pytest.mark.parametrize(
    ("segment_id", "message"),
    [(0, r"segment id 0 is outside \[1, 65535\]"), (65536, r"segment id 65536 is outside \[1, 65535\]")],
)
def test_rles_to_index_map_rejects_ids_that_cannot_be_segments(segment_id, message):
    with pytest.raises(MaskFormatError, match=message):
        rles_to_index_map({segment_id: {"size": [1, 1], "counts": [0, 1]}}, height=1, width=1)


def test_rles_to_index_map_rejects_an_image_without_pixels():
    with pytest.raises(MaskFormatError, match="image width must be a positive integer, got 0"):
        rles_to_index_map({}, height=2, width=0)
