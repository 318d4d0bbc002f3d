"""Make the pure mask tests runnable without pytest-django (``-p no:django``).

- pytest-django is what puts the project root on ``sys.path`` (next to manage.py); without it,
  and with pytest's importlib import mode, ``annotation`` would not be importable.
- tests/conftest.py autouses fixtures that need pytest-django's ``settings``; pure tests use
  neither storage nor jobs, so they are overridden here with no-ops.
"""

import sys
from pathlib import Path

import pytest

_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)


@pytest.fixture(autouse=True)
def _isolated_storage() -> None:
    """Pure tests write no files."""


@pytest.fixture(autouse=True)
def _eager_jobs() -> None:
    """Pure tests enqueue no jobs."""
