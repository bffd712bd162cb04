"""Logging for server processes: one handler on the root logger, text or JSON lines.

Every record (ours, uvicorn's, alembic's) goes through the same handler, which adds the
request id of the request being served, if any (api/requestid.py sets it), and the node, and
redacts credentials: uvicorn logs a WebSocket's path with its query string (`?token=am_…`),
and an exception's text may quote a header. Imports nothing from agentplaza, so any layer may
read `request_id_var`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
request_id_var: ContextVar[str | None] = ContextVar("agentplaza_request_id", default=None)
REDACTED = "[redacted]"
# API keys, session tokens, recovery and webhook secrets by their prefixes (domain/ids.py,
# domain/webhooks.py), LLM providers' keys by theirs (OpenAI `sk-`, Anthropic `sk-ant-`);
# whatever follows `token=`/`api_key=` in a query string or `Bearer` in a header, valid or
# not (a mistyped key is still mostly someone's key).
_SECRETS = re.compile(
    r"\b(?P<prefix>am_|pt_|rs_|whsec_|sk-)[A-Za-z0-9_-]{4,}"
    r"|(?P<param>[?&;](?:token|api_key|apikey|key|access_token|recovery_secret|password)=)"
    r"[^&\s\"'\\]+"
    r"|(?P<scheme>\b[Bb]earer\s+)[^\s\"'\\,;]+"
    r"|(?P<header>\b[Xx]-[Aa][Pp][Ii]-[Kk][Ee][Yy]['\"]?\s*[:=,]\s*b?['\"]?)[^\s\"'\\,;]+",
)


def redact(text: str) -> str:
    """`text` with every credential it contains replaced by `[redacted]`."""
    return _SECRETS.sub(_redacted, text)


def _redacted(match: re.Match[str]) -> str:
    return (match["prefix"] or match["param"] or match["scheme"] or match["header"]) + REDACTED


class ContextFilter(logging.Filter):
    """Adds `request_id` (None outside a request) and `node` to every record."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.node = self.node
        return True


class TextFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger> [<request id>]: <message>`; the brackets only inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, node, exc_info if any.

    Tracebacks stay inside the object (as a string), so a line is always a whole record.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "node": getattr(record, "node", None),
        }
        if record.exc_info:
            entry["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str, *, node: str = "") -> None:
    """Send every logger's records to stderr in `fmt` ("text" or "json") at `level`.

    Replaces the root logger's handlers (idempotent), so uvicorn — run with
    `log_config=None`, its loggers propagating to the root — writes through the same handler.
    Raises ValueError for an unknown level or format.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"log_level must be debug, info, warning or error, got {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(node))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Migrations log every step at INFO on each start; only their problems are news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
