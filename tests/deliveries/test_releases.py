"""Releases: numbered, immutable, archives that match their manifest and load in the clients."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from pycocotools.coco import COCO

from annotation.models import Revision
from annotation.selectors import revision_index_map
from core.exceptions import Conflict, ValidationFailed
from deliveries.formats import format_versions
from deliveries.models import Release
from deliveries.services import import_run_execute, release_build, release_create, release_retry
from deliveries.services import releases as release_services
from deliveries.services.releases import _export_images, _export_names
from projects.models import Project, Task
from qa.services import revision_save
from tests.deliveries.support import (
    accept_work,
    decode_panoptic_png,
    import_source,
    make_gold,
    project_with_members,
    scene,
    scene_segments,
    user,
)
from tests.factories import assign
from tests.helpers import map_png


def submit(project: Project, image: str, username: str, index_map: np.ndarray) -> Revision:
    task = assign(project.tasks.get(image__file_name=image, kind=Task.Kind.ANNOTATE), user(username))
    return revision_save(
        task=task,
        author=user(username),
        png=map_png(index_map),
        segments_raw=scene_segments(),
        parent_number=None,
        submit=True,
    )


@pytest.fixture
def project(db: Any, django_capture_on_commit_callbacks: Any) -> Project:
    """img0: accepted annotation; img1: gold, and ann1's submission measured against it."""
    project = project_with_members(images=2)
    Project.objects.filter(id=project.id).update(delivery_formats=["coco", "coco-panoptic", "png"])
    project.refresh_from_db()
    accept_work(project, 0, scene())
    make_gold(project, 1, scene(shift=3))
    with django_capture_on_commit_callbacks(execute=True):
        submit(project, "img1.png", "ann1", scene(shift=2))
    return project


def build(project: Project, **options: Any) -> Release:
    release = release_create(project=project, by=user("manager"), enqueue=False, **options)
    return release_build(release_id=release.id)


