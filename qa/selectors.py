"""Reads of measurements and quality reports, with who may see which figures."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.models import Revision
from core.roles import STAFF_ROLES, Role
from projects.selectors import UserLike, user_roles
from qa.models import QualityReport, RevisionMeasurement


def quality_reports_for_user(*, user: UserLike, revision: Revision) -> QuerySet[QualityReport]:
    """Reports of a revision the user may see; call with a revision the user may see.

    manager and qa_lead: all. Reviewers: all of a revision in their queue (the numbers back
    their decision). The author: scores against gold only, and only when the project lets
    annotators see them; never agreement, which would tell them a peer labelled the same image.
    Everyone else: none.
    """
    reports = revision.quality_reports.select_related("reference").order_by("kind", "reference_id")
    project = revision.task.project
    roles = user_roles(user=user, project=project)
    if roles & STAFF_ROLES or (Role.REVIEWER in roles and revision.author_id != user.pk):
        return reports
    if revision.author_id == user.pk and project.annotator_gold_feedback:
        return reports.filter(kind=QualityReport.Kind.GOLD)
    return reports.none()


def measurement_of(*, revision: Revision) -> RevisionMeasurement | None:
    return RevisionMeasurement.objects.filter(revision=revision).first()
