"""ftproxy: an OpenAI-compatible gateway for files and fine-tuning jobs."""

__version__ = "0.1.0"
