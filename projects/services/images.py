"""Images and example images: checked, normalised and stored; one annotation task each.

Every image is stored *upright*: a camera's EXIF orientation is applied to the pixels at
import and the tag is dropped, so the picture the editor shows, the stored width and height,
the masks and the exports all describe the same pixel grid (a browser would otherwise rotate
the picture on screen while the masks follow the raw sensor grid).

Files are read one at a time (``ImageSource.read``) and are refused by size before they are
read, so neither an upload nor an import of a large folder or zip has to fit in memory.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import ExifTags, ImageOps, JpegImagePlugin, UnidentifiedImageError
from PIL import Image as PILImage

from core.exceptions import Conflict, ValidationFailed
from core.storage import blob_store
from projects.models import Batch, ExampleImage, Image, Project, Task, TaxonomyVersion

ACCEPTED_IMAGE_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "TIFF": ("tif", "image/tiff"),
}


@dataclass(frozen=True)
class ImageSource:
    """One file to import: its name, its size in bytes (known before reading) and a way to
    read it. ``read`` may be called more than once and must give the same bytes each time."""

    file_name: str
    size: int
    read: Callable[[], bytes]

    @classmethod
    def of_bytes(cls, file_name: str, data: bytes) -> ImageSource:
        return cls(file_name=file_name, size=len(data), read=lambda: data)


@dataclass(frozen=True)
class CheckedImage:
    file_name: str
    data: bytes  # what is stored: the upload itself, or its upright re-encoding
    width: int
    height: int
    extension: str
    content_type: str
    sha256: str
    rotated: bool = False


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def image_size_check(*, file_name: str, size: int) -> None:
    """Refuse a file above ``TESSERA_MAX_UPLOAD_FILE_BYTES`` before anything reads it."""
    limit: int = settings.TESSERA_MAX_UPLOAD_FILE_BYTES
    if size > limit:
        raise ValidationFailed(
            f"{file_name}: the file is {_megabytes(size)}; images may be at most {_megabytes(limit)}."
        )


def _orientation(image: PILImage.Image) -> int:
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a malformed EXIF block is not worth refusing the picture for
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _encode_upright(upright: PILImage.Image, original: PILImage.Image, image_format: str) -> bytes:
    """Re-encode ``upright`` in the original's format, keeping its colour profile; JPEG with
    the original's quantisation tables and subsampling (no further loss than one re-save),
    PNG and TIFF losslessly."""
    buffer = io.BytesIO()
    options: dict[str, object] = {"exif": upright.getexif().tobytes()}
    if icc := original.info.get("icc_profile"):
        options["icc_profile"] = icc
    if image_format == "JPEG":
        options["qtables"] = getattr(original, "quantization", None) or "web_high"
        sampling = JpegImagePlugin.get_sampling(original)
        if sampling != -1:
            options["subsampling"] = sampling
    elif image_format == "TIFF":
        options["compression"] = "tiff_deflate"
    if image_format == "PNG" and "transparency" in original.info:
        options["transparency"] = original.info["transparency"]
    upright.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def image_check(*, file_name: str, data: bytes) -> CheckedImage:
    """Decode an upload completely, refuse anything that is not a whole PNG/JPEG/TIFF, and
    turn it upright when its EXIF orientation says so.

    Pillow's bomb check is set from settings in CoreConfig.ready; its warning (above the limit)
    is turned into an error here, so a bomb is refused rather than half-decoded.
    """
    if not file_name or "/" in file_name or "\\" in file_name or file_name in {".", ".."}:
        raise ValidationFailed(f"{file_name!r} is not a valid file name.")
    if not data:
        raise ValidationFailed(f"{file_name}: the file is empty.")
    rotated = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                image_format = probe.format or ""
                if image_format not in ACCEPTED_IMAGE_FORMATS:
                    raise ValidationFailed(
                        f"{file_name}: {image_format or 'unknown'} images are not accepted (PNG, JPEG or TIFF)."
                    )
                probe.load()
                width, height = probe.size
                if _orientation(probe) != 1:
                    upright = ImageOps.exif_transpose(probe)
                    data = _encode_upright(upright, probe, image_format)
                    width, height = upright.size
                    rotated = True
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ValidationFailed(
            f"{file_name}: the image is too large to decode safely (limit {PILImage.MAX_IMAGE_PIXELS} pixels)."
        ) from None
    except UnidentifiedImageError:
        raise ValidationFailed(f"{file_name}: not an image (PNG, JPEG or TIFF expected).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValidationFailed(f"{file_name}: the image is truncated or corrupt ({error}).") from None
    extension, content_type = ACCEPTED_IMAGE_FORMATS[image_format]
    return CheckedImage(
        file_name=file_name,
        data=data,
        width=width,
        height=height,
        extension=extension,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        rotated=rotated,
    )


def _read_checked(source: ImageSource) -> CheckedImage:
    image_size_check(file_name=source.file_name, size=source.size)
    data = source.read()
    # The declared size is what the limit was checked against; a source that reads more
    # (a lying zip header, a file growing on disk) is refused all the same.
    image_size_check(file_name=source.file_name, size=len(data))
    return image_check(file_name=source.file_name, data=data)


def example_image_add(*, project: Project, source: ImageSource, caption: str = "") -> ExampleImage:
    checked = _read_checked(source)
    blob = blob_store(data=checked.data, prefix="examples", extension=checked.extension)
    return ExampleImage.objects.create(
        project=project,
        storage_key=blob.key,
        sha256=checked.sha256,
        content_type=checked.content_type,
        caption=caption or source.file_name,
    )


def batch_get_or_create(*, project: Project, name: str | None) -> Batch:
    if not name:
        name = timezone.now().strftime("batch-%Y%m%d")
    batch, _ = Batch.objects.get_or_create(project=project, name=name)
    return batch


@transaction.atomic
def images_add(
    *,
    project: Project,
    files: Sequence[ImageSource | tuple[str, bytes]],
    batch_name: str | None = None,
    uploaded_by: User | None = None,
) -> list[Image]:
    """Add images and one annotation task per image; all or nothing.

    Two passes, one file in memory at a time: every file is size-checked, read and decoded
    first, so one bad file refuses the whole upload before anything is stored; then each is
    read again and stored. ``files`` are sources, or (name, bytes) pairs.
    """
    sources = [f if isinstance(f, ImageSource) else ImageSource.of_bytes(*f) for f in files]
    names = [s.file_name for s in sources]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationFailed(f"File names repeat within the upload: {repeated}.")
    for source in sources:  # by declared size, before reading anything
        image_size_check(file_name=source.file_name, size=source.size)
    existing = sorted(project.images.filter(file_name__in=names).values_list("file_name", flat=True))
    if existing:
        raise Conflict(f"The project already has images named {existing}.")
    taxonomy = TaxonomyVersion.objects.filter(project=project).order_by("-number").first()
    if taxonomy is None:
        raise ValidationFailed(f"Project {project.slug} has no taxonomy.")
    digests = [_read_checked(source).sha256 for source in sources]
    batch = batch_get_or_create(project=project, name=batch_name)
    images = []
    for source, digest in zip(sources, digests, strict=True):
        item = _read_checked(source)
        if item.sha256 != digest:
            raise Conflict(f"{source.file_name} changed while it was being imported; import it again.")
        blob = blob_store(data=item.data, prefix="images", extension=item.extension)
        try:
            with transaction.atomic():
                image = Image.objects.create(
                    project=project,
                    batch=batch,
                    file_name=item.file_name,
                    width=item.width,
                    height=item.height,
                    sha256=item.sha256,
                    storage_key=blob.key,
                    content_type=item.content_type,
                    size_bytes=blob.size,
                    uploaded_by=uploaded_by,
                )
        except IntegrityError:
            raise Conflict(f"The project already has an image named {item.file_name}.") from None
        images.append(image)
    Task.objects.bulk_create(
        [Task(project=project, image=image, taxonomy=taxonomy, kind=Task.Kind.ANNOTATE) for image in images]
    )
    return images
