"""Fixtures of the format tests: the synthetic scenes, exports made once per session, and the
clients' venv runner. Pure tests: runnable with ``-p no:django``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

from deliveries.formats import FORMATS, Taxonomy  # noqa: E402
from tests.deliveries.formats.scenes import TAXONOMY, Scene, make_scenes, save_reference, write_source_images  # noqa: E402

REPO = Path(_PROJECT_ROOT)
CLIENTS_CHECK = Path(__file__).with_name("clients_check.py")
# like tests/conftest.py: under CI a missing client fails instead of skipping
REQUIRE_CLIENTS = os.environ.get("TESSERA_CI") == "1" or bool(os.environ.get("CI"))


PYCOCOTOOLS_NUMPY_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pycocotools 2.0.11 warns on every decode under NumPy 2.4; keep the output readable."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.filterwarnings(PYCOCOTOOLS_NUMPY_WARNING))


@pytest.fixture(autouse=True)
def _isolated_storage() -> None:
    """Pure tests use no Django storage (overrides the project-wide autouse fixture)."""


@pytest.fixture(autouse=True)
def _eager_jobs() -> None:
    """Pure tests enqueue no jobs."""


@pytest.fixture(scope="session")
def scenes() -> list[Scene]:
    return make_scenes()


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return TAXONOMY


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory: pytest.TempPathFactory, scenes: list[Scene]) -> Path:
    d = tmp_path_factory.mktemp("sources")
    write_source_images(scenes, d)
    return d


@pytest.fixture(scope="session")
def export_all(
    tmp_path_factory: pytest.TempPathFactory, scenes: list[Scene], source_dir: Path
) -> Callable[..., Path]:
    """Export the scenes once per (format, options) and hand back the folder."""
    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], Path] = {}  # fmt, options

    def run(fmt: str, exclude: tuple[str, ...] = (), **options: Any) -> Path:
        key = (fmt, (*tuple(sorted(options.items())), ("exclude", exclude)))
        if key not in cache:
            out = tmp_path_factory.mktemp(fmt.replace("-", "_"))
            exporter = FORMATS[fmt].with_options(**options) if options else FORMATS[fmt]  # type: ignore[attr-defined]
            images = (s.export_image(source_dir) for s in scenes if s.stem not in exclude)
            exporter.export(images, TAXONOMY, out)
            cache[key] = out
        return cache[key]

    return run


# ----------------------------------------------------------------------------- client venv
def clients_python() -> Path | None:
    env = os.environ.get("TESSERA_CLIENTS_PYTHON")
    p = Path(env) if env else REPO / ".venv-clients" / "bin" / "python"
    return p if p.exists() else None


@pytest.fixture(scope="session")
def clients() -> Callable[..., dict[str, Any]]:
    """Run tests/deliveries/formats/clients_check.py in the clients' venv (Datumaro,
    cityscapesscripts and ultralytics pin Pillow/torch versions the app venv does not take).

    Missing clients fail the test in CI and skip it elsewhere."""
    py = clients_python()
    if py is None:
        msg = (
            "client libraries not installed: python -m venv .venv-clients && "
            ".venv-clients/bin/pip install --no-deps -r requirements-clients.txt"
        )
        if REQUIRE_CLIENTS:
            pytest.fail(msg)
        pytest.skip(msg)

    def run(*args: str) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["YOLO_OFFLINE"] = "1"
        env["YOLO_CONFIG_DIR"] = str(Path(args[-1]) / ".." / "ultralytics-config")
        proc = subprocess.run(
            [str(py), str(CLIENTS_CHECK), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"clients_check failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result

    return run


@pytest.fixture(scope="session")
def reference_npz(tmp_path_factory: pytest.TempPathFactory, scenes: list[Scene]) -> Callable[..., Path]:
    """The scenes (or a subset) saved for clients_check.py."""

    def make(exclude: tuple[str, ...] = ()) -> Path:
        path = tmp_path_factory.mktemp("ref") / "reference.npz"
        return save_reference([s for s in scenes if s.stem not in exclude], path)

    return make
