"""Bedrock's OpenAI-compatible endpoint (``bedrock-mantle``): files and
fine-tuning jobs in OpenAI's own shapes, for Bedrock's open-weight models.

The OpenAI provider speaks it; this subclass changes what differs: the
endpoint (``https://bedrock-mantle.<region>.api.aws/v1`` by default), the
credential (a Bedrock API key as the bearer token, the only credential AWS
documents for OpenAI-SDK-style clients), and the fields the endpoint lacks
(``suffix``; pause and resume; the Uploads API), refused with a 400 instead
of being sent. ``method: reinforcement`` (a Lambda grader) is forwarded as is.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ...errors import ProviderNotSupported
from ..data import JobCreate, RemoteJob
from ..openai import OpenAIProvider

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class BedrockOpenAIProvider(OpenAIProvider):
    """Bedrock's OpenAI-compatible Files and Fine-tuning API."""

    kind = "bedrock_openai"
    training_methods = frozenset({"supervised", "reinforcement"})
    model_family = "bedrock_openai"
    example_models = ("openai.gpt-oss-20b",)
    min_training_examples = None
    example_token_limits = {}
    can_pause = False
    forwards_uploads = False  # the gateway keeps the parts and sends the file whole
    # Not OpenAI's: no shipped shutdown dates, and deleting or continuing
    # from tuned models is not documented for this endpoint (a 400).
    model_shutdowns: ClassVar[dict[str, str]] = {}
    can_delete_models = False
    continues_training = False
    options = frozenset({"api_key", "api_base", "aws_region_name"})
    required_options = frozenset({"api_key"})

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """A region (for the default endpoint) or an ``api_base``."""
        region = entry.get("aws_region_name")
        if region is not None and not _REGION.match(str(region)):
            raise ValueError("key 'aws_region_name' must be a region such as 'us-west-2'")
        base = entry.get("api_base")
        if base is not None and not re.match(r"^https?://[^/]", str(base)):
            raise ValueError("key 'api_base' must be an http(s) URL")
        if region is None and base is None:
            raise ValueError("key 'aws_region_name' (or 'api_base') is required for bedrock_openai")

    def api_base(self) -> str:
        """``api_base``, else the region's ``bedrock-mantle`` endpoint."""
        base = self.entry.get("api_base")
        return base or f"https://bedrock-mantle.{self.entry['aws_region_name']}.api.aws/v1"

    def auth_headers(self) -> dict[str, str]:
        """The Bedrock API key as a bearer token; no OpenAI account headers."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def job_body(self, job: JobCreate) -> dict[str, Any]:
        """OpenAI's body, without what the endpoint does not take."""
        if job.suffix is not None:
            raise ProviderNotSupported(
                f"suffix is not supported by Bedrock's OpenAI-compatible endpoint "
                f"(entry '{self.name}').",
                provider=self.name,
                param="suffix",
            )
        return super().job_body(job)

    def pause_job(self, remote_id: str) -> RemoteJob:
        """Bedrock's endpoint has no pause."""
        raise self._unsupported("Pausing fine-tuning jobs")

    def resume_job(self, remote_id: str) -> RemoteJob:
        """Bedrock's endpoint has no resume."""
        raise self._unsupported("Resuming fine-tuning jobs")

    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """Not documented for Bedrock's endpoint: a 400."""
        raise self._unsupported("Deleting fine-tuned models")
