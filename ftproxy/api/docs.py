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

SCHEMA_SETTINGS = {
    "TITLE": "ftproxy",
    "DESCRIPTION": "OpenAI-compatible files and fine-tuning gateway.",
    "VERSION": "0.1.0",
    "PREPROCESSING_HOOKS": ["ftproxy.api.schema.only_v1_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ftproxy.api.schema.document_headers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ListObjectEnum": ["list"],
        "FileObjectEnum": ["file"],
        "ExpiresAfterAnchorEnum": ["created_at"],
    },
    # Swagger UI and Redoc from this app's own static files: /docs works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
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
