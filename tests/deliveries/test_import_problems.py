"""Malformed imports: each problem is named (file, item, message), every problem of a run is
listed, and nothing is written but the failed run."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from annotation.models import Revision
from deliveries.models import ImportRun
from deliveries.services import ImportRefused, import_run_execute
from projects.models import Project, Task
from tests.deliveries.support import (
    coco_document,
    import_source,
    panoptic_files,
    project_with_members,
    scene,
    user,
    write_json,
    zip_folder,
)
from tests.factories import assign


@pytest.fixture
def project(db: Any) -> Project:
    return project_with_members(images=2)


@pytest.fixture
def nothing_written(project: Project) -> Iterator[None]:
    """The test's import must leave only a failed run behind."""
    before = (
        Revision.objects.count(),
        Task.objects.count(),
        list(Task.objects.values_list("status", "assignee_id")),
    )
    yield
    after = (
        Revision.objects.count(),
        Task.objects.count(),
        list(Task.objects.values_list("status", "assignee_id")),
    )
    assert after == before
    assert list(ImportRun.objects.values_list("status", flat=True)) == ["failed"]


def refused(project: Project, path: Path, fmt: str = "coco", mode: str = "accepted") -> list[dict[str, str]]:
    with pytest.raises(ImportRefused) as caught:
        import_run_execute(project=project, by=user("manager"), fmt=fmt, mode=mode, source=path)
    run = ImportRun.objects.get()
    assert run.problems == caught.value.extra["errors"]
    assert caught.value.extra["import_run"] == run.id
    return run.problems


def coco_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    document = coco_document([("img0.png", scene()), ("img1.png", scene())])
    change(document)
    return write_json(tmp_path / "instances_train.json", document)


