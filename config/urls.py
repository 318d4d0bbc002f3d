from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.apis import TokenObtainApi

api: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("projects.urls")),
    path("", include("annotation.urls")),
    path("", include("qa.urls")),
    path("", include("deliveries.urls")),
]

urlpatterns = [
    path("", include("core.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("", include("qa.page_urls")),
    path("", include("deliveries.page_urls")),
    path("", include("frontend.urls")),
]
