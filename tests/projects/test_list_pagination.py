"""List endpoints: the whole list as before when no page is asked for (up to a ceiling), a
limit/offset page with ``count``, ``next`` and ``previous`` when one is."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from core import http
from projects.services import images_add, membership_add
from tests.factories import make_project
from tests.helpers import png_bytes

# endpoint, and the key that identifies an item in it
LISTS = [
    ("/api/projects/", "slug"),
    ("/api/projects/p/members/", "username"),
    ("/api/projects/p/images/", "file_name"),
    ("/api/tasks/", "id"),
]


@pytest.fixture
def lead(db: Any, api: Any) -> Any:
    members = {
        "lead": ["qa_lead"],
        "ann": ["annotator"],
        "ann2": ["annotator"],
        "rev": ["reviewer"],
        "boss": ["manager"],
    }
    make_project(slug="p", members=members, images=5)
    user = get_user_model().objects.get(username="lead")
    for slug in ("q", "r"):
        membership_add(project=make_project(slug=slug, images=0), user=user, role="client")
    return api(user)


@pytest.mark.parametrize(("url", "key"), LISTS)
def test_without_limit_or_offset_the_whole_list_comes_as_a_list(lead: Any, url: str, key: str) -> None:
    response = lead.get(url)

    assert response.status_code == 200
    assert isinstance(response.json(), list)
    assert len(response.json()) >= 3


@pytest.mark.parametrize(("url", "key"), LISTS)
def test_pages_walk_the_same_list_in_order(lead: Any, url: str, key: str) -> None:
    whole = [item[key] for item in lead.get(url).json()]
    sep = "&" if "?" in url else "?"

    first = lead.get(f"{url}{sep}limit=2").json()
    second = lead.get(f"{url}{sep}limit=2&offset=2").json()

    assert first["count"] == second["count"] == len(whole)
    assert [item[key] for item in first["results"]] == whole[:2]
    assert [item[key] for item in second["results"]] == whole[2:4]
    assert first["previous"] is None
    assert first["next"] == f"http://testserver{url}{sep}limit=2&offset=2"
    assert second["previous"] == f"http://testserver{url}{sep}limit=2"


def test_the_last_page_has_no_next(lead: Any) -> None:
    page = lead.get("/api/tasks/?project=p&limit=2&offset=4").json()

    assert page["count"] == 5
    assert len(page["results"]) == 1
    assert page["next"] is None


def test_an_offset_alone_pages_with_the_default_size(lead: Any) -> None:
    page = lead.get("/api/tasks/?project=p&offset=1").json()

    assert page["count"] == 5
    assert len(page["results"]) == 4
    assert page["next"] is None


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=0", "limit must be an integer from 1 to 1000, got '0'."),
        ("limit=1001", "limit must be an integer from 1 to 1000, got '1001'."),
        ("limit=abc", "limit must be an integer, got 'abc'."),
        ("offset=-1", "offset must be a non-negative integer, got '-1'."),
        ("limit=5&offset=x", "offset must be an integer, got 'x'."),
    ],
)
def test_a_bad_page_is_400_naming_the_parameter(lead: Any, query: str, detail: str) -> None:
    response = lead.get(f"/api/tasks/?{query}")

    assert response.status_code == 400
    assert response.json()["detail"] == detail


def test_a_list_longer_than_the_ceiling_is_refused_unpaged_not_cut_short(
    lead: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "UNPAGED_MAX_ITEMS", 4)

    refused = lead.get("/api/tasks/?project=p")
    paged = lead.get("/api/tasks/?project=p&limit=4")

    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "This list has more than 4 items; page through it with ?limit=N&offset=M (limit up to 1000)."
    )
    assert paged.status_code == 200
    assert paged.json()["count"] == 5
    assert lead.get("/api/projects/").status_code == 200  # 3 projects: under the ceiling


def test_a_page_of_tasks_costs_the_same_queries_however_long_the_list(
    lead: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(7):
        small = lead.get("/api/tasks/?project=p&limit=3")
    project = get_user_model().objects.get(username="lead").memberships.get(project__slug="p").project
    images_add(
        project=project,
        files=[(f"more{i}.png", png_bytes(np.zeros((16, 24, 3), np.uint8))) for i in range(10)],
        batch_name="b2",
    )
    with django_assert_max_num_queries(7):
        large = lead.get("/api/tasks/?project=p&limit=3")

    assert small.json()["count"] == 5
    assert large.json()["count"] == 15
    assert len(large.json()["results"]) == 3
