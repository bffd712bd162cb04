"""Answering a hosted agent's inbox: policy, memory, the model call, the reply, the ack.

The agent's inbox is its durable work queue. Each unacked item, in seq order: decide
(domain/hosted.py::decide_reply), build the thread's memory, call the model, send the answer
through the normal send path with `idempotency_key = "hosted:" + <incoming message id>`, then
ack. A crash anywhere before the ack replays the item after the restart; a crash after the
send but before the ack replays into the same stored reply (the key), and a reply already in
the thread is recognised before any model call, so each message is answered once.
Callers (delivery/hosted_replies.py) hold the agent's lease: one node, one item at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import AgentplazaError, BudgetExhausted
from agentplaza.domain.groups import INTENT_MENTIONED
from agentplaza.domain.hosted import (
    APOLOGY,
    HistoryLine,
    HostedAgent,
    ReplyFacts,
    decide_reply,
    retry_delay_us,
    select_memory,
    system_prompt,
    utc_day,
)
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import InboxItem, Message, MessageFormat, MessageType, Scene
from agentplaza.domain.permissions import RELATION_FRIEND
from agentplaza.domain.turns import TurnDone, TurnError
from agentplaza.llm.base import ChatMessage, ModelClient, ModelRequest, ProviderError, Role
from agentplaza.services.hosted_agents import HostedAgents
from agentplaza.services.runtime import Runtime
from agentplaza.services.sending import Outgoing, Sending
from agentplaza.services.tools import ToolContext
from agentplaza.services.turns import Turns

log = logging.getLogger(__name__)
INBOX_PAGE = 20
HISTORY_MESSAGES = 60
"""Thread messages read for memory (then trimmed to memory_tokens) and for the loop guard."""
_CHAT_FORMATS = (MessageFormat.TEXT, MessageFormat.MARKDOWN)


@dataclass(frozen=True, slots=True)
class Answer:
    content: str
    input_tokens: int
    output_tokens: int


class HostedReplying:
    def __init__(
        self, runtime: Runtime, *, hosted: HostedAgents, sending: Sending, turns: Turns
    ) -> None:
        self._rt = runtime
        self._turns = turns
        self._store = runtime.store
        self._hosted = hosted
        self._sending = sending

    async def process(self, agent_id: AccountId) -> int | None:
        """Answer the agent's unacked inbox items in seq order until none is left. Returns
        None when done, or the time (µs) of the retry when the provider failed (the item stays
        unacked and the items after it wait: an agent answers in order)."""
        agent = await self._hosted.get(agent_id)
        account = await self._store.get_account(agent_id)
        if agent is None or account is None:
            return None
        while True:
            page = await self._store.read_inbox(
                agent_id, after_seq=0, limit=INBOX_PAGE, unacked_only=True
            )
            if not page.items:
                return None
            for item in page.items:
                retry_at = await self.handle(agent, account, item)
                if retry_at is not None:
                    return retry_at

    async def handle(self, agent: HostedAgent, account: Account, item: InboxItem) -> int | None:
        """Answer (or skip) one item and ack it; or, the provider failing, leave it unacked
        and return when to retry."""
        msg = item.message
        is_chat = msg.type is not MessageType.EVENT and msg.format in _CHAT_FORMATS
        if not is_chat or msg.sender_id == agent.account_id:
            await self._finish(agent, item, stranger=False)  # decided without the thread
            return None
        in_group = item.context.scene is Scene.GROUP
        history = await self._thread(agent, msg, in_group)
        if any(m.sender_id == agent.account_id and m.reply_to == msg.id for m in history):
            await self._finish(agent, item, stranger=False)  # answered before a crash
            return None
        upto = [m for m in history if m.id <= msg.id]  # a backlog's later messages: not yet
        is_friend = item.context.sender_relation == RELATION_FRIEND
        stranger_count = 0
        if not in_group and not is_friend:
            stranger_count = await self._store.hosted_stranger_replies(
                agent.account_id, msg.sender_id, day=utc_day(self._rt.clock_us())
            )
        facts = ReplyFacts(
            sender_id=msg.sender_id,
            in_group=in_group,
            is_friend=is_friend,
            mentioned=item.context.intent == INTENT_MENTIONED,
            is_chat=is_chat,
            sender_is_hosted=self._hosted.index.is_hosted(msg.sender_id),
            # The whole thread, not only up to this message: replies the agent already sent
            # after it (a backlog) count too, or a backlog would slip past the guard.
            consecutive_hosted_replies=self._consecutive_hosted(agent, history),
            stranger_replies_today=stranger_count,
        )
        decision = decide_reply(agent, facts)
        if not decision.reply:
            log.debug("hosted %s skips %s: %s", agent.account_id, msg.id, decision.skip)
            await self._finish(agent, item, stranger=False)
            return None
        try:
            await self._hosted.check_budget(agent)
        except BudgetExhausted:
            # No model call; the owner was told. The message is not kept for tomorrow: a
            # day's backlog answered at midnight would be stale and would spend the new day.
            await self._finish(agent, item, stranger=False)
            return None
        try:
            client = await self._hosted.providers.client_for(agent.owner_id, agent.provider_id)
            request = await self._request(agent, account, msg, upto, in_group)
            tools = self._hosted.tool_context(agent, account) if agent.tools else None
            answer = await self.generate(client, request, tools)
        except Exception as exc:  # a failed call is retried, never a crash of the worker
            return await self._failed(agent, account, item, exc)
        await self._hosted.record_usage(
            agent,
            model=agent.model,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
        )
        if answer.content.strip():
            await self._reply(account, msg, in_group, answer.content)
        await self._finish(agent, item, stranger=decision.counts_as_stranger)
        return None

    async def generate(
        self, client: ModelClient, request: ModelRequest, tools: ToolContext | None
    ) -> Answer:
        """Run the turn (tool rounds included, services/turns.py) and collect its answer;
        a TurnError is raised as a ProviderError."""
        # aclosing: cancelled (the worker stopping) or failed, the model stream closes now.
        async with aclosing(self._turns.run(client, request, tools=tools)) as events:
            async for event in events:
                if isinstance(event, TurnDone):
                    return Answer(event.content, event.input_tokens, event.output_tokens)
                if isinstance(event, TurnError):
                    raise ProviderError(event.message)
        raise ProviderError("the model turn ended without an answer")

    # --- the pieces ---------------------------------------------------------------------------
    async def _thread(self, agent: HostedAgent, msg: Message, in_group: bool) -> list[Message]:
        """The thread's latest messages, newest first (empty if the agent left it)."""
        try:
            if in_group:
                rows = await self._store.read_group_messages(
                    msg.thread_id, agent.account_id, before_num=None, limit=HISTORY_MESSAGES
                )
            else:
                found = await self._store.read_thread(
                    agent.account_id, msg.thread_id, before_num=None, limit=HISTORY_MESSAGES
                )
                rows = found or []
        except AgentplazaError:  # no longer a member of the group
            rows = []
        history = [m for _, m in rows if m.type is not MessageType.EVENT]
        if not any(m.id == msg.id for m in history):
            history.append(msg)  # purged or beyond the window: still answer it
            history.sort(key=lambda m: m.id, reverse=True)
        return history

    def _consecutive_hosted(self, agent: HostedAgent, newest_first: Sequence[Message]) -> int:
        """The agent's own messages since the last one from an account that is neither
        itself nor a hosted agent (the loop guard's count)."""
        own = 0
        for m in newest_first:
            if m.sender_id == agent.account_id:
                own += 1
            elif not self._hosted.index.is_hosted(m.sender_id):
                break
        return own

    async def _request(
        self,
        agent: HostedAgent,
        account: Account,
        msg: Message,
        newest_first: Sequence[Message],
        in_group: bool,
    ) -> ModelRequest:
        names: dict[AccountId, str] = {agent.account_id: account.display_name}
        lines: list[HistoryLine] = []
        for m in newest_first:
            if m.sender_id not in names:
                other = await self._store.get_account(m.sender_id)
                names[m.sender_id] = other.display_name if other else m.sender_id
            text = m.body if m.format in _CHAT_FORMATS else f"[{m.format.value} message]"
            lines.append(HistoryLine(m.sender_id == agent.account_id, m.sender_id, text))
        group_name = None
        if in_group:
            found = await self._store.get_group(msg.thread_id, agent.account_id)
            group_name = found[0].name if found else msg.thread_id
        messages = [
            ChatMessage(role=Role.ASSISTANT, content=line.text)
            if line.own
            else ChatMessage(
                role=Role.USER,
                # In a group the model must know who speaks: the name leads the text (the
                # `name` field alone is dropped by some providers).
                content=f"{names[AccountId(line.speaker)]}: {line.text}" if in_group else line.text,
                name=line.speaker,
            )
            for line in select_memory(lines, agent.memory_tokens)
        ]
        return ModelRequest(
            model=agent.model,
            messages=messages,
            system=system_prompt(agent, name=account.display_name, group_name=group_name),
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            thinking=agent.thinking,
        )

    async def _reply(self, account: Account, msg: Message, in_group: bool, text: str) -> None:
        limit = self._rt.settings.max_message_body_bytes
        body = text.encode()[:limit].decode(errors="ignore")
        try:
            await self._sending.send(
                account,
                Outgoing(
                    format=MessageFormat.TEXT.value,
                    body=body,
                    to=None if in_group else msg.sender_id,
                    group_id=msg.thread_id if in_group else None,
                    reply_to=msg.id,
                    idempotency_key=f"hosted:{msg.id}",
                ),
            )
        except AgentplazaError as exc:
            # Refused for good (blocked since, left the group, muted): nothing to retry.
            log.info("hosted %s could not answer %s: %s", account.id, msg.id, exc.detail)

    async def _finish(self, agent: HostedAgent, item: InboxItem, *, stranger: bool) -> None:
        await self._store.finish_hosted_item(
            agent.account_id,
            item.message.id,
            stranger=item.message.sender_id if stranger else None,
            day=utc_day(self._rt.clock_us()),
            now_us=self._rt.clock_us(),
        )

    async def _failed(
        self, agent: HostedAgent, account: Account, item: InboxItem, exc: Exception
    ) -> int | None:
        """A failed model call: back off and retry, up to `hosted_max_attempts`; then answer
        with a short apology and move on (the sender is never left with silence, and one bad
        message does not hold the queue forever). The owner is told either way."""
        settings = self._rt.settings
        detail = exc.message if isinstance(exc, ProviderError) else str(exc)
        now_us = self._rt.clock_us()
        attempts = await self._store.hosted_attempts(agent.account_id) + 1
        retry_at = now_us + retry_delay_us(
            attempts,
            base_secs=settings.hosted_retry_base_secs,
            cap_secs=settings.hosted_retry_max_secs,
        )
        await self._store.record_hosted_failure(
            agent.account_id, error=detail, retry_at_us=retry_at
        )
        log.warning(
            "hosted %s: model call failed (attempt %d): %s", agent.account_id, attempts, detail
        )
        await self._hosted.notify_owner(
            agent,
            reason="provider_error",
            summary=f"your agent {account.display_name} could not answer: {detail[:300]}",
        )
        if attempts < settings.hosted_max_attempts:
            return retry_at
        msg = item.message
        await self._reply(account, msg, item.context.scene is Scene.GROUP, APOLOGY)
        await self._finish(agent, item, stranger=False)
        return None
