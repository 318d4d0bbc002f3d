"""API views of the QA workflow: saving and submitting work, and quality reports."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis import AnnotationOutput, revision_payload
from annotation.selectors import revision_get_for_user, revision_list_for_user
from annotation.services import index_map_parse, segments_parse
from core.exceptions import NotFound, ValidationFailed
from core.http import csv_response, parse_bool, parse_optional_int, request_user
from core.roles import STAFF_ROLES, Role
from projects.apis import latest_of, task_payload, task_with_latest
from projects.models import Batch, Project, Task
from projects.selectors import project_get_for_user, require_role, task_get_for_user
from qa import reports, selectors, services
from qa.models import ReviewComment, ReviewItem


def _segments_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValidationFailed(
                f"segments is not valid JSON: {error.msg} at position {error.pos}."
            ) from None
    return value


def _json_field(value: Any, *, name: str) -> Any:
    """A form field that holds JSON (multipart requests cannot nest); absent or empty = None."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValidationFailed(
                f"{name} is not valid JSON: {error.msg} at position {error.pos}."
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
        measurement = selectors.measurement_for_user(user=request.user, revision=revision)
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
                    "reference_failures": measurement.reference_failures,
                },
                "reports": [
                    {
                        "kind": report.kind,
                        "revision_id": report.revision_id,
                        "reference_revision_id": report.reference_id,
                        "engine_version": report.engine_version,
                        "boundary_ratio": report.boundary_ratio,
                        "summary": report.summary,
                    }
                    for report in reports
                ],
            }
        )


# --- production work -----------------------------------------------------------------------------


class TaskNextApi(APIView):
    """Calibration gating, and overlap and gold images mixed in unseen, live in the QA workflow."""

    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT, 204: OpenApiResponse(description="No task is waiting")},
        summary="Assign and return the caller's next task",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles={Role.ANNOTATOR, Role.QA_LEAD})
        task = services.task_next(project=project, user=request_user(request))
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        task = task_with_latest(
            Task.objects.filter(id=task.id).select_related("project", "image", "assignee")
        ).get()
        return Response(task_payload(task, user=request.user, latest_revision=latest_of(task)))


# --- review queues and decisions -------------------------------------------------------------------


def review_payload(request: Request, item: ReviewItem, *, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "stage": item.stage,
        "status": item.status,
        "reason": item.reason,
        "stratum": item.stratum,
        "task": item.task_id,
        "revision_id": item.revision_id,
        "revision": item.revision.number,
        "author": item.revision.author.get_username(),
        "image": {"id": item.task.image_id, "file_name": item.task.image.file_name},
        "reviewer": item.reviewer.get_username() if item.reviewer else None,
        "created_at": item.created_at.isoformat(),
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "page": f"/reviews/{item.id}/",
    }
    if detail:
        reference = selectors.review_reference(item=item)
        data["reference_revision_id"] = reference.id if reference else None
        data["reference_kind"] = (
            None if reference is None else ("gold" if reference.task.kind == Task.Kind.GOLD else "annotator")
        )
        data["decisions"] = [
            {
                "id": d.id,
                "reviewer": d.reviewer.get_username(),
                "decision": d.decision,
                "comment": d.comment,
                "fixed_revision_id": d.fixed_revision_id,
                "overturns": d.overturns_id,
                "created_at": d.created_at.isoformat(),
            }
            for d in item.decisions.all()
        ]
        data["comments"] = [
            comment_payload(c) for c in selectors.comments_for_revision(revision=item.revision)
        ]
    return data


def comment_payload(comment: ReviewComment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "revision_id": comment.revision_id,
        "author": comment.author.get_username(),
        "text": comment.text,
        "x": comment.x,
        "y": comment.y,
        "region": comment.region,
        "segment_id": comment.segment_id,
        "decision": comment.decision.decision if comment.decision else None,
        "created_at": comment.created_at.isoformat(),
    }


def _stage(request: Request) -> str | None:
    stage = request.query_params.get("stage") or None
    if stage is not None and stage not in ReviewItem.Stage.values:
        raise ValidationFailed(f"stage must be one of {', '.join(ReviewItem.Stage.values)}.")
    return stage


class ReviewListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("stage", str), OpenApiParameter("status", str)],
        responses=OpenApiTypes.OBJECT,
        summary="Review items the caller may see (reviewers: their queue and their decisions)",
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        items = selectors.review_items_for_user(project=project, user=request.user, stage=_stage(request))
        if wanted := request.query_params.get("status"):
            items = items.filter(status=wanted)
        return Response([review_payload(request, item) for item in items[:500]])


class ReviewNextApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("stage", str, description="peer (default) or senior")],
        request=None,
        responses={200: OpenApiTypes.OBJECT, 204: OpenApiResponse(description="The queue is empty")},
        summary="Claim the next item of a review queue",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        stage = _stage(request) or ReviewItem.Stage.PEER
        roles: set[str] = (
            {Role.QA_LEAD} if stage == ReviewItem.Stage.SENIOR else {Role.REVIEWER, Role.QA_LEAD}
        )
        require_role(user=request.user, project=project, roles=roles)
        item = services.review_claim_next(project=project, user=request_user(request), stage=stage)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            review_payload(
                request, selectors.review_item_get_for_user(user=request.user, item_id=item.id), detail=True
            )
        )


class ReviewDetailApi(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="A review item with its reference, decisions and comments"
    )
    def get(self, request: Request, item_id: int) -> Response:
        item = selectors.review_item_get_for_user(user=request.user, item_id=item_id)
        return Response(review_payload(request, item, detail=True))


class ReviewDecisionApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        decision = serializers.ChoiceField(choices=["accept", "reject"])
        comment = serializers.CharField(required=False, allow_blank=True, default="")
        comments = serializers.ListField(child=serializers.DictField(), required=False, default=list)

    @extend_schema(
        request=InputSerializer,
        responses=OpenApiTypes.OBJECT,
        summary="Accept or reject (with pinned comments)",
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = selectors.review_item_get_for_user(user=request.user, item_id=item_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pins = services.pins_parse(
            values["comments"], width=item.task.image.width, height=item.task.image.height
        )
        services.review_decide(
            item=item,
            reviewer=request_user(request),
            decision=values["decision"],
            comment=values["comment"],
            pins=pins,
        )
        item = selectors.review_item_get_for_user(user=request.user, item_id=item.id)
        return Response(review_payload(request, item, detail=True))


class ReviewFixApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ReviewFix",
                {
                    "index_map": serializers.FileField(),
                    "segments": serializers.CharField(),
                    "comment": serializers.CharField(required=False),
                    "comments": serializers.CharField(
                        required=False,
                        help_text="JSON list of pinned comments, as in the decision endpoint",
                    ),
                },
            )
        },
        responses=OpenApiTypes.OBJECT,
        summary="Fix the work and accept the fix (a new revision attributed to the reviewer)",
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = selectors.review_item_get_for_user(user=request.user, item_id=item_id)
        services.review_check_decider(item=item, user=request_user(request))
        upload = request.FILES.get("index_map")
        if upload is None or "segments" not in request.data:
            raise ValidationFailed(
                "Send the corrected index map ('index_map') and segment table ('segments')."
            )
        index_map = index_map_parse(data=upload.read(), task=item.task)
        segments = segments_parse(_segments_field(request.data["segments"]))
        pins = services.pins_parse(
            _json_field(request.data.get("comments"), name="comments"),
            width=item.task.image.width,
            height=item.task.image.height,
        )
        services.review_fix_accept(
            item=item,
            reviewer=request_user(request),
            index_map=index_map,
            segments=segments,
            comment=str(request.data.get("comment", "")),
            pins=pins,
        )
        item = selectors.review_item_get_for_user(user=request.user, item_id=item.id)
        return Response(review_payload(request, item, detail=True))


