from django.urls import path

from qa import apis

urlpatterns = [
    path("tasks/<int:task_id>/revisions/", apis.TaskRevisionsApi.as_view(), name="api-task-revisions"),
    path("tasks/<int:task_id>/submit/", apis.TaskSubmitApi.as_view(), name="api-task-submit"),
    path(
        "revisions/<int:revision_id>/quality/", apis.RevisionQualityApi.as_view(), name="api-revision-quality"
    ),
]
