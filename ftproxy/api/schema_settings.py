"""drf-spectacular's settings for ftproxy's schema, applied by its own
schema views (``ftproxy.api.docs``). Plain data, importable from a
settings module: a site whose only API is ftproxy's may use it as its
``SPECTACULAR_SETTINGS``, so drf-spectacular's deploy check sees the
schema the views serve."""

SCHEMA_SETTINGS = {
    "TITLE": "ftproxy",
    "DESCRIPTION": "OpenAI-compatible files and fine-tuning gateway.",
    "VERSION": "0.1.0",
    "PREPROCESSING_HOOKS": ["ftproxy.api.schema.only_v1_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ftproxy.api.schema.document_headers",
        "ftproxy.api.schema_rules.describe_server_rules",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ListObjectEnum": ["list"],
        "FileObjectEnum": ["file"],
        "ExpiresAfterAnchorEnum": ["created_at"],
        "UploadPartObjectEnum": ["upload.part"],
        "ModelObjectEnum": ["model"],
        "ApiKeyObjectEnum": ["api_key"],
    },
    # Swagger UI and Redoc from this app's own static files: /docs works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
