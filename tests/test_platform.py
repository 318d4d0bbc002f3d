"""Settings, health, API schema and the docker-compose file for users."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


# --- settings from the environment, each read by a fresh interpreter --------------------------

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "name": str(s.DATABASES["default"]["NAME"]),
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "broker": s.CELERY_BROKER_URL,
    "debug": s.DEBUG,
    "production": s.PRODUCTION,
    "secret_key": s.SECRET_KEY,
    "storage": s.STORAGES["default"]["BACKEND"],
}))
"""


def boot(var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Start Django in a new interpreter with only ``env`` set (not under pytest)."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "TESSERA_VAR_DIR": str(var),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def booted(var: Path, **env: str) -> dict[str, Any]:
    result = boot(var, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_no_environment_is_the_embedded_default(tmp_path: Path) -> None:
    first = booted(tmp_path)
    again = booted(tmp_path)

    assert first["engine"] == "django.db.backends.sqlite3"
    assert first["name"] == str(tmp_path / "db.sqlite3")
    assert first["eager"] is True
    assert first["broker"] == "memory://"
    assert first["debug"] is False
    assert first["production"] is False
    assert first["storage"] == "django.core.files.storage.FileSystemStorage"
    # a generated key, kept under var/ so sessions survive a restart
    assert first["secret_key"] == (tmp_path / "secret_key").read_text().strip() == again["secret_key"]
    assert len(first["secret_key"]) >= 50


def test_database_and_redis_urls_switch_to_the_production_stack(tmp_path: Path) -> None:
    config = booted(
        tmp_path,
        DATABASE_URL="postgres://tessera:pw@db:5432/tessera",
        REDIS_URL="redis://redis:6379/0",
        SECRET_KEY="a-key-for-this-test-only",
        AWS_STORAGE_BUCKET_NAME="bucket",
    )

    assert config["engine"] == "django.db.backends.postgresql"
    assert config["name"] == "tessera"
    assert config["eager"] is False
    assert config["broker"] == "redis://redis:6379/0"
    assert config["debug"] is False
    assert config["production"] is True
    assert config["secret_key"] == "a-key-for-this-test-only"
    assert config["storage"] == "storages.backends.s3.S3Storage"
    assert not (tmp_path / "secret_key").exists()


def test_production_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = boot(tmp_path, DATABASE_URL="postgres://tessera:pw@db:5432/tessera")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr
    assert "set SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()  # no key was made up for it


def test_a_database_url_with_debug_on_is_development_and_may_use_the_generated_key(tmp_path: Path) -> None:
    config = booted(tmp_path, DATABASE_URL="postgres://tessera:pw@db:5432/tessera", DEBUG="1")

    assert config["production"] is False
    assert config["debug"] is True
    assert config["secret_key"] == (tmp_path / "secret_key").read_text().strip()


@pytest.mark.parametrize(
    ("value", "debug"), [(None, False), ("", False), ("0", False), ("1", True), ("true", True)]
)
def test_debug_is_off_unless_asked_for(tmp_path: Path, value: str | None, debug: bool) -> None:
    env = {} if value is None else {"DEBUG": value}

    assert booted(tmp_path, **env)["debug"] is debug


def test_this_test_run_has_debug_off() -> None:
    if not os.environ.get("DEBUG"):
        assert settings.DEBUG is False


def test_the_version_has_one_source_pyproject_toml(db: Any, client: Any) -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

    assert declared == settings.TESSERA_VERSION
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["info"]["version"] == declared
    # no second copy: the setting is not a literal
    assert not re.search(r"TESSERA_VERSION\b[^=\n]*=\s*[\"']", (ROOT / "config" / "settings.py").read_text())


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
