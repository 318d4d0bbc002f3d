"""Revisions are append-only: no code path updates a map or a segment table in place."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from annotation.models import IMMUTABLE_FIELDS, ImmutableContentError, Revision, revision_deletion_allowed
from projects.models import Task
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


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the triggers exist on PostgreSQL; SQLite relies on the model guards")


@pytest.mark.parametrize(
    ("column", "value"),
    [("segments", "'[]'"), ("map_key", "'elsewhere.png'"), ("map_sha256", "'0000'"), ("width", "99")],
)
def test_database_refuses_raw_updates_of_content_on_postgresql(
    revision: Revision, column: str, value: str
) -> None:
    postgresql_only()
    before = Revision.objects.values().get(id=revision.id)

    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE annotation_revision SET {column} = {value} WHERE id = %s", [revision.id])

    assert Revision.objects.values().get(id=revision.id) == before


def test_database_allows_raw_updates_of_status_on_postgresql(revision: Revision) -> None:
    postgresql_only()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotation_revision SET status = 'submitted' WHERE id = %s", [revision.id])

    assert Revision.objects.get(id=revision.id).status == Revision.Status.SUBMITTED


def test_database_refuses_a_raw_delete_on_postgresql(revision: Revision) -> None:
    postgresql_only()

    with (
        pytest.raises(IntegrityError, match="never deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM annotation_revision WHERE id = %s", [revision.id])

    assert Revision.objects.filter(id=revision.id).exists()


def test_deleting_a_revision_is_refused(revision: Revision) -> None:
    with pytest.raises(ImmutableContentError, match="never deleted"):
        revision.delete()
    with pytest.raises(ImmutableContentError, match="never deleted"):
        Revision.objects.filter(id=revision.id).delete()
    with pytest.raises(ImmutableContentError, match="never deleted"):
        revision.task.revisions.all().delete()

    assert Revision.objects.filter(id=revision.id).exists()


@pytest.mark.parametrize("holder", ["task", "image", "project"])
def test_deleting_what_holds_a_revision_is_refused(revision: Revision, holder: str) -> None:
    obj = {"task": revision.task, "image": revision.task.image, "project": revision.task.project}[holder]

    with pytest.raises(ProtectedError), transaction.atomic():
        obj.delete()

    assert Revision.objects.filter(id=revision.id).exists()
    assert Task.objects.filter(id=revision.task_id).exists()


def test_a_deliberate_purge_deletes_and_closes_again(revision: Revision) -> None:
    other = Revision.objects.get(id=revision.id)

    with revision_deletion_allowed():
        Revision.objects.filter(id=revision.id).delete()

    assert not Revision.objects.filter(id=revision.id).exists()
    with pytest.raises(ImmutableContentError):
        other.delete()  # the permission ended with the block, in the same transaction


def test_the_purge_permission_ends_with_its_block_in_the_database(revision: Revision) -> None:
    postgresql_only()
    with revision_deletion_allowed():
        pass

    with (
        pytest.raises(IntegrityError, match="never deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM annotation_revision WHERE id = %s", [revision.id])
    assert Revision.objects.filter(id=revision.id).exists()


def test_the_triggers_are_installed_on_postgresql(db: Any) -> None:
    postgresql_only()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'annotation_revision'::regclass AND NOT tgisinternal"
        )
        names = sorted(row[0] for row in cursor.fetchall())

    assert names == ["annotation_revision_append_only", "annotation_revision_never_deleted"]


# A revision's map and segment table, by the attribute names code would write them through.
CONTENT_ATTRIBUTES = frozenset(IMMUTABLE_FIELDS - {"created_at"})
MAP_AND_TABLE = frozenset({"segments", "map_key", "map_sha256", "map_bits"})
# Apps that handle revisions directly: there, writing one of these attributes on any object
# is an offence (elsewhere the names also belong to counters, e.g. an export's tally.segments).
REVISION_APPS = ("annotation", "qa")
REVISION_NAME = re.compile(r"revision|\brev\b|\brev_|_rev\b", re.IGNORECASE)


def _about_revisions(node: ast.AST) -> bool:
    return bool(REVISION_NAME.search(ast.unparse(node)))


def _offences(tree: ast.AST, *, revision_app: bool) -> list[tuple[int, str]]:
    """(line, why) for every write of a revision's content in place, or delete of a revision."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Attribute):
                    continue
                if target.attr in CONTENT_ATTRIBUTES and _about_revisions(target.value):
                    found.append((node.lineno, f"assigns .{target.attr} of a revision"))
                elif target.attr in MAP_AND_TABLE and revision_app:
                    found.append((node.lineno, f"assigns .{target.attr}"))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                name = node.args[1]
                if (
                    isinstance(name, ast.Constant)
                    and name.value in CONTENT_ATTRIBUTES
                    and (revision_app or _about_revisions(node.args[0]))
                ):
                    found.append((node.lineno, f"setattr of {name.value!r}"))
            if not isinstance(func, ast.Attribute):
                continue
            receiver_is_revisions = _about_revisions(func.value)
            if func.attr == "update" and receiver_is_revisions:
                touched = {k.arg for k in node.keywords if k.arg} & CONTENT_ATTRIBUTES
                if touched:
                    found.append((node.lineno, f"queryset update of {sorted(touched)}"))
            if func.attr == "bulk_update" and receiver_is_revisions:
                found.append((node.lineno, "bulk_update of revisions"))
            if func.attr == "delete" and receiver_is_revisions and not node.args:
                found.append((node.lineno, "delete of revisions"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            sql = " ".join(node.value.split()).upper()
            if "UPDATE ANNOTATION_REVISION" in sql or "DELETE FROM ANNOTATION_REVISION" in sql:
                found.append((node.lineno, "raw SQL on annotation_revision"))
    return found


def test_no_application_code_writes_revision_content_or_deletes_revisions() -> None:
    offenders = []
    scanned = 0
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "masks" in path.parts:
                continue
            if path.relative_to(ROOT).as_posix() == "annotation/models.py":
                continue  # the guards themselves (the model's own delete and update)
            scanned += 1
            source = path.read_text()
            for line, why in _offences(ast.parse(source), revision_app=app in REVISION_APPS):
                text = source.splitlines()[line - 1].strip()
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {why}: {text}")

    assert scanned > 50
    assert offenders == []


@pytest.mark.parametrize(
    "snippet",
    [
        "revision.segments = []",
        "latest_revision.map_key = key",
        "rev.map_sha256 = digest",
        "self.revision.segments += extra",
        "Revision.objects.filter(id=1).update(segments=[])",
        "task.revisions.filter(number=2).update(map_key='x')",
        "Revision.objects.bulk_update(rows, ['segments'])",
        "setattr(revision, 'segments', [])",
        "Revision.objects.filter(task=task).delete()",
        "task.revisions.all().delete()",
        "revision.delete()",
        "cursor.execute('UPDATE annotation_revision SET segments = %s', [x])",
        "cursor.execute('delete   from annotation_revision where id = 1')",
    ],
)
def test_the_scan_finds_each_kind_of_offence(snippet: str) -> None:
    assert _offences(ast.parse(snippet), revision_app=False)


@pytest.mark.parametrize(
    "snippet",
    [
        "tally.segments += 1",
        "Revision.objects.filter(id=1).update(status='accepted')",
        "revision.save(update_fields=['status'])",
        "Task.objects.filter(id=1).update(assignee=None)",
        "Revision.objects.create(task=task, number=1, segments=[])",
        "review.delete()",
    ],
)
def test_the_scan_leaves_allowed_code_alone(snippet: str) -> None:
    assert _offences(ast.parse(snippet), revision_app=False) == []


def test_in_revision_apps_any_write_of_the_map_or_table_counts() -> None:
    assert _offences(ast.parse("item.segments = []"), revision_app=True)
    assert _offences(ast.parse("item.segments = []"), revision_app=False) == []