def test_rle_counts_that_do_not_sum_to_the_image_size(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    def short_counts(document: dict[str, Any]) -> None:
        document["annotations"][2]["segmentation"] = {"size": [16, 24], "counts": [0, 10, 300]}

    assert refused(project, coco_with(tmp_path, short_counts)) == [
        {
            "code": "format",
            "file": "instances_train.json",
            "item": "annotation 3",
            "message": "RLE counts sum to 310, not height*width = 384",
        }
    ]


def test_polygons_with_fewer_than_three_points(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    def two_points(document: dict[str, Any]) -> None:
        document["annotations"][2]["segmentation"] = [[1, 1, 5, 5]]

    assert refused(project, coco_with(tmp_path, two_points)) == [
        {
            "code": "format",
            "file": "instances_train.json",
            "item": "annotation 3",
            "message": "polygon 0 has 2 points; at least 3 are needed",
        }
    ]


def test_annotation_ids_without_a_category(project: Project, tmp_path: Path, nothing_written: None) -> None:
    def unknown(document: dict[str, Any]) -> None:
        document["annotations"][0]["category_id"] = 42

    assert refused(project, coco_with(tmp_path, unknown)) == [
        {
            "code": "format",
            "file": "instances_train.json",
            "item": "annotation 1",
            "message": "category_id 42 is not in 'categories'",
        }
    ]


def test_categories_outside_the_projects_taxonomy(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    def bus(document: dict[str, Any]) -> None:
        document["categories"].append({"id": 42, "name": "bus", "isthing": 1})
        document["annotations"][3]["category_id"] = 42

    assert refused(project, coco_with(tmp_path, bus)) == [
        {
            "code": "unknown_category",
            "file": "instances_train.json",
            "item": "image 'img0.png'",
            "message": "1 segment uses category 42 ('bus'), which is not in the project's taxonomy",
        }
    ]


def test_a_category_id_naming_another_class(project: Project, tmp_path: Path, nothing_written: None) -> None:
    def renamed(document: dict[str, Any]) -> None:
        document["categories"][2]["name"] = "pedestrian"

    assert refused(project, coco_with(tmp_path, renamed)) == [
        {
            "code": "category_name_mismatch",
            "file": "instances_train.json",
            "item": "category 7",
            "message": "is 'pedestrian' in the file but 'person' in the project's taxonomy; "
            "an id must mean the same class in both",
        }
    ]


def test_images_that_match_no_project_image(project: Project, tmp_path: Path, nothing_written: None) -> None:
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("elsewhere/street.png", scene())])

    assert refused(project, path) == [
        {
            "code": "no_matching_image",
            "file": "instances_train.json",
            "item": "image 'elsewhere/street.png'",
            "message": "matches no image of the project (by name, base name or stem)",
        }
    ]


def test_images_whose_size_differs(project: Project, tmp_path: Path, nothing_written: None) -> None:
    path = import_source("coco-panoptic", tmp_path, [("img0.png", scene()), ("img1.png", scene()[:, :20])])

    assert refused(project, path, fmt="coco-panoptic") == [
        {
            "code": "size_mismatch",
            "file": "panoptic_train.json",
            "item": "image 'img1.png'",
            "message": "the annotation is 20x16 but project image 'img1.png' is 24x16",
        }
    ]


def test_zip_entries_escaping_the_target_folder(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "annotations/instances_train.json", json.dumps(coco_document([("img0.png", scene())]))
        )
        archive.writestr("../../outside.txt", "x")

    assert refused(project, path) == [
        {
            "code": "archive",
            "file": "evil.zip",
            "item": "../../outside.txt",
            "message": "'..' in member path escapes the target folder",
        }
    ]
    assert not (tmp_path.parent / "outside.txt").exists()


def test_panoptic_png_ids_without_segment_info(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    json_path = panoptic_files(tmp_path / "data", [("img0.png", scene())])
    document = json.loads(json_path.read_text())
    document["annotations"][0]["segments_info"].pop()  # the car (id 4) stays in the PNG
    json_path.write_text(json.dumps(document))

    (problem,) = refused(project, zip_folder(tmp_path / "data", tmp_path / "p.zip"), fmt="coco-panoptic")
    assert problem == {
        "code": "format",
        "file": "annotations/panoptic_train/img0.png",
        "item": "annotation for image 1 (img0.png)",
        "message": "PNG ids without a segments_info entry: [4]",
    }


def _secret_png(tmp_path: Path) -> Path:
    """A PNG outside the import, holding ids that no segments_info lists."""
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12, 0], rgb[:, 12:, 0] = 77, 78
    PILImage.fromarray(rgb).save(secret)
    return secret


# (zip archives cannot carry symbolic links: safe_extract_zip refuses them)
@pytest.mark.parametrize(
    ("how", "zipped"),
    [("absolute", False), ("absolute", True), ("dotdot", False), ("dotdot", True), ("symlink", False)],
)
def test_panoptic_png_names_outside_the_import_are_refused_unread(
    project: Project, tmp_path: Path, nothing_written: None, how: str, zipped: bool
) -> None:
    secret = _secret_png(tmp_path)
    json_path = panoptic_files(tmp_path / "data", [("img0.png", scene()), ("img1.png", scene())])
    document = json.loads(json_path.read_text())
    png = json_path.with_suffix("") / "img0.png"
    name = {"absolute": str(secret), "dotdot": "../../../outside/secret.png", "symlink": "img0.png"}[how]
    if how == "symlink":
        png.unlink()
        png.symlink_to(secret)
    document["annotations"][0]["file_name"] = name
    json_path.write_text(json.dumps(document))
    source = zip_folder(tmp_path / "data", tmp_path / "p.zip") if zipped else tmp_path / "data"

    problems = refused(project, source, fmt="coco-panoptic")

    reason = {
        "absolute": "is an absolute path; it must be relative to its folder",
        "dotdot": "contains '..'; it must stay inside its folder",
        "symlink": "leads outside its folder (symbolic link)",
    }[how]
    assert problems == [
        {
            "code": "format",
            "file": "annotations/panoptic_train.json",
            "item": "annotation for image 1",
            "message": f"PNG file_name {name!r} {reason}",
        }
    ]


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside/secret.png", "semantic\\train\\img0.png"])
def test_png_layout_paths_outside_the_folder_are_refused_unread(
    project: Project, tmp_path: Path, nothing_written: None, name: str
) -> None:
    _secret_png(tmp_path)
    data = tmp_path / "data"
    import_source("png", tmp_path, [("img0.png", scene()), ("img1.png", scene())])
    index = data / "index.jsonl"
    lines = index.read_text().splitlines()
    record = json.loads(lines[0])
    record["semantic"] = name
    lines[0] = json.dumps(record)
    index.write_text("\n".join(lines) + "\n")

    (problem,) = refused(project, data, fmt="png")

    assert (problem["file"], problem["item"]) == ("index.jsonl", "line 1 (img0)")
    assert problem["message"].startswith(f"PNG path {name!r} ")


def test_png_layout_with_an_instance_on_a_stuff_class(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    data = tmp_path / "data"
    import_source("png", tmp_path, [("img0.png", scene()), ("img1.png", scene())])
    instances = data / "instances" / "train" / "img1.png"
    array = np.asarray(PILImage.open(instances)).copy()
    array[0, 0] = 1  # an instance pixel on the sky
    PILImage.fromarray(array).save(instances)

    (problem,) = refused(project, data, fmt="png")
    assert problem["file"] == "instances/train/img1.png"
    assert problem["item"] == "line 2 (img1)"
    assert problem["message"] == "instance 1 lies on stuff class 'sky'"


def test_prelabels_refused_on_work_already_started(project: Project, tmp_path: Path) -> None:
    task = assign(project.tasks.get(image__file_name="img1.png"), user("ann1"))
    from qa.services import revision_save
    from tests.deliveries.support import scene_segments
    from tests.helpers import map_png

    revision_save(
        task=task,
        author=user("ann1"),
        png=map_png(scene()),
        segments_raw=scene_segments(),
        parent_number=None,
        submit=False,
    )
    before = Revision.objects.count()
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("img1.png", scene())])

    assert refused(project, path, mode="prelabels") == [
        {
            "code": "task_unavailable",
            "file": "instances_train.json",
            "item": "image 'img1.png'",
            "message": f"its annotation task {task.id} already has work (revision 1 by ann1); pre-labels are for work not started",
        }
    ]
    assert Revision.objects.count() == before


