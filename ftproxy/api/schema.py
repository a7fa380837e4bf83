"""OpenAPI schema details for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "ftproxy.api.authentication.BearerKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Master key or an API key."}


def only_v1_paths(endpoints, **kwargs):
    """Preprocessing hook: the un-prefixed routes are aliases; document /v1 once."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/v1/")]
