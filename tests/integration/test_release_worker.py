"""A release asked for through the API is built by a separate Celery worker process, over
Redis, on PostgreSQL: the progress endpoint moves to ready and the archive it serves is the
one the manifest and the database describe."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deliveries.models import Release
from tests.deliveries.support import accept_work, project_with_members, scene, user
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


def test_the_worker_builds_a_release_asked_for_through_the_api(
    celery_worker: dict[str, str], api: Any
) -> None:
    project = project_with_members(images=2)
    accept_work(project, 0, scene())
    accept_work(project, 1, scene(shift=2))
    manager = api(user("manager"))

    response = manager.post(
        f"/api/projects/{project.slug}/releases/",
        {"formats": ["coco", "png"], "split_batches": {"b1": "val"}},
        format="json",
    )

    assert response.status_code == 202, response.content
    release_id = response.json()["id"]
    seen: list[dict[str, Any]] = []

    def ready() -> bool:
        progress = manager.get(f"/api/releases/{release_id}/progress/").json()
        seen.append(progress)
        return progress["status"] in ("ready", "failed")

    log = Path(celery_worker["log"])
    assert wait_for(ready, timeout=90), f"the release was not built; worker log:\n{log.read_text()[-3000:]}"
    assert seen[-1]["status"] == "ready", seen[-1]
    assert seen[-1]["done"] == seen[-1]["total"] > 0
    assert "release_build_job[" in log.read_text()  # built in the worker process, not in this one

    release = Release.objects.get(id=release_id)
    download = manager.get(f"/api/releases/{release_id}/archive/")
    assert download.status_code == 200
    data = b"".join(download.streaming_content) if download.streaming else download.content
    assert hashlib.sha256(data).hexdigest() == release.archive_sha256
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read(f"{project.slug}-release-1/manifest.json"))
        listed = {entry["path"] for entry in manifest["files"]}
        assert manifest["counts"]["images"] == 2
        assert set(manifest["formats"]) == {"coco", "png"}
        for entry in manifest["files"]:
            body = archive.read(f"{project.slug}-release-1/{entry['path']}")
            assert hashlib.sha256(body).hexdigest() == entry["sha256"]
            assert len(body) == entry["size"]
    assert manifest["splits"]["images"] == {"val": 2}  # the batch asked for went to val
    assert "coco/annotations/instances_val.json" in listed, sorted(listed)
    assert "README.md" in listed
    assert "png/classes.json" in listed, sorted(listed)