def _work_in_progress(project: Project) -> Revision:
    """ann1 has opened img1's task and saved a draft on it."""
    from qa.services import revision_save
    from tests.deliveries.support import scene_segments
    from tests.helpers import map_png

    task = assign(project.tasks.get(image__file_name="img1.png"), user("ann1"))
    return revision_save(
        task=task,
        author=user("ann1"),
        png=map_png(scene(shift=1)),
        segments_raw=scene_segments(),
        parent_number=None,
        submit=False,
    )


def test_accepted_import_refuses_tasks_in_progress_and_writes_nothing(
    project: Project, tmp_path: Path
) -> None:
    draft = _work_in_progress(project)
    before = (
        list(Revision.objects.order_by("id").values_list("id", "status")),
        list(Task.objects.order_by("id").values_list("id", "status", "assignee_id")),
    )
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("img1.png", scene())])

    assert refused(project, path, mode="accepted") == [
        {
            "code": "task_unavailable",
            "file": "instances_train.json",
            "item": "image 'img1.png'",
            "message": f"its annotation task {draft.task_id} is in_progress (ann1's open work); importing "
            "accepted work would supersede it: let it be submitted, or import with supersede_open_work "
            "(--supersede-open-work)",
        }
    ]
    after = (
        list(Revision.objects.order_by("id").values_list("id", "status")),
        list(Task.objects.order_by("id").values_list("id", "status", "assignee_id")),
    )
    assert after == before  # img0 was sound, but a run is all or nothing


def test_accepted_import_supersedes_open_work_only_when_told_and_keeps_the_drafts(
    project: Project, tmp_path: Path, capsys: Any
) -> None:
    draft = _work_in_progress(project)
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("img1.png", scene())])

    call_command(
        "import_annotations", "proj", "--format", "coco", str(path), "--accepted", "--supersede-open-work"
    )

    run = ImportRun.objects.get()
    assert (run.status, run.supersede_open_work) == ("done", True)
    assert run.notes == [f"1 tasks in progress were superseded (their drafts are kept): {draft.task_id}"]
    task = Task.objects.get(id=draft.task_id)
    assert task.status == Task.Status.ACCEPTED
    assert list(task.revisions.order_by("number").values_list("id", "status")) == [
        (draft.id, "draft"),
        (run.revision_ids[1], "accepted"),
    ]
    assert "Note: 1 tasks in progress were superseded" in capsys.readouterr().out


def test_supersede_open_work_is_only_for_accepted_imports(project: Project, tmp_path: Path, api: Any) -> None:
    path = import_source("coco", tmp_path, [("img0.png", scene())])

    response = api(user("manager")).post(
        "/api/projects/proj/imports/",
        {
            "file": SimpleUploadedFile("x.json", path.read_bytes()),
            "format": "coco",
            "mode": "gold",
            "supersede_open_work": "true",
        },
        format="multipart",
    )
    with pytest.raises(CommandError, match="--supersede-open-work is only used with --accepted"):
        call_command(
            "import_annotations", "proj", "--format", "coco", str(path), "--gold", "--supersede-open-work"
        )

    assert (response.status_code, response.json()["detail"]) == (
        400,
        "supersede_open_work is only used with mode 'accepted'.",
    )
    assert ImportRun.objects.count() == 0
    assert Revision.objects.count() == 0


