"""Fixtures of the QA tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_prepared_gold() -> Iterator[None]:
    """The measurement service keeps prepared gold maps per process; test databases reuse
    revision ids, so every test starts with an empty cache."""
    from qa.services.measurement import prepared_cache_clear

    prepared_cache_clear()
    yield
    prepared_cache_clear()
