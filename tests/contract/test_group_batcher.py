"""GroupBatcher (store/postgres_group_batching.py) on its own: which sends share a statement,
which go alone, and what each caller gets when a statement fails or a caller goes away. The
statements are recorded, not run (tests/contract/test_group_batches.py runs them on
PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentplaza.domain.errors import AgentplazaError, Forbidden
from agentplaza.domain.groups import GroupDecision, GroupSendFacts
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import Message
from agentplaza.domain.notifications import NewNotification, NotificationKind
from agentplaza.store.errors import Unavailable
from agentplaza.store.postgres_group_batching import GroupBatcher
from agentplaza.store.queries.postgres_group import KnownGroups
from agentplaza.store.queries.postgres_group_batch import BatchedGroupMessage
from agentplaza.store.records import Appended
from tests.contract.storedata import T0, group_message

GROUP, OTHER = "g-one", "g-two"
SENDERS = [AccountId(f"1000{n}") for n in range(5)]


def facts(group: str, sender: AccountId) -> GroupSendFacts:
    return GroupSendFacts(group_id=group, is_public=False, sender_id=sender, members=())


def decide(facts: GroupSendFacts) -> GroupDecision:
    return [], []


def mentioning(facts: GroupSendFacts) -> GroupDecision:
    notice = NewNotification(
        id="nt_1",
        account_id=facts.sender_id,
        kind=NotificationKind.MENTION,
        actor_id=facts.sender_id,
        subject_id=facts.group_id,
        summary="mentioned",
        created_at_us=T0,
    )
    return [], [notice]


def refusing(facts: GroupSendFacts) -> GroupDecision:
    raise Forbidden("not on these facts")


class Statements:
    """The batcher's two ways to write, recorded; `hold` keeps the next writes waiting."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []  # bodies per batch statement
        self.alone: list[str] = []  # bodies sent by the single path
        self.hold = asyncio.Event()
        self.hold.set()
        self.batch_error: BaseException | None = None
        self.not_written: set[str] = set()  # bodies the batch statement does not write

    async def write_batch(self, group: str, batch: list[BatchedGroupMessage]) -> list[Any]:
        self.batches.append([b.message.body for b in batch])
        await self.hold.wait()
        if self.batch_error is not None:
            raise self.batch_error
        return [
            None if b.message.body in self.not_written else Appended(message=b.message, items=())
            for b in batch
        ]

    async def send_alone(self, message: Message, decide: Any, key: str | None) -> Appended:
        self.alone.append(message.body)
        await self.hold.wait()
        decide(facts(message.thread_id, message.sender_id))  # the single path decides too
        return Appended(message=message, items=())


def batcher(statements: Statements, *, remembered: bool = True) -> GroupBatcher:
    known: KnownGroups = {}
    if remembered:
        for group in (GROUP, OTHER):
            for sender in SENDERS:
                known[(group, sender)] = (facts(group, sender), [group, sender, False, ""])
    return GroupBatcher(statements.write_batch, statements.send_alone, known)


async def send(b: GroupBatcher, sender: AccountId, body: str, **kwargs: Any) -> Appended:
    group = kwargs.pop("group", GROUP)
    return await b.append(
        group_message(sender, group, body), kwargs.pop("decide", decide), kwargs.pop("key", None)
    )


async def test_sends_that_come_together_share_a_statement_one_per_sender() -> None:
    statements = Statements()
    b = batcher(statements)
    results = await asyncio.gather(
        *(send(b, s, f"a{n}") for n, s in enumerate(SENDERS)),
        send(b, SENDERS[0], "a0 again"),  # the same sender: the next statement
    )
    assert [r.message.body for r in results] == ["a0", "a1", "a2", "a3", "a4", "a0 again"]
    assert statements.batches == [["a0", "a1", "a2", "a3", "a4"]]
    assert statements.alone == ["a0 again"]  # a batch of one is the single statement


