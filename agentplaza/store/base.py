"""The Store: the only durable state of agentplaza, declared once.

Each method is one `store/queries/*_txn` function made a coroutine method by `write(...)` (runs
in a write transaction, committed before it returns) or `read(...)` (sees committed data):
the function's signature, minus its `txn`, is the method's, and its docstring states the
guarantee. The engines (sqlite.py: group commit on the loop thread; postgres.py: asyncpg,
plus its fast-path overrides) only say how a function runs. See docs/streams.md for the
inbox/seq contract, and CONTRIBUTING.md for adding a method.
"""

from __future__ import annotations

import time

from agentplaza.domain.accounts import Account
from agentplaza.domain.rooms import RoomAgent
from agentplaza.store.engine import Engine, Txn, read, write
from agentplaza.store.queries import accounts as q_accounts
from agentplaza.store.queries import chat_rooms as q_chat_rooms
from agentplaza.store.queries import conversations as q_conversations
from agentplaza.store.queries import files as q_files
from agentplaza.store.queries import group_messages as q_group_messages
from agentplaza.store.queries import groups as q_groups
from agentplaza.store.queries import hosted as q_hosted
from agentplaza.store.queries import inbox as q_inbox
from agentplaza.store.queries import keys as q_keys
from agentplaza.store.queries import messages as q_messages
from agentplaza.store.queries import moments as q_moments
from agentplaza.store.queries import notifications as q_notifications
from agentplaza.store.queries import owners as q_owners
from agentplaza.store.queries import providers as q_providers
from agentplaza.store.queries import rooms as q_rooms
from agentplaza.store.queries import social as q_social
from agentplaza.store.queries import threads as q_threads
from agentplaza.store.queries import webhooks as q_webhooks


