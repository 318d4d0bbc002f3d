"""Shared fixtures: an isolated storage folder, eager jobs, API clients and small builders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Service-backed tests (integration, browser, client libraries) fail instead of skipping when
# this is set, so CI cannot pass by skipping them.
REQUIRE_ALL = os.environ.get("TESSERA_CI") == "1"


@pytest.fixture(autouse=True)
def _isolated_storage(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    media = tmp_path_factory.mktemp("media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    settings.MEDIA_ROOT = str(media)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # PBKDF2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_jobs(request: pytest.FixtureRequest, settings: Any) -> Iterator[None]:
    """Unit tests run jobs in-process; integration tests use a real broker and worker."""
    if request.node.get_closest_marker("integration") is None:
        from config.celery import app

        settings.CELERY_TASK_ALWAYS_EAGER = True
        previous = app.conf.task_always_eager
        app.conf.task_always_eager = True
        yield
        app.conf.task_always_eager = previous
    else:
        yield


@pytest.fixture
def api() -> Callable[..., Any]:
    """``api(user)`` returns an APIClient authenticated as ``user`` (or anonymous)."""
    from rest_framework.test import APIClient

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


# --- browser tests -------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium; Playwright's own browsers are never downloaded."""
    if not os.path.exists(CHROMIUM):
        if REQUIRE_ALL:
            pytest.fail(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        if "page" in getattr(item, "fixturenames", ()) and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def postgres_transactions(transactional_db: Any) -> None:
    """Races only mean something on PostgreSQL (SQLite serialises every writer): skip
    elsewhere, except in CI, which must run them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        if REQUIRE_ALL:
            pytest.fail("concurrency tests need PostgreSQL (DATABASE_URL)")
        pytest.skip("concurrency tests need PostgreSQL (DATABASE_URL)")
