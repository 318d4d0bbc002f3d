"""What a release freezes when asked for: train/val/test splits written by every format, class
values that do not move between releases, and QA figures that a retry does not recompute."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image as PILImage
from pycocotools.coco import COCO

from annotation.models import Revision
from annotation.selectors import revision_index_map
from deliveries.models import Release
from deliveries.services import release_build, release_create
from deliveries.services.release_snapshot import split_draw, split_of
from projects.models import Category, Image, Project
from projects.services import images_add, taxonomy_parse, taxonomy_replace
from qa.models import QualityReport
from tests.deliveries.support import accept_work, project_with_members, scene, user
from tests.factories import TAXONOMY
from tests.helpers import png_bytes

FORMATS = ["coco", "coco-panoptic", "voc", "yolo", "ade20k", "png", "cityscapes"]
CITYSCAPES_IDS = {1: 7, 3: 23, 7: 24, 9: 26}  # road, sky, person, car


@pytest.fixture
def project(db: Any) -> Project:
    """Eight images with accepted work (person shifted per image), Cityscapes label ids set."""
    project = project_with_members(images=8)
    for category_id, label_id in CITYSCAPES_IDS.items():
        Category.objects.filter(taxonomy__project=project, category_id=category_id).update(
            export_ids={"cityscapes": label_id}
        )
    for i in range(8):
        accept_work(project, i, scene(shift=i % 4))
    return project


def build(project: Project, **options: Any) -> Release:
    release = release_create(project=project, by=user("manager"), enqueue=False, **options)
    return release_build(release_id=release.id)


def extract(release: Release, tmp_path: Path) -> Path:
    with default_storage.open(release.archive_key, "rb") as handle:
        zipfile.ZipFile(io.BytesIO(handle.read())).extractall(tmp_path)
    return tmp_path / release.archive_name.removesuffix(".zip")


def delivered(release: Release) -> dict[str, tuple[Revision, str]]:
    """Stem -> (revision, split) of every delivered image."""
    revisions = {
        r.id: r for r in Revision.objects.filter(id__in=release.revision_ids).select_related("task__image")
    }
    return {
        Path(revisions[rid].task.image.file_name).stem: (revisions[rid], split)
        for rid, split in zip(release.revision_ids, release.splits, strict=True)
    }


# --- splits -------------------------------------------------------------------------------------------


def test_every_format_writes_the_train_and_val_splits_of_the_release(
    project: Project, tmp_path: Path
) -> None:
    release = build(project, formats=FORMATS, val_share=0.4)
    root = extract(release, tmp_path)
    images = delivered(release)
    by_split = {s: sorted(stem for stem, (_, sp) in images.items() if sp == s) for s in ("train", "val")}

    assert release.status == Release.Status.READY, release.error
    assert by_split["train"]  # 8 images, a 0.4 share: both splits are there
    assert by_split["val"]
    assert release.manifest["splits"] == {
        "options": {"val_share": 0.4, "test_share": 0.0, "batches": {}},
        "images": {"train": len(by_split["train"]), "val": len(by_split["val"])},
    }
    for split, stems in by_split.items():
        # COCO: one JSON per split, loaded by pycocotools, masks equal the delivered maps
        coco = COCO(str(root / "coco" / "annotations" / f"instances_{split}.json"))
        assert sorted(Path(i["file_name"]).stem for i in coco.dataset["images"]) == stems
        for image in coco.dataset["images"]:
            revision, _ = images[Path(image["file_name"]).stem]
            index_map = revision_index_map(revision=revision)
            for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])):
                (segment,) = [s for s in revision.segments if s["category_id"] == annotation["category_id"]]
                assert np.array_equal(coco.annToMask(annotation).astype(bool), index_map == segment["id"])
        panoptic = json.loads((root / "coco-panoptic" / "annotations" / f"panoptic_{split}.json").read_text())
        assert sorted(Path(a["file_name"]).stem for a in panoptic["annotations"]) == stems
        assert (root / "voc" / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split() == stems
        assert sorted(p.stem for p in (root / "yolo" / "labels" / split).glob("*.txt")) == stems
        ade = {"train": "training", "val": "validation"}[split]
        assert sorted(p.stem for p in (root / "ade20k" / "annotations" / ade).glob("*.png")) == stems
        assert sorted(p.stem for p in (root / "png" / "semantic" / split).glob("*.png")) == stems
        assert len(list((root / "cityscapes" / "gtFine" / split).glob("*/*_labelIds.png"))) == len(stems)
        for stem in stems:  # the ADE20K class PNG is the delivered map through the class table
            revision, _ = images[stem]
            index_map = revision_index_map(revision=revision)
            ade_png = np.asarray(PILImage.open(root / "ade20k" / "annotations" / ade / f"{stem}.png"))
            value = {row[1]: row[0] for row in release.manifest["class_tables"]["ade20k"]}
            expected = np.zeros_like(ade_png)
            for s in revision.segments:
                expected[index_map == s["id"]] = value[s["category_id"]]
            assert np.array_equal(ade_png, expected)
    data = yaml.safe_load((root / "yolo" / "data.yaml").read_text())
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    rows = (root / "images.csv").read_text().splitlines()
    assert rows[0].split(",")[5] == "split"
    assert {r.split(",")[0]: r.split(",")[5] for r in rows[1:]} == {k: v[1] for k, v in images.items()}


def test_an_image_keeps_its_split_and_a_larger_share_only_moves_train_to_val(project: Project) -> None:
    first = release_create(project=project, by=user("manager"), formats=["png"], val_share=0.3, enqueue=False)
    again = release_create(project=project, by=user("manager"), formats=["png"], val_share=0.3, enqueue=False)
    more = release_create(project=project, by=user("manager"), formats=["png"], val_share=0.6, enqueue=False)

    assert first.splits == again.splits
    assert all(b == "val" for a, b in zip(first.splits, more.splits, strict=True) if a == "val")
    shas = [f"{i:064x}" for i in range(2000)]
    draws = [split_draw(s) for s in shas]
    assert 0.45 < sum(d < 0.5 for d in draws) / len(draws) < 0.55  # uniform enough
    for sha in shas[:300]:
        small = split_of(image_sha256=sha, batch_name="b1", options={"val_share": 0.1, "test_share": 0.1})
        large = split_of(image_sha256=sha, batch_name="b1", options={"val_share": 0.2, "test_share": 0.1})
        assert small != "val" or large == "val"


def test_a_batch_can_be_put_in_a_split(project: Project, capsys: Any, tmp_path: Path) -> None:
    images_add(
        project=project,
        files=[("v0.png", png_bytes(np.full((16, 24, 3), 7, np.uint8)))],
        batch_name="validation-batch",
    )
    image = Image.objects.get(file_name="v0.png")
    task = image.tasks.get()
    from qa.services import revision_import
    from tests.deliveries.support import segment_ins

    revision_import(
        task=task,
        author=user("manager"),
        index_map=scene(),
        segments=segment_ins(),
        status=Revision.Status.ACCEPTED,
    )

    call_command(
        "export_release", "proj", "--format", "png", "--split", "val=validation-batch", "--out", str(tmp_path)
    )

    release = Release.objects.get()
    assert release.split_options == {
        "val_share": 0.0,
        "test_share": 0.0,
        "batches": {"validation-batch": "val"},
    }
    splits = dict(zip(release.revision_ids, release.splits, strict=True))
    assert splits[task.revisions.get().id] == "val"
    assert sorted(set(splits.values())) == ["train", "val"]
    assert "Splits: 8 train, 1 val." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_share": 1.0}, "val_share must be a number in [0, 1)"),
        ({"val_share": 0.6, "test_share": 0.4}, "val_share + test_share must be below 1"),
        ({"split_batches": {"nope": "val"}}, "Project proj has no batch 'nope'."),
        ({"split_batches": {"b1": "holdout"}}, "Unknown splits ['holdout']"),
    ],
)
def test_bad_split_options_are_refused_and_nothing_is_made(
    project: Project, api: Any, options: dict[str, Any], message: str
) -> None:
    response = api(user("manager")).post(
        "/api/projects/proj/releases/", {"formats": ["png"], **options}, format="json"
    )

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert Release.objects.count() == 0


# --- class values ---------------------------------------------------------------------------------------


def test_class_values_stay_when_categories_are_removed_or_added_with_a_lower_id(project: Project) -> None:
    first = build(project, formats=["voc", "yolo", "png", "ade20k"])
    # a new taxonomy version without road (id 1) and with bus (id 2, lower than sky's 3)
    spec = [c for c in TAXONOMY if c["name"] != "road"] + [
        {"id": 2, "name": "bus", "isthing": 1, "color": [0, 60, 100]}
    ]
    taxonomy_replace(project=project, spec=taxonomy_parse(spec))

    second = build(project, formats=["voc", "yolo", "png", "ade20k"])

    tables = second.manifest["class_tables"]
    assert tables["voc"] == [
        [0, None, "background"],
        [1, 1, "road"],
        [2, 3, "sky"],
        [3, 7, "person"],
        [4, 9, "car"],
        [5, 2, "bus"],
    ]
    assert tables["yolo"] == [[0, 7, "person"], [1, 9, "car"], [2, 2, "bus"]]
    for fmt, rows in first.manifest["class_tables"].items():
        assert tables[fmt][: len(rows)] == rows  # nothing moved, bus was appended
    assert second.manifest["class_table_changes"] == [
        "voc: 'bus' (category 2) is new, written as 5",
        "yolo: 'bus' (category 2) is new, written as 2",
        "png: 'bus' (category 2) is new, written as 5",
        "ade20k: 'bus' (category 2) is new, written as 5",
    ]
    assert [c for c in second.manifest["categories"] if c.get("retired")] == [
        {"id": 1, "name": "road", "isthing": False, "color": "#804080", "retired": True}
    ]
    assert first.manifest["class_table_changes"] == []


def test_a_moved_class_value_is_reported_on_the_release(project: Project, api: Any, client: Any) -> None:
    first = build(project, formats=["voc"])
    manifest = dict(first.manifest)
    manifest["class_tables"] = {
        "voc": [[0, None, "background"], [1, 3, "sky"], [2, 1, "road"], [3, 7, "person"], [4, 9, "car"]]
    }
    Release.objects.filter(id=first.id).update(manifest=manifest, snapshot={})  # as a release of old

    second = build(project, formats=["voc"])

    changes = second.manifest["class_table_changes"]
    assert "voc: 'road' (category 1) was written as 2 in release 1, now as 1" in changes
    assert "voc: 'sky' (category 3) was written as 1 in release 1, now as 2" in changes
    assert api(user("cli")).get(f"/api/releases/{second.id}/").json()["class_table_changes"] == changes
    client.force_login(user("manager"))
    page = client.get(f"/releases/{second.id}/").content.decode()
    assert "Class values changed since the last release" in page
    assert "was written as 2 in release 1, now as 1" in page


# --- the frozen snapshot -------------------------------------------------------------------------------


def test_a_rebuild_gives_the_same_bytes_whatever_changed_since_it_was_asked_for(project: Project) -> None:
    release = build(project, formats=["png", "coco"], val_share=0.25)
    # after the release was asked for: the project is renamed, thresholds change, the taxonomy
    # gets a new version, the batch's images are re-split, QA figures disappear
    Project.objects.filter(id=project.id).update(name="Renamed", batch_iou_floor=0.9)
    taxonomy_replace(
        project=project,
        spec=taxonomy_parse([*TAXONOMY, {"id": 2, "name": "bus", "isthing": 1, "color": [0, 60, 100]}]),
    )
    QualityReport.objects.all().delete()
    Release.objects.filter(id=release.id).update(status=Release.Status.FAILED)  # as if it was lost

    rebuilt = release_build(release_id=release.id)
    project.refresh_from_db()
    fresh = build(project, formats=["png", "coco"], val_share=0.25)

    assert rebuilt.status == Release.Status.READY
    assert (rebuilt.archive_sha256, rebuilt.report_json_sha256) == (
        release.archive_sha256,
        release.report_json_sha256,
    )
    assert rebuilt.manifest == release.manifest
    # ... while a new release does see the changes (so the comparison above can fail)
    assert fresh.manifest["project"]["name"] == "Renamed"
    assert "bus" in [c["name"] for c in fresh.manifest["categories"]]
    report = json.loads(default_storage.open(fresh.report_json_key, "rb").read())
    assert report["thresholds"]["batch_iou_floor"] == 0.9


def test_the_archive_readme_explains_splits_names_and_class_values(project: Project, tmp_path: Path) -> None:
    release = build(project, formats=["cityscapes", "voc"], val_share=0.4)
    root = extract(release, tmp_path)

    readme = (root / "README.md").read_text()

    assert readme.startswith("# Proj — release 1\n")
    assert "- `cityscapes/` — Cityscapes gtFine" in readme
    counts = release.manifest["splits"]["images"]
    assert f"{counts['train']} train, {counts['val']} val." in readme
    assert "renamed `tessera_<seq>_<frame>` in the city folder `tessera`" in readme
    assert "(8 of 8 images here)" in readme
    assert "`cityscapes/tessera_names.csv` maps every stem" in readme
    assert "| 26 | 9 | car |" in readme  # Cityscapes label id of car
    assert "| 4 | 9 | car |" in readme  # its VOC class index
    listed = {f["path"] for f in release.manifest["files"]}
    assert "README.md" in listed


def test_a_release_asked_for_before_snapshots_existed_still_builds(project: Project) -> None:
    release = release_create(project=project, by=user("manager"), formats=["voc"], enqueue=False)
    Release.objects.filter(id=release.id).update(snapshot={}, splits=[], split_options={})

    built = release_build(release_id=release.id)

    assert built.status == Release.Status.READY, built.error
    assert built.manifest["splits"]["images"] == {"train": 8}
    assert built.manifest["project"] == {"slug": "proj", "name": "Proj", "mode": "panoptic"}
    assert [row[2] for row in built.manifest["class_tables"]["voc"]] == [
        "background",
        "road",
        "sky",
        "person",
        "car",
    ]


def test_the_readme_warns_voc_and_ade20k_loaders_when_the_images_are_not_jpeg(
    project: Project, tmp_path: Path
) -> None:
    # the project's images are PNG files (img0.png…), copied byte for byte
    with_images = extract(
        build(project, formats=["voc", "ade20k", "coco"], include_images=True), tmp_path / "a"
    )
    without = extract(build(project, formats=["voc"]), tmp_path / "b")
    coco_only = extract(build(project, formats=["coco"], include_images=True), tmp_path / "c")

    readme = (with_images / "README.md").read_text()
    assert (with_images / "voc" / "JPEGImages" / "img0.png").is_file()
    assert "## Images" in readme
    assert "byte for byte, with their own suffix (`.png` here)" in readme
    assert "`VOCSegmentation`" in readme
    assert "`img_suffix='.png'`" in readme
    assert "## Images" not in (without / "README.md").read_text()
    assert "## Images" not in (coco_only / "README.md").read_text()  # COCO names each file in its JSON
