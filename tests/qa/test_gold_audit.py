"""Setting an image's gold is a QA decision: it is in the audit trail (who, when, what)."""

from __future__ import annotations

from typing import Any

import pytest

from core.exceptions import ValidationFailed
from qa.models import AuditEvent
from tests.factories import STANDARD_MEMBERS, make_project
from tests.qa.support import H, W, make_gold, scene, user


def test_setting_and_replacing_gold_is_audited(db: Any, api: Any) -> None:
    project = make_project(slug="g", members=STANDARD_MEMBERS, images=1, size=(W, H))
    image = project.images.get()

    first = make_gold(image, user("lead"), scene())
    second = make_gold(image, user("lead"), scene(horizon=6))

    trail = api(user("manager")).get("/api/projects/g/audit/").json()
    gold = [e for e in trail if e["action"] == "gold_set"]
    assert [(e["actor"], e["target"], e["details"]) for e in gold] == [
        ("lead", image.file_name, {"revision": second.id, "replaces": first.id, "source": "editor"}),
        ("lead", image.file_name, {"revision": first.id, "replaces": None, "source": "editor"}),
    ]
    assert all(e["at"] for e in gold)


def test_a_refused_gold_writes_no_audit_entry(db: Any) -> None:
    project = make_project(slug="g", members=STANDARD_MEMBERS, images=1, size=(W, H))
    image = project.images.get()
    wrong_size = scene()[:-1]

    with pytest.raises(ValidationFailed):
        make_gold(image, user("lead"), wrong_size)

    assert not AuditEvent.objects.filter(project=project, action="gold_set").exists()
