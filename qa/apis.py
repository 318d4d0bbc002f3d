"""API views of the QA workflow: saving and submitting work, and quality reports."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis import AnnotationOutput, revision_payload
from annotation.selectors import revision_get_for_user, revision_list_for_user
from core.exceptions import ValidationFailed
from core.http import parse_bool, parse_optional_int, request_user
from projects.selectors import task_get_for_user
from qa import selectors, services


def _segments_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValidationFailed(
                f"segments is not valid JSON: {error.msg} at position {error.pos}."
            ) from None
    return value


class TaskRevisionsApi(APIView):
    """GET lists revisions; POST saves a new one (and submits it with ``submit=true``).

    Saving lives in the QA app because submitting is a workflow step that enqueues the
    metrics job; drafts go through the same view so both follow one set of rules.
    """

    parser_classes = (MultiPartParser, FormParser, JSONParser)

    @extend_schema(responses=AnnotationOutput(many=True), summary="Revisions of a task the caller may see")
    def get(self, request: Request, task_id: int) -> Response:
        task = task_get_for_user(user=request.user, task_id=task_id)
        return Response(
            [revision_payload(request, r) for r in revision_list_for_user(user=request.user, task=task)]
        )

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "RevisionSave",
                {
                    "index_map": serializers.FileField(
                        help_text="grayscale PNG, 8- or 16-bit, the image's size"
                    ),
                    "segments": serializers.CharField(help_text="JSON list of segments"),
                    "parent": serializers.IntegerField(required=False, allow_null=True),
                    "submit": serializers.BooleanField(required=False),
                },
            )
        },
        responses={
            201: AnnotationOutput,
            400: OpenApiResponse(description="invalid map or table; `errors` lists the problems"),
            409: OpenApiResponse(description="stale parent; `current_revision` is the latest number"),
        },
        summary="Save work as a new revision (append-only), optionally submitting it",
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = task_get_for_user(user=request.user, task_id=task_id)
        upload = request.FILES.get("index_map")
        if upload is None:
            raise ValidationFailed("Send the index map as a PNG file in the 'index_map' field.")
        if "segments" not in request.data:
            raise ValidationFailed("Send the segment table as JSON in the 'segments' field.")
        revision = services.revision_save(
            task=task,
            author=request_user(request),
            png=upload.read(),
            segments_raw=_segments_field(request.data["segments"]),
            parent_number=parse_optional_int(request.data.get("parent"), name="parent"),
            submit=parse_bool(request.data.get("submit"), name="submit"),
        )
        return Response(revision_payload(request, revision), status=status.HTTP_201_CREATED)


class TaskSubmitApi(APIView):
    class InputSerializer(serializers.Serializer):
        revision = serializers.IntegerField(min_value=1)

    @extend_schema(
        request=InputSerializer, responses=AnnotationOutput, summary="Submit the task's latest draft"
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = task_get_for_user(user=request.user, task_id=task_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revision = services.revision_submit(
            task=task, author=request_user(request), revision_number=data.validated_data["revision"]
        )
        return Response(revision_payload(request, revision))


class RevisionQualityApi(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Measurement state and the quality reports of a revision the caller may see",
    )
    def get(self, request: Request, revision_id: int) -> Response:
        revision = revision_get_for_user(user=request.user, revision_id=revision_id)
        measurement = selectors.measurement_of(revision=revision)
        reports = selectors.quality_reports_for_user(user=request.user, revision=revision)
        return Response(
            {
                "revision_id": revision.id,
                "measurement": None
                if measurement is None
                else {
                    "status": measurement.status,
                    "error": measurement.error,
                    "attempts": measurement.attempts,
                    "engine_version": measurement.engine_version,
                    "finished_at": measurement.finished_at.isoformat() if measurement.finished_at else None,
                },
                "reports": [
                    {
                        "kind": report.kind,
                        "reference_revision_id": report.reference_id,
                        "engine_version": report.engine_version,
                        "boundary_ratio": report.boundary_ratio,
                        "summary": report.summary,
                    }
                    for report in reports
                ],
            }
        )