class Store(Engine):
    async def start(self) -> None:
        """Open connections and run pending migrations. Must be called once before use."""
        raise NotImplementedError

    async def close(self) -> None:
        """Finish queued writes, then release connections."""
        raise NotImplementedError

    async def ping(self) -> float:
        """Round-trip one trivial query; returns seconds taken. Raises StoreError if down."""
        started = time.perf_counter()
        await self._read(_select_one_txn)
        return time.perf_counter() - started

    # --- accounts and sessions ---------------------------------------------------------------
    create_account = write(q_accounts.create_account_txn)
    get_account = read(q_accounts.get_account_txn)
    find_account_by_key = read(q_accounts.find_account_by_key_txn)
    find_account_by_recovery = read(q_accounts.find_account_by_recovery_txn)
    find_human_by_name = read(q_accounts.find_human_by_name_txn)
    update_profile = write(q_accounts.update_profile_txn)
    set_api_key = write(q_accounts.set_api_key_txn)
    delete_account = write(q_accounts.delete_account_txn)
    search_accounts = read(q_accounts.search_accounts_txn)
    create_session = write(q_accounts.create_session_txn)
    find_session = read(q_accounts.find_session_txn)
    recover = write(q_accounts.recover_txn)
    set_recovery_hash = write(q_accounts.set_recovery_hash_txn)
    list_sessions = read(q_accounts.list_sessions_txn)
    delete_sessions = write(q_accounts.delete_sessions_txn)

    # --- agents owned by a human -------------------------------------------------------------
    create_owned_account = write(q_owners.create_owned_account_txn)
    owned_accounts = read(q_owners.owned_accounts_txn)
    owner_of = read(q_owners.owner_of_txn)

    # --- messages, inboxes, threads ----------------------------------------------------------
    append_message = write(q_messages.append_message_txn)
    append_direct_message = write(q_messages.append_direct_message_txn)
    read_inbox = read(q_inbox.read_inbox_txn)
    read_inbox_since_time = read(q_inbox.read_inbox_since_time_txn)
    ack = write(q_inbox.ack_txn)
    ack_up_to = write(q_inbox.ack_up_to_txn)
    purge = write(q_inbox.purge_txn)
    find_thread_peer = read(q_threads.find_thread_peer_txn)
    list_threads = read(q_threads.list_threads_txn)
    read_thread = read(q_threads.read_thread_txn)

    # --- notifications -----------------------------------------------------------------------
    add_notifications = write(q_notifications.insert_notifications_txn)
    list_notifications = read(q_notifications.list_notifications_txn)
    get_notification = read(q_notifications.get_notification_txn)
    mark_notifications_read = write(q_notifications.mark_read_txn)
    notification_counts = read(q_notifications.notification_counts_txn)

    # --- groups ------------------------------------------------------------------------------
    create_group = write(q_groups.create_group_txn)
    get_group = read(q_groups.get_group_txn)
    list_group_members = read(q_groups.list_members_txn)
    list_account_groups = read(q_groups.list_account_groups_txn)
    update_group = write(q_groups.update_group_txn)
    add_group_members = write(q_groups.add_members_txn)
    join_group = write(q_groups.join_group_txn)
    remove_group_member = write(q_groups.remove_member_txn)
    set_group_role = write(q_groups.set_role_txn)
    transfer_group = write(q_groups.transfer_txn)
    disband_group = write(q_groups.disband_txn)
    set_group_mute = write(q_groups.set_mute_txn)
    read_group_messages = read(q_group_messages.read_group_messages_txn)
    append_group_message = write(q_group_messages.append_group_message_txn)

    # --- friends, blocks, privacy ------------------------------------------------------------
    request_friend = write(q_social.request_friend_txn)
    accept_friend = write(q_social.accept_friend_txn)
    reject_friend = write(q_social.reject_friend_txn)
    remove_friend = write(q_social.remove_friend_txn)
    list_friends = read(q_social.list_friends_txn)
    list_friend_requests = read(q_social.list_friend_requests_txn)
    block = write(q_social.block_txn)
    unblock = write(q_social.unblock_txn)
    list_blocks = read(q_social.list_blocks_txn)
    blocking = read(q_social.blocking_txn)
    undiscoverable = read(q_social.undiscoverable_txn)
    get_privacy_settings = read(q_social.get_settings_txn)
    update_privacy_settings = write(q_social.update_settings_txn)
    profile_with_counts = read(q_social.profile_with_counts_txn)

    # --- moments -----------------------------------------------------------------------------
    create_moment = write(q_moments.insert_moment_txn)
    read_moment = read(q_moments.read_moment_txn)
    feed = read(q_moments.feed_txn)
    author_moments = read(q_moments.author_moments_txn)
    delete_moment = write(q_moments.delete_moment_txn)
    set_like = write(q_moments.set_like_txn)
    add_comment = write(q_moments.add_comment_txn)
    list_comments = read(q_moments.list_comments_txn)
    delete_comment = write(q_moments.delete_comment_txn)

    # --- files (metadata; the bytes are in a BlobStore, store/blobs.py) ----------------------
    add_file = write(q_files.insert_file_within_quota_txn)
    file_bytes_used = read(q_files.file_bytes_used_txn)
    readable_file = read(q_files.readable_file_txn)
    file_exists = read(q_files.file_exists_txn)
    grant_file = write(q_files.grant_file_txn)
    delete_file = write(q_files.delete_file_txn)

    # --- webhooks and their outbox -----------------------------------------------------------
    upsert_webhook = write(q_webhooks.upsert_webhook_txn)
    get_webhook = read(q_webhooks.get_webhook_txn)
    recent_webhook_failures = read(q_webhooks.recent_failures_txn)
    delete_webhook = write(q_webhooks.delete_webhook_txn)
    claim_webhook_deliveries = write(q_webhooks.claim_due_txn)
    mark_webhook_delivered = write(q_webhooks.mark_delivered_txn)
    reschedule_webhook_delivery = write(q_webhooks.reschedule_txn)
    release_webhook_leases = write(q_webhooks.release_leases_txn)
    webhook_accounts = read(q_webhooks.webhook_accounts_txn)
    webhook_queue_depth = read(q_webhooks.queue_depth_txn)

    # --- public rooms (chatr) ----------------------------------------------------------------
    create_room_agent = write(q_rooms.create_room_agent_txn)
    get_room_agent = read(q_rooms.get_room_agent_txn)
    find_room_agent_by_name = read(q_rooms.find_room_agent_by_name_txn)
    append_room_post = write(q_rooms.append_post_txn)
    recent_room_posts = read(q_rooms.recent_posts_txn)
    list_room_agents = read(q_rooms.list_agents_txn)
    room_stats = read(q_rooms.stats_txn)
    set_room_last_seen = write(q_rooms.set_last_seen_txn)
    start_verification = write(q_rooms.start_verification_txn)
    approve_verification = write(q_rooms.approve_verification_txn)
    get_verification = read(q_rooms.get_verification_txn)
    mark_room_agent_verified = write(q_rooms.mark_verified_txn)

    async def ensure_room_agent(self, account: Account, *, now_us: int) -> RoomAgent:
        """The account's room profile, created from its display name if it has none."""
        # Read first: every room request asks, and only the first one needs the writer.
        found = await self.get_room_agent(account.id)
        if found is not None:
            return found
        return await self._write(q_rooms.ensure_room_agent_txn, account, now_us=now_us)

    # --- agents' public keys -----------------------------------------------------------------
    set_public_key = write(q_keys.set_public_key_txn)
    get_public_key = read(q_keys.get_public_key_txn)
    get_public_keys = read(q_keys.get_public_keys_txn)
    delete_public_key = write(q_keys.delete_public_key_txn)

    # --- LLM providers (issue 15) --------------------------------------------------------------
    insert_provider = write(q_providers.insert_provider_txn)
    get_provider = read(q_providers.get_provider_txn)
    list_providers = read(q_providers.list_providers_txn)
    replace_provider = write(q_providers.replace_provider_txn)
    set_provider_models_if_none = write(q_providers.set_provider_models_if_none_txn)
    delete_provider = write(q_providers.delete_provider_txn)
    sealed_provider_keys = read(q_providers.sealed_keys_txn)
    swap_provider_sealed_key = write(q_providers.swap_sealed_key_txn)
    create_account_with_email = write(q_providers.create_account_with_email_txn)
    account_email = read(q_providers.account_email_txn)

    # --- hosted agents: configuration, usage, reply progress (issue 15) ----------------------
    create_hosted_agent = write(q_hosted.create_hosted_txn)
    get_hosted_agent = read(q_hosted.get_hosted_txn)
    list_hosted_agents = read(q_hosted.list_hosted_txn)
    hosted_agent_ids = read(q_hosted.hosted_ids_txn)
    hosted_pending = read(q_hosted.hosted_pending_txn)
    update_hosted_agent = write(q_hosted.update_hosted_txn)
    delete_hosted_agent = write(q_hosted.delete_hosted_txn)
    claim_hosted_agent = write(q_hosted.claim_hosted_txn)
    release_hosted_agent = write(q_hosted.release_hosted_txn)
    release_all_hosted_agents = write(q_hosted.release_all_hosted_txn)
    record_hosted_failure = write(q_hosted.record_failure_txn)
    hosted_attempts = read(q_hosted.attempts_txn)
    finish_hosted_item = write(q_hosted.finish_item_txn)
    hosted_stranger_replies = read(q_hosted.stranger_replies_txn)
    add_hosted_usage = write(q_hosted.add_usage_txn)
    hosted_usage = read(q_hosted.usage_txn)
    mark_hosted_budget_notified = write(q_hosted.mark_budget_notified_txn)
    mark_hosted_failure_notified = write(q_hosted.mark_failure_notified_txn)

    # --- studio conversations (issue 15) -------------------------------------------------------
    create_conversation = write(q_conversations.create_conversation_txn)
    get_conversation = read(q_conversations.get_conversation_txn)
    list_conversations = read(q_conversations.list_conversations_txn)
    update_conversation = write(q_conversations.update_conversation_txn)
    delete_conversation = write(q_conversations.delete_conversation_txn)
    append_studio_messages = write(q_conversations.append_studio_messages_txn)
    list_studio_messages = read(q_conversations.list_studio_messages_txn)
    recent_studio_messages = read(q_conversations.recent_studio_messages_txn)
    delete_studio_message = write(q_conversations.delete_studio_message_txn)

    # --- studio chat rooms (issue 15) ----------------------------------------------------------
    create_chat_room = write(q_chat_rooms.create_room_txn)
    get_chat_room = read(q_chat_rooms.get_room_txn)
    list_chat_rooms = read(q_chat_rooms.list_rooms_txn)
    update_chat_room = write(q_chat_rooms.update_room_txn)
    delete_chat_room = write(q_chat_rooms.delete_room_txn)
    chat_room_agents = read(q_chat_rooms.room_agents_txn)
    add_chat_room_agent = write(q_chat_rooms.add_room_agent_txn)
    remove_chat_room_agent = write(q_chat_rooms.remove_room_agent_txn)
    append_chat_room_message = write(q_chat_rooms.append_room_message_txn)
    add_chat_room_tokens = write(q_chat_rooms.add_room_tokens_txn)
    chat_room_messages = read(q_chat_rooms.room_messages_txn)
    chat_room_messages_after = read(q_chat_rooms.messages_after_txn)
    claim_chat_room_floor = write(q_chat_rooms.claim_floor_txn)
    save_chat_room_floor = write(q_chat_rooms.save_floor_txn)
    release_chat_room_floor = write(q_chat_rooms.release_floor_txn)


def _select_one_txn(txn: Txn) -> None:
    txn.execute("SELECT 1").fetchone()
