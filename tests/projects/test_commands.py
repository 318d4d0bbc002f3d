"""The management-command contract: create_project, add_member, import_images, seed_demo."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from core.roles import Role
from projects.models import Image, Membership, Project, Task
from projects.services import task_next_for_user
from tests.factories import TAXONOMY
from tests.helpers import png_bytes


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def taxonomy_file(tmp_path: Path) -> Path:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps(TAXONOMY))
    return path


def test_create_project_from_a_coco_panoptic_categories_list(db: Any, taxonomy_file: Path) -> None:
    output = run(
        "create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file), "--name", "Roads"
    )

    project = Project.objects.get(slug="roads")
    assert output.strip() == "Created project roads (panoptic) with 4 categories."
    assert (project.name, project.mode) == ("Roads", "panoptic")
    categories = project.taxonomy_versions.get().categories.order_by("category_id")
    assert [(c.category_id, c.name, c.isthing, c.color) for c in categories] == [
        (1, "road", False, "#804080"),
        (3, "sky", False, "#4682b4"),
        (7, "person", True, "#dc143c"),
        (9, "car", True, "#00008e"),
    ]


def test_create_project_names_the_file_and_problem_on_bad_taxonomy(db: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": 1, "name": "a"}]))

    with pytest.raises(CommandError) as caught:
        run("create_project", "x", "--mode", "semantic", "--taxonomy", str(bad))

    assert str(caught.value) == f"{bad}: category #1 is missing isthing."
    assert not Project.objects.exists()


def test_create_project_reports_invalid_json_with_its_line(db: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('[\n{"id": 1,\n}')

    with pytest.raises(CommandError) as caught:
        run("create_project", "x", "--mode", "semantic", "--taxonomy", str(bad))

    assert str(caught.value).startswith(f"{bad}: line 3: invalid JSON")


def test_create_project_refuses_an_existing_slug(db: Any, taxonomy_file: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))

    with pytest.raises(CommandError, match=r"A project with slug 'roads' already exists\."):
        run("create_project", "roads", "--mode", "semantic", "--taxonomy", str(taxonomy_file))


def test_add_member_creates_the_user_when_asked(db: Any, taxonomy_file: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))

    output = run(
        "add_member", "roads", "alice", "--role", "annotator", "--create", "--password", "s3cret-pass"
    )

    assert output.strip() == "alice is annotator in roads."
    alice = get_user_model().objects.get(username="alice")
    assert alice.check_password("s3cret-pass")
    assert Membership.objects.filter(user=alice, project__slug="roads", role=Role.ANNOTATOR).exists()


def test_add_member_without_create_refuses_unknown_users(db: Any, taxonomy_file: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))

    with pytest.raises(CommandError, match=r"No user 'ghost'\."):
        run("add_member", "roads", "ghost", "--role", "annotator")


def test_import_images_from_a_folder(db: Any, taxonomy_file: Path, tmp_path: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(png_bytes(np.zeros((8, 12, 3), np.uint8)))
    (folder / "readme.txt").write_text("ignored")

    output = run("import_images", "roads", str(folder), "--batch", "week1")

    assert output.strip() == "Imported 2 images into roads."
    assert sorted(Image.objects.values_list("file_name", flat=True)) == ["a.png", "b.png"]
    assert Task.objects.filter(project__slug="roads").count() == 2


def test_import_images_from_a_zip(db: Any, taxonomy_file: Path, tmp_path: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("nested/c.png", png_bytes(np.zeros((8, 12, 3), np.uint8)))

    run("import_images", "roads", str(archive))

    assert list(Image.objects.values_list("file_name", flat=True)) == ["c.png"]


def test_import_images_refuses_zip_entries_escaping_the_archive(
    db: Any, taxonomy_file: Path, tmp_path: Path
) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.png", png_bytes(np.zeros((8, 12, 3), np.uint8)))
        zf.writestr("../../escape.png", png_bytes(np.zeros((8, 12, 3), np.uint8)))

    with pytest.raises(CommandError, match="points outside the archive"):
        run("import_images", "roads", str(archive))
    assert not Image.objects.exists()


def test_import_images_is_all_or_nothing(db: Any, taxonomy_file: Path, tmp_path: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes(np.zeros((8, 12, 3), np.uint8)))
    (folder / "b.png").write_bytes(b"broken")

    with pytest.raises(CommandError, match=r"b.png: not an image"):
        run("import_images", "roads", str(folder))
    assert not Image.objects.exists()


def test_import_images_refuses_a_file_above_the_size_limit_naming_it(
    db: Any, taxonomy_file: Path, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    folder = tmp_path / "images"
    folder.mkdir()
    small = png_bytes(np.zeros((8, 12, 3), np.uint8))
    (folder / "a.png").write_bytes(small)
    (folder / "huge.png").write_bytes(small + b"\0" * 4096)  # a PNG may carry trailing bytes
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = len(small) + 100
    read = Path.read_bytes
    reads: list[str] = []

    def counted_read(self: Path) -> bytes:
        reads.append(self.name)
        return read(self)

    monkeypatch.setattr(Path, "read_bytes", counted_read)

    with pytest.raises(CommandError, match=r"^huge.png: the file is 0.0 MB; images may be at most 0.0 MB.$"):
        run("import_images", "roads", str(folder))
    assert reads == []  # refused from its size on disk, before any file was read
    assert not Image.objects.exists()
    assert not Task.objects.exists()


def test_import_images_refuses_a_zip_entry_above_the_size_limit_naming_it(
    db: Any, taxonomy_file: Path, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    small = png_bytes(np.zeros((8, 12, 3), np.uint8))
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", small)
        # compresses to almost nothing; its header's uncompressed size is what counts
        zf.writestr("deep/huge.png", small + b"\0" * 2_000_000)
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = 1024 * 1024
    read = zipfile.ZipFile.read
    reads: list[str] = []

    def counted_zip_read(self: zipfile.ZipFile, name: Any, *args: Any) -> bytes:
        reads.append(str(name))
        return read(self, name, *args)

    monkeypatch.setattr(zipfile.ZipFile, "read", counted_zip_read)

    with pytest.raises(CommandError, match=r"^huge.png: the file is 1.9 MB; images may be at most 1.0 MB.$"):
        run("import_images", "roads", str(archive))
    assert reads == []  # refused from the entry's header, before any entry was decompressed
    assert not Image.objects.exists()
    assert not Task.objects.exists()


def test_import_images_stores_a_rotated_jpeg_upright(db: Any, taxonomy_file: Path, tmp_path: Path) -> None:
    run("create_project", "roads", "--mode", "panoptic", "--taxonomy", str(taxonomy_file))
    folder = tmp_path / "images"
    folder.mkdir()
    exif = PILImage.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((30, 40, 3), np.uint8)).save(buffer, format="JPEG", exif=exif.tobytes())
    (folder / "phone.jpg").write_bytes(buffer.getvalue())

    run("import_images", "roads", str(folder))

    assert list(Image.objects.values_list("file_name", "width", "height")) == [("phone.jpg", 30, 40)]


def test_seed_demo_prints_logins_and_is_ready_for_work(db: Any) -> None:
    output = run("seed_demo", "--password", "demo-pass-1")

    assert "Demo logins (password for all: demo-pass-1)" in output
    for username in ("manager", "annotator1", "annotator2", "annotator3", "reviewer", "qalead", "client"):
        assert username in output
        assert get_user_model().objects.get(username=username).check_password("demo-pass-1")
    project = Project.objects.get(slug="demo")
    assert project.mode == Project.Mode.PANOPTIC
    assert project.taxonomy_versions.get().categories.count() == 19
    assert project.taxonomy_versions.get().conflict_rules.count() >= 3
    assert project.images.count() >= 5
    assert project.tasks.filter(kind=Task.Kind.GOLD, status=Task.Status.ACCEPTED).count() == 2
    annotator = get_user_model().objects.get(username="annotator1")
    assert task_next_for_user(project=project, user=annotator) is not None
    # the client has a first release to look at: the gold images, in the locked formats
    from deliveries.models import Release

    release = Release.objects.get(project=project)
    assert (release.number, release.status) == (1, Release.Status.READY)
    assert release.formats == ["coco-panoptic", "cityscapes"]
    assert len(release.revision_ids) == 2


def test_seed_demo_twice_keeps_one_project(db: Any) -> None:
    run("seed_demo", "--password", "demo-pass-1")

    output = run("seed_demo", "--password", "demo-pass-2")

    assert "exists" in output
    assert Project.objects.filter(slug="demo").count() == 1
    assert Project.objects.get(slug="demo").releases.count() == 1
    assert get_user_model().objects.get(username="qalead").check_password("demo-pass-2")