def archive_of(release: Release) -> zipfile.ZipFile:
    with default_storage.open(release.archive_key, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def test_the_archive_holds_what_its_manifest_lists(project: Project) -> None:
    release = build(project)

    assert release.status == Release.Status.READY
    with default_storage.open(release.archive_key, "rb") as handle:
        data = handle.read()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (release.archive_sha256, release.archive_size)
    archive = zipfile.ZipFile(io.BytesIO(data))
    top = "proj-release-1/"
    names = sorted(archive.namelist())
    assert all(name.startswith(top) for name in names)
    manifest = json.loads(archive.read(top + "manifest.json"))
    assert manifest == release.manifest
    listed = {f["path"]: f for f in manifest["files"]}
    assert sorted(top + path for path in listed) == sorted(n for n in names if n != top + "manifest.json")
    for path, entry in listed.items():
        content = archive.read(top + path)
        assert (entry["size"], entry["sha256"]) == (len(content), hashlib.sha256(content).hexdigest()), path
    assert {"qa_report.json", "qa_report.html", "images.csv", "coco/annotations/instances_train.json"} <= set(
        listed
    )
    assert manifest["release"] == 1
    assert manifest["tessera_version"] == "0.1.0"
    assert manifest["project"] == {"slug": "proj", "name": "Proj", "mode": "panoptic"}
    assert manifest["formats"] == {f: format_versions()[f] for f in ("coco", "coco-panoptic", "png")}
    assert manifest["taxonomy_versions"] == [{"id": project.taxonomy_versions.get().id, "number": 1}]
    assert manifest["counts"] == {
        "images": 2,
        "segments": 8,
        "instances": 4,
        "crowd_regions": 0,
        "gold_images": 1,
    }
    assert manifest["created_at"] == release.created_at.isoformat()
    assert manifest["exports"]["coco"]["images"] == 2
    assert manifest["exports"]["coco"]["skipped"] == {"stuff": 4}


@pytest.mark.parametrize("polygons", [False, True])
def test_coco_loads_in_pycocotools_with_the_same_pixels(
    project: Project, tmp_path: Path, polygons: bool
) -> None:
    release = build(project, coco_polygons=polygons)
    archive_of(release).extractall(tmp_path)
    manifest = json.loads((tmp_path / "proj-release-1" / "manifest.json").read_text())
    assert manifest["options"] == {"coco": {"polygons": polygons}}
    delivered = {r.task.image.file_name: r for r in Revision.objects.filter(id__in=release.revision_ids)}

    coco = COCO(str(tmp_path / "proj-release-1" / "coco" / "annotations" / "instances_train.json"))

    assert sorted(img["file_name"] for img in coco.dataset["images"]) == ["img0.png", "img1.png"]
    for image in coco.dataset["images"]:
        revision = delivered[image["file_name"]]
        index_map = revision_index_map(revision=revision)
        things = [s for s in revision.segments if s["category_id"] in (7, 9)]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert sorted(a["category_id"] for a in annotations) == sorted(s["category_id"] for s in things)
        for annotation in annotations:
            assert isinstance(annotation["segmentation"], list if polygons else dict)
            (segment,) = [s for s in things if s["category_id"] == annotation["category_id"]]
            assert np.array_equal(coco.annToMask(annotation).astype(bool), index_map == segment["id"])
            assert annotation["area"] == segment["area"]


def test_panoptic_pngs_are_the_delivered_maps(project: Project) -> None:
    release = build(project)
    archive = archive_of(release)
    top = "proj-release-1/coco-panoptic/annotations/"
    document = json.loads(archive.read(top + "panoptic_train.json"))
    delivered = {r.task.image.file_name: r for r in Revision.objects.filter(id__in=release.revision_ids)}
    images = {image["id"]: image["file_name"] for image in document["images"]}

    for annotation in document["annotations"]:
        revision = delivered[images[annotation["image_id"]]]
        ids = decode_panoptic_png(archive.read(top + "panoptic_train/" + annotation["file_name"]))
        assert np.array_equal(ids, revision_index_map(revision=revision))
        categories = {s["id"]: s["category_id"] for s in annotation["segments_info"]}
        assert categories == {s["id"]: s["category_id"] for s in revision.segments}


def test_the_gold_reference_is_delivered_where_there_is_one(project: Project) -> None:
    release = build(project)
    rows = list(csv.DictReader(io.StringIO(archive_of(release).read("proj-release-1/images.csv").decode())))

    assert [(r["stem"], r["file_name"], r["source"]) for r in rows] == [
        ("img0", "img0.png", "annotation"),
        ("img1", "img1.png", "gold"),
    ]
    gold = Revision.objects.get(task__kind=Task.Kind.GOLD)
    assert int(rows[1]["revision_id"]) == gold.id
    assert rows[1]["image_sha256"] == gold.task.image.sha256


def test_releases_are_numbered_and_never_change(project: Project) -> None:
    first = build(project)
    files = {
        k: default_storage.open(getattr(first, k), "rb").read() for k in ("archive_key", "report_json_key")
    }
    image = project.images.get(file_name="img0.png")
    accept_work(project, 0, scene(shift=4))  # newer accepted work on img0

    second = build(project)
    again = release_build(release_id=first.id)  # the job running twice changes nothing

    assert (first.number, second.number) == (1, 2)
    assert again.archive_key == first.archive_key
    assert again.archive_sha256 == first.archive_sha256
    assert again.manifest == first.manifest
    assert {k: default_storage.open(getattr(again, k), "rb").read() for k in files} == files
    newest = image.tasks.get(kind=Task.Kind.ANNOTATE).revisions.order_by("-number")[0]
    assert newest.id in second.revision_ids
    assert newest.id not in first.revision_ids
    assert first.archive_key.startswith(f"releases/proj/1/{first.archive_sha256}/")
    with pytest.raises(Conflict, match="only a failed release is built again"):
        release_retry(release=first, by=user("manager"))


def test_building_the_same_release_twice_gives_the_same_bytes(project: Project) -> None:
    release = build(project)
    Release.objects.filter(id=release.id).update(status=Release.Status.FAILED)  # as if the first run was lost

    rebuilt = release_build(release_id=release.id)

    assert rebuilt.status == Release.Status.READY
    assert (rebuilt.archive_sha256, rebuilt.archive_key, rebuilt.attempts) == (
        release.archive_sha256,
        release.archive_key,
        2,
    )


def test_formats_default_to_the_locked_ones_and_others_are_refused(project: Project) -> None:
    assert release_create(project=project, by=user("manager"), enqueue=False).formats == [
        "coco",
        "coco-panoptic",
        "png",
    ]
    assert release_create(project=project, by=user("manager"), formats=["png"], enqueue=False).formats == [
        "png"
    ]
    with pytest.raises(ValidationFailed, match="locked to coco, coco-panoptic, png; voc refused"):
        release_create(project=project, by=user("manager"), formats=["voc"], enqueue=False)
    with pytest.raises(ValidationFailed, match=r"Unknown formats \['tfrecord'\]"):
        release_create(project=project, by=user("manager"), formats=["tfrecord"], enqueue=False)
    Project.objects.filter(id=project.id).update(delivery_formats=[])
    project.refresh_from_db()
    with pytest.raises(ValidationFailed, match="no delivery formats locked"):
        release_create(project=project, by=user("manager"), enqueue=False)
    assert (
        release_create(project=project, by=user("manager"), formats=["voc", "yolo"], enqueue=False).number
        == 3
    )


def test_nothing_accepted_means_no_release(db: Any) -> None:
    project = project_with_members(images=1)

    with pytest.raises(ValidationFailed, match="no accepted annotation to deliver yet"):
        release_create(project=project, by=user("manager"), formats=["coco"], enqueue=False)
    assert Release.objects.count() == 0


def test_a_format_the_taxonomy_cannot_carry_is_refused_when_asked_for(project: Project, api: Any) -> None:
    Project.objects.filter(id=project.id).update(delivery_formats=[])

    response = api(user("manager")).post(
        "/api/projects/proj/releases/", {"formats": ["coco", "cityscapes"]}, format="json"
    )

    assert response.status_code == 400
    assert "cityscapes: Cityscapes export needs a Cityscapes label id" in response.json()["detail"]
    assert "missing for: road, sky, person, car" in response.json()["detail"]
    assert Release.objects.count() == 0


def test_a_failed_build_is_recorded_and_shows_nothing_to_clients(project: Project, api: Any) -> None:
    release = release_create(project=project, by=user("manager"), enqueue=False)
    revision = Revision.objects.get(id=release.revision_ids[0])
    data = default_storage.open(revision.map_key, "rb").read()
    default_storage.delete(revision.map_key)

    failed = release_build(release_id=release.id)

    assert failed.status == Release.Status.FAILED
    assert failed.error.startswith("FileNotFoundError")
    assert (failed.archive_key, failed.manifest) == ("", {})
    assert not default_storage.exists(f"releases/proj/{release.number}")
    assert api(user("cli")).get("/api/projects/proj/releases/").json() == []
    assert api(user("cli")).get(f"/api/releases/{release.id}/").status_code == 404

    default_storage.save(revision.map_key, io.BytesIO(data))
    release_retry(release=failed, by=user("manager"))
    assert release_build(release_id=release.id).status == Release.Status.READY
    assert [r["number"] for r in api(user("cli")).get("/api/projects/proj/releases/").json()] == [1]


def test_the_qa_report_counts_classes_from_the_maps_and_shows_qa(project: Project) -> None:
    release = build(project)
    archive = archive_of(release)
    report = json.loads(archive.read("proj-release-1/qa_report.json"))
    with default_storage.open(release.report_json_key, "rb") as handle:
        assert json.loads(handle.read()) == report
    delivered = [scene(), scene(shift=3)]
    pixels = {c: sum(int((m == s).sum()) for m in delivered) for s, c in {1: 3, 2: 1, 3: 7, 4: 9}.items()}

    rows = {row["name"]: row for row in report["class_distribution"]}
    assert {name: row["pixels"] for name, row in rows.items()} == {
        "road": pixels[1],
        "sky": pixels[3],
        "person": pixels[7],
        "car": pixels[9],
    }
    assert rows["person"]["pixel_share"] == pytest.approx(pixels[7] / 768)
    assert (rows["person"]["instances"], rows["car"]["instance_share"], rows["sky"]["instances"]) == (
        2,
        0.5,
        None,
    )
    assert report["pixels"] == {"total": 768, "labelled": 768, "void": 0, "coverage": 1.0}
    gold = report["quality"]["gold"]
    assert gold["images"] == 1
    assert gold["class_iou"]["7"] == pytest.approx(20 / 30)
    assert report["quality"]["agreement"] is None
    assert set(report["quality"]) >= {"gold", "agreement", "sampling"}

    html = archive.read("proj-release-1/qa_report.html").decode()
    assert "<script" not in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Against gold: per-class IoU" in html
    assert 'class="threshold"' in html
    assert "threshold 0.75" in html
    assert "Class distribution: share of labelled pixels" in html
    assert html.count("No QA measurements.") == 1  # agreement
    assert "Sampled coverage (stratified QA sampling)" in html
    assert "Metrics engine 1.0.0, boundary band 0.020 of the image diagonal." in html
    assert "Engine_version" not in html


def test_the_html_report_says_so_when_nothing_was_measured(db: Any) -> None:
    project = project_with_members(images=1)
    accept_work(project, 0, scene())

    release = build(project, formats=["png"])

    html = default_storage.open(release.report_html_key, "rb").read().decode()
    assert html.count("No QA measurements.") == 2
    assert "per-class IoU" not in html


def test_exports_ask_for_each_map_only_when_they_need_it(project: Project) -> None:
    revisions = list(
        Revision.objects.filter(id__in=release_create(project=project, by=None, enqueue=False).revision_ids)
    )

    images = list(_export_images(_export_names(revisions), include_images=False))

    assert all(callable(image.index_map) for image in images)
    assert [image.file_name for image in images] == ["img0.png", "img1.png"]


def test_the_command_builds_prints_progress_and_copies_the_release(
    project: Project, tmp_path: Path, capsys: Any
) -> None:
    call_command(
        "export_release", "proj", "--format", "coco", "--format", "png", "--out", str(tmp_path / "out")
    )

    release = Release.objects.get()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Release 1 of proj: coco, png."
    assert any(line.startswith("[") and "exporting coco" in line for line in out)
    assert "100% storing" in out[-3]
    archive = tmp_path / "out" / "proj-release-1.zip"
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == release.archive_sha256
    assert (tmp_path / "out" / "proj-release-1-qa_report.html").is_file()
    assert out[-2] == f"Wrote {archive} ({release.archive_size} bytes, sha256 {release.archive_sha256})."


def test_the_command_writes_coco_polygons_when_asked(project: Project, tmp_path: Path) -> None:
    call_command(
        "export_release", "proj", "--format", "coco", "--polygons", "--out", str(tmp_path), verbosity=0
    )

    release = Release.objects.get()
    assert release.coco_polygons
    with zipfile.ZipFile(tmp_path / "proj-release-1.zip") as archive:
        document = json.loads(archive.read("proj-release-1/coco/annotations/instances_train.json"))
    assert document["annotations"]
    assert all(isinstance(a["segmentation"], list) for a in document["annotations"])


def _revision_named(file_name: str, image_id: int) -> Any:
    image = SimpleNamespace(file_name=file_name, id=image_id, content_type="image/png")
    return SimpleNamespace(task=SimpleNamespace(image=image))


def test_export_stems_are_unique_whatever_the_file_names() -> None:
    revisions = [
        _revision_named("x-7.png", 3),
        _revision_named("x.png", 5),
        _revision_named("x.jpg", 7),  # x, then x-7: both taken
        _revision_named("X.tif", 7),
        _revision_named("sub/x.png", 9),
        _revision_named("..png", 11),
    ]

    named = _export_names(revisions)

    assert [n.stem for n in named] == ["x-7", "x", "x-7-2", "X-7-3", "x-9", "image"]
    assert [n.file_name for n in named][:4] == ["x-7.png", "x.png", "x-7-2.jpg", "X-7-3.tif"]
    assert _export_names(revisions) == named  # deterministic


def test_two_files_with_one_name_fail_the_build_instead_of_retrying(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = release_create(project=project, by=user("manager"), enqueue=False)
    real = release_services._export_names

    def same_stem(revisions: Any, splits: Any = ()) -> Any:
        return [release_services._Named(n.revision, "img0", n.file_name) for n in real(revisions, splits)]

    monkeypatch.setattr(release_services, "_export_names", same_stem)

    failed = release_build(release_id=release.id)  # returns: not raised for the job to retry

    assert failed.status == Release.Status.FAILED
    assert failed.error.startswith("FileExistsError")
    assert failed.archive_key == ""


def test_the_qa_report_shows_agreement_between_annotators_and_the_sampled_coverage(
    db: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # given: img0 has gold; ann1 labels it in the editor, ann2's work on it is imported (an
    # overlap task), both measured
    project = project_with_members(images=1)
    make_gold(project, 0, scene())
    with django_capture_on_commit_callbacks(execute=True):
        submit(project, "img0.png", "ann1", scene())
    with django_capture_on_commit_callbacks(execute=True):
        import_run_execute(
            project=project,
            by=user("manager"),
            fmt="png",
            mode="author",
            source=import_source("png", tmp_path, [("img0.png", scene(shift=2))]),
            author=user("ann2"),
        )

    # when
    release = build(project, formats=["png"])

    # then: the person moved 2 px right between the two annotators: 15 px shared of 35
    report = json.loads(archive_of(release).read("proj-release-1/qa_report.json"))
    agreement = report["quality"]["agreement"]
    assert agreement["images"] == 1
    assert agreement["class_iou"]["7"] == pytest.approx(15 / 35)
    assert agreement["class_iou"]["3"] == pytest.approx(157 / 177)  # sky around the two persons
    assert (agreement["class_iou"]["1"], agreement["class_iou"]["9"]) == (1.0, 1.0)
    gold = report["quality"]["gold"]
    assert gold["images"] == 2
    sampling = report["quality"]["sampling"]
    assert sum(row["submissions"] for row in sampling.values()) == 2
    html = archive_of(release).read("proj-release-1/qa_report.html").decode()
    assert "Agreement between annotators: per-class IoU" in html
    assert "No QA measurements." not in html
    assert "Sampled coverage (stratified QA sampling)" in html
