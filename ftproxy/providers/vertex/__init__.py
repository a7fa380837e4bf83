"""Vertex AI: tuning jobs, Cloud Storage staging, Gemini dataset conversion
and Google credentials."""

from .provider import VertexProvider

__all__ = ["VertexProvider"]