def test_every_problem_of_a_run_is_listed_and_nothing_is_written(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    def many(document: dict[str, Any]) -> None:
        document["annotations"][0]["segmentation"] = {"size": [16, 24], "counts": [5]}
        document["annotations"][5]["segmentation"] = [[0, 0, 3, 3]]
        document["annotations"][6]["category_id"] = 77
        document["images"].append({"id": 9, "file_name": "ghost.png", "width": 24, "height": 16})

    assert [(p["file"], p["item"], p["message"]) for p in refused(project, coco_with(tmp_path, many))] == [
        ("instances_train.json", "annotation 1", "RLE counts sum to 5, not height*width = 384"),
        ("instances_train.json", "annotation 6", "polygon 0 has 2 points; at least 3 are needed"),
        ("instances_train.json", "annotation 7", "category_id 77 is not in 'categories'"),
        (
            "instances_train.json",
            "image 'ghost.png'",
            "matches no image of the project (by name, base name or stem)",
        ),
    ]


def test_the_command_exits_non_zero_listing_the_problems(
    project: Project, tmp_path: Path, nothing_written: None
) -> None:
    def two(document: dict[str, Any]) -> None:
        document["annotations"][1]["segmentation"] = {"size": [16, 24], "counts": [1]}
        document["categories"][3]["name"] = "truck"

    path = coco_with(tmp_path, two)

    with pytest.raises(CommandError) as caught:
        call_command("import_annotations", "proj", "--format", "coco", str(path), "--accepted")

    assert str(caught.value).split("\n") == [
        f"{path}: import refused, 2 problems; nothing was written.",
        "instances_train.json: annotation 2: RLE counts sum to 1, not height*width = 384",
        "instances_train.json: category 9: is 'truck' in the file but 'car' in the project's taxonomy; "
        "an id must mean the same class in both",
    ]


def test_web_imports_are_capped_below_the_command_line_limit(
    project: Project, tmp_path: Path, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deliveries.services import imports

    monkeypatch.setattr(imports, "WEB_IMPORT_MAX_BYTES", 1000)
    path = import_source("coco", tmp_path, [("img0.png", scene())], zipped=True)
    before = (Revision.objects.count(), Task.objects.count())

    response = api(user("manager")).post(
        "/api/projects/proj/imports/",
        {"file": SimpleUploadedFile("coco.zip", path.read_bytes()), "format": "coco", "mode": "gold"},
        format="multipart",
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == "archive"
    assert error["message"].startswith("uncompressed size exceeds the limit of 1000 bytes")
    assert error["message"].endswith("larger imports run on the server: manage.py import_annotations")
    assert (Revision.objects.count(), Task.objects.count()) == before
    assert list(ImportRun.objects.values_list("status", flat=True)) == ["failed"]
    # the same file through the command line's service: no cap hit (revisions are append-only,
    # so this runs last rather than being cleaned up after)
    run = import_run_execute(project=project, by=user("manager"), fmt="coco", mode="gold", source=path)
    assert run.status == "done"


def test_the_api_answers_400_listing_the_problems(
    project: Project, tmp_path: Path, api: Any, nothing_written: None
) -> None:
    path = import_source("coco", tmp_path, [("img0.png", scene()), ("nope.png", scene())], zipped=True)

    response = api(user("manager")).post(
        "/api/projects/proj/imports/",
        {"file": SimpleUploadedFile("coco.zip", path.read_bytes()), "format": "coco", "mode": "gold"},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "coco.zip: import refused, 1 problem; nothing was written.",
        "code": "import_refused",
        "import_run": ImportRun.objects.get().id,
        "errors": [
            {
                "code": "no_matching_image",
                "file": "annotations/instances_train.json",
                "item": "image 'nope.png'",
                "message": "matches no image of the project (by name, base name or stem)",
            }
        ],
    }


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"mode": "author"}, 400, "mode 'author' needs the username of the annotator whose work this is."),
        ({"mode": "author", "author": "rev"}, 400, "rev is not an annotator of project proj."),
        ({"mode": "gold", "author": "ann1"}, 400, "author is only used with mode 'author'."),
        ({"mode": "author", "author": "nobody"}, 400, "No user 'nobody'."),
    ],
)
def test_requests_that_cannot_start_write_nothing(
    project: Project, tmp_path: Path, api: Any, fields: dict[str, str], status: int, message: str
) -> None:
    path = import_source("coco", tmp_path, [("img0.png", scene())])

    response = api(user("manager")).post(
        "/api/projects/proj/imports/",
        {"file": SimpleUploadedFile("x.json", path.read_bytes()), "format": "coco", **fields},
        format="multipart",
    )

    assert (response.status_code, response.json()["detail"]) == (status, message)
    assert ImportRun.objects.count() == 0
    assert Revision.objects.count() == 0
