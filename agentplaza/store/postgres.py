"""PostgresStore: the same `store/queries/` functions on PostgreSQL, via asyncpg, on the loop.

The query functions are synchronous (they are shared with SQLite). Here each runs under
`greenbridge.run_sync`: its `txn.execute()` hands an asyncpg query to the event loop and
resumes with the rows, so there are no threads. The first version ran them on a pool of
psycopg threads and measured 1,160–1,370 DMs/s with p99 112–123 ms at 50 pairs
(../shared/bench): every round trip paid a GIL hand-off between the loop and a pool thread,
and psycopg's per-statement Python cost is several times asyncpg's. Numbers for this one
are in bench/README.md.

A write runs between `BEGIN` and `COMMIT` on one pooled connection; a read runs its
statements directly (each sees committed data; no transaction round trips). A direct message,
the hot path, is one statement without BEGIN/COMMIT (two for a pair's first send) whose
write re-checks the facts it was decided on (store/queries/postgres_fast.py). Statements are
prepared once per connection. A write is shielded from its caller's cancellation: once
started it commits or rolls back, as on SQLite.

No group commit in the application: concurrent commits already share WAL flushes inside
PostgreSQL, and batching several sends into one transaction lets two batches lock the same
rows in opposite orders (a deadlock costs `deadlock_timeout`, 1 s by default). Per-send
transactions lock rows in a fixed order instead (store/queries/messages.py sorts them).

Failures: a lost connection is dropped (the next job opens a new one) and the job fails with
Unavailable (503; the client retries, with its idempotency key for sends). Serialization
failures, deadlocks and an idempotency key inserted concurrently through another node are
retried, so a concurrent duplicate send becomes a replay.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from asyncpg import exceptions as pg_exc

from agentplaza.domain.errors import AgentplazaError, Conflict, ErrorCode, Invalid
from agentplaza.domain.messages import DeliveryContext, Message
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store import migrate
from agentplaza.store.base import Store
from agentplaza.store.engine import POSTGRESQL, Capabilities, TxnMethod
from agentplaza.store.errors import StoreError, Unavailable
from agentplaza.store.greenbridge import run_sync, wait_for
from agentplaza.store.postgres_batching import DirectBatcher
from agentplaza.store.postgres_group_batching import Decide as GroupDecide
from agentplaza.store.postgres_group_batching import GroupBatcher
from agentplaza.store.queries.direct_facts import DIRECT_FACTS_SQL
from agentplaza.store.queries.postgres_dm_batch import (
    BatchedDirect,
    DirectBatchFunctions,
    append_direct_batch_pg,
    direct_batch_functions,
)
from agentplaza.store.queries.postgres_fast import (
    FactsChanged,
    ack_up_to_pg,
    append_direct_message_pg,
)
from agentplaza.store.queries.postgres_group import (
    GROUP_FACTS_SAME_DDL,
    NeedsTransaction,
    append_group_message_pg,
)
from agentplaza.store.queries.postgres_group_batch import (
    GROUP_BATCH_DDL,
    BatchedGroupMessage,
    append_group_batch_pg,
)
from agentplaza.store.records import Appended

log = logging.getLogger(__name__)
T = TypeVar("T")
_Call = tuple[tuple[Any, ...], dict[str, Any]]
WRITE_ATTEMPTS = 4
CONNECT_TIMEOUT_SECS = 5.0
_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """`?` placeholders (the queries' portable style) → asyncpg's `$1, $2, …`."""
    numbers = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)


class _Result:
    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows


class _Connection:
    """One asyncpg connection and its prepared statements."""

    __slots__ = ("_statements", "raw")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self._statements: dict[str, Any] = {}

    async def run(self, sql: str, params: Sequence[Any]) -> _Result:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = await self.raw.prepare(pg_sql(sql))
        rows = await statement.fetch(*params)
        status = statement.get_statusmsg()  # "UPDATE 3", "INSERT 0 1", "SELECT 2"
        count = status.rsplit(" ", 1)[-1]
        return _Result([tuple(r) for r in rows], int(count) if count.isdigit() else -1)


class _Txn:
    """What the query functions see: `execute` blocks this greenlet, not the loop."""

    __slots__ = ("_conn",)
    caps: Capabilities = POSTGRESQL

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        return wait_for(self._conn.run(sql, params))


class _Retry(Exception):
    """The transaction lost a race that a fresh attempt resolves."""


class PostgresStore(Store):
    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        if pool_size < 1:
            raise ValueError("database_pool_size must be at least 1")
        self._url = "postgresql://" + url.split("://", 1)[1]
        self._pool_size = pool_size
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._open: set[_Connection] = set()
        # What the hot paths remember between sends, per function (see _remembering).
        self._known: dict[Callable[..., Any], dict[Any, Any]] = {
            append_direct_message_pg: {},
            append_group_message_pg: {},
        }
        self._direct_batcher = DirectBatcher(
            self._write_direct_batch, self._known[append_direct_message_pg]
        )
        self._direct_batch_functions: DirectBatchFunctions | None = None  # set by start()
        self._group_batcher = GroupBatcher(
            self._write_group_batch, self._send_group_alone, self._known[append_group_message_pg]
        )

    async def start(self) -> None:
        try:
            # Alembic is synchronous (SQLAlchemy over psycopg): once, at start-up, on a thread.
            await asyncio.to_thread(migrate.upgrade_to_head, self._url)
        except Exception as exc:
            raise Unavailable(f"cannot migrate the PostgreSQL database: {exc}") from exc
        self._slots = asyncio.Semaphore(self._pool_size)
        await self.ping()
        await self._create_functions()

    async def _create_functions(self) -> None:
        """The PL/pgSQL functions of the group send (postgres_group.py), of group and DM
        batches (postgres_group_batch.py, postgres_dm_batch.py). Derived from the queries, so
        created here rather than by a migration; named after their bodies, so nodes of
        different versions do not replace each other's. The advisory lock keeps nodes
        starting together from updating the catalog rows at once."""
        conn = await self._acquire()
        try:
            facts = await conn.raw.prepare(pg_sql(DIRECT_FACTS_SQL))
            functions = direct_batch_functions(len(facts.get_attributes()))
            async with conn.raw.transaction():
                await conn.raw.execute("SELECT pg_advisory_xact_lock(7233001)")
                await conn.raw.execute(GROUP_FACTS_SAME_DDL)
                await conn.raw.execute(GROUP_BATCH_DDL)
                await conn.raw.execute(functions.plain.ddl)
                await conn.raw.execute(functions.keyed.ddl)
            self._direct_batch_functions = functions
        except Exception as exc:
            raise Unavailable(f"cannot create the PostgreSQL functions: {exc}") from exc
        finally:
            self._release(conn)

    async def close(self) -> None:
        if self._slots is not None:  # wait for running jobs: take every slot
            for _ in range(self._pool_size):
                await self._slots.acquire()
        for conn in list(self._open):
            await conn.raw.close()
        self._open.clear()
        self._idle.clear()
        self._slots = None

    # --- plumbing -------------------------------------------------------------------------
    async def _acquire(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.raw.is_closed():
                return conn
            self._open.discard(conn)
        raw = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT_SECS)
        conn = _Connection(raw)
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.raw.is_closed():
            self._open.discard(conn)
        else:
            self._idle.append(conn)

    async def _once(self, fn: Callable[..., T], call: _Call, transaction: bool) -> T:
        conn = await self._acquire()
        try:
            return await self._on(conn, fn, call, transaction)
        except _CONNECTION_LOST:
            conn.raw.terminate()  # whatever state it is in, it is not reused
            raise
        finally:
            self._release(conn)

    @staticmethod
    async def _on(conn: _Connection, fn: Callable[..., T], call: _Call, transaction: bool) -> T:
        if not transaction:
            return await run_sync(fn, _Txn(conn), *call[0], **call[1])
        await conn.raw.execute("BEGIN")
        try:
            result = await run_sync(fn, _Txn(conn), *call[0], **call[1])
        except BaseException:
            if not conn.raw.is_closed():
                try:
                    await conn.raw.execute("ROLLBACK")
                except Exception:  # the connection is in no state to be reused
                    conn.raw.terminate()
            raise
        await conn.raw.execute("COMMIT")
        return result

    async def _job(self, fn: Callable[..., T], call: _Call, *, transaction: bool) -> T:
        if self._slots is None:
            raise RuntimeError("PostgresStore not started. Did build_app() run its lifespan?")
        async with self._slots:
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    return await self._once(fn, call, transaction)
                except (AgentplazaError, NeedsTransaction):
                    raise
                except Exception as exc:
                    failure = _translate(exc)
                    if isinstance(failure, _Retry):
                        if attempt < WRITE_ATTEMPTS:
                            log.debug("retrying %s after %s", fn.__name__, exc)
                            continue
                        failure = StoreError(f"gave up after {WRITE_ATTEMPTS} attempts: {exc}")
                    raise failure from exc
        raise AssertionError("unreachable")

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # Shielded: a caller that goes away must not cut a transaction in half.
        return await asyncio.shield(self._job(fn, (args, kwargs), transaction=True))

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._job(fn, (args, kwargs), transaction=False)

    async def _write_statements(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A write whose statements are each atomic and re-check what they depend on, so it
        needs no BEGIN/COMMIT round trips (store/queries/postgres_fast.py)."""
        return await asyncio.shield(self._job(fn, (args, kwargs), transaction=False))

    async def _remembering(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A hot path that remembers the facts of its previous sends (`known`): first in
        autocommit mode, each statement guarded by the facts it was decided on; then in a
        transaction if the function raises NeedsTransaction (postgres_fast.py,
        postgres_group.py)."""
        kwargs["known"] = self._known[fn]
        try:
            return await self._write_statements(fn, *args, autocommit=True, **kwargs)
        except NeedsTransaction:
            return await self._write(fn, *args, autocommit=False, **kwargs)

    async def _direct(
        self,
        fn: Callable[..., Appended],
        message: Message,
        *,
        decide: Callable[[DirectFacts], DeliveryContext],
        idempotency_key: str | None,
    ) -> Appended:
        """A direct message: in a batch with others when its facts are remembered
        (postgres_batching.py), else alone (`_remembering`)."""
        appended = await self._direct_batcher.append(message, decide, idempotency_key)
        if appended is not None:
            return appended
        return await self._remembering(fn, message, decide=decide, idempotency_key=idempotency_key)

    async def _group(
        self,
        fn: Callable[..., Appended],
        message: Message,
        *,
        decide: GroupDecide,
        idempotency_key: str | None,
    ) -> Appended:
        """A group message, in its group's turn (postgres_group_batching.py)."""
        return await self._group_batcher.append(message, decide, idempotency_key)

    async def _send_group_alone(
        self, message: Message, decide: GroupDecide, idempotency_key: str | None
    ) -> Appended:
        return await self._remembering(
            append_group_message_pg, message, decide=decide, idempotency_key=idempotency_key
        )

    async def _write_group_batch(
        self, group_id: str, batch: list[BatchedGroupMessage]
    ) -> list[Appended | None]:
        return await self._write_statements(append_group_batch_pg, group_id, batch)

    async def _write_direct_batch(self, batch: list[BatchedDirect]) -> list[Appended | None]:
        assert self._direct_batch_functions is not None, "PostgresStore not started"
        return await self._write_statements(
            append_direct_batch_pg, batch, functions=self._direct_batch_functions
        )

    # --- fast-path overrides of Store methods (store/queries/postgres_*.py): the same
    # effect (the contract tests run both), fewer round trips, measured in bench/README.md.
    # A direct message: one statement (two for a pair's first), no BEGIN/COMMIT; several DMs
    # to a statement under load (postgres_batching.py).
    append_direct_message = TxnMethod(append_direct_message_pg, "_direct")
    # A group message: one statement per group at a time, several messages to it in one when
    # they come together (postgres_group_batching.py), else one statement when the sender's
    # previous send knew the group's facts, else a transaction of five round trips.
    append_group_message = TxnMethod(append_group_message_pg, "_group")
    # An ack up to a seq: one statement instead of BEGIN, two UPDATEs, COMMIT.
    ack_up_to = TxnMethod(ack_up_to_pg, "_write_statements")


_CONNECTION_LOST = (
    OSError,
    asyncio.TimeoutError,
    pg_exc.ConnectionDoesNotExistError,
    pg_exc.InterfaceError,
    pg_exc.PostgresConnectionError,
    pg_exc.OperatorInterventionError,  # the server is shutting down or killed our session
    pg_exc.InternalClientError,  # the protocol state after a connection died mid-query
)


def _translate(exc: BaseException) -> BaseException:
    """Driver errors → Conflict / Invalid / _Retry / Unavailable / StoreError (409/400/503)."""
    if isinstance(exc, pg_exc.UniqueViolationError):
        table = getattr(exc, "table_name", None) or ""
        constraint = getattr(exc, "constraint_name", None) or ""
        if table == "idempotency_keys":  # the same key, sent concurrently through another node
            return _Retry(str(exc))
        if table == "accounts" and (
            "name_key" in constraint or "name_skeleton" in constraint
        ):  # a name (or a look-alike) taken a moment ago
            return Conflict(
                "an account with this display name already exists", ErrorCode.NAME_TAKEN
            )
        if table == "accounts" and "email" in constraint:  # registered a moment ago
            return Conflict("an account with this email already exists", ErrorCode.EMAIL_TAKEN)
        return StoreError(f"integrity error: {exc}")
    if isinstance(exc, FactsChanged | pg_exc.SerializationError | pg_exc.DeadlockDetectedError):
        return _Retry(str(exc))
    if isinstance(exc, pg_exc.CharacterNotInRepertoireError) and "0x00" in str(exc):
        # Validation refuses U+0000 in every stored field; a field it missed is still the
        # client's input, not an outage.
        return Invalid("text may not contain NUL (U+0000) characters")
    if isinstance(exc, _CONNECTION_LOST):
        return Unavailable(f"database unavailable: {type(exc).__name__}: {exc}")
    return StoreError(f"{type(exc).__name__}: {exc}")
