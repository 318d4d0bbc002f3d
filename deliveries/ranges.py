"""Serving stored release files with HTTP range requests (RFC 9110 §14).

Archives are large and clients resume broken downloads, so one byte range per request is
honoured (``Range: bytes=a-b``, ``bytes=a-``, ``bytes=-n``) with 206 and ``Content-Range``;
a range past the end is 416 with ``Content-Range: bytes */size``. A header that is not one
well-formed range (several ranges, bad syntax) is ignored and the whole file sent, as the RFC
allows. ``If-Range`` with another ETag also gets the whole file. ETag = the file's sha256;
the files never change, so caching is immutable and links never expire.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from rest_framework.request import Request

from core.http import IMMUTABLE_CACHE

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
CHUNK = 1 << 16


class Unsatisfiable(Exception):
    pass


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``header`` asks for, None to send everything; raises
    Unsatisfiable when the range lies outside a file of ``size`` bytes."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # not a valid range: ignore the header
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size - 1)


def _read_slice(key: str, start: int, end: int) -> Iterator[bytes]:
    with default_storage.open(key, "rb") as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def ranged_file_response(
    request: HttpRequest | Request,
    *,
    key: str,
    sha256: str,
    size: int,
    content_type: str,
    filename: str,
    disposition: str = "attachment",
) -> HttpResponseBase:
    etag = f'"{sha256}"'
    response: HttpResponseBase
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        wanted: tuple[int, int] | None = None
        if_range = request.headers.get("If-Range")
        try:
            if if_range is None or if_range.strip() == etag:
                wanted = parse_range(request.headers.get("Range", ""), size)
        except Unsatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
        else:
            if wanted is None:
                response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
                response["Content-Length"] = str(size)
            else:
                start, end = wanted
                response = StreamingHttpResponse(
                    _read_slice(key, start, end), status=206, content_type=content_type
                )
                response["Content-Range"] = f"bytes {start}-{end}/{size}"
                response["Content-Length"] = str(end - start + 1)
            response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = IMMUTABLE_CACHE
    return response
