"""Batch acceptance and the QA policy: decisions a QA lead or manager takes, all audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from core.exceptions import Forbidden, ValidationFailed
from core.roles import Role
from projects.models import Batch, Project
from projects.selectors import user_roles
from projects.services import project_update
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


@transaction.atomic
def batch_decide(*, batch: Batch, by: User, accept: bool, reason: str = "", report: dict[str, Any]) -> Batch:
    """Accept or reject a batch (QA lead). Accepting a batch that fails its thresholds needs a
    written reason; ``report`` is the batch report the decision was taken on, kept in the audit."""
    project = batch.project
    if Role.QA_LEAD not in user_roles(user=by, project=project):
        raise Forbidden("Batch acceptance needs the qa_lead role.")
    if accept and not report["passed"] and not reason.strip():
        raise ValidationFailed("This batch fails its thresholds; accepting it anyway needs a reason.")
    batch.status = Batch.Status.ACCEPTED if accept else Batch.Status.REJECTED
    batch.save(update_fields=["status", "updated_at"])
    audit(
        project=project,
        actor=by,
        action="batch_accepted" if accept else "batch_rejected",
        target=batch.name,
        reason=reason.strip(),
        passed=report["passed"],
        failures=report["failures"],
    )
    return batch
