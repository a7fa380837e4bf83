"""AWS Bedrock model customization, with training data in Amazon S3."""

from .provider import BedrockProvider

__all__ = ["BedrockProvider"]
