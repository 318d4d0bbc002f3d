"""Every export loaded by the format's own third-party client, in the clients' venv
(``.venv-clients``, see requirements-clients.txt), compared with the source maps pixel by
pixel by tests/deliveries/formats/clients_check.py. pycocotools checks run in-process in
test_export_coco.py; these are the clients that cannot share the application's venv.

A missing venv skips these tests locally and fails them in CI (TESSERA_CI=1 or CI set).
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.clients

CROWDED = ("crowded_0002",)  # 299 objects: more than VOC's 8-bit object PNG holds


def assert_checks(result: dict[str, Any], *names: str) -> None:
    checks = result["checks"]
    assert sorted(checks) == sorted(names), checks
    failed = {k: v["detail"] for k, v in checks.items() if not v["ok"]}
    assert not failed, failed


@pytest.mark.parametrize("polygons", [False, True])
def test_datumaro_reads_coco_instances_with_the_exact_masks(
    export_all: Any, reference_npz: Any, clients: Any, polygons: Any
) -> None:
    result = clients("coco", str(export_all("coco", polygons=polygons)), str(reference_npz()))
    assert_checks(result, "datumaro coco_instances")


@pytest.mark.parametrize("merge", [False, True])
def test_datumaro_reads_coco_panoptic_with_the_exact_segments(
    export_all: Any, reference_npz: Any, clients: Any, merge: bool
) -> None:
    root = export_all("coco-panoptic", merge_stuff=True) if merge else export_all("coco-panoptic")
    result = clients("coco-panoptic", str(root), str(reference_npz()))
    assert_checks(result, "datumaro coco_panoptic", "panopticapi pq_compute")


@pytest.mark.parametrize("train_ids", [False, True])
def test_cityscapesscripts_and_datumaro_read_cityscapes(
    export_all: Any, reference_npz: Any, clients: Any, train_ids: Any
) -> None:
    result = clients("cityscapes", str(export_all("cityscapes", train_ids=train_ids)), str(reference_npz()))
    assert_checks(
        result,
        "cityscapesscripts labels",
        "cityscapesscripts instances2dict",
        "cityscapesscripts evalPixelLevelSemanticLabeling",
        "datumaro cityscapes",
    )


def test_datumaro_reads_voc_segmentation_objects(export_all: Any, reference_npz: Any, clients: Any) -> None:
    result = clients("voc", str(export_all("voc", exclude=CROWDED)), str(reference_npz(exclude=CROWDED)))
    assert_checks(result, "datumaro voc_segmentation")


def test_ultralytics_verifies_every_yolo_label(export_all: Any, reference_npz: Any, clients: Any) -> None:
    result = clients("yolo", str(export_all("yolo")), str(reference_npz()))
    assert_checks(result, "ultralytics verify_image_label")
