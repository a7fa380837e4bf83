"""The built-in offline provider: a simulated job life cycle (clock) over a
local file store."""

from .provider import SandboxProvider

__all__ = ["SandboxProvider"]
