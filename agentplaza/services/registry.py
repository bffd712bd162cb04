"""Services: every use case, and build_services, the one place they are wired together.

Called once per process by api/app.py::build_app, which opens what they use (store, bus,
cluster state, blob store) and passes it in. Each constructor takes what its service uses;
nothing is attached after construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from agentplaza.domain.messages import InboxItem
from agentplaza.llm.clients import open_client
from agentplaza.llm.sealing import Sealer, load_sealer
from agentplaza.node import node_name
from agentplaza.services.accounts import Accounts
from agentplaza.services.chat_room_turns import hosted_speaker
from agentplaza.services.chat_rooms import ChatRooms
from agentplaza.services.conversation_models import StudioModels
from agentplaza.services.conversations import Conversations
from agentplaza.services.files import Files
from agentplaza.services.groups import Groups
from agentplaza.services.hosted_agents import HostedAgents, HostedIndex, HostedProviders
from agentplaza.services.hosted_replying import HostedReplying
from agentplaza.services.messaging import Messaging
from agentplaza.services.moments import Moments
from agentplaza.services.notifications import Notifications
from agentplaza.services.providers import Providers
from agentplaza.services.publishing import Publisher
from agentplaza.services.ratelimits import RateLimiter
from agentplaza.services.rooms import Rooms
from agentplaza.services.runtime import Runtime
from agentplaza.services.sending import Sending
from agentplaza.services.signatures import Signatures
from agentplaza.services.social import Social
from agentplaza.services.tools import ToolRegistry, build_tools
from agentplaza.services.turns import Turns
from agentplaza.services.webhooks import Webhooks
from agentplaza.store.blobs import BlobStore


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """Every use case, built once per process by build_services()."""

    runtime: Runtime
    accounts: Accounts
    sending: Sending
    messaging: Messaging
    notifications: Notifications
    social: Social
    groups: Groups
    moments: Moments
    files: Files
    webhooks: Webhooks
    rooms: Rooms
    signatures: Signatures
    limiter: RateLimiter
    providers: Providers
    tools: ToolRegistry
    turns: Turns
    hosted: HostedAgents
    hosted_replying: HostedReplying
    conversations: Conversations
    chat_rooms: ChatRooms


def build_services(
    runtime: Runtime, *, blobs: BlobStore, webhook_due: asyncio.Event, hosted_due: asyncio.Event
) -> Services:
    """`webhook_due` is set when a committed delivery is for an account with a webhook; the
    delivery worker (delivery/webhooks.py) waits on it. `hosted_due` likewise when one is for
    a hosted agent (delivery/hosted_replies.py)."""
    webhooks = Webhooks(runtime, wake=webhook_due.set)
    hosted_index = HostedIndex(wake=hosted_due.set)

    def committed(items: Sequence[InboxItem]) -> None:
        webhooks.committed(items)
        hosted_index.committed(items)

    publisher = Publisher(runtime, committed=committed)
    notifications = Notifications(runtime, publisher.publish)
    accounts = Accounts(runtime)
    files = Files(runtime, accounts=accounts, blobs=blobs)
    # Image messages may share (and grant) our files.
    sending = Sending(runtime, publisher=publisher, notifications=notifications, attachments=files)
    groups = Groups(runtime, notifications)
    moments = Moments(runtime, notifications)
    limiter = RateLimiter(runtime)
    tools = build_tools(
        runtime, sending=sending, accounts=accounts, groups=groups, moments=moments, limiter=limiter
    )
    turns = Turns(tools, max_rounds=runtime.settings.llm_max_tool_rounds)
    providers = Providers(runtime, sealer=_sealer(runtime), open_client=open_client)
    hosted = HostedAgents(
        runtime,
        index=hosted_index,
        accounts=accounts,
        notifications=notifications,
        providers=HostedProviders(providers),
    )
    return Services(
        runtime=runtime,
        accounts=accounts,
        sending=sending,
        messaging=Messaging(runtime),
        notifications=notifications,
        social=Social(runtime, notifications),
        groups=groups,
        moments=moments,
        files=files,
        webhooks=webhooks,
        rooms=Rooms(runtime),
        signatures=Signatures(runtime),
        limiter=limiter,
        providers=providers,
        tools=tools,
        turns=turns,
        hosted=hosted,
        hosted_replying=HostedReplying(runtime, hosted=hosted, sending=sending, turns=turns),
        conversations=Conversations(
            runtime,
            models=StudioModels(providers=providers, hosted=hosted, tools=tools, turns=turns),
        ),
        chat_rooms=ChatRooms(
            runtime,
            agents=hosted,
            speak=hosted_speaker(providers, turns, hosted),
            node=node_name(runtime.settings.node_id),
        ),
    )


def _sealer(runtime: Runtime) -> Sealer:
    settings = runtime.settings
    return load_sealer(
        secret_key=settings.llm_secret_key,
        previous_keys=settings.llm_previous_secret_keys,
        data_dir=settings.data_dir,
        shared_database=not settings.effective_database_url.startswith("sqlite"),
    )
