import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask

from annotation.masks import MaskFormatError, rasterize_polygons, rasterize_polygons_union
from annotation.masks.polygon import _fill, _Toggles

# pycocotools' own decode trips numpy 2's copy-keyword deprecation; the package under test does not.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def coco_masks(rings: list[list[float]], height: int, width: int) -> npt.NDArray[np.bool_]:
    """One decoded pycocotools mask per ring, shape (height, width, rings)."""
    return coco_mask.decode(coco_mask.frPyObjects(rings, height, width)).astype(bool)


def coco_mask_of(ring: list[float], height: int, width: int) -> npt.NDArray[np.bool_]:
    return coco_masks([ring], height, width)[:, :, 0]


# --- hand-checked pixel rule ---------------------------------------------------------------------


def test_square_on_pixel_edges_fills_the_pixels_inside():
    mask = rasterize_polygons([[1, 1, 3, 1, 3, 3, 1, 3]], 5, 5)

    expected = np.zeros((5, 5), dtype=bool)
    expected[1:3, 1:3] = True
    assert np.array_equal(mask, expected)


def test_pixel_centres_on_the_left_and_top_edges_are_out_on_the_right_and_bottom_edges_in():
    # The square's edges run through the centres of rows/columns 0 and 4.
    mask = rasterize_polygons([[0.5, 0.5, 4.5, 0.5, 4.5, 4.5, 0.5, 4.5]], 5, 5)

    expected = np.zeros((5, 5), dtype=bool)
    expected[1:, 1:] = True
    assert np.array_equal(mask, expected)


def test_hole_ring_inside_an_outer_ring_cuts_a_hole():
    outer = [0, 0, 8, 0, 8, 8, 0, 8]
    hole = [2, 2, 6, 2, 6, 6, 2, 6]

    mask = rasterize_polygons([outer, hole], 8, 8)

    expected = np.ones((8, 8), dtype=bool)
    expected[2:6, 2:6] = False
    assert np.array_equal(mask, expected)


def test_union_keeps_the_pixels_of_a_ring_inside_another():
    outer = [0, 0, 8, 0, 8, 8, 0, 8]
    inner = [2, 2, 6, 2, 6, 6, 2, 6]

    assert rasterize_polygons_union([outer, inner], 8, 8).all()


def test_no_rings_give_an_empty_mask():
    mask = rasterize_polygons([], 3, 4)

    assert mask.shape == (3, 4)
    assert not mask.any()


# --- identity with pycocotools -------------------------------------------------------------------

CASES = {
    "square": [1, 1, 6, 1, 6, 5, 1, 5],
    "square clockwise": [1, 5, 6, 5, 6, 1, 1, 1],
    "square on pixel centres": [0.5, 0.5, 4.5, 0.5, 4.5, 4.5, 0.5, 4.5],
    "triangle": [1.2, 0.7, 9.6, 3.1, 4.4, 8.8],
    "concave arrow": [0, 0, 10, 5, 0, 10, 4, 5],
    "concave u": [1, 1, 3, 1, 3, 7, 7, 7, 7, 1, 9, 1, 9, 9, 1, 9],
    "self-intersecting bow tie": [0, 0, 10, 10, 10, 0, 0, 10],
    "self-touching at a vertex": [0, 0, 5, 5, 10, 0, 10, 10, 5, 5, 0, 10],
    "vertices on the 1/5 grid ties": [0.1, 0.1, 3.3, 0.3, 2.7, 3.9, 0.9, 2.5],
    "vertices outside the image": [-5, -5, 20, -3, 25, 30, -10, 25],
    "small negative coordinates": [-0.3, -0.2, 3.7, -0.1, 3.2, 4.4, -0.49, 3.9],
    "tiny polygon between centres": [2.1, 2.1, 2.3, 2.1, 2.2, 2.3],
    "tiny polygon around a centre": [2.4, 2.4, 2.6, 2.4, 2.5, 2.6],
    "collinear points on an edge": [0, 0, 2, 0, 4, 0, 4, 4, 0, 4],
    "all points collinear": [0, 0, 2, 2, 4, 4],
    "repeated vertex": [1, 1, 1, 1, 5, 1, 5, 5],
    "thin vertical sliver": [3.4, 0, 3.6, 0, 3.6, 9, 3.4, 9],
    "steep near-diagonal edges": [0, 0, 7, 7.2, 0, 9, 0.1, 4],
    "entirely outside the image": [20, 20, 30, 20, 30, 30],
    "covering the whole image": [-1, -1, 11, -1, 11, 11, -1, 11],
    "far vertices": [-1e5, -1e5, 1e5, 3, 7, 1e5],
    "edge along the image bottom": [1, 6, 5, 6, 5, 12, 1, 12],
}


@pytest.mark.parametrize("ring", list(CASES.values()), ids=list(CASES))
@pytest.mark.parametrize(("height", "width"), [(10, 10), (7, 12), (1, 1)])
def test_single_ring_matches_pycocotools_pixel_for_pixel(ring, height, width):
    assert np.array_equal(rasterize_polygons([ring], height, width), coco_mask_of(ring, height, width))


def coordinates(size: int, *, grid: float | None) -> st.SearchStrategy[float]:
    values = st.floats(-10, size + 10, allow_nan=False, allow_infinity=False)
    if grid is None:
        return values
    return values.map(lambda v: round(v / grid) * grid)


