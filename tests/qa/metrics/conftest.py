"""Pure metric tests run without Django (``-p no:django``).

The project-wide autouse fixtures in ``tests/conftest.py`` need pytest-django's ``settings``;
these no-op overrides keep them out of the pure package's tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest-django is what puts the project root on sys.path; without it, do that here.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture(autouse=True)
def _isolated_storage() -> None:
    """No storage here: the quality engine never touches files except fixtures it is given."""


@pytest.fixture(autouse=True)
def _eager_jobs() -> None:
    """No jobs here: the quality engine is called directly."""
