"""Every server setting, declared once: name, type, default, help.

Read from `AGENTPLAZA_<NAME>` environment variables (and an optional TOML file named by
`AGENTPLAZA_CONFIG`); the CLI maps `--<name>` flags onto the same names. See docs/settings.md.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "AGENTPLAZA_"
SECRET_SETTINGS = frozenset({"database_url", "bus_url", "redis_url"})
SECRET_TOKENS = frozenset(
    {"metrics_token", "llm_secret_key", "llm_previous_secret_keys"}
)  # shown as "***" whenever set


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The effective configuration of one server process."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./data"
    database_url: str = ""
    bus_url: str = "memory://"
    bus_namespace: str = "agentplaza"
    redis_url: str = ""
    node_id: str = ""
    group_routing: bool = True
    database_pool_size: int = 8
    workers: int = 1
    log_level: str = "info"
    log_format: str = "text"
    metrics_enabled: bool = True
    metrics_token: str = ""
    health_details: bool = False
    shutdown_drain_secs: float = 10.0
    max_body_bytes: int = 1_048_576
    max_message_body_bytes: int = 65_536
    public_url: str = ""
    max_upload_bytes: int = 20 * 1024 * 1024
    max_avatar_bytes: int = 5 * 1024 * 1024
    rate_limits_enabled: bool = True
    rate_limit_messages_per_sec: float = 10.0
    rate_limit_register_per_min: float = 5.0
    rate_limit_search_per_min: float = 10.0
    rate_limit_login_per_min: float = 30.0
    rate_limit_writes_per_min: float = 300.0
    rate_limit_group_notices_per_min: float = 20.0
    rate_limit_friend_requests_per_min: float = 20.0
    rate_limit_uploads_per_min: float = 60.0
    rate_limit_acks_per_sec: float = 100.0
    file_quota_bytes: int = 1024 * 1024 * 1024
    retention_days: float = 7.0
    purge_interval_secs: float = 3600.0
    longpoll_max_timeout_secs: float = 60.0
    ws_heartbeat_interval_secs: float = 25.0
    ws_send_queue_max: int = 1000
    ws_send_queue_max_bytes: int = 4 * 1024 * 1024
    sse_max_streams_per_ip: int = 20
    ws_max_connections_per_ip: int = 100
    auth_cache_ttl_secs: float = 10.0
    session_ttl_hours: float = 24.0 * 30
    sqlite_synchronous: str = "NORMAL"
    group_commit_max: int = 512
    trust_forwarded_for: bool = False
    webhook_allow_private: bool = False
    webhook_timeout_secs: float = 10.0
    webhook_max_response_bytes: int = 65_536
    webhook_retry_horizon_secs: float = 86_400.0
    webhook_backoff_base_secs: float = 1.0
    webhook_backoff_max_secs: float = 600.0
    webhook_poll_interval_secs: float = 0.5
    webhook_concurrency: int = 16
    webhook_slow_after_secs: float = 1.0
    webhook_max_in_flight: int = 256
    aim_enabled: bool = True
    aim_port: int = 8082
    aim_host: str = ""
    aim_idle_timeout_secs: float = 90.0
    aim_max_frame_bytes: int = 1_048_576
    admin_users: str = ""
    # Issue 15, tools and the turn runner (services/tools/, services/turns.py).
    llm_max_tool_rounds: int = 5
    llm_tool_timeout_secs: float = 20.0
    llm_http_fetch_allowed_hosts: str = ""
    # --- hosted agents (issue 15; docs/studio.md, Agents) ---
    hosted_sweep_interval_secs: float = 15.0
    hosted_max_concurrent_replies: int = 16
    hosted_lease_secs: float = 120.0
    hosted_max_attempts: int = 4
    hosted_retry_base_secs: float = 2.0
    hosted_retry_max_secs: float = 300.0
    hosted_failure_notice_interval_secs: float = 3600.0
    # LLM providers (issue 15, docs/studio.md "Providers"): the secret sealing their API keys
    # (base64 of 32 bytes; else <data_dir>/llm-secret.key), old secrets that still open keys
    # until `agentplaza providers reseal`, and whether base URLs may be private (Ollama).
    llm_secret_key: str = ""
    llm_previous_secret_keys: str = ""
    llm_allow_private_base_urls: bool = False
    # --- studio conversations (issue 15) ---
    studio_history_tokens: int = 8000
    studio_max_content_chars: int = 32_000
    studio_max_tokens_cap: int = 16_384
    studio_max_streams_per_account: int = 4
    # --- studio chat rooms (issue 15) ---
    studio_room_history_messages: int = 40
    studio_room_floor_lease_secs: float = 120.0

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'agentplaza.db'}"

    @property
    def shared_bus(self) -> bool:
        """True when the bus reaches other server processes (a cluster, or workers)."""
        return self.bus_url not in {"memory://", "memory", ""}

    @property
    def effective_redis_url(self) -> str:
        """Where cluster-wide state lives: redis_url, else the bus when it is Redis, else ""."""
        if self.redis_url:
            return self.redis_url
        return self.bus_url if self.bus_url.startswith(("redis://", "rediss://")) else ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, overridden by the TOML file in AGENTPLAZA_CONFIG, overridden by env vars."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = env.get(ENV_PREFIX + "CONFIG")
        if config_file:
            with open(config_file, "rb") as fh:
                values.update(tomllib.load(fh))
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = raw
        return cls().with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> Settings:
        """A copy with `values` (strings or typed) converted to each field's type."""
        known = {f.name: f for f in fields(self)}
        converted: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r} (see docs/settings.md)")
            converted[name] = _convert(name, str(known[name].type), raw)
        return replace(self, **converted)

    def describe(self) -> dict[str, Any]:
        """Effective values with secrets masked, for `agentplaza settings`."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in SECRET_SETTINGS and "@" in str(value):
                value = mask_url_password(str(value))
            if field.name in SECRET_TOKENS and value:
                value = "***"
            out[field.name] = value
        return out


def _convert(name: str, type_name: str, raw: Any) -> Any:
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"setting {name}: expected a boolean, got {raw!r}")
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name}: expected {type_name}, got {raw!r}") from None
    return str(raw)


def mask_url_password(url: str) -> str:
    """`url` with its password, if any, replaced by ***."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
