"""Image uploads: accepted formats, and bad files refused with nothing written."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from projects.models import Image, Task
from tests.factories import make_project
from tests.helpers import png_bytes


@pytest.fixture
def manager_client(db: Any, api: Any) -> Any:
    make_project(slug="p", members={"boss": ["manager"]}, images=0)
    return api(get_user_model().objects.get(username="boss"))


def encoded(format_name: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(np.random.default_rng(1).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(
        buffer, format=format_name
    )
    return buffer.getvalue()


def upload(client: Any, *files: tuple[str, bytes], batch: str = "") -> Any:
    payload: dict[str, Any] = {"file": [SimpleUploadedFile(name, data) for name, data in files]}
    if batch:
        payload["batch"] = batch
    return client.post("/api/projects/p/images/", payload, format="multipart")


def nothing_written() -> bool:
    try:
        stored = default_storage.listdir("images")[0]
    except FileNotFoundError:
        stored = []
    return Image.objects.count() == 0 and Task.objects.count() == 0 and not stored


@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.tif", "TIFF")])
def test_png_jpeg_and_tiff_are_accepted_with_one_task_each(manager_client: Any, name: str, fmt: str) -> None:
    response = upload(manager_client, (name, encoded(fmt)), batch="first")

    assert response.status_code == 201
    assert [(i["file_name"], i["width"], i["height"]) for i in response.json()] == [(name, 40, 30)]
    image = Image.objects.get()
    assert image.batch.name == "first"
    assert image.tasks.get().kind == Task.Kind.ANNOTATE


def test_non_image_is_400_naming_the_file(manager_client: Any) -> None:
    response = upload(manager_client, ("notes.png", b"this is text, not pixels"))

    assert response.status_code == 400
    assert response.json()["detail"] == "notes.png: not an image (PNG, JPEG or TIFF expected)."
    assert nothing_written()


def test_truncated_image_is_400(manager_client: Any) -> None:
    data = encoded("PNG", (200, 200))

    response = upload(manager_client, ("cut.png", data[: len(data) // 2]))

    assert response.status_code == 400
    assert response.json()["detail"].startswith("cut.png: the image is truncated or corrupt")
    assert nothing_written()


def test_other_formats_are_400(manager_client: Any) -> None:
    response = upload(manager_client, ("anim.gif", encoded("GIF")))

    assert response.status_code == 400
    assert response.json()["detail"] == "anim.gif: GIF images are not accepted (PNG, JPEG or TIFF)."
    assert nothing_written()


def test_decompression_bomb_is_400(manager_client: Any, settings: Any, monkeypatch: Any) -> None:
    # A 2000x2000 PNG of zeros is a few KB; with the limit at 1 MP it is refused as a bomb.
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1_000_000)
    bomb = png_bytes(np.zeros((2000, 2000), np.uint8), optimize=True)
    assert len(bomb) < 20_000

    response = upload(manager_client, ("bomb.png", bomb))

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "bomb.png: the image is too large to decode safely (limit 1000000 pixels)."
    )
    assert nothing_written()


def test_one_bad_file_refuses_the_whole_upload(manager_client: Any) -> None:
    response = upload(manager_client, ("good.png", encoded("PNG")), ("bad.png", b"nope"))

    assert response.status_code == 400
    assert nothing_written()


def test_duplicate_file_name_is_409_and_keeps_the_first(manager_client: Any) -> None:
    assert upload(manager_client, ("a.png", encoded("PNG"))).status_code == 201

    response = upload(manager_client, ("a.png", encoded("PNG", (10, 10))))

    assert response.status_code == 409
    assert response.json()["detail"] == "The project already has images named ['a.png']."
    assert Image.objects.get().width == 40


def test_image_limit_is_set_explicitly_from_settings(settings: Any) -> None:
    assert settings.TESSERA_MAX_IMAGE_PIXELS == PILImage.MAX_IMAGE_PIXELS


def test_image_file_is_served_with_etag_and_304(db: Any, api: Any) -> None:
    project = make_project(slug="q", members={"lead": ["qa_lead"]}, images=1)
    image = project.images.get()
    client = api(get_user_model().objects.get(username="lead"))

    first = client.get(f"/api/images/{image.id}/file/")
    again = client.get(f"/api/images/{image.id}/file/", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert first["ETag"] == f'"{image.sha256}"'
    assert first["Content-Type"] == "image/png"
    assert again.status_code == 304
