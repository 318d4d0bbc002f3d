"""Server-rendered pages of the quality workflow: review queues, the review page, the QA
dashboard, calibration, batch reports and the QA policy. Views parse, call one service or
selector, and render; every rule lives in the services."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError, NotFound, ValidationFailed
from core.http import csv_response, request_user
from core.roles import STAFF_ROLES, Role
from projects.models import Batch, Project
from projects.pages import project_for_page
from projects.selectors import user_projects_with_roles, user_roles
from qa import plots, reports, selectors, services
from qa.models import ReviewItem


def _batch(project: Project, name: str) -> Batch:
    batch = project.batches.filter(name=name).first()
    if batch is None:
        raise Http404
    return batch


# --- review queues --------------------------------------------------------------------------------


@login_required
def review_queues(request: HttpRequest) -> HttpResponse:
    sections = []
    for project, roles in user_projects_with_roles(user=request.user):
        if not set(roles) & {Role.REVIEWER, Role.QA_LEAD}:
            continue
        stages = [ReviewItem.Stage.PEER] + ([ReviewItem.Stage.SENIOR] if Role.QA_LEAD in roles else [])
        queues = [
            {
                "stage": stage,
                "items": list(selectors.review_queue(project=project, user=request.user, stage=stage)[:50]),
            }
            for stage in stages
        ]
        decided = (
            selectors.review_items_for_user(project=project, user=request.user)
            .filter(reviewer_id=request.user.pk)
            .exclude(status=ReviewItem.Status.PENDING)[:20]
        )
        sections.append({"project": project, "roles": roles, "queues": queues, "decided": decided})
    return render(request, "qa/review_queues.html", {"sections": sections})


@login_required
@require_POST
def review_next(request: HttpRequest, slug: str) -> HttpResponse:
    stage = request.POST.get("stage", ReviewItem.Stage.PEER)
    roles = {Role.QA_LEAD} if stage == ReviewItem.Stage.SENIOR else {Role.REVIEWER, Role.QA_LEAD}
    project, _ = project_for_page(request, slug, roles)
    item = services.review_claim_next(project=project, user=request_user(request), stage=stage)
    if item is None:
        messages.info(request, f"The {stage} queue of {project.name} is empty.")
        return redirect("review-queues")
    return redirect("review-item", item_id=item.id)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    # Pinned comments added by clicking on the image: a JSON list [{x, y, text}, …].
    pins = forms.CharField(required=False, widget=forms.HiddenInput)
    overturn = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_pins(self) -> list[dict[str, Any]]:
        raw = self.cleaned_data.get("pins") or "[]"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise forms.ValidationError("Pinned comments are not valid JSON.") from None
        if not isinstance(value, list):
            raise forms.ValidationError("Pinned comments must be a list.")
        return value


@login_required
def review_item(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        item = selectors.review_item_get_for_user(user=request.user, item_id=item_id)
    except NotFound:
        raise Http404 from None
    # Opening the page claims the item, as the queue promises; see review_open for who.
    item = selectors.review_item_get_for_user(
        user=request.user, item_id=services.review_open(item=item, user=request_user(request)).id
    )
    project = item.task.project
    roles = user_roles(user=request.user, project=project)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            pins = services.pins_parse(
                values["pins"], width=item.task.image.width, height=item.task.image.height
            )
            if values["overturn"]:
                services.review_overturn(
                    item=item,
                    lead=request_user(request),
                    decision=values["decision"],
                    comment=values["comment"],
                    pins=pins,
                )
            else:
                services.review_decide(
                    item=item,
                    reviewer=request_user(request),
                    decision=values["decision"],
                    comment=values["comment"],
                    pins=pins,
                )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Recorded: {values['decision']} of task {item.task_id}.")
            return redirect("review-queues")
    reference = selectors.review_reference(item=item)
    can_decide = item.status == ReviewItem.Status.PENDING and (
        item.stage == ReviewItem.Stage.PEER or Role.QA_LEAD in roles
    )
    can_overturn = (
        Role.QA_LEAD in roles
        and item.stage == ReviewItem.Stage.PEER
        and item.status in (ReviewItem.Status.ACCEPTED, ReviewItem.Status.REJECTED, ReviewItem.Status.FIXED)
    )
    config = {
        "taskId": item.task_id,
        "mode": "review",
        "apiBase": "/api/",
        "csrfToken": get_token(request),
        "username": request.user.get_username(),
        "queueUrl": "/review/",
        "revisionId": item.revision_id,
        "referenceRevisionId": reference.id if reference else None,
        "reviewItemId": item.id,
    }
    comments = selectors.comments_for_revision(revision=item.revision)
    measurement = selectors.measurement_for_user(user=request.user, revision=item.revision)
    quality = selectors.quality_reports_for_user(user=request.user, revision=item.revision)
    return render(
        request,
        "qa/review_item.html",
        {
            "item": item,
            "form": form,
            "config_json": json.dumps(config),
            "reference": reference,
            "reference_kind": None
            if reference is None
            else ("gold" if reference.task.kind == "gold" else "annotator"),
            "comments": comments,
            "decisions": item.decisions.all(),
            "measurement": measurement,
            "quality": quality,
            "can_decide": can_decide,
            "can_overturn": can_overturn,
        },
    )


# --- the author's feedback --------------------------------------------------------------------------


@login_required
def task_feedback(request: HttpRequest, task_id: int) -> HttpResponse:
    """What reviewers said about the caller's work on a task (comments pinned on the image),
    and the scores against gold where the project lets annotators see them."""
    try:
        task, feedback = selectors.task_feedback_for_user(user=request.user, task_id=task_id)
    except NotFound:
        raise Http404 from None
    image = task.image
    names = {c.category_id: c.name for c in task.taxonomy.categories.all()}
    rows = []
    for entry in feedback:
        pinned = [
            (number, c.x, c.y, c.region)
            for number, c in enumerate(entry.comments, start=1)
            if c.region or (c.x is not None and c.y is not None)
        ]
        found = reports.figures([entry.gold]) if entry.gold is not None else None
        rows.append(
            {
                "revision": entry.revision,
                "comments": list(enumerate(entry.comments, start=1)),
                "image": mark_safe(
                    plots.pinned_comments(
                        f"/api/images/{image.id}/file/",
                        image.width,
                        image.height,
                        pinned,
                        title=f"Comments on revision {entry.revision.number}",
                    )
                )
                if pinned
                else None,
                "gold": None
                if found is None
                else {
                    "miou": found["miou"],
                    "classes": [
                        {
                            "category": names.get(int(category), category),
                            "iou": iou,
                            "drift": (found["boundary_drift"] or {}).get(category),
                        }
                        for category, iou in sorted(found["class_iou"].items(), key=lambda kv: int(kv[0]))
                        if iou is not None  # in neither map: nothing to say about it
                    ],
                },
            }
        )
    return render(request, "qa/feedback.html", {"task": task, "rows": rows})


# --- QA dashboard, calibration, batches, policy ------------------------------------------------------


def _over_batches_chart(project: Project, series: list[dict[str, Any]]) -> str:
    return plots.line_chart(
        [row["batch"] for row in series],
        {
            "agreement mIoU": [row["agreement_miou"] for row in series],
            "gold mIoU": [row["gold_miou"] for row in series],
        },
        title="Agreement and gold mIoU over batches",
        threshold=project.batch_agreement_floor,
    )


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, STAFF_ROLES)
    series = reports.agreement_over_batches(project=project)
    batches = []
    for batch in project.batches.order_by("created_at", "id"):
        row = next((s for s in series if s["batch"] == batch.name), {})
        batches.append(
            {
                "batch": batch,
                "images": batch.images.count(),
                "agreement_miou": row.get("agreement_miou"),
                "gold_miou": row.get("gold_miou"),
            }
        )
    chart = _over_batches_chart(project, series)
    return render(
        request,
        "qa/dashboard.html",
        {
            "project": project,
            "roles": roles,
            "batches": batches,
            "chart": mark_safe(chart),
            "peer_pending": ReviewItem.objects.filter(
                task__project=project, stage="peer", status="pending"
            ).count(),
            "senior_pending": ReviewItem.objects.filter(
                task__project=project, stage="senior", status="pending"
            ).count(),
            "failed_measurements": selectors.failed_measurements(project=project)[:20],
            "audit": selectors.audit_trail(project=project, limit=15),
        },
    )


def _category_columns(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    ids = sorted(report["categories"], key=int)
    return ids, [report["categories"][i] for i in ids]


def _annotator_heatmap(
    report: dict[str, Any], *, metric: str, title: str, threshold: float | list[float | None] | None
) -> str:
    ids, names = _category_columns(report)
    rows = sorted(report["annotators"])
    values = [[report["annotators"][a][metric].get(i) for i in ids] for a in rows]
    return plots.heatmap(rows, names, values, title=title, threshold=threshold)


@login_required
def calibration(request: HttpRequest, slug: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, STAFF_ROLES)
    if request.method == "POST":
        try:
            if "release" in request.POST or "recall" in request.POST:
                user = User.objects.filter(username=request.POST.get("username", "")).first()
                if user is None:
                    raise NotFound("No such user.")
                services.annotator_release(
                    project=project,
                    user=user,
                    by=request_user(request),
                    released="release" in request.POST,
                    reason=request.POST.get("reason", ""),
                )
                messages.success(
                    request,
                    f"{user.get_username()} {'released to production' if 'release' in request.POST else 'kept in calibration'}.",
                )
            elif "start" in request.POST:
                created = services.calibration_start(
                    project=project,
                    batch=_batch(project, request.POST.get("batch", "")),
                    by=request_user(request),
                )
                messages.success(request, f"Calibration started: {created} tasks created.")
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect("qa-calibration", slug=project.slug)
    report = reports.calibration_report(project=project)
    ids, _ = _category_columns(report)
    iou_map = _annotator_heatmap(
        report,
        metric="class_iou",
        title="IoU against gold (annotator × class)",
        threshold=[report["class_thresholds"].get(i, report["threshold"]) for i in ids],
    )
    boundary_map = _annotator_heatmap(
        report, metric="boundary_iou", title="Boundary IoU against gold (annotator × class)", threshold=None
    )
    drift_rows = []
    ids, names = _category_columns(report)
    for annotator in sorted(report["annotators"]):
        drift = report["annotators"][annotator]["boundary_drift"] or {}
        drift_rows.append({"annotator": annotator, "values": [drift.get(i) for i in ids]})
    annotator_rows = [
        {
            "name": name,
            "submitted": progress["submitted"],
            "released": progress["released"],
            "miou": (report["annotators"].get(name) or {}).get("miou"),
            "flags": [f for f in report["flags"] if f["annotator"] == name],
        }
        for name, progress in sorted(report["progress"].items())
    ]
    return render(
        request,
        "qa/calibration.html",
        {
            "project": project,
            "roles": roles,
            "report": report,
            "annotator_rows": annotator_rows,
            "heatmap": mark_safe(iou_map),
            "boundary_heatmap": mark_safe(boundary_map),
            "category_names": names,
            "drift_rows": drift_rows,
            "batches": project.batches.filter(is_calibration=False).order_by("name"),
            "is_manager": Role.MANAGER in roles,
        },
    )


@login_required
def batch_report(request: HttpRequest, slug: str, batch_name: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, STAFF_ROLES)
    batch = _batch(project, batch_name)
    if request.method == "POST":
        decision = request.POST.get("decision")
        try:
            if decision not in ("accept", "reject"):
                raise ValidationFailed("Choose accept or reject.")
            services.batch_decide(
                batch=batch,
                by=request_user(request),
                accept=decision == "accept",
                reason=request.POST.get("reason", ""),
            )
            messages.success(request, f"Batch {batch.name} {decision}ed.")
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect("qa-batch", slug=project.slug, batch_name=batch.name)
    report = reports.batch_report(project=project, batch=batch)
    fmt = request.GET.get("format")
    if fmt == "json":
        response = JsonResponse(report, json_dumps_params={"indent": 1})
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-{batch.name}-qa.json"'
        return response
    if fmt == "csv":
        return csv_response(reports.batch_report_rows(report), filename=f"{project.slug}-{batch.name}-qa.csv")
    ids, names = _category_columns(report)
    overrides = report["class_thresholds"]

    def floors(field: str) -> list[float | None]:
        return [overrides.get(i, {}).get(field, report["thresholds"][field]) for i in ids]

    charts = []
    if report["gold"]:
        charts.append(
            plots.bar_chart(
                [(names[k], report["gold"]["class_iou"].get(i)) for k, i in enumerate(ids)],
                threshold=project.batch_iou_floor,
                floors=floors("batch_iou_floor"),
                title="Per-class IoU against gold",
            )
        )
    if report["agreement"]:
        charts.append(
            plots.bar_chart(
                [(names[k], report["agreement"]["class_iou"].get(i)) for k, i in enumerate(ids)],
                threshold=project.batch_agreement_floor,
                floors=floors("batch_agreement_floor"),
                title="Per-class agreement between annotators (IoU)",
            )
        )
    if report["annotators"]:
        charts.append(
            _annotator_heatmap(
                report,
                metric="class_iou",
                title="Annotator × class IoU against gold",
                threshold=floors("batch_iou_floor"),
            )
        )
    drift_rows = [
        {"annotator": a, "values": [(report["annotators"][a]["boundary_drift"] or {}).get(i) for i in ids]}
        for a in sorted(report["annotators"])
    ]
    pair_rows = [
        {**pair, "values": [pair["class_iou"].get(i) for i in ids]} for pair in report["agreement_pairs"]
    ]
    # Where this batch stands among the others (the project's dashboard draws the same line).
    over_batches = _over_batches_chart(project, reports.agreement_over_batches(project=project))
    return render(
        request,
        "qa/batch_report.html",
        {
            "project": project,
            "batch": batch,
            "report": report,
            "charts": [mark_safe(c) for c in charts],
            "over_batches": mark_safe(over_batches),
            "category_names": names,
            "drift_rows": drift_rows,
            "pair_rows": pair_rows,
            "open_work_text": reports.open_work_text(report["open_work"]),
            "is_qa_lead": Role.QA_LEAD in roles,
        },
    )


class PolicyForm(forms.ModelForm[Project]):
    class Meta:
        model = Project
        fields = [f for f in services.POLICY_FIELDS if f != "stratum_overrides"]


def _class_rows(project: Project) -> list[dict[str, Any]]:
    """One row per category for the policy page: current stratum and the overrides."""
    thresholds = selectors.class_thresholds(project=project)
    return [
        {
            **row,
            "thresholds": [
                (name, thresholds.get(str(row["category_id"]), {}).get(name), getattr(project, name))
                for name in CLASS_THRESHOLD_FIELDS
            ],
        }
        for row in selectors.class_strata(project=project)
    ]


CLASS_THRESHOLD_FIELDS = ("calibration_threshold", "batch_iou_floor", "batch_agreement_floor")


def _class_changes(post: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-class part of the policy form: stratum overrides and threshold overrides."""
    overrides: dict[str, str] = {}
    thresholds: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row["category_id"])
        stratum = post.get(f"stratum_{key}", "")
        if stratum not in ("", "rare", "dominant"):
            raise ValidationFailed(f"Stratum of {row['name']} must be automatic, rare or dominant.")
        if stratum:
            overrides[key] = stratum
        for name in CLASS_THRESHOLD_FIELDS:
            raw = post.get(f"{name}_{key}", "").strip()
            if raw:
                try:
                    thresholds.setdefault(key, {})[name] = float(raw)
                except ValueError:
                    raise ValidationFailed(
                        f"{name.replace('_', ' ')} of {row['name']}: {raw!r} is not a number."
                    ) from None
    return {"stratum_overrides": overrides, "class_thresholds": thresholds}


