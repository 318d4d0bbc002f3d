"""The editor in Debian's Chromium, beyond the happy path, as an annotator meets it.

Keys keep working after toolbar controls were used; Space over a focused checkbox pans and
does not toggle it; the help overlay; the taxonomy panel is not rebuilt while painting; an
unfinished polygon survives a tool switch; leaving with unsaved work asks first. Then the
eraser, a save conflict resolved with "keep mine", a refused submit (problems listed, the work
kept as a draft) and a task that stopped being editable (a dialog, work kept locally); the
stored maps are checked against what the editor shows.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from annotation.models import Revision
from core.roles import Role
from projects.models import Task
from qa.services import revision_save
from tests.factories import make_project
from tests.frontend.support import (
    client_point,
    hook,
    labels,
    open_editor,
    require_bundle,
    stored_map,
    stroke,
    wait_state,
)
from tests.helpers import map_png, sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
W, H = 120, 80


def _start(page: Any, base: str, slug: str) -> int:
    make_project(slug=slug, members={"ann": [Role.ANNOTATOR]}, images=1, size=(W, H))
    page.set_viewport_size({"width": 1400, "height": 820})
    sign_in(page, base, "ann")
    page.goto(f"{base}/queue/")
    page.click(f"#next-task-{slug}")
    page.wait_for_url("**/tasks/*/")
    open_editor(page)
    return int(page.url.rstrip("/").split("/")[-1])


@pytest.mark.browser
def test_keys_survive_toolbar_controls_and_nothing_is_lost_by_accident(
    live_server: Any, page: Any, transactional_db: Any
) -> None:
    require_bundle()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _start(page, live_server.url, "keys")

    # A checkbox in the toolbar, then a tool key: the key still picks the tool.
    outline = page.locator("label:has-text('Outline') input[type=checkbox]")
    outline.click()
    assert outline.is_checked()
    page.keyboard.press("e")
    assert hook(page, "tool") == "eraser"
    # The slider, then [ / ]: the brush size keys work, and the stage got focus back on a click.
    page.locator("input[type=range][title^='Brush size']").click()
    size = hook(page, "brushSize")
    page.keyboard.press("]")
    assert hook(page, "brushSize") > size
    outline.click()  # unchecked again, and focused
    page.mouse.click(*client_point(page, 110, 75))  # a click on the stage moves focus there
    assert page.evaluate("document.activeElement.dataset.testid") == "stage"
    page.keyboard.press("b")
    assert hook(page, "tool") == "brush"

    # Space + drag with the checkbox focused pans the view and leaves the checkbox alone.
    outline.focus()
    before = hook(page, "view")
    page.keyboard.down(" ")
    x, y = client_point(page, 60, 40)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 25, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    after = hook(page, "view")
    assert (round(after["offsetX"] - before["offsetX"]), round(after["offsetY"] - before["offsetY"])) == (
        40,
        25,
    )
    assert not outline.is_checked()
    page.keyboard.press("0")

    # The help overlay lists the keys; Escape closes it.
    page.keyboard.press("?")
    assert page.locator(".tsr-help").is_visible()
    assert "Eraser" in page.inner_text(".tsr-help")
    page.keyboard.press("Escape")
    assert not page.locator(".tsr-help").is_visible()

    # Painting for a while refreshes areas, but does not rebuild the taxonomy panel.
    page.keyboard.press("3")  # person
    page.mouse.move(*client_point(page, 10, 10))
    page.mouse.down()
    page.mouse.move(*client_point(page, 11, 11))
    page.wait_for_timeout(100)
    builds = hook(page, "taxonomyDetailBuilds")  # the stroke's new segment is shown once
    for k in range(8):
        page.mouse.move(*client_point(page, 12 + 4 * k, 12 + k), steps=3)
        page.wait_for_timeout(120)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert hook(page, "taxonomyDetailBuilds") == builds
    assert hook(page, "getLabelAt(20, 13)") == hook(page, "activeSegment")

    # An unfinished polygon is kept across a tool switch, and finished afterwards.
    page.keyboard.press("4")  # car
    page.keyboard.press("p")
    for px, py in [(70, 20), (100, 20)]:
        page.mouse.click(*client_point(page, px, py))
    page.keyboard.press("b")
    page.wait_for_selector("text=Unfinished polygon kept (2 vertices)")
    page.keyboard.press("p")
    page.mouse.click(*client_point(page, 100, 60))
    page.keyboard.press("Enter")
    car = hook(page, "activeSegment")
    assert hook(page, "getLabelAt(95, 30)") == car

    # Leaving with unsaved work asks first (and staying keeps it).
    assert hook(page, "isDirty") is True
    dialogs: list[str] = []

    def on_dialog(d: Any) -> None:
        dialogs.append(d.type)
        d.dismiss()

    page.on("dialog", on_dialog)
    url = page.url
    page.evaluate("window.location.href = '/queue/'")
    page.wait_for_timeout(800)
    assert dialogs == ["beforeunload"]
    assert page.url == url
    assert hook(page, "getLabelAt(95, 30)") == car
    assert errors == []


@pytest.mark.browser
def test_eraser_conflict_refused_submit_and_a_task_that_stopped_being_editable(
    live_server: Any, page: Any, transactional_db: Any
) -> None:
    require_bundle()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    task_id = _start(page, live_server.url, "save")
    ann = get_user_model().objects.get(username="ann")

    # Road everywhere, a person stroke, then the eraser across it.
    page.keyboard.press("1")
    page.keyboard.press("f")
    page.mouse.click(*client_point(page, 3.5, 3.5))
    road = hook(page, "activeSegment")
    page.keyboard.press("3")
    page.keyboard.press("b")
    stroke(page, (15, 40), (100, 40))
    person = hook(page, "activeSegment")
    assert hook(page, "getLabelAt(60, 40)") == person
    page.keyboard.press("e")
    stroke(page, (60, 10), (60, 70))
    assert hook(page, "getLabelAt(60, 40)") == 0  # erased: void, not road
    assert hook(page, "getLabelAt(60, 5)") == 0
    assert hook(page, "getLabelAt(20, 40)") == person
    page.keyboard.press("Control+s")
    assert wait_state(page, "saved")["parent"] == 1

    # Someone saves the task elsewhere (another tab): revision 2, all road.
    task = Task.objects.get(id=task_id)
    revision_save(
        task=task,
        author=ann,
        png=map_png(np.ones((H, W), np.uint16)),
        segments_raw=[{"id": 1, "category_id": 1}],
        parent_number=1,
        submit=False,
    )
    page.keyboard.press("b")
    stroke(page, (20, 60), (40, 60))
    page.keyboard.press("Control+s")
    wait_state(page, "conflict")
    dialog = page.locator("[data-testid=conflict-dialog]")
    assert "the latest is revision 2" in dialog.inner_text()
    dialog.locator("text=Keep mine on top of current").click()
    assert wait_state(page, "saved")["parent"] == 3
    rev3 = Revision.objects.get(task_id=task_id, number=3)
    assert rev3.parent is not None
    assert rev3.parent.number == 2
    body = page.request.get(f"{live_server.url}/api/revisions/{rev3.id}/").json()
    assert (stored_map(page, body["index_map"]) == labels(page, W, H)).all()

    # Submitting with void pixels is refused: the problem is listed, the work kept as a draft.
    page.keyboard.press("e")
    stroke(page, (100, 70), (110, 70), steps=4)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-testid=save-errors]:has-text('Submission refused')")
    status = wait_state(page, "saved")
    assert status["parent"] == 4
    assert Revision.objects.get(task_id=task_id, number=4).status == Revision.Status.DRAFT
    assert Task.objects.get(id=task_id).status == Task.Status.IN_PROGRESS
    assert page.locator("[data-testid=save-errors]").is_visible()  # still shown after the draft
    stored = stored_map(
        page, page.request.get(f"{live_server.url}/api/tasks/{task_id}/annotation/").json()["index_map"]
    )
    assert (stored == labels(page, W, H)).all()
    assert set(np.unique(stored)) == {0, road, person}

    # The task leaves the annotator's hands elsewhere: the next save says so, and keeps the work.
    Task.objects.filter(id=task_id).update(status=Task.Status.SUBMITTED)
    page.keyboard.press("b")
    stroke(page, (20, 20), (30, 20), steps=4)
    page.keyboard.press("Control+s")
    status = wait_state(page, "not_editable")
    assert status["taskStatus"] == "submitted"
    assert status["keptLocally"] is True
    dialog = page.locator("[data-testid=not-editable-dialog]")
    assert "This task is now submitted" in dialog.inner_text()
    assert Revision.objects.filter(task_id=task_id).count() == 4  # nothing written
    dialog.locator("text=Close").click()
    # Opened again (read-only now), the work that could not be saved can be downloaded.
    page.reload()
    open_editor(page, mode="review")
    backup = page.locator("[data-testid=backup-unsaved]")
    backup.wait_for()
    assert "based on revision 4" in backup.inner_text()
    with page.expect_download() as download:
        backup.locator("text=Download").click()
    assert download.value.suggested_filename.endswith("-index-map.png")
    assert errors == []
