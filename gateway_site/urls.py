from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from ftproxy.api import health
from ftproxy.api.metrics import MetricsView

# The admin is a console: its lists need the width the navigation sidebar
# would take (the index and breadcrumbs navigate).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/liveliness", health.liveliness, name="health-liveliness"),
    path("health/readiness", health.readiness, name="health-readiness"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    # The split view serves its script as a file, so the CSP needs no inline scripts.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="openapi-schema"), name="docs"),
    path(
        "redoc",
        SpectacularRedocView.as_view(url_name="openapi-schema", template_name="ftproxy/redoc.html"),
        name="redoc",
    ),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("v1/", include("ftproxy.api.urls")),
    path("", include("ftproxy.api.urls")),
]

handler400 = "ftproxy.api.exceptions.json_bad_request"
handler404 = "ftproxy.api.exceptions.json_page_not_found"
handler500 = "ftproxy.api.exceptions.json_server_error"
