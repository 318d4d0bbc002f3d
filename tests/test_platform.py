"""Settings, health, API schema and the docker-compose file for users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_reports_database_and_broker(db: Any, client: Any) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"}
    assert body["broker"]


def test_healthz_is_503_when_the_broker_is_unreachable(db: Any, client: Any, settings: Any) -> None:
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url
    app.conf.update(broker_url="redis://127.0.0.1:1/0")
    try:
        response = client.get("/healthz")
    finally:
        app.conf.update(broker_url=previous)

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_openapi_schema_lists_the_contract_endpoint(db: Any, client: Any) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/tasks/{task_id}/annotation/" in paths
    assert "/api/tasks/{task_id}/revisions/" in paths


def test_api_docs_page_is_served(db: Any, client: Any) -> None:
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_debug_is_off_unless_asked_for() -> None:
    import os

    if not os.environ.get("DEBUG"):
        assert settings.DEBUG is False


def test_docker_compose_describes_the_production_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    services = compose["services"]
    assert {"web", "worker", "db", "redis"} <= set(services)
    assert "gunicorn" in " ".join(
        services["web"]["command"]
        if isinstance(services["web"]["command"], list)
        else [services["web"]["command"]]
    )
    assert "celery" in str(services["worker"]["command"])
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://")
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert set(compose["volumes"]) >= {"pgdata", "media"}
