"""Revisions are append-only: no code path updates a map or a segment table in place."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, InternalError, connection, transaction

from annotation.models import IMMUTABLE_FIELDS, ImmutableContentError, Revision
from qa.services import revision_save
from tests.factories import assign, make_project
from tests.helpers import map_png

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "projects", "annotation", "qa", "deliveries", "frontend", "config")


@pytest.fixture
def revision(db: Any) -> Revision:
    project = make_project(members={"ann1": ["annotator"]}, images=1, size=(4, 2))
    user = get_user_model().objects.get(username="ann1")
    task = assign(project.tasks.get(), user)
    return revision_save(
        task=task,
        author=user,
        png=map_png(np.ones((2, 4), np.uint16)),
        segments_raw=[{"id": 1, "category_id": 1}],
        parent_number=None,
        submit=False,
    )


def test_saving_changed_segments_is_refused(revision: Revision) -> None:
    revision.segments = []

    with pytest.raises(ImmutableContentError):
        revision.save()
    with pytest.raises(ImmutableContentError):
        revision.save(update_fields=["segments"])
    revision.refresh_from_db()
    assert [s["id"] for s in revision.segments] == [1]


def test_queryset_update_of_the_map_is_refused(revision: Revision) -> None:
    with pytest.raises(ImmutableContentError):
        Revision.objects.filter(id=revision.id).update(map_key="elsewhere.png")

    revision.refresh_from_db()
    assert revision.map_key.startswith("maps/")


def test_status_may_change(revision: Revision) -> None:
    revision.status = Revision.Status.SUBMITTED
    revision.save(update_fields=["status"])

    assert Revision.objects.get(id=revision.id).status == Revision.Status.SUBMITTED


def test_database_refuses_raw_updates_of_content_on_postgresql(revision: Revision) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL; SQLite relies on the model guard")
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_revision SET segments = '[]' WHERE id = %s", [revision.id])

    revision.refresh_from_db()
    assert len(revision.segments) == 1


def _assignments_to_content(tree: ast.AST) -> list[int]:
    """Line numbers where code assigns a content field on some object (x.segments = …)."""
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr]
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in IMMUTABLE_FIELDS - {"created_at"}:
                lines.append(target.lineno)
    return lines


def test_no_application_code_assigns_revision_content() -> None:
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "masks" in path.parts:
                continue
            source = path.read_text()
            if "Revision" not in source and "revision" not in source:
                continue
            for line in _assignments_to_content(ast.parse(source)):
                text = source.splitlines()[line - 1].strip()
                # Writes to other models' fields of the same name (task.assignee, …) are fine.
                if "revision" in text.split("=")[0].lower():
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {text}")

    assert offenders == []
