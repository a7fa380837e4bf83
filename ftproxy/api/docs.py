"""The OpenAPI schema and its two readers (Swagger UI, Redoc), public and
configured here, so a host's ``SPECTACULAR_SETTINGS`` (if any) describe the
host's own API and not this one."""

from __future__ import annotations

from drf_spectacular.settings import patched_settings
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import AllowAny

from .schema import operation
from .schema_settings import SCHEMA_SETTINGS

SCHEMA_URL_NAME = "openapi-schema"


class PublicDocs:
    """No key needed: a stale or wrong key does not hide the docs."""

    authentication_classes = ()
    permission_classes = (AllowAny,)


class SchemaView(PublicDocs, SpectacularJSONAPIView):
    custom_settings = SCHEMA_SETTINGS

    @operation(exclude=True)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SwaggerView(PublicDocs, SpectacularSwaggerSplitView):
    """The split view serves its script as a file, so the CSP needs no inline scripts."""

    url_name = SCHEMA_URL_NAME
    title = SCHEMA_SETTINGS["TITLE"]

    @operation(exclude=True)
    def get(self, request, *args, **kwargs):
        with patched_settings(SCHEMA_SETTINGS):
            return super().get(request, *args, **kwargs)


class RedocView(PublicDocs, SpectacularRedocView):
    url_name = SCHEMA_URL_NAME
    title = SCHEMA_SETTINGS["TITLE"]
    template_name = "ftproxy/redoc.html"

    @operation(exclude=True)
    def get(self, request, *args, **kwargs):
        with patched_settings(SCHEMA_SETTINGS):
            return super().get(request, *args, **kwargs)
