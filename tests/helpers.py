"""Small builders shared by tests."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image as PILImage

# Every factory-made user signs in with this password unless a test chooses another.
USER_PASSWORD = "pw-for-tests-1"


def png_bytes(array: np.ndarray, **save: Any) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def map_png(index_map: np.ndarray) -> bytes:
    from annotation.masks import encode_index_map

    return encode_index_map(index_map.astype(np.uint16))


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def sign_in(page: Any, base: str, username: str, password: str = USER_PASSWORD) -> None:
    """Sign in through the login page of the live server at ``base`` (Playwright ``page``)."""
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Sign out")


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released at the same moment; their results, or the exceptions
    they raised. Each thread closes its database connections when done."""
    from django.db import connections

    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # the test inspects it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
