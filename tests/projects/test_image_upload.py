"""Image uploads: accepted formats, and bad files refused with nothing written."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from core.exceptions import ValidationFailed
from projects.models import Image, Task
from projects.services import ImageSource, images_add
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


# --- orientation and size ----------------------------------------------------------------------


def quadrants(width: int = 40, height: int = 30) -> np.ndarray:
    """Four flat colour blocks, so a rotation is visible and survives JPEG's loss."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2, : width // 2] = (250, 10, 10)
    pixels[: height // 2, width // 2 :] = (10, 250, 10)
    pixels[height // 2 :, : width // 2] = (10, 10, 250)
    pixels[height // 2 :, width // 2 :] = (240, 240, 240)
    return pixels


def with_orientation(pixels: np.ndarray, format_name: str, orientation: int | None) -> bytes:
    image = PILImage.fromarray(pixels)
    buffer = io.BytesIO()
    if orientation is None:
        image.save(buffer, format=format_name)
    else:
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format=format_name, exif=exif.tobytes())
    return buffer.getvalue()


def stored(image: Image) -> PILImage.Image:
    with default_storage.open(image.storage_key) as handle:
        decoded = PILImage.open(io.BytesIO(handle.read()))
        decoded.load()
    return decoded


def test_jpeg_with_exif_orientation_6_is_stored_upright(manager_client: Any) -> None:
    # Orientation 6: the camera's sensor grid must be turned 90° clockwise to be seen upright.
    sensor = quadrants(40, 30)
    data = with_orientation(sensor, "JPEG", 6)

    response = upload(manager_client, ("phone.jpg", data))

    assert response.status_code == 201
    assert [(i["width"], i["height"]) for i in response.json()] == [(30, 40)]
    image = Image.objects.get()
    assert (image.width, image.height) == (30, 40)
    upright = stored(image)
    assert upright.format == "JPEG"
    assert upright.size == (30, 40)
    assert upright.getexif().get(0x0112) is None
    sent = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).astype(int)
    got = np.asarray(upright.convert("RGB")).astype(int)
    # one JPEG re-save costs a few levels at the colour edges; the wrong turn costs ~100
    assert np.abs(got - np.rot90(sent, k=-1)).mean() < 8
    assert np.abs(got - np.rot90(sent, k=1)).mean() > 50
    # top-left of the upright picture is the sensor's bottom-left block (blue)
    assert tuple(got[2, 2]) == pytest.approx((10, 10, 250), abs=12)
    assert image.sha256 != hashlib.sha256(data).hexdigest()
    assert image.sha256 == hashlib.sha256(default_storage.open(image.storage_key).read()).hexdigest()


def test_png_with_exif_orientation_6_is_rotated_losslessly(manager_client: Any) -> None:
    sensor = np.random.default_rng(3).integers(0, 255, (30, 40, 3), dtype=np.uint8)

    response = upload(manager_client, ("scan.png", with_orientation(sensor, "PNG", 6)))

    assert response.status_code == 201
    upright = stored(Image.objects.get())
    assert upright.size == (30, 40)
    assert np.array_equal(np.asarray(upright.convert("RGB")), np.rot90(sensor, k=-1))
    assert upright.getexif().get(0x0112) is None


@pytest.mark.parametrize("orientation", [1, None])
def test_upright_or_untagged_jpeg_is_stored_byte_identical(
    manager_client: Any, orientation: int | None
) -> None:
    data = with_orientation(quadrants(), "JPEG", orientation)

    response = upload(manager_client, ("plain.jpg", data))

    assert response.status_code == 201
    image = Image.objects.get()
    assert (image.width, image.height) == (40, 30)
    assert default_storage.open(image.storage_key).read() == data
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_file_above_the_size_limit_is_400_and_nothing_is_written(manager_client: Any, settings: Any) -> None:
    data = encoded("PNG")
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = len(data) - 1

    response = upload(manager_client, ("small.png", encoded("PNG", (4, 4))), ("big.png", data))

    assert response.status_code == 400
    limit_mb = f"{(len(data) - 1) / 1024 / 1024:.1f} MB"
    assert response.json()["detail"] == (
        f"big.png: the file is {len(data) / 1024 / 1024:.1f} MB; images may be at most {limit_mb}."
    )
    assert nothing_written()


def test_file_at_the_size_limit_is_accepted(manager_client: Any, settings: Any) -> None:
    data = encoded("PNG")
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = len(data)

    assert upload(manager_client, ("edge.png", data)).status_code == 201


def test_too_big_source_is_refused_before_any_file_is_read(db: Any, settings: Any) -> None:
    project = make_project(slug="r", images=0)
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = 1000
    reads: list[str] = []

    def reader(name: str) -> Any:
        def read() -> bytes:
            reads.append(name)
            return encoded("PNG", (4, 4))

        return read

    sources = [
        ImageSource(file_name="fine.png", size=100, read=reader("fine.png")),
        ImageSource(file_name="huge.png", size=10**12, read=reader("huge.png")),
    ]

    with pytest.raises(ValidationFailed, match=r"^huge.png: the file is 953674.3 MB"):
        images_add(project=project, files=sources)
    assert reads == []
    assert not project.images.exists()


def test_source_that_reads_more_than_it_declared_is_refused(db: Any, settings: Any) -> None:
    project = make_project(slug="r", images=0)
    data = encoded("PNG")
    settings.TESSERA_MAX_UPLOAD_FILE_BYTES = len(data) - 1

    liar = ImageSource(file_name="liar.png", size=10, read=lambda: data)

    with pytest.raises(ValidationFailed, match=r"^liar.png: the file is"):
        images_add(project=project, files=[liar])
    assert not project.images.exists()


@pytest.mark.parametrize(
    ("env", "expected"), [({}, 512 * 1024 * 1024), ({"TESSERA_MAX_UPLOAD_FILE_BYTES": "1234"}, 1234)]
)
def test_size_limit_comes_from_the_environment_with_a_512_mib_default(
    tmp_path: Any, env: dict[str, str], expected: int
) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TESSERA_MAX_UPLOAD_FILE_BYTES"}
    environment.update(env, TESSERA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    code = "from django.conf import settings; print(settings.TESSERA_MAX_UPLOAD_FILE_BYTES)"

    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == str(expected)
