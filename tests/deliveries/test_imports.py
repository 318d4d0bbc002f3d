"""Importing annotations: every format in every mode, and what each mode means downstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotation.models import Revision
from annotation.selectors import release_revisions, revision_index_map
from deliveries.models import ImportRun
from deliveries.services import import_run_execute
from projects.models import Project, Task
from qa.models import QualityReport, RevisionMeasurement
from qa.services import revision_save
from tests.deliveries.support import (
    SCENE_CATEGORIES,
    coco_document,
    import_source,
    make_gold,
    project_with_members,
    scene,
    scene_segments,
    user,
    write_json,
)
from tests.factories import assign
from tests.helpers import map_png

FORMATS = ("coco", "coco-panoptic", "png")
MODES = ("prelabels", "gold", "author", "accepted")


def category_map(index_map: np.ndarray, segments: list[dict[str, Any]]) -> np.ndarray:
    lut = np.zeros(int(index_map.max()) + 1, np.int64)
    for s in segments:
        if s["id"] < len(lut):
            lut[s["id"]] = s["category_id"]
    return lut[index_map]


SCENE_CLASSES = category_map(scene(), scene_segments())


def run_import(
    project: Project, path: Path, fmt: str, mode: str, *, by: str = "manager", author: str = ""
) -> ImportRun:
    return import_run_execute(
        project=project,
        by=user(by),
        fmt=fmt,
        mode=mode,
        source=path,
        author=user(author) if author else None,
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_each_format_imports_in_each_mode(db: Any, tmp_path: Path, fmt: str, mode: str) -> None:
    project = project_with_members()
    path = import_source(fmt, tmp_path, [("img0.png", scene()), ("img1.png", scene(shift=2))])

    run = run_import(project, path, fmt, mode, author="ann1" if mode == "author" else "")

    assert run.status == ImportRun.Status.DONE
    assert run.problems == []
    assert run.counts["images"] == 2
    assert run.counts["revisions"] == 2
    assert run.counts["segments"] == 8
    assert run.coverage["overall"] == {
        "images": 2,
        "pixels": 2 * 16 * 24,
        "void_pixels": 0,
        "coverage": 1.0,
        "images_with_void": 0,
        "overlap_pixels": 0,
    }
    revisions = list(Revision.objects.filter(id__in=run.revision_ids).select_related("task__image", "author"))
    assert [r.id for r in revisions] == sorted(run.revision_ids)
    for revision, shift in zip(revisions, (0, 2), strict=True):
        expected = category_map(scene(shift), scene_segments())
        assert np.array_equal(
            category_map(revision_index_map(revision=revision), revision.segments), expected
        )
        kind = Task.Kind.GOLD if mode == "gold" else Task.Kind.ANNOTATE
        assert revision.task.kind == kind
        segments = revision.segments
        if mode == "prelabels":
            assert (revision.status, revision.source, revision.task.status) == ("draft", "prelabel", "todo")
            assert {(s["confirmed"], s["source"]) for s in segments} == {(False, "prelabel")}
            assert revision.author.username == "manager"
        elif mode == "gold":
            assert (revision.status, revision.source, revision.author.username) == (
                "accepted",
                "import",
                "manager",
            )
        elif mode == "author":
            assert (revision.status, revision.task.status) == ("submitted", "submitted")
            assert revision.author.username == "ann1"
            assert revision.task.assignee is not None
            assert revision.task.assignee.username == "ann1"
        else:
            assert (revision.status, revision.task.status) == ("accepted", "accepted")
        if mode != "prelabels":
            assert {(s["confirmed"], s["source"]) for s in segments} == {(True, "import")}


def test_prelabels_block_submission_until_each_segment_is_confirmed(
    db: Any, tmp_path: Path, api: Any
) -> None:
    project = project_with_members(images=1)
    run_import(project, import_source("coco", tmp_path, [("img0.png", scene())]), "coco", "prelabels")
    annotator = api(user("ann1"))

    task = annotator.post("/api/projects/proj/tasks/next/").json()
    annotation = annotator.get(f"/api/tasks/{task['id']}/annotation/").json()
    assert annotation["status"] == "draft"
    assert [(s["confirmed"], s["source"]) for s in annotation["segments"]] == [(False, "prelabel")] * 4

    def save(confirmed: bool) -> Any:
        segments = [{**s, "confirmed": confirmed} for s in annotation["segments"]]
        return annotator.post(
            f"/api/tasks/{task['id']}/revisions/",
            {
                "index_map": SimpleUploadedFile("m.png", map_png(scene()), content_type="image/png"),
                "segments": json.dumps(segments),
                "parent": str(annotation["revision"]),
                "submit": "true",
            },
            format="multipart",
        )

    refused = save(confirmed=False)
    assert refused.status_code == 400
    assert [e["code"] for e in refused.json()["errors"]] == ["unconfirmed_prelabel"] * 4
    assert Revision.objects.filter(task_id=task["id"]).count() == 1

    accepted = save(confirmed=True)
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["status"] == "submitted"


def test_imported_gold_is_the_reference_submissions_are_measured_against(
    db: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    project = project_with_members(images=1)
    run = run_import(
        project, import_source("coco-panoptic", tmp_path, [("img0.png", scene())]), "coco-panoptic", "gold"
    )
    gold = Revision.objects.get(id=run.revision_ids[0])
    task = assign(project.tasks.get(kind=Task.Kind.ANNOTATE), user("ann1"))

    with django_capture_on_commit_callbacks(execute=True):
        submitted = revision_save(
            task=task,
            author=user("ann1"),
            png=map_png(scene(shift=1)),
            segments_raw=scene_segments(),
            parent_number=None,
            submit=True,
        )

    report = QualityReport.objects.get(revision=submitted)
    assert (report.kind, report.reference_id) == (QualityReport.Kind.GOLD, gold.id)
    assert report.summary["class_iou"]["1"] == 1.0  # road untouched
    assert report.summary["class_iou"]["3"] == pytest.approx(162 / 172)  # sky: 5 px swapped with the person
    assert report.summary["class_iou"]["7"] == pytest.approx(20 / 30)  # person moved by one column


def test_author_import_is_measured_like_editor_work(
    db: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    project = project_with_members(images=1)
    gold = make_gold(project, 0, scene())
    path = import_source("png", tmp_path, [("img0.png", scene(shift=1))])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = run_import(project, path, "png", "author", author="ann1")

    assert len(callbacks) == 1
    revision = Revision.objects.get(id=run.revision_ids[0])
    assert RevisionMeasurement.objects.get(revision=revision).status == RevisionMeasurement.Status.DONE
    report = QualityReport.objects.get(revision=revision)
    assert (report.kind, report.reference_id) == (QualityReport.Kind.GOLD, gold.id)
    assert report.summary["class_iou"]["7"] == pytest.approx(20 / 30)


def test_author_work_goes_to_their_task_else_a_free_one_else_a_new_overlap_task(
    db: Any, tmp_path: Path
) -> None:
    project = project_with_members(images=2)
    img0_task = assign(project.tasks.get(image__file_name="img0.png"), user("ann1"))
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("img1.png", scene())])

    run = run_import(project, path, "coco", "author", author="ann2")

    assert run.counts["tasks_created"] == 1
    assert run.counts["tasks_assigned"] == 1
    first, second = Revision.objects.filter(id__in=run.revision_ids).select_related("task").order_by("id")
    assert first.task_id != img0_task.id
    assert (first.task.kind, first.task.is_overlap, first.task.assignee_id) == (
        "annotate",
        True,
        user("ann2").id,
    )
    assert second.task == project.tasks.get(image__file_name="img1.png")
    assert second.task.assignee_id == user("ann2").id
    # the annotator's own task is used when there is one
    own = run_import(
        project,
        import_source("coco", tmp_path / "again", [("img0.png", scene())]),
        "coco",
        "author",
        author="ann1",
    )
    assert Revision.objects.get(id=own.revision_ids[0]).task_id == img0_task.id


def test_accepted_import_is_what_a_release_delivers(db: Any, tmp_path: Path) -> None:
    project = project_with_members(images=2)
    run = run_import(
        project,
        import_source(
            "coco-panoptic", tmp_path, [("img0.png", scene()), ("img1.png", scene(2))], zipped=True
        ),
        "coco-panoptic",
        "accepted",
    )

    assert [r.id for r in release_revisions(project=project)] == run.revision_ids


def test_void_and_overlaps_are_reported_not_refused(db: Any, tmp_path: Path) -> None:
    project = project_with_members(images=1)
    document = coco_document([("img0.png", scene())], stuff=False)
    # a second person overlapping the first by 5 pixels (one column of it)
    wider = np.zeros((16, 24), bool)
    wider[2:7, 7:10] = True
    from tests.deliveries.support import rle

    document["annotations"].append(
        {
            "id": 99,
            "image_id": 1,
            "category_id": 7,
            "segmentation": rle(wider),
            "bbox": [7, 2, 3, 5],
            "area": 15,
            "iscrowd": 0,
        }
    )
    path = write_json(tmp_path / "instances.json", document)

    run = run_import(project, path, "coco", "accepted")

    things = int((scene() >= 3).sum()) + 10  # the new person adds two columns of 5 pixels
    assert run.status == ImportRun.Status.DONE
    assert run.coverage["overall"] == {
        "images": 1,
        "pixels": 384,
        "void_pixels": 384 - things,
        "coverage": things / 384,
        "images_with_void": 1,
        "overlap_pixels": 5,
    }
    (row,) = run.coverage["images"]
    assert row["notes"] == ["5 pixels claimed by several annotations: the smaller annotation kept them"]
    revision = Revision.objects.get(id=run.revision_ids[0])
    assert int((revision_index_map(revision=revision) == 0).sum()) == 384 - things


def test_file_names_match_by_base_name_then_by_stem(db: Any, tmp_path: Path) -> None:
    project = project_with_members(images=2)
    path = import_source("coco", tmp_path, [("train2017/img0.png", scene()), ("img1.jpg", scene())])

    run = run_import(project, path, "coco", "accepted")

    assert [row["image"] for row in run.coverage["images"]] == ["img0.png", "img1.png"]
    assert [row["file_name"] for row in run.coverage["images"]] == ["train2017/img0.png", "img1.jpg"]


def test_semantic_projects_get_one_segment_per_category(db: Any, tmp_path: Path) -> None:
    project = project_with_members(images=1, mode=Project.Mode.SEMANTIC)
    two_people = scene()
    two_people[2:5, 18:21] = 5
    document = coco_document([("img0.png", two_people)], segments={**SCENE_CATEGORIES, 5: 7})

    run = run_import(project, write_json(tmp_path / "x.json", document), "coco", "accepted")

    revision = Revision.objects.get(id=run.revision_ids[0])
    assert sorted(s["category_id"] for s in revision.segments) == [1, 3, 7, 9]
    assert run.coverage["images"][0]["notes"] == [
        "1 segments merged: semantic annotation has one segment per category"
    ]
    person = next(s["id"] for s in revision.segments if s["category_id"] == 7)
    assert int((revision_index_map(revision=revision) == person).sum()) == 25 + 9


def test_import_api_answers_201_with_the_report(db: Any, tmp_path: Path, api: Any) -> None:
    project = project_with_members(images=1)
    path = import_source("coco", tmp_path, [("img0.png", scene())], zipped=True)

    response = api(user("manager")).post(
        "/api/projects/proj/imports/",
        {"file": SimpleUploadedFile("coco.zip", path.read_bytes()), "format": "coco", "mode": "accepted"},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    run = ImportRun.objects.get()
    body = response.json()
    assert body == {
        "id": run.id,
        "project": "proj",
        "created_by": "manager",
        "format": "coco",
        "mode": "accepted",
        "author": None,
        "supersede_open_work": False,
        "source_name": "coco.zip",
        "status": "done",
        "counts": {"images": 1, "segments": 4, "revisions": 1, "tasks_created": 0, "tasks_assigned": 0},
        "coverage": {
            "overall": {
                "images": 1,
                "pixels": 384,
                "void_pixels": 0,
                "coverage": 1.0,
                "images_with_void": 0,
                "overlap_pixels": 0,
            },
            "images": [
                {
                    "file_name": "img0.png",
                    "image": "img0.png",
                    "image_id": project.images.get().id,
                    "pixels": 384,
                    "void_pixels": 0,
                    "coverage": 1.0,
                    "overlap_pixels": 0,
                    "notes": [],
                }
            ],
        },
        "problems": [],
        "notes": [],
        "revision_ids": run.revision_ids,
        "created_at": body["created_at"],
        "finished_at": body["finished_at"],
    }
    assert body["finished_at"] is not None


def test_import_list_shows_every_run_in_a_fixed_number_of_queries(
    db: Any, tmp_path: Path, api: Any, django_assert_max_num_queries: Any
) -> None:
    project = project_with_members(images=2)
    for k in range(3):
        run_import(
            project, import_source("coco", tmp_path / str(k), [("img0.png", scene())]), "coco", "accepted"
        )

    client = api(user("lead"))

    with django_assert_max_num_queries(3):
        response = client.get("/api/projects/proj/imports/")

    assert response.status_code == 200
    assert [(r["status"], r["created_by"], r["counts"]["images"]) for r in response.json()] == [
        ("done", "manager", 1)
    ] * 3


def test_command_imports_and_prints_the_coverage(db: Any, tmp_path: Path, capsys: Any) -> None:
    project = project_with_members(images=1)
    path = write_json(tmp_path / "instances.json", coco_document([("img0.png", scene())], stuff=False))

    call_command("import_annotations", "proj", "--format", "coco", str(path), "--prelabels")

    out = capsys.readouterr().out
    things = int((scene() >= 3).sum())
    assert (
        f"Imported 1 images (2 segments) into proj as prelabels: import run {ImportRun.objects.get().id}."
        in out
    )
    assert f"Coverage: {things / 384:.2%} of pixels labelled; 1 of 1 images have void pixels" in out
    assert ImportRun.objects.get().created_by == user("manager")  # the project's first manager
    assert project.tasks.get().revisions.get().status == "draft"


def test_command_gold_import_by_the_qa_lead(db: Any, tmp_path: Path) -> None:
    project = project_with_members(images=1)
    path = import_source("png", tmp_path, [("img0.png", scene())])

    call_command(
        "import_annotations", "proj", "--format", "png", str(path), "--gold", "--by", "lead", stdout=None
    )

    gold = Revision.objects.get(task__kind=Task.Kind.GOLD, task__project=project)
    assert (gold.author.username, gold.status) == ("lead", "accepted")


@pytest.mark.parametrize(("fmt", "zipped"), [("coco", False), ("coco-panoptic", True), ("png", True)])
@pytest.mark.parametrize("mode", MODES)
def test_each_format_and_mode_imports_through_the_api(
    db: Any, tmp_path: Path, api: Any, fmt: str, zipped: bool, mode: str
) -> None:
    project_with_members(images=2)
    path = import_source(fmt, tmp_path, [("img0.png", scene()), ("img1.png", scene(shift=2))], zipped=zipped)
    payload: dict[str, Any] = {
        "file": SimpleUploadedFile(path.name, path.read_bytes()),
        "format": fmt,
        "mode": mode,
    }
    if mode == "author":
        payload["author"] = "ann1"

    response = api(user("manager")).post("/api/projects/proj/imports/", payload, format="multipart")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["format"], body["mode"], body["source_name"]) == (
        "done",
        fmt,
        mode,
        path.name,
    )
    assert body["counts"]["revisions"] == 2
    revisions = Revision.objects.filter(id__in=ImportRun.objects.get().revision_ids).order_by("id")
    for revision, shift in zip(revisions, (0, 2), strict=True):
        assert np.array_equal(
            category_map(revision_index_map(revision=revision), revision.segments),
            category_map(scene(shift), scene_segments()),
        )
    expected_status = {
        "prelabels": "draft",
        "gold": "accepted",
        "author": "submitted",
        "accepted": "accepted",
    }
    assert {r.status for r in revisions} == {expected_status[mode]}