async def test_what_arrives_while_a_statement_is_in_flight_goes_in_the_next() -> None:
    statements = Statements()
    b = batcher(statements)
    statements.hold.clear()
    first = asyncio.gather(send(b, SENDERS[0], "x0"), send(b, SENDERS[1], "x1"))
    await asyncio.sleep(0.01)
    later = asyncio.gather(*(send(b, s, f"y{n}") for n, s in enumerate(SENDERS[2:])))
    await asyncio.sleep(0.01)
    assert statements.batches == [["x0", "x1"]]  # one statement per group at a time
    statements.hold.set()
    await first
    await later
    assert statements.batches == [["x0", "x1"], ["y0", "y1", "y2"]]


async def test_groups_do_not_wait_for_each_other() -> None:
    statements = Statements()
    b = batcher(statements)
    statements.hold.clear()
    held = asyncio.ensure_future(send(b, SENDERS[0], "held"))
    await asyncio.sleep(0.01)
    other = asyncio.ensure_future(send(b, SENDERS[1], "other", group=OTHER))
    await asyncio.sleep(0.01)
    assert statements.alone == ["held", "other"]  # both statements started
    statements.hold.set()
    await asyncio.gather(held, other)


async def test_sends_no_batch_takes_go_alone_in_the_groups_turn() -> None:
    """Not remembered, a mention, refused on remembered facts (perhaps stale): alone."""
    statements = Statements()
    b = batcher(statements)
    unknown = AccountId("10099")
    results = await asyncio.gather(
        send(b, unknown, "unknown"),
        send(b, SENDERS[0], "b0"),
        send(b, SENDERS[1], "mention", decide=mentioning),
        send(b, SENDERS[2], "b2"),
        send(b, SENDERS[3], "refused", decide=refusing),
        return_exceptions=True,
    )
    assert statements.batches == [["b0", "b2"]]
    assert statements.alone == ["unknown", "mention", "refused"]
    assert isinstance(results[4], Forbidden)  # the single path's decision
    assert all(isinstance(r, Appended) for r in results[:4])


async def test_a_message_the_batch_did_not_write_goes_alone_on_fresh_facts() -> None:
    statements = Statements()
    b = batcher(statements)
    statements.not_written = {"c1"}
    results = await asyncio.gather(*(send(b, s, f"c{n}") for n, s in enumerate(SENDERS[:3])))
    assert [r.message.body for r in results] == ["c0", "c1", "c2"]
    assert statements.batches == [["c0", "c1", "c2"]]
    assert statements.alone == ["c1"]
    assert (GROUP, SENDERS[1]) not in b._known  # forgotten: the single path reads them


async def test_an_unavailable_database_fails_every_send_of_the_batch() -> None:
    statements = Statements()
    b = batcher(statements)
    statements.batch_error = Unavailable("database unavailable")
    results = await asyncio.gather(
        *(send(b, s, f"d{n}") for n, s in enumerate(SENDERS[:3])), return_exceptions=True
    )
    assert all(isinstance(r, Unavailable) for r in results), results
    assert statements.alone == []


async def test_a_failed_batch_sends_each_message_alone(caplog: pytest.LogCaptureFixture) -> None:
    statements = Statements()
    b = batcher(statements)
    statements.batch_error = AgentplazaError("a message the validation missed")
    results = await asyncio.gather(*(send(b, s, f"e{n}") for n, s in enumerate(SENDERS[:3])))
    assert [r.message.body for r in results] == ["e0", "e1", "e2"]
    assert statements.alone == ["e0", "e1", "e2"]
    assert "a batch of 3 group messages failed" in caplog.text


async def test_a_caller_gone_while_queued_is_dropped_and_the_rest_go_on() -> None:
    statements = Statements()
    b = batcher(statements)
    statements.hold.clear()
    first = asyncio.ensure_future(send(b, SENDERS[0], "f0"))
    await asyncio.sleep(0.01)
    gone = asyncio.ensure_future(send(b, SENDERS[1], "gone"))
    stays = [asyncio.ensure_future(send(b, s, f"f{n}")) for n, s in enumerate(SENDERS[2:], 2)]
    await asyncio.sleep(0.01)
    gone.cancel()
    statements.hold.set()
    await asyncio.gather(first, *stays)
    assert gone.cancelled()
    assert statements.alone == ["f0"]
    assert statements.batches == [["f2", "f3", "f4"]]  # nothing written for the one gone
    assert not b._queues  # the group's turn ended with its last send
