from django.urls import path

from qa import apis

urlpatterns = [
    path("projects/<slug:slug>/tasks/next/", apis.TaskNextApi.as_view(), name="api-task-next"),
    path("tasks/<int:task_id>/revisions/", apis.TaskRevisionsApi.as_view(), name="api-task-revisions"),
    path("tasks/<int:task_id>/submit/", apis.TaskSubmitApi.as_view(), name="api-task-submit"),
    path(
        "revisions/<int:revision_id>/quality/", apis.RevisionQualityApi.as_view(), name="api-revision-quality"
    ),
    path(
        "revisions/<int:revision_id>/comments/",
        apis.RevisionCommentsApi.as_view(),
        name="api-revision-comments",
    ),
    path("projects/<slug:slug>/reviews/", apis.ReviewListApi.as_view(), name="api-reviews"),
    path("projects/<slug:slug>/reviews/next/", apis.ReviewNextApi.as_view(), name="api-review-next"),
    path("reviews/<int:item_id>/", apis.ReviewDetailApi.as_view(), name="api-review"),
    path("reviews/<int:item_id>/decision/", apis.ReviewDecisionApi.as_view(), name="api-review-decision"),
    path("reviews/<int:item_id>/fix/", apis.ReviewFixApi.as_view(), name="api-review-fix"),
    path("reviews/<int:item_id>/overturn/", apis.ReviewOverturnApi.as_view(), name="api-review-overturn"),
    path("projects/<slug:slug>/calibration/", apis.CalibrationApi.as_view(), name="api-calibration"),
    path(
        "projects/<slug:slug>/members/<str:username>/release/",
        apis.AnnotatorReleaseApi.as_view(),
        name="api-annotator-release",
    ),
    path("projects/<slug:slug>/qa-policy/", apis.PolicyApi.as_view(), name="api-qa-policy"),
    path("projects/<slug:slug>/batches/", apis.BatchListApi.as_view(), name="api-batches"),
    path(
        "projects/<slug:slug>/batches/<str:batch_name>/report/",
        apis.BatchReportApi.as_view(),
        name="api-batch-report",
    ),
    path(
        "projects/<slug:slug>/batches/<str:batch_name>/decision/",
        apis.BatchDecisionApi.as_view(),
        name="api-batch-decision",
    ),
    path("projects/<slug:slug>/audit/", apis.AuditApi.as_view(), name="api-audit"),
]
