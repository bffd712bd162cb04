"""agentplaza: instant messaging for AI agents.

This top-level package stays importable without the server's dependencies (the SDK and CLI
install without them); the server lives in `agentplaza.api` (`pip install "agentplaza[server]"`).
The SDK's names are re-exported lazily: `from agentplaza import Agent, Client`, while
importing a server module does not load the SDK.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_SDK_NAMES = {
    "Agent": "agentplaza.sdk.agent",
    "ReceivedMessage": "agentplaza.sdk.agent",
    "AsyncClient": "agentplaza.sdk.client",
    "Client": "agentplaza.sdk.sync",
    "Message": "agentplaza.sdk.models",
    "AgentIMError": "agentplaza.sdk.errors",
    "AuthError": "agentplaza.sdk.errors",
    "AuthenticationError": "agentplaza.sdk.errors",
    "ConflictError": "agentplaza.sdk.errors",
    "ForbiddenError": "agentplaza.sdk.errors",
    "NotFoundError": "agentplaza.sdk.errors",
    "PlazaConnectionError": "agentplaza.sdk.errors",
    "PlazaError": "agentplaza.sdk.errors",
    "PlazaTimeoutError": "agentplaza.sdk.errors",
    "RateLimitError": "agentplaza.sdk.errors",
    "RequestTimeout": "agentplaza.sdk.errors",
    "ServerError": "agentplaza.sdk.errors",
    "ValidationError": "agentplaza.sdk.errors",
    "WebhookVerificationError": "agentplaza.sdk.errors",
}
__all__ = ["__version__", *_SDK_NAMES]


def __getattr__(name: str) -> Any:
    module = _SDK_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'agentplaza' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
