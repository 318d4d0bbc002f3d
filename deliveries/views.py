"""Server-rendered pages of deliveries: the client portal, a project's releases (new release,
progress, downloads, client decisions), one release, and imports. Views parse, call one
service or selector, and render; pages answer 404 to anyone who may not see them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import ApplicationError, NotFound
from core.http import request_user
from core.roles import STAFF_ROLES, Role
from deliveries import selectors, services
from deliveries.formats import FORMATS
from deliveries.models import ImportRun, Release, ReleaseDecision
from projects.models import Project
from projects.pages import project_for_page
from projects.selectors import user_roles


def _release_rows(releases: list[Release]) -> list[dict[str, Any]]:
    return [{"release": r, "decision": selectors.release_current_decision(r)} for r in releases]


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    """Every project where the user may see releases, with them (clients: ready ones only)."""
    sections = [
        {
            "project": project,
            "roles": roles,
            "rows": _release_rows(releases),
            "is_staff": bool(roles & STAFF_ROLES),
        }
        for project, roles, releases in selectors.releases_by_project_for_user(user=request.user)
    ]
    return render(request, "deliveries/portal.html", {"sections": sections})


class NewReleaseForm(forms.Form):
    formats = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, required=False)
    include_images = forms.BooleanField(required=False, label="Include the source images")
    coco_polygons = forms.BooleanField(required=False, label="COCO masks as polygons (instead of RLE)")
    val_share = forms.FloatField(
        required=False,
        min_value=0,
        max_value=0.99,
        initial=0.0,
        label="Share of images in val",
        help_text="drawn from each image's file hash, so an image keeps its split in later releases",
    )
    test_share = forms.FloatField(
        required=False, min_value=0, max_value=0.99, initial=0.0, label="Share of images in test"
    )
    split_batches = forms.CharField(
        required=False,
        label="Batches to put in a split",
        help_text="one per line: SPLIT=BATCH, e.g. val=batch-7",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_split_batches(self) -> dict[str, str]:
        batches: dict[str, str] = {}
        for line in (self.cleaned_data.get("split_batches") or "").splitlines():
            if not line.strip():
                continue
            split, sep, batch = line.strip().partition("=")
            if not sep or not batch.strip():
                raise forms.ValidationError(f"{line.strip()!r}: expected SPLIT=BATCH.")
            batches[batch.strip()] = split.strip()
        return batches

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locked = list(project.delivery_formats or [])
        field = self.fields["formats"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, name) for name in (locked or FORMATS)]
        field.initial = locked


@login_required
def releases(request: HttpRequest, slug: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, selectors.RELEASE_ROLES)
    is_manager = Role.MANAGER in roles
    form = NewReleaseForm(request.POST or None, project=project)
    if request.method == "POST":
        if not is_manager:
            raise Http404
        if form.is_valid():
            try:
                release = services.release_create(
                    project=project,
                    by=request_user(request),
                    formats=form.cleaned_data["formats"] or None,
                    include_images=form.cleaned_data["include_images"],
                    coco_polygons=form.cleaned_data["coco_polygons"],
                    val_share=form.cleaned_data["val_share"] or 0.0,
                    test_share=form.cleaned_data["test_share"] or 0.0,
                    split_batches=form.cleaned_data["split_batches"],
                )
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"Release {release.number} is being built.")
                return redirect("deliveries-releases", slug=project.slug)
    rows = _release_rows(list(selectors.release_list_for_user(user=request.user, project=project)))
    return render(
        request,
        "deliveries/releases.html",
        {
            "project": project,
            "rows": rows,
            "form": form,
            "is_manager": is_manager,
            "is_staff": bool(roles & STAFF_ROLES),
            "is_client": Role.CLIENT in roles,
            "offers_coco": "coco" in (project.delivery_formats or FORMATS),
        },
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ReleaseDecision.Decision.choices, widget=forms.HiddenInput)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@login_required
def release_page(request: HttpRequest, release_id: int) -> HttpResponse:
    try:
        release = selectors.release_get_for_user(user=request.user, release_id=release_id)
    except NotFound:
        raise Http404 from None
    roles = user_roles(user=request.user, project=release.project)
    form = DecisionForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if not (
            (action == "retry" and Role.MANAGER in roles) or (action == "decide" and Role.CLIENT in roles)
        ):
            raise Http404
        try:
            if action == "retry":
                services.release_retry(release=release, by=request_user(request))
                messages.success(request, f"Release {release.number} is being built again.")
                return redirect("deliveries-release", release_id=release.id)
            form = DecisionForm(request.POST)
            if form.is_valid():
                decision = services.release_decide(
                    release=release,
                    client=request_user(request),
                    decision=form.cleaned_data["decision"],
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, f"Release {release.number}: {decision.get_decision_display()}.")
                return redirect("deliveries-release", release_id=release.id)
        except ApplicationError as error:
            messages.error(request, error.message)
    manifest = release.manifest or {}
    return render(
        request,
        "deliveries/release.html",
        {
            "release": release,
            "project": release.project,
            "decision": selectors.release_current_decision(release),
            "decisions": list(release.decisions.all()),
            "form": form,
            "is_manager": Role.MANAGER in roles,
            "is_staff": bool(roles & STAFF_ROLES),
            "is_client": Role.CLIENT in roles,
            "counts": manifest.get("counts", {}),
            "formats": manifest.get("formats", {}),
            "files": manifest.get("files", []),
            "taxonomy_versions": manifest.get("taxonomy_versions", []),
            "splits": manifest.get("splits", {}),
            "class_table_changes": (release.snapshot or {}).get("class_table_changes", []),
        },
    )


class ImportForm(forms.Form):
    file = forms.FileField(help_text="a zip of the export, or a COCO JSON file")
    format = forms.ChoiceField(choices=ImportRun.Format.choices)
    mode = forms.ChoiceField(choices=ImportRun.Mode.choices)
    author = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, help_text="the annotator, for mode 'author'"
    )
    supersede_open_work = forms.BooleanField(
        required=False,
        label="Supersede work in progress",
        help_text="mode 'accepted': also import onto tasks an annotator is working on (else refused)",
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["author"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(
            memberships__project=project, memberships__role=Role.ANNOTATOR
        ).order_by("username")
        field.to_field_name = "username"


@login_required
def imports(request: HttpRequest, slug: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, STAFF_ROLES)
    form = ImportForm(request.POST or None, request.FILES or None, project=project)
    problems: list[dict[str, str]] = []
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            run = services.import_run_from_upload(
                project=project,
                by=request_user(request),
                fmt=values["format"],
                mode=values["mode"],
                upload=values["file"],
                author=values["author"],
                supersede_open_work=values["supersede_open_work"],
            )
        except services.ImportRefused as refused:
            messages.error(request, refused.message)
            problems = [p.as_dict() for p in refused.problems]
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"Imported {run.counts.get('images', 0)} images from {run.source_name}."
            )
            return redirect("deliveries-import", run_id=run.id)
    runs = list(selectors.import_run_list_for_user(user=request.user, project=project)[:50])
    return render(
        request,
        "deliveries/imports.html",
        {
            "project": project,
            "form": form,
            "runs": runs,
            "problems": problems,
            "is_manager": Role.MANAGER in roles,
        },
    )


@login_required
def import_page(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        run = selectors.import_run_get_for_user(user=request.user, run_id=run_id)
    except NotFound:
        raise Http404 from None
    return render(request, "deliveries/import_run.html", {"run": run, "project": run.project})
