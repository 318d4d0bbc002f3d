"""The client portal in Debian's Chromium: the client signs in, finds the release, downloads
the archive (bytes checked against its sha256) and rejects it with a comment; the manager's
page shows the verdict. And the manager's progress bar follows a build until it is ready."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from deliveries.models import Release, ReleaseDecision
from deliveries.services import release_build, release_create
from tests.deliveries.support import accept_work, project_with_members, scene, user
from tests.helpers import sign_in

# The live server runs in a thread of this process; Playwright's sync API runs an event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
def test_the_client_downloads_and_rejects_and_the_manager_sees_it(
    live_server: Any, page: Any, transactional_db: Any
) -> None:
    project = project_with_members(images=2)
    accept_work(project, 0, scene())
    accept_work(project, 1, scene(shift=2))
    release = release_build(
        release_id=release_create(
            project=project, by=user("manager"), formats=["coco", "png"], enqueue=False
        ).id
    )
    base = live_server.url

    sign_in(page, base, "cli")
    page.goto(f"{base}/deliveries/")
    page.click("text=Release 1")
    page.wait_for_selector("#download-archive")
    with page.expect_download() as download:
        page.click("#download-archive")
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == release.archive_sha256
    assert download.value.suggested_filename == "proj-release-1.zip"

    page.fill("textarea[name=comment]", "The kerb is labelled as sidewalk; our spec says road.")
    page.click("#reject-release")
    page.wait_for_selector("#current-decision")
    assert "Rejected" in page.inner_text("#current-decision")
    decision = ReleaseDecision.objects.get()
    assert (decision.decision, decision.client.username) == ("reject", "cli")

    page.click("text=Sign out")
    sign_in(page, base, "manager")
    page.goto(f"{base}/projects/proj/releases/")
    row = page.inner_text("#release-1")
    assert "Rejected" in row
    assert "by cli" in row
    assert "The kerb is labelled as sidewalk; our spec says road." in row


@pytest.mark.browser
def test_the_progress_bar_follows_the_build(live_server: Any, page: Any, transactional_db: Any) -> None:
    project = project_with_members(images=1)
    accept_work(project, 0, scene())
    pending = release_create(project=project, by=user("manager"), formats=["png"], enqueue=False)
    base = live_server.url

    sign_in(page, base, "manager")
    page.goto(f"{base}/projects/proj/releases/")
    page.wait_for_selector(f"[data-progress-url='/api/releases/{pending.id}/progress/'] progress")
    assert page.locator("#release-1 progress").get_attribute("value") == "0"

    release_build(release_id=pending.id)  # the worker finishes; the page notices by polling

    page.wait_for_selector("#release-1 >> text=Ready", timeout=10_000)
    assert Release.objects.get(id=pending.id).status == Release.Status.READY
    assert page.locator("#release-1 a.download").inner_text() == "proj-release-1.zip"
