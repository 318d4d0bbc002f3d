"""The compiled nearest-crack sweep against the literal definition (KD-tree per category)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa.metrics import LabelledMap, Segment, measure_pair

from .drift_reference import reference_drift
from .support import categories

TAXONOMY = categories(stuff=(1, 2), things=(3, 4))
CATEGORY_IDS = [c.id for c in TAXONOMY]


@st.composite
def class_maps(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two maps of ids 0-12 on blocks of 1-4 px (0 = void), one shape, some far apart regions."""
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 70))

    def one() -> np.ndarray:
        block = draw(st.integers(1, 4))
        coarse = draw(
            arrays(np.uint16, (-(-height // block), -(-width // block)), elements=st.integers(0, 12))
        )
        return np.ascontiguousarray(np.repeat(np.repeat(coarse, block, 0), block, 1)[:height, :width])

    return one(), one()


def _labelled(ids: np.ndarray, category_of: dict[int, int]) -> LabelledMap:
    return LabelledMap(
        ids=ids, segments=tuple(Segment(id=i, category_id=category_of[i]) for i in range(1, 13))
    )


def _positions(ids: np.ndarray, category_of: dict[int, int]) -> np.ndarray:
    table = np.array([-1] + [CATEGORY_IDS.index(category_of[i]) for i in range(1, 13)], dtype=np.int64)
    return table[ids.astype(np.int64)]


@settings(max_examples=150, deadline=None)
@given(maps=class_maps(), data=st.data())
def test_sweep_equals_the_literal_definition(
    maps: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    ref_ids, sub_ids = maps
    ref_cat = {i: data.draw(st.sampled_from(CATEGORY_IDS)) for i in range(1, 13)}
    sub_cat = {i: data.draw(st.sampled_from(CATEGORY_IDS)) for i in range(1, 13)}

    counts = measure_pair(
        _labelled(ref_ids, ref_cat), _labelled(sub_ids, sub_cat), categories=TAXONOMY, drift=True
    )

    sums, cracks = reference_drift(_positions(ref_ids, ref_cat), _positions(sub_ids, sub_cat), len(TAXONOMY))
    assert counts.drift is not None
    assert counts.drift.cracks.tolist() == cracks.tolist()
    np.testing.assert_allclose(counts.drift.distance_sum, sums, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_sweep_equals_the_definition_on_far_apart_and_thin_regions(seed: int) -> None:
    # given wide maps with thin stripes and objects of a class that the other map has far away only
    rng = np.random.default_rng(seed)
    ref = np.ones((60, 300), dtype=np.uint16)
    sub = np.ones((60, 300), dtype=np.uint16)
    ref[:, rng.integers(0, 300, 12)] = 2  # one-pixel stripes: many junctions
    sub[:, rng.integers(0, 300, 12)] = 2
    ref[5:15, 10:30] = 3  # an object the submission misses here ...
    sub[40:50, 260:290] = 3  # ... and has far away
    ref[0:3, :] = 0  # reference void along the top
    category_of = {1: 1, 2: 2, 3: 3, **dict.fromkeys(range(4, 13), 4)}

    counts = measure_pair(
        _labelled(ref, category_of), _labelled(sub, category_of), categories=TAXONOMY, drift=True
    )

    sums, cracks = reference_drift(_positions(ref, category_of), _positions(sub, category_of), len(TAXONOMY))
    assert counts.drift is not None
    assert counts.drift.cracks.tolist() == cracks.tolist()
    np.testing.assert_allclose(counts.drift.distance_sum, sums, rtol=1e-12, atol=1e-9)
