"""The engine reproduces the reference reports of the shared fixtures (panopticapi,
boundary-iou-api and pycocotools values) to 1e-9, counts exactly, null as null."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from qa.metrics import ImageCounts, PairCounts, evaluation_report, measure_pair, sum_counts
from qa.metrics.coco_panoptic import evaluate_coco_panoptic, iter_pairs
from qa.metrics.report import dataset_figures

from .support import FIXTURES, first_mismatch

CASES = [(0.02, "expected.json"), (0.005, "expected_r0005.json")]


def _expected(name: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return report


@pytest.fixture(scope="module")
def reports() -> dict[float, dict[str, Any]]:
    return {
        ratio: evaluate_coco_panoptic(
            gt_json=FIXTURES / "gt.json", pred_json=FIXTURES / "pred.json", boundary_ratio=ratio
        )
        for ratio, _ in CASES
    }


@pytest.mark.parametrize(("ratio", "name"), CASES)
def test_report_reproduces_reference_values(
    reports: dict[float, dict[str, Any]], ratio: float, name: str
) -> None:
    mismatch = first_mismatch(_expected(name), reports[ratio])

    assert mismatch is None, mismatch


def test_report_survives_a_json_round_trip(reports: dict[float, dict[str, Any]]) -> None:
    text = json.dumps(reports[0.02], allow_nan=False)

    assert first_mismatch(_expected("expected.json"), json.loads(text)) is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["dataset", "miou"], 0.6889661205466324 + 2e-9),
        (["dataset", "pq_per_class", "1", "tp"], 6),
        (["dataset", "class_iou", "17"], 0.0),
        (["images", 0, "pq", "all", "n"], 16.0),
    ],
)
def test_comparison_reports_the_path_of_a_difference(path: list[Any], value: Any) -> None:
    # Guards the comparator itself: a report one value off must not pass.
    expected = _expected("expected.json")
    actual = copy.deepcopy(expected)
    target = actual
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    mismatch = first_mismatch(expected, actual)

    assert mismatch is not None
    assert mismatch.startswith("/" + "/".join(str(p) for p in path).replace("/0/", "[0]/"))


def test_dataset_figures_rebuild_from_stored_counts() -> None:
    # given the per-image counts as the web app stores them (JSON), in any order
    stored = []
    for image_id, gt, pred, categories in iter_pairs(
        gt_json=FIXTURES / "gt.json", pred_json=FIXTURES / "pred.json"
    ):
        counts = measure_pair(gt, pred, categories=categories, boundary_ratio=0.02, drift=True)
        stored.append((image_id, json.loads(json.dumps(counts.to_json()))))
    stored.reverse()

    # when a batch is recomputed from them, summed by ascending image id
    rebuilt = sum_counts(PairCounts.from_json(data) for _, data in sorted(stored, key=lambda item: item[0]))
    figures = dataset_figures(rebuilt)

    # then the figures equal the reference report's
    assert first_mismatch(_expected("expected.json")["dataset"], figures) is None


def test_report_lists_images_in_the_given_order() -> None:
    pairs = list(iter_pairs(gt_json=FIXTURES / "gt.json", pred_json=FIXTURES / "pred.json"))
    images = [
        ImageCounts(image_id=i, counts=measure_pair(g, p, categories=c, boundary_ratio=0.02))
        for i, g, p, c in pairs
    ]

    report = evaluation_report(images[::-1], boundary_ratio=0.02)

    assert [entry["image_id"] for entry in report["images"]] == [i.image_id for i in images[::-1]]
    assert first_mismatch(_expected("expected.json")["dataset"], report["dataset"]) is None
