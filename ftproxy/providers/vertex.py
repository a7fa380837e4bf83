"""Vertex AI (being written)."""

from .base import Provider


class VertexProvider(Provider):
    kind = "vertex_ai"
    mints_ids = True
    options = frozenset(
        {
            "vertex_project",
            "vertex_location",
            "vertex_credentials",
            "api_base",
            "gcs_bucket_name",
            "gcs_api_base",
        }
    )
    required_options = frozenset({"vertex_project", "vertex_location"})
