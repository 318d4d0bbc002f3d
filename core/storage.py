"""Content-addressed blobs in Django's default storage (filesystem or S3)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int


def blob_store(*, data: bytes, prefix: str, extension: str) -> StoredBlob:
    """Store ``data`` under a key derived from its sha256; identical content is stored once.

    Blobs are written before the database rows that reference them, so a rolled-back
    transaction can leave an unreferenced blob behind; that costs space, never data.
    """
    digest = hashlib.sha256(data).hexdigest()
    key = f"{prefix}/{digest[:2]}/{digest}.{extension}"
    if not default_storage.exists(key):
        # Two writers racing on the same new content both succeed; storage may rename the
        # second copy, so keep the name it actually used.
        key = default_storage.save(key, ContentFile(data))
    return StoredBlob(key=key, sha256=digest, size=len(data))


def blob_read(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        data: bytes = handle.read()
    return data
