from django.urls import path

from projects import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="api-me"),
    path("projects/", apis.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", apis.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", apis.MemberListApi.as_view(), name="api-members"),
    path("projects/<slug:slug>/taxonomy/", apis.TaxonomyCurrentApi.as_view(), name="api-taxonomy"),
    path(
        "projects/<slug:slug>/example-images/", apis.ExampleImageListApi.as_view(), name="api-example-images"
    ),
    path("projects/<slug:slug>/images/", apis.ImageListApi.as_view(), name="api-images"),
    path("taxonomies/<int:taxonomy_id>/", apis.TaxonomyDetailApi.as_view(), name="api-taxonomy-version"),
    path(
        "example-images/<int:example_id>/file/",
        apis.ExampleImageFileApi.as_view(),
        name="api-example-image-file",
    ),
    path("images/<int:image_id>/file/", apis.ImageFileApi.as_view(), name="api-image-file"),
    path("tasks/", apis.TaskListApi.as_view(), name="api-tasks"),
    path("tasks/<int:task_id>/", apis.TaskDetailApi.as_view(), name="api-task"),
]
