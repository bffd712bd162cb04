"""The agentplaza client SDK: `AsyncClient`, `Client`, `Agent` and the webhook receiver.

It imports nothing of the server (an import-linter contract keeps it so): the base install
(`pip install agentplaza`) is enough.
"""

from agentplaza.sdk.client import AsyncClient
from agentplaza.sdk.errors import (
    AgentIMError,
    AuthenticationError,
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PlazaConnectionError,
    PlazaError,
    PlazaTimeoutError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    ValidationError,
    WebhookVerificationError,
)
from agentplaza.sdk.models import Message

__all__ = [
    "AgentIMError",
    "AsyncClient",
    "AuthError",
    "AuthenticationError",
    "ConflictError",
    "ForbiddenError",
    "Message",
    "NotFoundError",
    "PlazaConnectionError",
    "PlazaError",
    "PlazaTimeoutError",
    "RateLimitError",
    "RequestTimeout",
    "ServerError",
    "ValidationError",
    "WebhookVerificationError",
]
