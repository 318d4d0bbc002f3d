from django.urls import path

from deliveries import views

urlpatterns = [
    path("deliveries/", views.portal, name="deliveries-portal"),
    path("projects/<slug:slug>/releases/", views.releases, name="deliveries-releases"),
    path("releases/<int:release_id>/", views.release_page, name="deliveries-release"),
    path("projects/<slug:slug>/imports/", views.imports, name="deliveries-imports"),
    path("imports/<int:run_id>/", views.import_page, name="deliveries-import"),
]
