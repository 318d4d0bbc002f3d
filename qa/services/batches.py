"""Batch acceptance and the QA policy: decisions a QA lead or manager takes, all audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from core.exceptions import Conflict, Forbidden, ValidationFailed
from core.roles import Role
from projects.models import Batch, Project
from projects.selectors import user_roles
from projects.services import project_update
from qa.reports import batch_report, open_work_text
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


@transaction.atomic
def policy_update(*, project: Project, by: User, changes: dict[str, Any]) -> Project:
    """Change QA policy fields (manager only); the audit log keeps the old and new values."""
    if Role.MANAGER not in user_roles(user=by, project=project):
        raise Forbidden("Changing the QA policy needs the manager role.")
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(f"Not QA policy fields: {unknown}.")
    overrides = changes.get("stratum_overrides")
    if overrides is not None and (
        not isinstance(overrides, dict) or any(v not in ("rare", "dominant") for v in overrides.values())
    ):
        raise ValidationFailed('stratum_overrides maps category ids to "rare" or "dominant".')
    before = {name: getattr(project, name) for name in changes}
    project = project_update(project=project, changes=changes)
    after = {name: getattr(project, name) for name in changes}
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