@login_required
def policy(request: HttpRequest, slug: str) -> HttpResponse:
    project, roles = project_for_page(request, slug, STAFF_ROLES)
    editable = Role.MANAGER in roles
    form = PolicyForm(request.POST or None, instance=project)
    rows = _class_rows(project)
    if request.method == "POST":
        if not editable:
            raise Http404
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            try:
                # A form without the per-class table (an older page) leaves the classes alone.
                has_table = any(f"stratum_{row['category_id']}" in request.POST for row in rows)
                per_class = (
                    _class_changes(request.POST, rows)
                    if has_table
                    else {
                        "stratum_overrides": project.stratum_overrides,
                        "class_thresholds": selectors.class_thresholds(project=project),
                    }
                )
                if per_class["stratum_overrides"] != project.stratum_overrides:
                    changes["stratum_overrides"] = per_class["stratum_overrides"]
                if per_class["class_thresholds"] != selectors.class_thresholds(project=project):
                    changes["class_thresholds"] = per_class["class_thresholds"]
                if changes:
                    services.policy_update(
                        project=Project.objects.get(id=project.id), by=request_user(request), changes=changes
                    )
                    messages.success(request, f"QA policy updated: {', '.join(sorted(changes))}.")
            except ApplicationError as error:
                messages.error(request, error.message)
            return redirect("qa-policy", slug=project.slug)
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "qa/policy.html",
        {"project": project, "form": form, "editable": editable, "class_rows": rows},
    )
