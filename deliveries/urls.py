from django.urls import path

from deliveries import apis

urlpatterns = [
    path("projects/<slug:slug>/imports/", apis.ImportListApi.as_view(), name="api-imports"),
    path("imports/<int:run_id>/", apis.ImportDetailApi.as_view(), name="api-import"),
    path("projects/<slug:slug>/releases/", apis.ReleaseListApi.as_view(), name="api-releases"),
    path("releases/<int:release_id>/", apis.ReleaseDetailApi.as_view(), name="api-release"),
    path(
        "releases/<int:release_id>/progress/", apis.ReleaseProgressApi.as_view(), name="api-release-progress"
    ),
    path("releases/<int:release_id>/retry/", apis.ReleaseRetryApi.as_view(), name="api-release-retry"),
    path(
        "releases/<int:release_id>/decision/", apis.ReleaseDecisionApi.as_view(), name="api-release-decision"
    ),
    path(
        "releases/<int:release_id>/archive/",
        apis.ReleaseFileApi.as_view(),
        {"kind": "archive"},
        name="api-release-archive",
    ),
    path(
        "releases/<int:release_id>/qa-report.json",
        apis.ReleaseFileApi.as_view(),
        {"kind": "qa-report.json"},
        name="api-release-report-json",
    ),
    path(
        "releases/<int:release_id>/qa-report.html",
        apis.ReleaseFileApi.as_view(),
        {"kind": "qa-report.html"},
        name="api-release-report-html",
    ),
]
