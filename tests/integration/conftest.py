"""A real Celery worker process on Redis and PostgreSQL for the integration tests.

The tests need ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``; without them they are skipped,
except under ``TESSERA_CI=1`` (``.ci/run``), where a missing service is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_ALL

ROOT = Path(__file__).resolve().parents[2]


def _missing_services() -> str | None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return "DATABASE_URL does not point at PostgreSQL"
    if not os.environ.get("REDIS_URL"):
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis is unreachable: {error}"
    return None


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    missing = _missing_services()
    for item in items:
        if "integration" in str(item.fspath) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if missing and item.get_closest_marker("integration") is not None and not REQUIRE_ALL:
            item.add_marker(pytest.mark.skip(reason=f"integration test: {missing}"))


@pytest.fixture(scope="session")
def integration_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integration-media")


@pytest.fixture
def celery_worker(
    transactional_db: Any, settings: Any, integration_media: Path, django_db_blocker: Any
) -> Iterator[dict[str, str]]:
    """Start a worker on a queue of its own, bound to the test database and media folder."""
    missing = _missing_services()
    if missing:
        pytest.fail(f"integration test needs its services: {missing}")
    from django.db import connection

    from config.celery import app

    queue = f"tessera-test-{uuid.uuid4().hex[:8]}"
    test_db_url = _database_url_with_name(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    env = {
        **os.environ,
        "DATABASE_URL": test_db_url,
        "TESSERA_CELERY_QUEUE": queue,
        "MEDIA_ROOT": str(integration_media),
        "PYTHONPATH": str(ROOT),
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(integration_media)},
        },
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    log = open(integration_media / f"{queue}.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--concurrency=1",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_worker(app, queue, worker)
        yield {"queue": queue, "log": str(integration_media / f"{queue}.log")}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE


def _database_url_with_name(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _wait_for_worker(app: Any, queue: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode} before it was ready")
        replies = app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1.0)
        if replies:
            return
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")
