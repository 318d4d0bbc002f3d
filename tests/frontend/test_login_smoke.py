"""The demo login works in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.management import call_command

# The live server runs in a thread of this process; Playwright's sync API runs an event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
def test_demo_annotator_signs_in_and_gets_a_task(live_server: Any, page: Any, transactional_db: Any) -> None:
    call_command("seed_demo", "--password", "demo-pass-1", verbosity=0)

    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "annotator1")
    page.fill("input[name=password]", "demo-pass-1")
    page.click("button[type=submit]")

    page.wait_for_selector("text=Demo: city streets")
    assert "annotator" in page.inner_text("main")
    page.click("text=My queue")
    page.click("#next-task-demo")
    page.wait_for_url("**/tasks/*/")
    assert "/tasks/" in page.url


@pytest.mark.browser
def test_wrong_password_is_refused(live_server: Any, page: Any, transactional_db: Any) -> None:
    call_command("seed_demo", "--password", "demo-pass-1", verbosity=0)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "annotator1")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")

    page.wait_for_selector("text=did not match")
