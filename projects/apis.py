"""API views for projects, people, taxonomy, images and tasks. Views parse, call, serialise."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db.models import Max, QuerySet
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import Forbidden, ValidationFailed
from core.http import LIST_PARAMETERS, immutable_file_response, list_response, request_user
from core.roles import STAFF_ROLES, TEAM_ROLES, Role
from projects import selectors, services
from projects.models import Project, Task, TaxonomyVersion


def upload_source(upload: UploadedFile) -> services.ImageSource:
    """An uploaded file as an image source: its size is known from the request, so a file
    above the limit is refused before its bytes are read into memory."""

    def read() -> bytes:
        upload.seek(0)  # read more than once (checked, then stored): always from the start
        return upload.read()

    return services.ImageSource(file_name=upload.name or "", size=upload.size or 0, read=read)


# --- shared output serializers -------------------------------------------------------------------


class ProjectOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    mode = serializers.CharField()
    phase = serializers.CharField()
    allow_void = serializers.BooleanField()


def project_payload(project: Project, roles: frozenset[str]) -> dict[str, Any]:
    data: dict[str, Any] = dict(ProjectOutput(project).data)
    data["roles"] = sorted(roles)
    data["delivery_formats"] = project.delivery_formats
    return data


def taxonomy_payload(taxonomy: TaxonomyVersion) -> dict[str, Any]:
    """Call with a version loaded by ``selectors.taxonomy_with_contents``."""

    def example_urls(obj: Any) -> list[str]:
        return [f"/api/example-images/{example.id}/file/" for example in obj.examples.all()]

    def example_ids(obj: Any) -> list[int]:
        return [example.id for example in obj.examples.all()]

    return {
        "id": taxonomy.id,
        "number": taxonomy.number,
        "frozen": taxonomy.is_frozen,
        "categories": [
            {
                "id": c.category_id,
                "name": c.name,
                "color": c.color,
                "isthing": c.isthing,
                "definition": c.definition,
                "min_area": c.min_area,
                "hotkey": c.hotkey,
                "export_ids": c.export_ids,
                "examples": example_urls(c),
                "example_ids": example_ids(c),
            }
            for c in taxonomy.categories.all()
        ],
        "conflict_rules": [
            {
                "id": r.id,
                "title": r.title,
                "rule": r.rule,
                "category_ids": sorted(c.category_id for c in r.categories.all()),
                "examples": example_urls(r),
                "example_ids": example_ids(r),
            }
            for r in taxonomy.conflict_rules.all()
        ],
        "edge_cases": [
            {
                "id": e.id,
                "title": e.title,
                "description": e.description,
                "category_ids": sorted(c.category_id for c in e.categories.all()),
                "examples": example_urls(e),
                "example_ids": example_ids(e),
            }
            for e in taxonomy.edge_cases.all()
        ],
    }


def task_payload(task: Task, *, user: Any, latest_revision: int | None) -> dict[str, Any]:
    image = task.image
    return {
        "id": task.id,
        "project": task.project.slug,
        "mode": task.project.mode,
        "allow_void": task.project.allow_void,
        "kind": task.kind,
        "status": task.status,
        "assignee": task.assignee.get_username() if task.assignee else None,
        "taxonomy": task.taxonomy_id,
        "image": {
            "id": image.id,
            "file_name": image.file_name,
            "width": image.width,
            "height": image.height,
            "url": f"/api/images/{image.id}/file/",
        },
        "latest_revision": latest_revision,
        "can_edit": task.assignee_id == user.pk and task.status in Task.EDITABLE_STATUSES,
    }


def task_with_latest(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with ``latest_number``, their highest revision number (read it with ``latest_of``)."""
    return queryset.annotate(latest_number=Max("revisions__number"))


def latest_of(task: Task) -> int | None:
    number: int | None = task.__dict__.get("latest_number")
    return number


# --- people and projects -------------------------------------------------------------------------


class MeApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The signed-in user and their projects")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.get_username(),
                "projects": [
                    {"slug": p.slug, "name": p.name, "mode": p.mode, "roles": roles}
                    for p, roles in selectors.user_projects_with_roles(user=request.user)
                ],
            }
        )


