"""Shared plumbing for management commands: application errors become one-line CommandErrors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from core.exceptions import ApplicationError


@contextmanager
def command_errors(*, source: str | None = None) -> Iterator[None]:
    """Turn application errors into CommandError; ``source`` (a file name) prefixes the message."""
    try:
        yield
    except ApplicationError as error:
        raise CommandError(f"{source}: {error.message}" if source else error.message) from None


def read_json_file(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file.")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}: line {error.lineno}: invalid JSON ({error.msg}).") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text.") from None
