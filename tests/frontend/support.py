"""Shared steps of the editor's browser tests: the test hook, coordinates, waiting."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

BUNDLE = Path(__file__).resolve().parents[2] / "frontend" / "static" / "editor" / "editor.js"
HOOK = "window.tesseraEditor"


def require_bundle() -> None:
    if not BUNDLE.exists():
        message = "editor bundle not built: npm run build --prefix frontend/editor"
        if os.environ.get("TESSERA_CI") == "1":  # as tests/conftest.py: CI fails instead of skipping
            pytest.fail(message)
        pytest.skip(message)


def hook(page: Any, expr: str) -> Any:
    return page.evaluate(f"{HOOK}.{expr}")


def client_point(page: Any, x: float, y: float) -> tuple[float, float]:
    p = page.evaluate(f"{HOOK}.imageToClient({x}, {y})")
    return p["x"], p["y"]


def open_editor(page: Any, mode: str | None = None) -> None:
    cond = f"{HOOK} !== undefined && {HOOK}.ready && {HOOK}.pendingTiles === 0"
    if mode:
        cond += f" && {HOOK}.mode === '{mode}'"
    page.wait_for_function(cond, timeout=15000)


def wait_state(page: Any, state: str, timeout: int = 15000) -> dict[str, Any]:
    page.wait_for_function(f"{HOOK} && {HOOK}.lastSaveStatus.state === '{state}'", timeout=timeout)
    status: dict[str, Any] = hook(page, "lastSaveStatus")
    return status


def stroke(page: Any, a: tuple[float, float], b: tuple[float, float], steps: int = 15) -> None:
    page.mouse.move(*client_point(page, *a))
    page.mouse.down()
    page.mouse.move(*client_point(page, *b), steps=steps)
    page.mouse.up()


def labels(page: Any, width: int, height: int) -> np.ndarray:
    """The editor's whole label map, read through the test hook."""
    flat = page.evaluate(
        f"(() => {{ const out = []; for (let y = 0; y < {height}; y++) for (let x = 0; x < {width}; x++)"
        f" out.push({HOOK}.getLabelAt(x, y)); return out; }})()"
    )
    return np.array(flat, np.uint16).reshape(height, width)


def stored_map(page: Any, url: str) -> np.ndarray:
    png = page.request.get(url)
    assert png.ok, png.text()
    return np.array(Image.open(io.BytesIO(png.body())))