class ProjectListApi(APIView):
    class InputSerializer(serializers.Serializer):
        slug = serializers.SlugField(max_length=64)
        name = serializers.CharField(max_length=200)
        mode = serializers.ChoiceField(choices=Project.Mode.choices)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        categories = serializers.ListField(child=serializers.DictField(), allow_empty=False)
        conflict_rules = serializers.ListField(child=serializers.DictField(), required=False, default=list)
        edge_cases = serializers.ListField(child=serializers.DictField(), required=False, default=list)

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses=ProjectOutput(many=True),
        summary="Projects the caller belongs to",
    )
    def get(self, request: Request) -> Response:
        projects = selectors.project_list_for_user(user=request.user)
        return list_response(request, projects, lambda page: list(ProjectOutput(page, many=True).data))

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT}, summary="Create a project")
    def post(self, request: Request) -> Response:
        if not selectors.user_may_create_projects(user=request.user):
            raise Forbidden(
                "Creating projects needs the 'projects.add_project' permission, granted to you "
                "or one of your groups (superuser status alone does not count)."
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        taxonomy = services.taxonomy_parse(
            {
                "categories": values["categories"],
                "conflict_rules": values["conflict_rules"],
                "edge_cases": values["edge_cases"],
            }
        )
        project = services.project_create(
            slug=values["slug"],
            name=values["name"],
            mode=values["mode"],
            description=values["description"],
            taxonomy=taxonomy,
            created_by=request_user(request),
        )
        return Response(project_payload(project, frozenset({Role.MANAGER})), status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    class UpdateSerializer(serializers.ModelSerializer):
        class Meta:
            model = Project
            # QA policy fields change through the QA workflow's audited endpoint (qa-policy).
            fields = ("name", "description", "phase", "allow_void", "delivery_formats")
            extra_kwargs = {name: {"required": False} for name in fields}

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="A project, with the caller's roles")
    def get(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        return Response(project_payload(project, selectors.user_roles(user=request.user, project=project)))

    @extend_schema(
        request=UpdateSerializer, responses=OpenApiTypes.OBJECT, summary="Edit a project and its QA policy"
    )
    def patch(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        roles = selectors.require_role(user=request.user, project=project, roles={Role.MANAGER})
        data = self.UpdateSerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, changes=dict(data.validated_data))
        return Response(project_payload(project, roles))


class MemberListApi(APIView):
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(parameters=LIST_PARAMETERS, responses=OpenApiTypes.OBJECT, summary="Members of a project")
    def get(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles=STAFF_ROLES)
        return list_response(
            request,
            selectors.project_memberships(project=project),
            lambda page: [
                {
                    "username": m.user.get_username(),
                    "role": m.role,
                    "released_to_production": m.released_to_production,
                }
                for m in page
            ],
        )

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT}, summary="Add a member")
    def post(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles={Role.MANAGER})
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_get_or_create(username=data.validated_data["username"])
        membership = services.membership_add(project=project, user=user, role=data.validated_data["role"])
        return Response(
            {"username": user.get_username(), "role": membership.role}, status=status.HTTP_201_CREATED
        )


# --- taxonomy ------------------------------------------------------------------------------------


class TaxonomyCurrentApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The project's current taxonomy version")
    def get(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles=TEAM_ROLES)
        taxonomy = selectors.taxonomy_current(project=project)
        return Response(taxonomy_payload(selectors.taxonomy_with_contents(taxonomy.id)))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
        summary="Replace the taxonomy (a new version when the current one is frozen)",
    )
    def put(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles={Role.MANAGER})
        taxonomy = services.taxonomy_replace(
            project=project, spec=services.taxonomy_parse(request.data), by=request_user(request)
        )
        return Response(taxonomy_payload(selectors.taxonomy_with_contents(taxonomy.id)))


class TaxonomyDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="One taxonomy version")
    def get(self, request: Request, taxonomy_id: int) -> Response:
        taxonomy = selectors.taxonomy_get_for_user(user=request.user, taxonomy_id=taxonomy_id)
        return Response(taxonomy_payload(taxonomy))


class ExampleImageListApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ExampleImageUpload",
                {"file": serializers.FileField(), "caption": serializers.CharField(required=False)},
            )
        },
        responses={201: OpenApiTypes.OBJECT},
        summary="Upload an example image for the taxonomy (reference it by id in categories, rules, edge cases)",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles={Role.MANAGER})
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed("Send the image in the 'file' field.")
        example = services.example_image_add(
            project=project, source=upload_source(upload), caption=request.data.get("caption", "")
        )
        return Response(
            {"id": example.id, "url": f"/api/example-images/{example.id}/file/", "caption": example.caption},
            status=status.HTTP_201_CREATED,
        )


class ExampleImageFileApi(APIView):
    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY}, summary="An example image (cacheable)")
    def get(self, request: Request, example_id: int) -> HttpResponseBase:
        example = selectors.example_image_get_for_user(user=request.user, example_id=example_id)
        return immutable_file_response(
            request, key=example.storage_key, sha256=example.sha256, content_type=example.content_type
        )


# --- images --------------------------------------------------------------------------------------


class ImageListApi(APIView):
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    @extend_schema(parameters=LIST_PARAMETERS, responses=OpenApiTypes.OBJECT, summary="Images of a project")
    def get(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles=STAFF_ROLES)
        return list_response(
            request,
            selectors.image_list(project=project),
            lambda page: [
                {
                    "id": image.id,
                    "file_name": image.file_name,
                    "width": image.width,
                    "height": image.height,
                    "batch": image.batch.name,
                    "sha256": image.sha256,
                }
                for image in page
            ],
        )

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ImageUpload",
                {
                    "file": serializers.ListField(child=serializers.FileField()),
                    "batch": serializers.CharField(required=False),
                },
            )
        },
        responses={201: OpenApiTypes.OBJECT},
        summary="Upload images (PNG, JPEG, TIFF); all or nothing",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(user=request.user, slug=slug)
        selectors.require_role(user=request.user, project=project, roles={Role.MANAGER})
        uploads = request.FILES.getlist("file")
        if not uploads:
            raise ValidationFailed("Send one or more images in the 'file' field.")
        images = services.images_add(
            project=project,
            files=[upload_source(upload) for upload in uploads],
            batch_name=request.data.get("batch") or None,
            uploaded_by=request_user(request),
        )
        return Response(
            [{"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height} for i in images],
            status=status.HTTP_201_CREATED,
        )


class ImageFileApi(APIView):
    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY}, summary="The image file (cacheable)")
    def get(self, request: Request, image_id: int) -> HttpResponseBase:
        image = selectors.image_get_for_user(user=request.user, image_id=image_id)
        return immutable_file_response(
            request,
            key=image.storage_key,
            sha256=image.sha256,
            content_type=image.content_type,
            filename=image.file_name,
        )


# --- tasks ---------------------------------------------------------------------------------------


class TaskListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("project", str, description="project slug"),
            OpenApiParameter("status", str, description="task status"),
            *LIST_PARAMETERS,
        ],
        responses=OpenApiTypes.OBJECT,
        summary="Tasks the caller may see",
    )
    def get(self, request: Request) -> Response:
        project = None
        if slug := request.query_params.get("project"):
            project = selectors.project_get_for_user(user=request.user, slug=slug)
        tasks = selectors.task_list_for_user(user=request.user, project=project)
        if wanted := request.query_params.get("status"):
            if wanted not in Task.Status.values:
                raise ValidationFailed(f"status must be one of {', '.join(Task.Status.values)}.")
            tasks = tasks.filter(status=wanted)
        return list_response(
            request,
            task_with_latest(tasks),
            lambda page: [task_payload(t, user=request.user, latest_revision=latest_of(t)) for t in page],
        )


class TaskDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="One task")
    def get(self, request: Request, task_id: int) -> Response:
        task = selectors.task_get_for_user(user=request.user, task_id=task_id)
        latest = latest_of(task_with_latest(Task.objects.filter(id=task.id)).get())
        return Response(task_payload(task, user=request.user, latest_revision=latest))
