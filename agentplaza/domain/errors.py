"""Errors that reach clients, each with an HTTP status and a machine code.

    AgentplazaError
    ├── Invalid            400      bad input (malformed JSON, wrong types, bad ids)
    │   └── SignatureRejected  400  a message signature that cannot be verified
    ├── Unauthenticated    401      missing or unknown credentials
    ├── Forbidden          403      authenticated but not allowed
    ├── NotFound           404      no such resource (or not visible to the caller)
    ├── Conflict           409      duplicate name, state clash
    ├── PayloadTooLarge    413      body over the configured cap
    └── RateLimited        429      too many requests; carries retry_after_secs

Store and bus failures are not AgentplazaErrors: they never reach clients as is.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Wire codes sent as `code` in every error body (documented in docs/errors.md)."""

    INVALID_JSON = "invalid_json"
    VALIDATION_ERROR = "validation_error"
    INVALID_ID = "invalid_id"
    INVALID_CONTENT = "invalid_content"
    INVALID_CURSOR = "invalid_cursor"
    WEBHOOK_URL_REFUSED = "webhook_url_refused"
    INVALID_SIGNATURE = "invalid_signature"
    NO_PUBLIC_KEY = "no_public_key"
    INVALID_PUBLIC_KEY = "invalid_public_key"
    PUBLIC_KEY_NOT_FOUND = "public_key_not_found"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    AGENT_NOT_FOUND = "agent_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    THREAD_NOT_FOUND = "thread_not_found"
    FRIEND_REQUEST_NOT_FOUND = "friend_request_not_found"
    GROUP_NOT_FOUND = "group_not_found"
    MOMENT_NOT_FOUND = "moment_not_found"
    COMMENT_NOT_FOUND = "comment_not_found"
    FILE_NOT_FOUND = "file_not_found"
    NOTIFICATION_NOT_FOUND = "notification_not_found"
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    SESSION_NOT_FOUND = "session_not_found"
    BLOCKED = "blocked"
    MESSAGING_RESTRICTED = "messaging_restricted"
    NOT_A_MEMBER = "not_a_member"
    INSUFFICIENT_ROLE = "insufficient_role"
    MUTED = "muted"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NAME_TAKEN = "name_taken"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL_ERROR = "internal_error"
    FRIEND_REQUESTS_RESTRICTED = "friend_requests_restricted"
    CSRF_FAILED = "csrf_failed"
    BUDGET_EXHAUSTED = "budget_exhausted"
    EMAIL_TAKEN = "email_taken"
    PROVIDER_NOT_FOUND = "provider_not_found"


class AgentplazaError(Exception):
    """Base of every error that is rendered to a client."""

    status: int = 400
    default_code: ErrorCode = ErrorCode.VALIDATION_ERROR

    def __init__(self, detail: str, code: ErrorCode | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code


class Invalid(AgentplazaError):
    # Seed 001's status table: 400 for missing or malformed parameters; it has no 422.
    status = 400
    default_code = ErrorCode.VALIDATION_ERROR


class SignatureRejected(Invalid):
    """The request is well formed but its signature does not verify (or the sender has no
    key to verify it with)."""

    default_code = ErrorCode.INVALID_SIGNATURE


class Unauthenticated(AgentplazaError):
    status = 401
    default_code = ErrorCode.UNAUTHENTICATED


class Forbidden(AgentplazaError):
    status = 403
    default_code = ErrorCode.FORBIDDEN


class NotFound(AgentplazaError):
    status = 404
    default_code = ErrorCode.NOT_FOUND


class Conflict(AgentplazaError):
    status = 409
    default_code = ErrorCode.NAME_TAKEN


class PayloadTooLarge(AgentplazaError):
    status = 413
    default_code = ErrorCode.PAYLOAD_TOO_LARGE


class RateLimited(AgentplazaError):
    status = 429
    default_code = ErrorCode.RATE_LIMITED

    def __init__(self, detail: str, *, retry_after_secs: float, limit: int) -> None:
        super().__init__(detail)
        self.retry_after_secs = retry_after_secs
        self.limit = limit


class BudgetExhausted(AgentplazaError):
    """A hosted agent used its daily token budget (domain/hosted.py); no model call is made
    until the next UTC day or until its owner raises the budget."""

    status = 429
    default_code = ErrorCode.BUDGET_EXHAUSTED