class ReviewOverturnApi(APIView):
    @extend_schema(
        request=ReviewDecisionApi.InputSerializer,
        responses=OpenApiTypes.OBJECT,
        summary="Senior QA overturns a peer decision (a comment is required)",
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = selectors.review_item_get_for_user(user=request.user, item_id=item_id)
        data = ReviewDecisionApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        pins = services.pins_parse(
            values["comments"], width=item.task.image.width, height=item.task.image.height
        )
        services.review_overturn(
            item=item,
            lead=request_user(request),
            decision=values["decision"],
            comment=values["comment"],
            pins=pins,
        )
        item = selectors.review_item_get_for_user(user=request.user, item_id=item.id)
        return Response(review_payload(request, item, detail=True))


class RevisionCommentsApi(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="Review comments on a revision (and its task's earlier ones)"
    )
    def get(self, request: Request, revision_id: int) -> Response:
        revision = revision_get_for_user(user=request.user, revision_id=revision_id)
        return Response([comment_payload(c) for c in selectors.comments_for_revision(revision=revision)])


# --- calibration, policy, batches ------------------------------------------------------------------


class CalibrationApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        batch = serializers.CharField()

    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="Calibration report: annotator × class against gold, flags"
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        return Response(reports.calibration_report(project=project))

    @extend_schema(
        request=InputSerializer, responses=OpenApiTypes.OBJECT, summary="Make a batch the calibration set"
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = project.batches.filter(name=data.validated_data["batch"]).first()
        if batch is None:
            raise NotFound(f"No batch '{data.validated_data['batch']}' in {project.slug}.")
        created = services.calibration_start(project=project, batch=batch, by=request_user(request))
        return Response(
            {"batch": batch.name, "tasks_created": created, **reports.calibration_report(project=project)}
        )


class AnnotatorReleaseApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        released = serializers.BooleanField(default=True)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses=OpenApiTypes.OBJECT, summary="Release an annotator to production"
    )
    def post(self, request: Request, slug: str, username: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles={Role.MANAGER})
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"No user '{username}'.")
        membership = services.annotator_release(
            project=project,
            user=user,
            by=request_user(request),
            released=data.validated_data["released"],
            reason=data.validated_data["reason"],
        )
        return Response({"username": username, "released_to_production": membership.released_to_production})


class PolicySerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = services.POLICY_FIELDS


def policy_payload(project: Project) -> dict[str, Any]:
    """The policy fields, the per-class threshold overrides, and (read only) which classes
    sample as rare right now."""
    return {
        **{name: getattr(project, name) for name in services.POLICY_FIELDS},
        "class_thresholds": selectors.class_thresholds(project=project),
        "class_strata": selectors.class_strata(project=project),
    }


class PolicyApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The project's QA policy")
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        return Response(policy_payload(project))

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, summary="Change the QA policy (audited)"
    )
    def patch(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles={Role.MANAGER})
        data = PolicySerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "class_thresholds" in request.data:
            changes["class_thresholds"] = request.data["class_thresholds"]
        project = services.policy_update(project=project, by=request_user(request), changes=changes)
        return Response(policy_payload(project))


def _batch(project: Project, name: str) -> Batch:
    batch = project.batches.filter(name=name).first()
    if batch is None:
        raise NotFound(f"No batch '{name}' in {project.slug}.")
    return batch


class BatchListApi(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="Batches with their status, and agreement over batches"
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        series = {row["batch"]: row for row in reports.agreement_over_batches(project=project)}
        return Response(
            [
                {
                    "name": b.name,
                    "status": b.status,
                    "is_calibration": b.is_calibration,
                    "images": b.images.count(),
                    "agreement_miou": series.get(b.name, {}).get("agreement_miou"),
                    "gold_miou": series.get(b.name, {}).get("gold_miou"),
                }
                for b in project.batches.order_by("created_at", "id")
            ]
        )


class BatchReportApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, description="json (default) or csv")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
        summary="The batch report, recomputed from stored counts",
    )
    def get(self, request: Request, slug: str, batch_name: str) -> HttpResponseBase:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        report = reports.batch_report(project=project, batch=_batch(project, batch_name))
        fmt = request.query_params.get("format", "json")
        if fmt == "csv":
            return csv_response(reports.batch_report_rows(report), filename=f"{slug}-{batch_name}-qa.csv")
        if fmt != "json":
            raise ValidationFailed("format must be json or csv.")
        return Response(report)


class BatchDecisionApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        accept = serializers.BooleanField()
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses=OpenApiTypes.OBJECT, summary="Accept or reject a batch (audited)"
    )
    def post(self, request: Request, slug: str, batch_name: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles={Role.QA_LEAD})
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = services.batch_decide(
            batch=_batch(project, batch_name),
            by=request_user(request),
            accept=data.validated_data["accept"],
            reason=data.validated_data["reason"],
        )
        return Response(
            {
                "batch": decided.batch.name,
                "status": decided.batch.status,
                "passed": decided.report["passed"],
                "complete": decided.report["complete"],
            }
        )


class AuditApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Audit trail: review decisions and QA decisions")
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_user(user=request.user, slug=slug)
        require_role(user=request.user, project=project, roles=STAFF_ROLES)
        return Response(selectors.audit_trail(project=project))
