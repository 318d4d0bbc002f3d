"""measure_pair against a mask-by-mask oracle (panopticapi's loops, boundary-iou-api's bands)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa.metrics import LabelledMap, Segment, measure_pair

from .support import categories, literal_band

TAXONOMY = categories(stuff=(1, 2), things=(3, 4))


@st.composite
def label_map(draw: st.DrawFn, shape: tuple[int, int], *, reference: bool) -> LabelledMap:
    """Random ids 0-40 (0 = void) on small blocks, a random table, optional unused rows."""
    block = draw(st.integers(1, 3))
    coarse = draw(
        arrays(np.uint16, (-(-shape[0] // block), -(-shape[1] // block)), elements=st.integers(0, 40))
    )
    ids = np.ascontiguousarray(np.repeat(np.repeat(coarse, block, 0), block, 1)[: shape[0], : shape[1]])
    present = sorted(set(np.unique(ids).tolist()) - {0})
    # Unused table rows (no pixels) make the joint histogram take its sparse path.
    unused = list(range(1000, 1000 + draw(st.sampled_from([0, 0, 3, 90]))))
    rows = present + unused
    order = draw(st.permutations(rows))
    segments = tuple(
        Segment(
            id=i,
            category_id=draw(st.sampled_from([1, 2, 3, 4])),
            iscrowd=reference and draw(st.integers(0, 4)) == 0,
            score=None if reference else draw(st.sampled_from([0.5, 0.9])),
        )
        for i in order
    )
    return LabelledMap(ids=ids, segments=segments)


def _oracle(reference: LabelledMap, submission: LabelledMap, d: int) -> dict[str, list[int | float]]:
    ref, sub = reference.ids.astype(np.int64), submission.ids.astype(np.int64)
    void = ref == 0
    ref_cat = {s.id: s.category_id for s in reference.segments}
    sub_cat = {s.id: s.category_id for s in submission.segments}
    ref_classes = np.vectorize(lambda v: ref_cat.get(int(v), 0))(ref)
    sub_classes = np.vectorize(lambda v: sub_cat.get(int(v), 0))(sub)
    out: dict[str, list[int | float]] = {k: [] for k in ("tp", "fp", "fn", "b_inter", "b_union")}
    for c in TAXONOMY:
        g, p = ref_classes == c.id, sub_classes == c.id
        out["tp"].append(int(np.count_nonzero(g & p)))
        out["fn"].append(int(np.count_nonzero(g & ~p)))
        out["fp"].append(int(np.count_nonzero(p & ~g & ~void)))
        bg, bp = literal_band(g, d), literal_band(p, d) & ~void
        out["b_inter"].append(int(np.count_nonzero(bg & bp)))
        out["b_union"].append(int(np.count_nonzero(bg | bp)))
    # panopticapi's pq_compute_single_core, literally (areas from the maps)
    position = {c.id: i for i, c in enumerate(TAXONOMY)}
    for key in ("pq", "bpq"):
        tp: list[int | float] = [0] * 4
        fp: list[int | float] = [0] * 4
        fn: list[int | float] = [0] * 4
        iou_sum: list[int | float] = [0.0] * 4
        gt_segms = {s.id: s for s in reference.segments}
        pred_segms = {s.id: s for s in submission.segments if np.any(sub == s.id)}
        matched_gt, matched_pred = set(), set()
        for gi, g in gt_segms.items():
            for pi, p in pred_segms.items():
                if g.iscrowd or g.category_id != p.category_id:
                    continue
                gm, pm = ref == gi, sub == pi
                inter = int(np.count_nonzero(gm & pm))
                if inter == 0:
                    continue
                iou = inter / (
                    np.count_nonzero(gm) + np.count_nonzero(pm) - inter - np.count_nonzero(pm & void)
                )
                if key == "bpq":
                    bg, bp = literal_band(gm, d), literal_band(pm, d)
                    b_inter = np.count_nonzero(bg & bp)
                    b_union = (
                        np.count_nonzero(bg) + np.count_nonzero(bp) - b_inter - np.count_nonzero(bp & void)
                    )
                    iou = min(iou, b_inter / b_union)
                if iou > 0.5:
                    tp[position[g.category_id]] += 1
                    iou_sum[position[g.category_id]] += iou
                    matched_gt.add(gi)
                    matched_pred.add(pi)
        crowd_by_category = {}
        for gi, g in gt_segms.items():
            if g.iscrowd:
                crowd_by_category[g.category_id] = gi
            elif gi not in matched_gt:
                fn[position[g.category_id]] += 1
        for pi, p in pred_segms.items():
            if pi in matched_pred:
                continue
            pm = sub == pi
            ignored = np.count_nonzero(pm & void)
            if p.category_id in crowd_by_category:
                ignored += np.count_nonzero(pm & (ref == crowd_by_category[p.category_id]))
            if ignored / np.count_nonzero(pm) > 0.5:
                continue
            fp[position[p.category_id]] += 1
        out[f"{key}_tp"], out[f"{key}_fp"], out[f"{key}_fn"], out[f"{key}_iou"] = tp, fp, fn, iou_sum
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_counts_equal_the_mask_by_mask_oracle(data: st.DataObject) -> None:
    shape = (data.draw(st.integers(2, 14)), data.draw(st.integers(2, 14)))
    reference = data.draw(label_map(shape, reference=True))
    submission = data.draw(label_map(shape, reference=False))
    d = data.draw(st.integers(1, 3))

    counts = measure_pair(reference, submission, categories=TAXONOMY, boundary_width=d)
    expected = _oracle(reference, submission, d)

    assert counts.pixels.tp.tolist() == expected["tp"]
    assert counts.pixels.fp.tolist() == expected["fp"]
    assert counts.pixels.fn.tolist() == expected["fn"]
    assert counts.pixels.boundary_intersection.tolist() == expected["b_inter"]
    assert counts.pixels.boundary_union.tolist() == expected["b_union"]
    for key, stats in (("pq", counts.pq), ("bpq", counts.boundary_pq)):
        assert stats.tp.tolist() == expected[f"{key}_tp"]
        assert stats.fp.tolist() == expected[f"{key}_fp"]
        assert stats.fn.tolist() == expected[f"{key}_fn"]
        assert np.allclose(stats.iou_sum, expected[f"{key}_iou"], rtol=0, atol=1e-12)
