"""API views for imports and releases. Views parse, call one service or selector, serialise."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import NotFound, ValidationFailed
from core.http import request_user
from deliveries import selectors, services
from deliveries.models import ImportRun, Release
from deliveries.ranges import ranged_file_response
from projects.selectors import project_get_for_user

# --- output serializers ---------------------------------------------------------------------------


class ProblemOutput(serializers.Serializer):
    code = serializers.CharField()
    file = serializers.CharField()
    item = serializers.CharField()
    message = serializers.CharField()


class ImportRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    format = serializers.CharField()
    mode = serializers.CharField()
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    supersede_open_work = serializers.BooleanField()
    source_name = serializers.CharField()
    status = serializers.CharField()
    counts = serializers.DictField()
    coverage = serializers.DictField(help_text="overall and per-image void pixels and coverage")
    problems = ProblemOutput(many=True)
    notes = serializers.ListField(child=serializers.CharField())
    revision_ids = serializers.ListField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class DecisionOutput(serializers.Serializer):
    decision = serializers.CharField()
    comment = serializers.CharField()
    client = serializers.CharField(source="client.username")
    created_at = serializers.DateTimeField()


class ProgressOutput(serializers.Serializer):
    status = serializers.CharField()
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")
    stage = serializers.CharField(source="progress_stage")
    error = serializers.CharField()


class FileOutput(serializers.Serializer):
    url = serializers.CharField()
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class ReleaseFilesOutput(serializers.Serializer):
    archive = FileOutput()
    qa_report_json = FileOutput()
    qa_report_html = FileOutput()


class ReleaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="project.slug")
    number = serializers.IntegerField()
    status = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())
    include_images = serializers.BooleanField()
    coco_polygons = serializers.BooleanField()
    images = serializers.SerializerMethodField()
    splits = serializers.SerializerMethodField()
    class_table_changes = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = ProgressOutput(source="*")
    files = serializers.SerializerMethodField()
    manifest = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()
    decisions = DecisionOutput(many=True)

    def get_images(self, release: Release) -> int:
        return len(release.revision_ids)

    def get_splits(self, release: Release) -> dict[str, Any]:
        """The split options and how many images each split has."""
        counts: dict[str, int] = {}
        for split in release.splits or ["train"] * len(release.revision_ids):
            counts[split] = counts.get(split, 0) + 1
        options = release.split_options or {"val_share": 0.0, "test_share": 0.0, "batches": {}}
        return {"options": options, "images": counts}

    def get_class_table_changes(self, release: Release) -> list[str]:
        """How the class values differ from the previous ready release (empty: none)."""
        return list((release.snapshot or {}).get("class_table_changes", []))

    def get_files(self, release: Release) -> dict[str, Any] | None:
        if not release.is_ready:
            return None
        base = f"/api/releases/{release.id}"
        return {
            "archive": {
                "url": f"{base}/archive/",
                "name": release.archive_name,
                "sha256": release.archive_sha256,
                "size": release.archive_size,
            },
            "qa_report_json": {
                "url": f"{base}/qa-report.json",
                "name": "qa_report.json",
                "sha256": release.report_json_sha256,
                "size": release.report_json_size,
            },
            "qa_report_html": {
                "url": f"{base}/qa-report.html",
                "name": "qa_report.html",
                "sha256": release.report_html_sha256,
                "size": release.report_html_size,
            },
        }

    def get_manifest(self, release: Release) -> dict[str, Any] | None:
        return release.manifest if release.is_ready else None

    def get_decision(self, release: Release) -> dict[str, Any] | None:
        current = selectors.release_current_decision(release)
        return dict(DecisionOutput(current).data) if current else None


# --- imports --------------------------------------------------------------------------------------


class ImportListApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=ImportRun.Format.choices)
        mode = serializers.ChoiceField(choices=ImportRun.Mode.choices)
        author = serializers.CharField(required=False, allow_blank=True, default="")
        supersede_open_work = serializers.BooleanField(
            required=False,
            default=False,
            help_text="mode 'accepted': also import onto tasks in progress (else they are refused)",
        )

    @extend_schema(responses=ImportRunOutput(many=True), summary="Import runs of a project (newest first)")
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        runs = selectors.import_run_list_for_user(user=request.user, project=project)
        return Response(ImportRunOutput(runs, many=True).data)

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            201: ImportRunOutput,
            400: OpenApiResponse(description="the import was refused; `errors` lists every problem"),
        },
        summary="Import annotations (zip or JSON) all or nothing: manager, or qa_lead for gold",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        author = None
        if values["author"]:
            author = get_user_model().objects.filter(username=values["author"]).first()
            if author is None:
                raise ValidationFailed(f"No user {values['author']!r}.")
        run = services.import_run_from_upload(
            project=project,
            by=request_user(request),
            fmt=values["format"],
            mode=values["mode"],
            upload=values["file"],
            author=author,
            supersede_open_work=values["supersede_open_work"],
        )
        run = selectors.import_run_get_for_user(user=request.user, run_id=run.id)
        return Response(ImportRunOutput(run).data, status=status.HTTP_201_CREATED)


class ImportDetailApi(APIView):
    @extend_schema(responses=ImportRunOutput, summary="One import run with its report")
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.import_run_get_for_user(user=request.user, run_id=run_id)
        return Response(ImportRunOutput(run).data)


# --- releases --------------------------------------------------------------------------------------


class ReleaseListApi(APIView):
    parser_classes = (JSONParser, FormParser, MultiPartParser)

    class InputSerializer(serializers.Serializer):
        formats = serializers.ListField(child=serializers.CharField(), required=False, default=list)
        include_images = serializers.BooleanField(required=False, default=False)
        coco_polygons = serializers.BooleanField(required=False, default=False)
        val_share = serializers.FloatField(
            required=False, default=0.0, help_text="share of images in val, drawn from each image's sha256"
        )
        test_share = serializers.FloatField(required=False, default=0.0, help_text="share of images in test")
        split_batches = serializers.DictField(
            child=serializers.CharField(),
            required=False,
            default=dict,
            help_text="batch name -> split (train, val or test); overrides the shares for its images",
        )

    @extend_schema(
        responses=ReleaseOutput(many=True),
        summary="Releases of a project: all for manager and qa_lead, ready ones for clients",
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        releases = selectors.release_list_for_user(user=request.user, project=project)
        return Response(ReleaseOutput(releases, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={202: ReleaseOutput},
        summary="Ask for a release of the accepted work (manager); built by a job, poll its progress",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        selectors.release_list_for_user(user=request.user, project=project)  # 403 for other roles
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_create(
            project=project,
            by=request_user(request),
            formats=data.validated_data["formats"] or None,
            include_images=data.validated_data["include_images"],
            coco_polygons=data.validated_data["coco_polygons"],
            val_share=data.validated_data["val_share"],
            test_share=data.validated_data["test_share"],
            split_batches=data.validated_data["split_batches"],
        )
        release = selectors.release_get_for_user(user=request.user, release_id=release.id)
        return Response(ReleaseOutput(release).data, status=status.HTTP_202_ACCEPTED)


class ReleaseDetailApi(APIView):
    @extend_schema(responses=ReleaseOutput, summary="One release: files, manifest, client decisions")
    def get(self, request: Request, release_id: int) -> Response:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        return Response(ReleaseOutput(release).data)


class ReleaseProgressApi(APIView):
    @extend_schema(responses=ProgressOutput, summary="Build progress of a release (polled by the page)")
    def get(self, request: Request, release_id: int) -> Response:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        return Response(ProgressOutput(release).data)


class ReleaseRetryApi(APIView):
    @extend_schema(
        request=None, responses={202: ReleaseOutput}, summary="Build a failed release again (manager)"
    )
    def post(self, request: Request, release_id: int) -> Response:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        services.release_retry(release=release, by=request_user(request))
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        return Response(ReleaseOutput(release).data, status=status.HTTP_202_ACCEPTED)


class ReleaseDecisionApi(APIView):
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["accept", "reject"])
        comment = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={201: DecisionOutput},
        summary="The client accepts or rejects a ready release (a rejection needs a comment)",
    )
    def post(self, request: Request, release_id: int) -> Response:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.release_decide(
            release=release,
            client=request_user(request),
            decision=data.validated_data["decision"],
            comment=data.validated_data["comment"],
        )
        return Response(DecisionOutput(decision).data, status=status.HTTP_201_CREATED)


FILE_KINDS = {
    "archive": ("archive", "application/zip", "attachment"),
    "qa-report.json": ("report_json", "application/json", "inline"),
    "qa-report.html": ("report_html", "text/html; charset=utf-8", "inline"),
}
# The QA report page is self-contained: no script runs, nothing is fetched.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class ReleaseFileApi(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (206, "application/octet-stream"): OpenApiTypes.BINARY,
            416: OpenApiResponse(description="the range lies outside the file"),
        },
        summary="Download a ready release's archive or QA report (Range requests, ETag = sha256)",
    )
    def get(self, request: Request, release_id: int, kind: str) -> HttpResponseBase:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
        if kind not in FILE_KINDS or not release.is_ready:
            raise NotFound(f"Release {release.number} has no file {kind!r}.")
        field, content_type, disposition = FILE_KINDS[kind]
        names = {
            "archive": release.archive_name,
            "report_json": "qa_report.json",
            "report_html": "qa_report.html",
        }
        response = ranged_file_response(
            request,
            key=getattr(release, f"{field}_key"),
            sha256=getattr(release, f"{field}_sha256"),
            size=int(getattr(release, f"{field}_size") or 0),
            content_type=content_type,
            filename=f"{release.project.slug}-release-{release.number}-{names[field]}"
            if field != "archive"
            else names[field],
            disposition=disposition,
        )
        if field == "report_html":
            response["Content-Security-Policy"] = REPORT_CSP
        return response
