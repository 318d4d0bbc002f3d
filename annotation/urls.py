from django.urls import path

from annotation import apis

urlpatterns = [
    path("tasks/<int:task_id>/annotation/", apis.TaskAnnotationApi.as_view(), name="api-task-annotation"),
    path("revisions/<int:revision_id>/", apis.RevisionDetailApi.as_view(), name="api-revision"),
    path(
        "revisions/<int:revision_id>/index-map/", apis.RevisionIndexMapApi.as_view(), name="api-revision-map"
    ),
]
