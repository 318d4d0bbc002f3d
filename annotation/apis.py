"""Read APIs for revisions. Writes (save, submit) are QA workflow steps: see qa/apis.py."""

from __future__ import annotations

from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.models import Revision
from core.http import immutable_file_response
from projects.selectors import task_get_for_user


class SegmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    category_id = serializers.IntegerField()
    iscrowd = serializers.BooleanField()
    area = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4)
    confirmed = serializers.BooleanField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.source
    attributes = serializers.DictField()
    polygons = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text='drawn polygons, present when recorded: [x1, y1, ...] fills, {"vertices": [...], "cut": true} holes',
    )


class AnnotationOutput(serializers.Serializer):
    """The public contract of ``GET /api/tasks/{id}/annotation/``."""

    revision = serializers.IntegerField(help_text="revision number within the task")
    revision_id = serializers.IntegerField()
    parent = serializers.IntegerField(allow_null=True, help_text="number of the parent revision")  # type: ignore[assignment]
    status = serializers.CharField()
    author = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    segments = SegmentOutput(many=True)
    index_map = serializers.URLField(help_text="URL of the index-map PNG")
    created_at = serializers.DateTimeField()


_SEGMENT_KEYS = [str(key) for key in SegmentOutput().fields if key != "polygons"]


def _segment_payload(segment: dict[str, Any]) -> dict[str, Any]:
    """The SegmentOutput fields of a stored row; ``polygons`` only where some were recorded."""
    out: dict[str, Any] = {key: segment.get(key) for key in _SEGMENT_KEYS}
    if segment.get("polygons"):
        out["polygons"] = segment["polygons"]
    return out


def revision_payload(request: Request, revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.number,
        "revision_id": revision.id,
        "parent": revision.parent.number if revision.parent_id and revision.parent else None,
        "task": revision.task_id,
        "status": revision.status,
        "source": revision.source,
        "author": revision.author.get_username(),
        "width": revision.width,
        "height": revision.height,
        "map_sha256": revision.map_sha256,
        "segments": [_segment_payload(segment) for segment in revision.segments],
        "index_map": request.build_absolute_uri(f"/api/revisions/{revision.id}/index-map/"),
        "created_at": revision.created_at.isoformat(),
        "submitted_at": revision.submitted_at.isoformat() if revision.submitted_at else None,
    }


class TaskAnnotationApi(APIView):
    @extend_schema(responses=AnnotationOutput, summary="The task's latest revision the caller may see")
    def get(self, request: Request, task_id: int) -> Response:
        task = task_get_for_user(user=request.user, task_id=task_id)
        revision = selectors.revision_latest_for_user(user=request.user, task=task)
        return Response(revision_payload(request, revision))


class RevisionDetailApi(APIView):
    @extend_schema(responses=AnnotationOutput, summary="One revision")
    def get(self, request: Request, revision_id: int) -> Response:
        revision = selectors.revision_get_for_user(user=request.user, revision_id=revision_id)
        return Response(revision_payload(request, revision))


class RevisionIndexMapApi(APIView):
    @extend_schema(
        responses={(200, "image/png"): OpenApiTypes.BINARY}, summary="The revision's index map (PNG)"
    )
    def get(self, request: Request, revision_id: int) -> HttpResponseBase:
        revision = selectors.revision_get_for_user(user=request.user, revision_id=revision_id)
        return immutable_file_response(
            request, key=revision.map_key, sha256=revision.map_sha256, content_type="image/png"
        )
