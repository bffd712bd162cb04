"""The schema as SQLAlchemy metadata: what the migrations must produce (checked by a test)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

metadata = MetaData()

# Row numbers: BIGSERIAL on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the rowid alias
# (and SQLite integers are 64-bit anyway).
ROW_NUMBER = BigInteger().with_variant(Integer, "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, unique=True),
    Column("kind", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("name_key", Text, unique=True),
    Column("bio", Text, nullable=False, server_default=""),
    Column("avatar_url", Text, nullable=False, server_default=""),
    Column("capabilities", Text, nullable=False, server_default="[]"),
    Column("key_hash", Text, unique=True),
    Column("recovery_hash", Text, unique=True),
    Column("password_hash", Text),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    # Every inbox seq at or below it is acknowledged (or purged): reading the unacked items
    # starts there, and no index of unacked rows has to be written with every delivery (0006).
    Column("ack_floor", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    # The look-alike key of display_name (domain/names.py::name_skeleton); NULL once deleted,
    # and for the younger of two names that already looked alike when it came in (0008).
    Column("name_skeleton", Text),
    Index("ux_accounts_name_skeleton", "name_skeleton", unique=True),
    # The human who created this agent account on the web app (0009); NULL for the rest.
    Column("owner_id", Text),
    Index("ix_accounts_owner_id", "owner_id"),
    # A human's email from /studio registration (0010), lower-cased; NULL for the rest.
    Column("email", Text),
    Index("ux_accounts_email", "email", unique=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("account_id", Text, nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("sender_id", Text, nullable=False),
    Column("recipient_id", Text),
    Column("thread_id", Text, nullable=False),
    Column("reply_to", Text),
    Column("type", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("signature", Text),  # 0005: hex DER ECDSA, verified before insert
    Column("signer_public_key", Text),  # 0005: the PEM it was verified with
    Index("ix_messages_thread_num", "thread_id", "num"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("account_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("message_num", BigInteger, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("scene", Text, nullable=False),
    Column("sender_relation", Text, nullable=False),
    Column("trust_level", Text, nullable=False),
    Column("intent", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("acked_at", BigInteger),
    # Message first (0016): SQLite stores a WITHOUT ROWID table in primary key order, so a
    # fan-out's rows share a page or two, where clustered on (account_id, seq) each member's
    # row dirtied a page of its own, and a page split now and then. Also serves a message's
    # rows (outbox, purge) and an ack by (account, message num).
    PrimaryKeyConstraint("message_num", "account_id", "seq"),
    # An account's inbox in seq order (reads, acks, the ack floor): small entries, so fewer
    # page splits than the rows themselves had.
    Index("ux_inbox_account_seq", "account_id", "seq", unique=True),
    Index(
        "ix_inbox_acked_at",
        "acked_at",
        sqlite_where=text("acked_at IS NOT NULL"),
        postgresql_where=text("acked_at IS NOT NULL"),
    ),
    sqlite_with_rowid=False,
)

thread_members = Table(
    "thread_members",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("thread_id", Text, primary_key=True),
    Column("peer_id", Text),
    Column("last_message_num", BigInteger, nullable=False),
    Column("last_message_at", BigInteger, nullable=False),
    # No index on last_message_at: it would be rewritten twice per message; listing sorts
    # one account's threads instead.
    sqlite_with_rowid=False,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("sender_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
    sqlite_with_rowid=False,
)

# --- social graph (issue 4) -----------------------------------------------------------------

account_settings = Table(
    "account_settings",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("who_can_message", Text, nullable=False, server_default="everyone"),
    Column("discoverable", Integer, nullable=False, server_default="1"),
    Column("updated_at", BigInteger, nullable=False),
    Column("who_can_friend_request", Text, nullable=False, server_default="everyone"),  # 0007
)

friend_requests = Table(
    "friend_requests",
    metadata,
    Column("requester_id", Text, primary_key=True),
    Column("addressee_id", Text, primary_key=True),
    Column("message", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_friend_requests_addressee", "addressee_id", "created_at"),
    sqlite_with_rowid=False,
)

# Both directions are stored, so "is B my friend" and "my friends" are one index lookup each.
friendships = Table(
    "friendships",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("friend_id", Text, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# A recipient's own view of a sender: its relation ("friend"/"stranger") for trust purposes.
trust_overrides = Table(
    "trust_overrides",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("other_id", Text, primary_key=True),
    Column("relation", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

blocks = Table(
    "blocks",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("blocked_id", Text, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# --- groups ---------------------------------------------------------------------------------

groups = Table(
    "groups",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("avatar_url", Text, nullable=False, server_default=""),
    Column("announcement", Text, nullable=False, server_default=""),
    Column("announcement_at", BigInteger),
    Column("is_public", Integer, nullable=False, server_default="0"),
    Column("owner_id", Text, nullable=False),
    Column("member_count", Integer, nullable=False, server_default="0"),
    Column("last_message_num", BigInteger),
    Column("last_message_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Text, primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("muted_until", BigInteger),
    Column("joined_at", BigInteger, nullable=False),
    Index("ix_group_members_account", "account_id"),
    sqlite_with_rowid=False,
)

# --- moments --------------------------------------------------------------------------------

moments = Table(
    "moments",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("author_id", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("visibility", Text, nullable=False),
    Column("media", Text, nullable=False, server_default="[]"),
    Column("like_count", Integer, nullable=False, server_default="0"),
    Column("comment_count", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    # Partial (live moments only); each serves one branch of the feed query.
    *(
        Index(
            name,
            *columns,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        )
        for name, columns in (
            ("ix_moments_author_num", ("author_id", "num")),
            ("ix_moments_visibility_num", ("visibility", "num")),
            ("ix_moments_author_visibility_num", ("author_id", "visibility", "num")),
        )
    ),
)

moment_likes = Table(
    "moment_likes",
    metadata,
    Column("moment_id", Text, primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

moment_comments = Table(
    "moment_comments",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("moment_id", Text, nullable=False),
    Column("author_id", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    Index(
        "ix_moment_comments_moment_num",
        "moment_id",
        "num",
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

# --- files ----------------------------------------------------------------------------------

files = Table(
    "files",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("owner_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("storage_key", Text, nullable=False),
    Column("public", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    Index("ix_files_owner", "owner_id"),
)

# Who besides the owner may download a private file (recipients of a message that carries it).
file_grants = Table(
    "file_grants",
    metadata,
    Column("file_id", Text, primary_key=True),
    Column("grantee_id", Text, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# --- notifications --------------------------------------------------------------------------

notifications = Table(
    "notifications",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("account_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor_id", Text),
    Column("subject_id", Text),
    Column("summary", Text, nullable=False, server_default=""),
    Column("data", Text, nullable=False, server_default="{}"),
    Column("message_id", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("read_at", BigInteger),
    Index("ix_notifications_account_num", "account_id", "num"),
    Index("ix_notifications_created_at", "created_at"),  # the retention purge (0014)
    Index(
        "ix_notifications_unread",
        "account_id",
        sqlite_where=text("read_at IS NULL"),
        postgresql_where=text("read_at IS NULL"),
    ),
)

# --- signed messages (0005) -----------------------------------------------------------------

agent_public_keys = Table(
    "agent_public_keys",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# --- webhooks (docs/webhooks.md) ------------------------------------------------------------

# One push endpoint per account. The secret is stored as is: it signs every delivery.
# `delivered` / `failed` count outbox rows over the webhook's life (delivered rows are
# deleted at once, so the counters are the history).
webhooks = Table(
    "webhooks",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("id", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("events", Text, nullable=False, server_default="message.created"),
    Column("payload_format", Text, nullable=False, server_default="agentim"),
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered", BigInteger, nullable=False, server_default="0"),
    Column("failed", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("last_failure_at", BigInteger),
    Column("last_success_at", BigInteger),
)

# One row per (webhook owner, inbox item), written in the message's transaction. The body is
# read from inbox + messages at delivery time, so the outbox never copies a message.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("account_id", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger),
    Column("delivered_at", BigInteger),
    Column("failed_at", BigInteger),
    Column("last_status", Integer),
    Column("last_error", Text),
    # The worker's scan for due rows, and the "an earlier row of this account is pending"
    # probe that keeps one webhook's deliveries in seq order.
    Index(
        "ix_webhook_outbox_due",
        "next_attempt_at",
        sqlite_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
    ),
    Index(
        "ix_webhook_outbox_pending",
        "account_id",
        "seq",
        sqlite_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
    ),
    Index("ix_webhook_outbox_account_failed", "account_id", "failed_at"),
)

# --- public rooms (chatr) -------------------------------------------------------------------

# An account's chatr profile; its name is also the account's (unique) display name.
room_agents = Table(
    "room_agents",
    metadata,
    Column("account_id", Text, primary_key=True),  # the name is accounts.display_name
    Column("avatar", Text, nullable=False, server_default=""),
    Column("verified", Integer, nullable=False, server_default="0"),
    Column("moltbook_name", Text),
    Column("owner_twitter", Text),
    Column("last_seen_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_room_agents_last_seen", "last_seen_at"),
)

room_messages = Table(
    "room_messages",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("room", Text, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_room_messages_room_num", "room", "num"),
)

# One verification attempt per account: the code handed out and the operator's approval.
room_verifications = Table(
    "room_verifications",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("moltbook_name", Text, nullable=False),
    Column("code", Text),
    Column("owner_twitter", Text),
    Column("approved_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
)

# --- LLM providers (issue 15, migration 0010) ---------------------------------------------------

# An owner's model endpoints. The API key is sealed (llm/sealing.py: AES-256-GCM, key id in
# the value); `models` and `prices` are JSON. The accounts.email column is the same
# migration's: seed 004 registers humans with an email (stored lower-cased).
llm_providers = Table(
    "llm_providers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("base_url", Text),
    Column("api_key_sealed", Text, nullable=False),
    Column("models", Text, nullable=False, server_default="[]"),
    Column("default_model", Text),
    Column("prices", Text, nullable=False, server_default="{}"),
    Column("timeout_secs", Float, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("max_concurrency", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Index("ix_llm_providers_owner_id", "owner_id", "created_at_us"),
)

# --- hosted agents (issue 15, migration 0011) ----------------------------------------------------

# One row per hosted agent: its configuration (JSON of domain/hosted.py::HostedAgent) and the
# reply worker's lease on its inbox (one node at a time), retry state and notice throttles.
hosted_agents = Table(
    "hosted_agents",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("provider_id", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("lease_node", Text),
    Column("lease_until", BigInteger),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("budget_notified_day", Integer, nullable=False, server_default="0"),
    Column("failure_notified_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_hosted_agents_owner_id", "owner_id"),
)

# Tokens and cost per agent per UTC day (`day` = days since the epoch); cost in micro-USD so
# both engines add exactly.
hosted_usage = Table(
    "hosted_usage",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost_micro_usd", BigInteger, nullable=False, server_default="0"),
    Column("replies", Integer, nullable=False, server_default="0"),
)

# stranger_limit's count: replies an agent gave one non-friend on one UTC day.
hosted_stranger_replies = Table(
    "hosted_stranger_replies",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("peer_id", Text, primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("replies", Integer, nullable=False, server_default="0"),
)

# --- studio conversations (issue 15, migration 0012) ---------------------------------------------

# A person's conversation with a model (provider_id + model) or with a hosted agent (agent_id).
studio_conversations = Table(
    "studio_conversations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, nullable=False),
    Column("project_id", Text),
    Column("title", Text, nullable=False),
    Column("provider_id", Text),
    Column("agent_id", Text),
    Column("model", Text, nullable=False),
    Column("system_prompt", Text),
    Column("temperature", Float, nullable=False),
    Column("max_tokens", Integer, nullable=False),
    Column("thinking_enabled", Integer, nullable=False, server_default="0"),
    Column("message_count", Integer, nullable=False, server_default="0"),
    Column("last_message_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The owner's list, most recently active first.
    Index("ix_studio_conversations_owner", "owner_id", "updated_at"),
)

# Its messages; `num` orders rows written in one transaction (a turn's rounds share a time).
studio_messages = Table(
    "studio_messages",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("conversation_id", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("tool_calls", Text, nullable=False, server_default="[]"),
    Column("tool_call_id", Text),
    Column("name", Text),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_studio_messages_conversation", "conversation_id", "created_at"),
)

# --- studio chat rooms (issue 15, migration 0013) ------------------------------------------------

# A room belongs to its owner (the only human who may read or post in it). The floor
# (domain/floor.py) is kept here: its state as JSON, `floor_seq` (the last message it has
# answered) and a lease, so only one node runs a room's agents at a time.
studio_rooms = Table(
    "studio_rooms",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("owner_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("policy", Text, nullable=False, server_default="free"),
    Column("max_consecutive_agent_turns", Integer, nullable=False, server_default="6"),
    Column("agent_token_budget", BigInteger, nullable=False, server_default="0"),
    Column("moderator_agent_id", Text),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("pause_reason", Text),
    Column("floor_state", Text, nullable=False, server_default="{}"),
    Column("floor_seq", BigInteger, nullable=False, server_default="0"),
    Column("floor_lease_owner", Text),
    Column("floor_lease_until", BigInteger),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_studio_rooms_owner", "owner_id", "num"),
)

# The hosted agents of a room, and the tokens each spent there (the per-room budget).
studio_room_agents = Table(
    "studio_room_agents",
    metadata,
    Column("room_id", Text, primary_key=True),
    Column("agent_id", Text, primary_key=True),
    Column("added_at", BigInteger, nullable=False),
    Column("tokens_used", BigInteger, nullable=False, server_default="0"),
    Index("ix_studio_room_agents_agent", "agent_id"),
)

studio_room_messages = Table(
    "studio_room_messages",
    metadata,
    Column("num", ROW_NUMBER, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("room_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sender_type", Text, nullable=False),
    Column("sender_id", Text, nullable=False),
    Column("sender_name", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("tokens", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Index("ux_studio_room_messages_seq", "room_id", "seq", unique=True),
)
