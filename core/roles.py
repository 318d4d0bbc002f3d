"""Project roles. A user may hold several roles in one project."""

from django.db import models


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    QA_LEAD = "qa_lead", "QA lead"
    CLIENT = "client", "Client"


# Roles that see every task, revision and report of a project.
STAFF_ROLES = frozenset({Role.MANAGER, Role.QA_LEAD})
# Roles that work inside the annotation process (everyone but the client).
TEAM_ROLES = frozenset({Role.MANAGER, Role.QA_LEAD, Role.REVIEWER, Role.ANNOTATOR})
