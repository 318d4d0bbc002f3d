"""Every route under /api/ is in some permission matrix, so a new endpoint cannot ship untested
for who may call it. The three matrices each name the routes they cover (``COVERED_ROUTES``)
and check that set against their own rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from tests.deliveries.test_permissions import COVERED_ROUTES as DELIVERIES_ROUTES
from tests.projects.test_permission_matrix import COVERED_ROUTES as FOUNDATION_ROUTES
from tests.qa.test_permission_matrix import COVERED_ROUTES as QA_ROUTES

# Routes outside every matrix, each with the reason it needs no role check.
NOT_IN_A_MATRIX = {
    "api/schema/": "the OpenAPI schema describes the API's shape, no project data",
    "api/docs/": "the browsable docs page renders the schema, no project data",
}


def all_routes() -> set[str]:
    def walk(patterns: Any, prefix: str) -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return set(walk(get_resolver().url_patterns, ""))


def api_routes() -> set[str]:
    return {route for route in all_routes() if route.startswith("api/")}


def test_every_api_route_is_in_a_permission_matrix() -> None:
    covered = FOUNDATION_ROUTES | QA_ROUTES | DELIVERIES_ROUTES

    missing = sorted(api_routes() - covered - set(NOT_IN_A_MATRIX))

    assert missing == [], f"API routes in no permission matrix: {missing}"


def test_matrices_name_only_real_routes_and_the_exclusions_exist() -> None:
    # (a matrix may also cover its app's pages, which are not under /api/)
    assert sorted((FOUNDATION_ROUTES | QA_ROUTES | DELIVERIES_ROUTES) - all_routes()) == []
    assert set(NOT_IN_A_MATRIX) <= api_routes()
    assert not set(NOT_IN_A_MATRIX) & (FOUNDATION_ROUTES | QA_ROUTES | DELIVERIES_ROUTES)


def test_the_route_walk_sees_nested_routes() -> None:
    # guards the walk itself: a walk that stopped at the first level would pass vacuously
    routes = api_routes()

    assert "api/tasks/<int:task_id>/annotation/" in routes
    assert len(routes) > 30
