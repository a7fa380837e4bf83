"""AWS Bedrock: model customization with training data in Amazon S3
(``bedrock``), and Bedrock's OpenAI-compatible endpoint (``bedrock_openai``)."""

from .openai_compat import BedrockOpenAIProvider
from .provider import BedrockProvider

__all__ = ["BedrockOpenAIProvider", "BedrockProvider"]
