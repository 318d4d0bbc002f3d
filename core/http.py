"""HTTP helpers shared by the apps' API views."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from core.exceptions import ValidationFailed

# Content-addressed files never change, so browsers may keep them for good; "private"
# because access depends on who asks.
IMMUTABLE_CACHE = "private, max-age=31536000, immutable"


def immutable_file_response(
    request: HttpRequest | Request, *, key: str, sha256: str, content_type: str, filename: str | None = None
) -> HttpResponseBase:
    """Serve a stored blob with an ETag and immutable caching; answer 304 to a matching If-None-Match."""
    etag = f'"{sha256}"'
    response: HttpResponseBase
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
        if filename:
            response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE_CACHE
    return response


def parse_optional_int(value: Any, *, name: str) -> int | None:
    if value in (None, "", "null"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be an integer, got {value!r}.") from None
    return number


def parse_bool(value: Any, *, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return False
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValidationFailed(f"{name} must be true or false, got {value!r}.")


def request_user(request: HttpRequest | Request) -> User:
    """The signed-in user of a request that passed authentication (every API view requires it)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def csv_response(rows: list[list[Any]], *, filename: str) -> HttpResponse:
    """A CSV download; ``None`` becomes an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
