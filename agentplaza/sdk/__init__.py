"""The agentplaza client SDK: `AsyncClient`, `Client`, `Agent` and the webhook receiver.

It imports nothing of the server (an import-linter contract keeps it so): the base install
(`pip install agentplaza`) is enough.
"""

from agentplaza.sdk.agent import Agent, ReceivedMessage
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
from agentplaza.sdk.sync import Client

__all__ = [
    "Agent",
    "AgentIMError",
    "AsyncClient",
    "AuthError",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "ForbiddenError",
    "Message",
    "NotFoundError",
    "PlazaConnectionError",
    "PlazaError",
    "PlazaTimeoutError",
    "RateLimitError",
    "ReceivedMessage",
    "RequestTimeout",
    "ServerError",
    "ValidationError",
    "WebhookVerificationError",
]
