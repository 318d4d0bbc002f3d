"""Batch acceptance and the QA policy: decisions a QA lead or manager takes, all audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.roles import Role
from projects.models import Batch, Category, Project
from projects.selectors import user_roles
from projects.services import project_update
from qa.models import ClassThreshold
from qa.reports import batch_report, open_work_text
from qa.selectors import class_thresholds
from qa.services.production import audit

POLICY_FIELDS = (
    "calibration_threshold",
    "overlap_share",
    "gold_share",
    "peer_review_rate_dominant",
    "peer_review_rate_rare",
    "rare_class_share",
    "stratum_overrides",
    "senior_qa_share",
    "gold_pass_iou",
    "overlap_agreement_threshold",
    "batch_iou_floor",
    "batch_agreement_floor",
    "boundary_ratio",
    "annotator_gold_feedback",
)


# Not a Project field: per-class overrides of the thresholds, kept in ClassThreshold rows.
CLASS_THRESHOLDS = "class_thresholds"


def _category_ids(project: Project) -> set[int]:
    return set(
        Category.objects.filter(taxonomy__project=project).values_list("category_id", flat=True).distinct()
    )


def _category_key(key: Any, known: set[int], field: str) -> int:
    try:
        category = int(str(key))
    except ValueError:
        raise ValidationFailed(f"{field}: {key!r} is not a category id.") from None
    if str(category) != str(key) or category not in known:
        raise ValidationFailed(f"{field}: {key!r} is not a category id of this project.")
    return category


def _overrides_clean(raw: Any, known: set[int]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValidationFailed('stratum_overrides maps category ids to "rare" or "dominant".')
    clean = {}
    for key, value in raw.items():
        if value not in ("rare", "dominant"):
            raise ValidationFailed('stratum_overrides maps category ids to "rare" or "dominant".')
        clean[str(_category_key(key, known, "stratum_overrides"))] = value
    return dict(sorted(clean.items(), key=lambda item: int(item[0])))


def _thresholds_clean(raw: Any, known: set[int]) -> dict[int, dict[str, float]]:
    message = (
        "class_thresholds maps category ids to {field: value between 0 and 1, or null}, fields "
        + ", ".join(ClassThreshold.FIELDS)
        + "."
    )
    if not isinstance(raw, dict):
        raise ValidationFailed(message)
    clean: dict[int, dict[str, float]] = {}
    for key, values in raw.items():
        category = _category_key(key, known, CLASS_THRESHOLDS)
        if not isinstance(values, dict) or set(values) - set(ClassThreshold.FIELDS):
            raise ValidationFailed(message)
        row = {}
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValidationFailed(message)
            row[name] = float(value)
        if row:
            clean[category] = row
    return clean


@transaction.atomic
def policy_update(*, project: Project, by: User, changes: dict[str, Any]) -> Project:
    """Change QA policy fields (manager only); the audit log keeps the old and new values.

    ``stratum_overrides`` and ``class_thresholds`` are replaced whole and must name category
    ids of the project's taxonomy; ``class_thresholds`` overrides ``calibration_threshold``,
    ``batch_iou_floor`` and ``batch_agreement_floor`` per class (null = the project's value).
    Nothing is written unless every change is valid.
    """
    if Role.MANAGER not in user_roles(user=by, project=project):
        raise Forbidden("Changing the QA policy needs the manager role.")
    unknown = sorted(set(changes) - set(POLICY_FIELDS) - {CLASS_THRESHOLDS})
    if unknown:
        raise ValidationFailed(f"Not QA policy fields: {unknown}.")
    changes = dict(changes)
    known = _category_ids(project)
    if "stratum_overrides" in changes:
        changes["stratum_overrides"] = _overrides_clean(changes["stratum_overrides"], known)
    thresholds = None
    if CLASS_THRESHOLDS in changes:
        thresholds = _thresholds_clean(changes.pop(CLASS_THRESHOLDS), known)
    before: dict[str, Any] = {name: getattr(project, name) for name in changes}
    after: dict[str, Any] = {}
    if changes:
        project = project_update(project=project, changes=changes)
        after = {name: getattr(project, name) for name in changes}
    if thresholds is not None:
        before[CLASS_THRESHOLDS] = class_thresholds(project=project)
        ClassThreshold.objects.filter(project=project).delete()
        ClassThreshold.objects.bulk_create(
            [
                ClassThreshold(project=project, category_id=c, **values)
                for c, values in sorted(thresholds.items())
            ]
        )
        after[CLASS_THRESHOLDS] = class_thresholds(project=project)
    if before != after:
        audit(project=project, actor=by, action="policy_changed", before=before, after=after)
    return project


@dataclass(frozen=True)
class BatchDecided:
    batch: Batch
    report: dict[str, Any]


@transaction.atomic
def batch_decide(*, batch: Batch, by: User, accept: bool, reason: str = "") -> BatchDecided:
    """Accept or reject a production batch (QA lead), on its report computed now.

    Accepting needs the batch's work finished (nothing left to submit, measure, review or
    rework, every gold image labelled) and, when the batch fails its thresholds, a written
    reason. Rejecting always needs a reason. The report's verdict, failures and open work are
    kept in the audit entry.
    """
    project = batch.project
    if Role.QA_LEAD not in user_roles(user=by, project=project):
        raise Forbidden("Batch acceptance needs the qa_lead role.")
    batch = Batch.objects.select_for_update().get(id=batch.id)
    if batch.is_calibration:
        raise Conflict(
            f"Batch {batch.name} is the calibration set: it is not accepted, its annotators are released."
        )
    report = batch_report(project=project, batch=batch)
    reason = reason.strip()
    if accept:
        if not report["complete"]:
            raise Conflict(
                f"Batch {batch.name} still has open work: {open_work_text(report['open_work'])}.",
                extra={"open_work": report["open_work"]},
            )
        if not report["passed"] and not reason:
            raise ValidationFailed("This batch fails its thresholds; accepting it anyway needs a reason.")
    elif not reason:
        raise ValidationFailed("Rejecting a batch needs a reason saying what is wrong with it.")
    batch.status = Batch.Status.ACCEPTED if accept else Batch.Status.REJECTED
    batch.save(update_fields=["status", "updated_at"])
    audit(
        project=project,
        actor=by,
        action="batch_accepted" if accept else "batch_rejected",
        target=batch.name,
        reason=reason,
        passed=report["passed"],
        failures=report["failures"],
        open_work=report["open_work"],
    )
    return BatchDecided(batch=batch, report=report)