@st.composite
def rings_and_size(draw: st.DrawFn, *, max_rings: int = 1) -> tuple[list[list[float]], int, int]:
    height, width = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    grid = draw(st.sampled_from([None, None, 0.1, 0.5, 1.0]))
    rings = []
    for _ in range(draw(st.integers(1, max_rings))):
        points = draw(st.integers(3, 12))
        rings.append([draw(coordinates(max(height, width), grid=grid)) for _ in range(2 * points)])
    return rings, height, width


@settings(max_examples=300, deadline=None)
@given(case=rings_and_size())
def test_random_ring_matches_pycocotools_pixel_for_pixel(case):
    (ring,), height, width = case

    assert np.array_equal(rasterize_polygons([ring], height, width), coco_mask_of(ring, height, width))


@settings(max_examples=100, deadline=None)
@given(case=rings_and_size(max_rings=4))
def test_several_rings_combine_even_odd_as_xor_of_pycocotools_rings(case):
    rings, height, width = case

    expected = np.logical_xor.reduce(coco_masks(rings, height, width), axis=2)

    assert np.array_equal(rasterize_polygons(rings, height, width), expected)


@settings(max_examples=100, deadline=None)
@given(case=rings_and_size(max_rings=4))
def test_union_matches_pycocotools_merge_of_the_rings(case):
    rings, height, width = case

    merged = coco_mask.merge(coco_mask.frPyObjects(rings, height, width))
    expected = coco_mask.decode(merged).astype(bool)

    assert np.array_equal(rasterize_polygons_union(rings, height, width), expected)


def test_large_image_matches_pycocotools():
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = (
        np.stack([700 + 650 * np.cos(angles), 500 + 480 * np.sin(3 * angles) ** 2], axis=1).ravel().tolist()
    )

    assert np.array_equal(rasterize_polygons([ring], 1000, 1400), coco_mask_of(ring, 1000, 1400))


def c_toggle_fill(columns: list[int], rows: list[int], height: int, width: int) -> npt.NDArray[np.bool_]:
    """Step 4 of rleFrPoly as written in C: flip at each sorted column-major index c*h + row."""
    flips = np.zeros(height * width + 1, dtype=np.int64)
    np.add.at(flips, np.asarray(columns, dtype=np.int64) * height + np.asarray(rows, dtype=np.int64), 1)
    flat = (np.cumsum(flips) % 2).astype(bool)[: height * width]
    return flat.reshape(width, height).T


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fill_equals_c_column_major_flips_even_for_odd_toggle_counts(data):
    # Closed rings give each column an even number of toggles; the fill must not rely on it.
    height, width = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    count = data.draw(st.integers(0, 12))
    columns = data.draw(st.lists(st.integers(0, width - 1), min_size=count, max_size=count))
    rows = data.draw(st.lists(st.integers(0, height), min_size=count, max_size=count))

    mask = np.zeros((height, width), dtype=bool)
    block = _fill(
        _Toggles(columns=np.array(columns, np.int64), rows=np.array(rows, np.int64)),
        height=height,
        width=width,
    )
    if block is not None:
        block_rows, block_columns = block.values.shape
        mask[
            block.row_start : block.row_start + block_rows,
            block.column_start : block.column_start + block_columns,
        ] = block.values

    assert np.array_equal(mask, c_toggle_fill(columns, rows, height, width))


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rings", "message"),
    [
        ([[0, 0, 1, 1]], "polygon 0 has 2 points; a polygon needs at least 3"),
        ([[0, 0, 4, 0, 4, 4], [0, 0, 1, 1, 2]], r"polygon 1 has an odd number of coordinates \(5\)"),
        (
            [[[0, 0], [4, 0], [4, 4]]],
            r"polygon 0 must be a flat \[x1, y1, x2, y2, ...\] list, got shape \(3, 2\)",
        ),
        ([["a", 0, 4, 0, 4, 4]], "polygon 0 must be a flat list of numbers"),
        ([[0, 0, 4, float("nan"), 4, 4]], "polygon 0 has a non-finite coordinate"),
        ([[0, 0, float("inf"), 0, 4, 4]], "polygon 0 has a non-finite coordinate"),
        ([[0, 0, 2e8, 0, 4, 4]], r"polygon 0 has a coordinate beyond \+/-1e\+08"),
    ],
)
def test_rasterize_rejects_malformed_rings(rings, message):
    with pytest.raises(MaskFormatError, match=message):
        rasterize_polygons(rings, 10, 10)


@pytest.mark.parametrize(
    ("height", "width", "message"),
    [
        (0, 5, "image height must be a positive integer, got 0"),
        (5, -1, "image width must be a positive integer, got -1"),
        (5, 2.5, "image width must be a positive integer, got 2.5"),
        (True, 5, "image height must be a positive integer, got True"),
    ],
)
def test_rasterize_rejects_an_image_size_without_pixels(height, width, message):
    with pytest.raises(MaskFormatError, match=message):
        rasterize_polygons([[0, 0, 4, 0, 4, 4]], height, width)


def test_union_validates_rings_like_rasterize():
    with pytest.raises(MaskFormatError, match="polygon 0 has 2 points; a polygon needs at least 3"):
        rasterize_polygons_union([[0, 0, 1, 1]], 10, 10)
