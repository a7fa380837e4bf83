"""Everything the app serves: ``path("", include("ftproxy.urls"))`` in a
host project's URLconf (the admin comes with the host's own ``admin.site``)."""

from django.urls import include, path, re_path

from .api import docs, health
from .api.base import UnknownRoute
from .api.metrics import MetricsView

urlpatterns = [
    path("health/liveliness", health.liveliness, name="health-liveliness"),
    path("health/readiness", health.readiness, name="health-readiness"),
    path("openapi.json", docs.SchemaView.as_view(), name=docs.SCHEMA_URL_NAME),
    path("docs", docs.SwaggerView.as_view(), name="docs"),
    path("redoc", docs.RedocView.as_view(), name="redoc"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("v1/", include("ftproxy.api.urls")),
    re_path(r"^v1/", UnknownRoute.as_view()),
    path("", include("ftproxy.api.urls")),
]
