"""The admin site follows the services' rules: frozen taxonomy versions and tasks holding work."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from annotation.models import Revision
from core.exceptions import Conflict, ValidationFailed
from projects.models import ConflictRule, EdgeCase, Project, Task, TaxonomyVersion
from projects.services import task_reassign, task_update, taxonomy_freeze, taxonomy_parse, taxonomy_replace
from qa.services import revision_save
from tests.factories import STANDARD_MEMBERS, TAXONOMY, assign, make_project
from tests.helpers import map_png

H, W = 4, 6


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


@pytest.fixture
def project(db: Any) -> Project:
    project = make_project(slug="a", members=STANDARD_MEMBERS, images=2, size=(W, H))
    taxonomy_replace(
        project=project,
        spec=taxonomy_parse(
            {
                "categories": TAXONOMY,
                "conflict_rules": [{"title": "Kerb", "rule": "Kerb is road.", "category_ids": [1, 3]}],
                "edge_cases": [{"title": "Glass", "description": "The surface.", "category_ids": [3]}],
            }
        ),
    )
    return project


def version_of(project: Project) -> TaxonomyVersion:
    return project.taxonomy_versions.get()


def save_draft(task: Task, author: Any, parent: int | None = None) -> Revision:
    return revision_save(
        task=task,
        author=author,
        png=map_png(np.ones((H, W), np.uint16)),
        segments_raw=[{"id": 1, "category_id": 1}],
        parent_number=parent,
        submit=False,
    )


def category_rows(version: TaxonomyVersion) -> list[tuple[Any, ...]]:
    return list(version.categories.order_by("id").values_list("category_id", "name", "color", "hotkey"))


def version_post(version: TaxonomyVersion, *, rename: dict[int, str], delete: tuple[int, ...] = ()) -> dict:
    categories = list(version.categories.order_by("id"))
    data: dict[str, Any] = {
        "project": version.project_id,
        "number": version.number,
        "note": version.note,
        "categories-TOTAL_FORMS": len(categories),
        "categories-INITIAL_FORMS": len(categories),
        "categories-MIN_NUM_FORMS": 0,
        "categories-MAX_NUM_FORMS": 1000,
    }
    for i, c in enumerate(categories):
        data |= {
            f"categories-{i}-id": c.id,
            f"categories-{i}-taxonomy": version.id,
            f"categories-{i}-category_id": c.category_id,
            f"categories-{i}-name": rename.get(c.category_id, c.name),
            f"categories-{i}-color": c.color,
            f"categories-{i}-definition": c.definition,
            f"categories-{i}-min_area": c.min_area,
            f"categories-{i}-hotkey": c.hotkey,
        }
        if c.isthing:
            data[f"categories-{i}-isthing"] = "on"
        if c.category_id in delete:
            data[f"categories-{i}-DELETE"] = "on"
    return data


# --- taxonomy versions ---------------------------------------------------------------------------


def test_categories_of_an_unfrozen_version_are_editable(admin_client: Any, project: Project) -> None:
    version = version_of(project)
    url = f"/admin/projects/taxonomyversion/{version.id}/change/"

    response = admin_client.post(url, version_post(version, rename={1: "street"}))

    assert response.status_code == 302, response.content
    assert version.categories.get(category_id=1).name == "street"


def test_frozen_version_page_is_read_only_and_refuses_changes(admin_client: Any, project: Project) -> None:
    version = version_of(project)
    before = category_rows(version)
    data = version_post(version, rename={1: "street"}, delete=(9,))
    taxonomy_freeze(taxonomy=version)
    url = f"/admin/projects/taxonomyversion/{version.id}/change/"

    page = admin_client.get(url)
    response = admin_client.post(url, data)

    assert page.status_code == 200
    assert b'name="categories-0-name"' not in page.content
    assert b'name="categories-0-DELETE"' not in page.content
    assert response.status_code == 403
    assert category_rows(version) == before


def test_frozen_version_cannot_be_deleted_one_by_one_or_in_bulk(admin_client: Any, project: Project) -> None:
    version = version_of(project)
    taxonomy_freeze(taxonomy=version)

    single = admin_client.post(f"/admin/projects/taxonomyversion/{version.id}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        "/admin/projects/taxonomyversion/",
        {"action": "delete_selected", "_selected_action": [version.id], "post": "yes"},
    )

    assert single.status_code == 403
    assert bulk.status_code == 200  # the confirmation page, saying why it cannot go on
    assert b"of a frozen taxonomy version" in bulk.content
    assert TaxonomyVersion.objects.filter(id=version.id).exists()
    assert version.categories.count() == len(TAXONOMY)


@pytest.mark.parametrize(("model", "label"), [(ConflictRule, "conflictrule"), (EdgeCase, "edgecase")])
def test_rules_and_edge_cases_of_a_frozen_version_cannot_change(
    admin_client: Any, project: Project, model: Any, label: str
) -> None:
    version = version_of(project)
    item = model.objects.get(taxonomy=version)
    taxonomy_freeze(taxonomy=version)
    base = f"/admin/projects/{label}/"

    view = admin_client.get(f"{base}{item.id}/change/")
    change = admin_client.post(f"{base}{item.id}/change/", {"taxonomy": version.id, "title": "Changed"})
    delete = admin_client.post(f"{base}{item.id}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        base, {"action": "delete_selected", "_selected_action": [item.id], "post": "yes"}
    )

    assert view.status_code == 200  # operators may still read it
    assert (change.status_code, delete.status_code, bulk.status_code) == (403, 403, 403)
    item.refresh_from_db()
    assert item.title in {"Kerb", "Glass"}


@pytest.mark.parametrize(("model", "label"), [(ConflictRule, "conflictrule"), (EdgeCase, "edgecase")])
def test_rules_and_edge_cases_of_an_unfrozen_version_can_be_deleted(
    admin_client: Any, project: Project, model: Any, label: str
) -> None:
    item = model.objects.get(taxonomy=version_of(project))

    response = admin_client.post(f"/admin/projects/{label}/{item.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not model.objects.filter(id=item.id).exists()


def test_a_new_rule_goes_only_into_an_unfrozen_version(admin_client: Any, project: Project) -> None:
    version = version_of(project)
    road, sky = version.categories.filter(category_id__in=[1, 3]).order_by("category_id")
    data = {"title": "Puddle", "rule": "Road.", "categories": [road.id, sky.id]}
    taxonomy_freeze(taxonomy=version)

    refused = admin_client.post("/admin/projects/conflictrule/add/", {**data, "taxonomy": version.id})

    assert refused.status_code == 200  # the form again, with the error
    assert b"Select a valid choice" in refused.content
    assert not ConflictRule.objects.filter(title="Puddle").exists()

    fresh = taxonomy_replace(project=project, spec=_spec())
    road, sky = fresh.categories.filter(category_id__in=[1, 3]).order_by("category_id")
    accepted = admin_client.post(
        "/admin/projects/conflictrule/add/", {**data, "taxonomy": fresh.id, "categories": [road.id, sky.id]}
    )

    assert accepted.status_code == 302
    assert ConflictRule.objects.get(title="Puddle").taxonomy == fresh


def test_a_rule_cannot_name_categories_of_another_version(admin_client: Any, project: Project) -> None:
    old = version_of(project)
    taxonomy_freeze(taxonomy=old)
    fresh = taxonomy_replace(project=project, spec=_spec())
    old_road = old.categories.get(category_id=1)
    fresh_sky = fresh.categories.get(category_id=3)

    response = admin_client.post(
        "/admin/projects/conflictrule/add/",
        {"taxonomy": fresh.id, "title": "Mixed", "rule": "?", "categories": [old_road.id, fresh_sky.id]},
    )

    assert response.status_code == 200
    assert b"are not in" in response.content
    assert not ConflictRule.objects.filter(title="Mixed").exists()


def _spec() -> Any:
    return taxonomy_parse(TAXONOMY)


# --- tasks ---------------------------------------------------------------------------------------


def task_post(task: Task, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "project": task.project_id,
        "image": task.image_id,
        "taxonomy": task.taxonomy_id,
        "kind": task.kind,
        "assignee": task.assignee_id or "",
    }
    if task.is_overlap:
        data["is_overlap"] = "on"
    return data | changes


def test_task_holding_work_keeps_its_person_image_and_taxonomy(admin_client: Any, project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    save_draft(task, user("ann1"))
    other_image = project.images.exclude(id=task.image_id).get()
    url = f"/admin/projects/task/{task.id}/change/"

    page = admin_client.get(url)
    response = admin_client.post(url, task_post(task, assignee=user("ann2").id, image=other_image.id))

    assert b'name="assignee"' not in page.content
    assert b'name="image"' not in page.content
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.assignee_id == user("ann1").id
    assert task.image_id != other_image.id


def test_task_without_work_can_be_reassigned_in_admin(admin_client: Any, project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]

    response = admin_client.post(
        f"/admin/projects/task/{task.id}/change/", task_post(task, assignee=user("ann2").id)
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.assignee_id == user("ann2").id
    assert task.status == Task.Status.TODO
    assert task.assigned_at is not None


def test_admin_refuses_an_assignee_who_is_not_an_annotator(admin_client: Any, project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]

    response = admin_client.post(
        f"/admin/projects/task/{task.id}/change/", task_post(task, assignee=user("cli").id)
    )

    assert response.status_code == 200
    assert b"cli is not annotator in this project" in response.content
    task.refresh_from_db()
    assert task.assignee_id == user("ann1").id


def test_admin_ignores_a_reassignment_when_work_was_saved_after_the_form_opened(
    admin_client: Any, project: Project
) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    url = f"/admin/projects/task/{task.id}/change/"
    assert b'name="assignee"' in admin_client.get(url).content
    save_draft(task, user("ann1"))

    admin_client.post(url, task_post(task, assignee=user("ann2").id))

    task.refresh_from_db()
    assert task.assignee_id == user("ann1").id
    assert b'name="assignee"' not in admin_client.get(url).content


def test_task_update_refuses_work_bound_changes_once_work_exists(project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    save_draft(task, user("ann1"))
    other_image = project.images.exclude(id=task.image_id).get()
    before = Task.objects.filter(id=task.id).values().get()

    with pytest.raises(Conflict, match="its image cannot change"):
        task_update(task=task, changes={"image": other_image})
    with pytest.raises(Conflict, match="holds work saved by ann1"):
        task_update(task=task, changes={"assignee": user("ann2")})

    assert Task.objects.filter(id=task.id).values().get() == before


def test_admin_refuses_an_image_of_another_project(admin_client: Any, project: Project) -> None:
    other = make_project(slug="b", images=1, size=(W, H))
    task = project.tasks.order_by("id").first()
    assert task is not None

    response = admin_client.post(
        f"/admin/projects/task/{task.id}/change/", task_post(task, image=other.images.get().id)
    )

    assert response.status_code == 200
    assert b"belong to the task&#x27;s project" in response.content
    task.refresh_from_db()
    assert task.image.project_id == project.id


# --- the reassignment service ------------------------------------------------------------------


def test_reassigning_a_task_with_someone_elses_work_is_refused(project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    save_draft(task, user("ann1"))
    before = Task.objects.filter(id=task.id).values().get()

    with pytest.raises(Conflict) as to_other:
        task_reassign(task=task, assignee=user("ann2"))
    with pytest.raises(Conflict):
        task_reassign(task=task, assignee=None)  # back to the pool: the next puller would see it

    assert to_other.value.extra["code"] == "task_holds_work"
    assert "ann1" in to_other.value.message
    assert Task.objects.filter(id=task.id).values().get() == before


def test_a_task_with_only_the_assignees_work_may_be_given_back_to_them(project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    save_draft(task, user("ann1"))

    same = task_reassign(task=task, assignee=user("ann1"))

    assert same.assignee_id == user("ann1").id


def test_a_task_without_work_goes_back_to_the_pool(project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]

    released = task_reassign(task=task, assignee=None)

    assert (released.assignee_id, released.assigned_at, released.status) == (None, None, Task.Status.TODO)


def test_reassignment_keeps_one_task_per_person_and_image(project: Project) -> None:
    first = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    overlap = Task.objects.create(
        project=project, image=first.image, taxonomy=first.taxonomy, is_overlap=True, assignee=user("ann2")
    )

    with pytest.raises(Conflict, match="already has a task on this image"):
        task_reassign(task=overlap, assignee=user("ann1"))
    with pytest.raises(ValidationFailed, match="rev is not annotator"):
        task_reassign(task=overlap, assignee=user("rev"))

    overlap.refresh_from_db()
    assert overlap.assignee_id == user("ann2").id


# --- the selector guard ------------------------------------------------------------------------


def test_an_assignee_never_sees_another_persons_work_on_their_task(api: Any, project: Project) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    ann1_work = save_draft(task, user("ann1"))
    # A task handed on behind the services' back (raw update, old data): the guard still holds.
    Task.objects.filter(id=task.id).update(assignee=user("ann2"))
    ann2 = api(user("ann2"))

    annotation = ann2.get(f"/api/tasks/{task.id}/annotation/")
    listing = ann2.get(f"/api/tasks/{task.id}/revisions/")
    detail = ann2.get(f"/api/revisions/{ann1_work.id}/")
    index_map = ann2.get(f"/api/revisions/{ann1_work.id}/index-map/")

    assert annotation.status_code == 404
    assert listing.status_code == 200
    assert listing.json() == []
    assert (detail.status_code, index_map.status_code) == (404, 404)
    # the manager still sees the work
    assert api(user("manager")).get(f"/api/tasks/{task.id}/annotation/").json()["revision_id"] == ann1_work.id


def test_an_assignee_sees_their_own_work_and_what_the_project_put_on_their_task(
    api: Any, project: Project
) -> None:
    task = assign(project.tasks.order_by("id").first(), user("ann1"))  # type: ignore[arg-type]
    from annotation.services import SegmentIn
    from qa.services import revision_import

    prelabel = revision_import(
        task=task,
        author=user("manager"),
        index_map=np.ones((H, W), np.uint16),
        segments=[SegmentIn(id=1, category_id=1, confirmed=False, source="prelabel")],
        status=Revision.Status.DRAFT,
        source=Revision.Source.PRELABEL,
    )
    own = save_draft(task, user("ann1"), parent=prelabel.number)

    listing = api(user("ann1")).get(f"/api/tasks/{task.id}/revisions/").json()

    assert [r["revision_id"] for r in listing] == [prelabel.id, own.id]
