"""HTTP helpers shared by the apps' API views."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

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


# --- lists ---------------------------------------------------------------------------------------

# A list asked for without ``limit``/``offset`` comes whole, as a plain JSON list, as long as it
# has at most this many items; a longer one is refused (400) rather than cut short silently.
UNPAGED_MAX_ITEMS = 1000


class ListPagination(LimitOffsetPagination):
    """DRF's limit/offset pages (``{count, next, previous, results}``), used only when the
    caller sends ``limit`` or ``offset``; a bad value is a 400, never silently replaced."""

    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit if self.offset_query_param in request.query_params else None
        limit = parse_optional_int(raw, name=self.limit_query_param)
        if limit is None or not 1 <= limit <= self.max_limit:
            raise ValidationFailed(f"limit must be an integer from 1 to {self.max_limit}, got {raw!r}.")
        return limit

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        offset = parse_optional_int(raw, name=self.offset_query_param) or 0
        if offset < 0:
            raise ValidationFailed(f"offset must be a non-negative integer, got {raw!r}.")
        return offset


LIST_PARAMETERS = [
    OpenApiParameter("limit", int, description="page size (1-1000); with it the answer is a page"),
    OpenApiParameter("offset", int, description="items to skip; with it the answer is a page"),
]


def list_response(
    request: Request, rows: QuerySet[Any], serialize: Callable[[list[Any]], list[dict[str, Any]]]
) -> Response:
    """A list endpoint's answer: a page ``{count, next, previous, results}`` when the caller
    sends ``limit`` or ``offset``, else the whole list (at most ``UNPAGED_MAX_ITEMS`` items)."""
    paginator = ListPagination()
    page = paginator.paginate_queryset(rows, request)
    if page is not None:
        return paginator.get_paginated_response(serialize(page))
    head = list(rows[: UNPAGED_MAX_ITEMS + 1])  # one query, and no count of a long table
    if len(head) > UNPAGED_MAX_ITEMS:
        raise ValidationFailed(
            f"This list has more than {UNPAGED_MAX_ITEMS} items; page through it with "
            f"?limit=N&offset=M (limit up to {ListPagination.max_limit})."
        )
    return Response(serialize(head))
