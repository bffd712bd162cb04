"""SqliteStore: one writer thread with group commit, a small pool of reader threads, WAL.

Writes are queued to the writer thread, which takes everything queued (up to
`group_commit_max`), runs each job inside its own SAVEPOINT within one `BEGIN IMMEDIATE …
COMMIT`, and only then resolves the callers' futures: many concurrent sends cost one commit,
and no caller hears "done" before its rows are committed. With `synchronous=NORMAL` in WAL
mode a commit survives the process being killed at any point (not a power loss; set
AGENTPLAZA_SQLITE_SYNCHRONOUS=FULL for that).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from agentplaza.domain.accounts import Account, NewAccount, ProfileChanges
from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import DeliveryContext, Message
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store import migrate
from agentplaza.store.base import Appended, InboxPage, ThreadSummary
from agentplaza.store.errors import StoreError, Unavailable
from agentplaza.store.queries import accounts as q_accounts
from agentplaza.store.queries import messages as q_messages

log = logging.getLogger(__name__)
T = TypeVar("T")
READER_THREADS = 3
_STOP = object()


class SqliteStore:
    def __init__(
        self, path: str, *, synchronous: str = "NORMAL", group_commit_max: int = 512
    ) -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, not {synchronous}")
        self._path = path
        self._synchronous = synchronous.upper()
        self._group_commit_max = group_commit_max
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-16000")
        return conn

    async def start(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate.upgrade_to_head, f"sqlite:///{self._path}")
        writer_conn = self._connect()
        self._writer = threading.Thread(
            target=self._write_loop, args=(writer_conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")

    async def close(self) -> None:
        if self._writer is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    # --- plumbing -------------------------------------------------------------------------
    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            batch = [job]
            stop = False
            while len(batch) < self._group_commit_max:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(conn, batch)
            if stop:
                break
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, _fut, _loop in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, fn(conn, *args)))
                    conn.execute("RELEASE job")
                except Exception as exc:  # one bad job must not sink the batch
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, _translate(exc)))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("sqlite write batch of %d failed", len(batch))
            if conn.in_transaction:
                conn.rollback()
            failure = _translate(exc)
            outcomes = [(False, failure)] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_fn, _args, fut, loop), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((fut, ok, value))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, results)
            except RuntimeError:
                log.warning(
                    "event loop closed before %d write results were delivered", len(results)
                )

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._writer is None:
            raise RuntimeError("SqliteStore not started. Did build_app() run its lifespan?")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, args, fut, loop))
        return await fut

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._reader_conn()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn, *args)
            finally:
                conn.execute("COMMIT")
        except AgentplazaError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._readers is None:
            raise RuntimeError("SqliteStore not started. Did build_app() run its lifespan?")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn, args)

    async def ping(self) -> float:
        started = time.perf_counter()
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        return time.perf_counter() - started

    # --- accounts -------------------------------------------------------------------------
    async def create_account(self, new: NewAccount) -> Account:
        return await self._write(q_accounts.create_account_txn, new)

    async def get_account(self, account_id: AccountId) -> Account | None:
        return await self._read(q_accounts.get_account_txn, account_id)

    async def find_account_by_key(self, key_hash: str) -> Account | None:
        return await self._read(q_accounts.find_account_by_txn, "key_hash", key_hash)

    async def find_account_by_recovery(self, recovery_hash: str) -> Account | None:
        return await self._read(q_accounts.find_account_by_txn, "recovery_hash", recovery_hash)

    async def find_human_by_name(self, display_name: str) -> tuple[Account, str] | None:
        return await self._read(q_accounts.find_human_by_name_txn, display_name)

    async def update_profile(
        self, account_id: AccountId, changes: ProfileChanges, *, now_us: int
    ) -> Account:
        return await self._write(q_accounts.update_profile_txn, account_id, changes, now_us)

    async def set_api_key(self, account_id: AccountId, key_hash: str, *, now_us: int) -> None:
        await self._write(q_accounts.set_api_key_txn, account_id, key_hash, now_us)

    async def delete_account(self, account_id: AccountId, *, now_us: int) -> None:
        await self._write(q_accounts.delete_account_txn, account_id, now_us)

    async def search_accounts(self, query: str, *, limit: int) -> list[Account]:
        return await self._read(q_accounts.search_accounts_txn, query, limit)

    async def create_session(
        self, token_hash: str, account_id: AccountId, *, now_us: int, expires_at_us: int
    ) -> None:
        await self._write(
            q_accounts.create_session_txn, token_hash, account_id, now_us, expires_at_us
        )

    async def find_session(self, token_hash: str, *, now_us: int) -> Account | None:
        return await self._read(q_accounts.find_session_txn, token_hash, now_us)

    # --- messaging ------------------------------------------------------------------------
    async def direct_facts(self, sender: AccountId, recipient: AccountId) -> DirectFacts | None:
        return await self._read(q_messages.direct_facts_txn, sender, recipient)

    async def append_message(
        self,
        message: Message,
        deliveries: Sequence[DeliveryContext],
        *,
        idempotency_key: str | None,
    ) -> Appended:
        return await self._write(
            q_messages.append_message_txn, message, deliveries, idempotency_key
        )

    async def find_thread_peer(self, account: AccountId, thread_id: ThreadId) -> AccountId | None:
        return await self._read(q_messages.find_thread_peer_txn, account, thread_id)

    async def read_inbox(
        self, account: AccountId, *, after_seq: int, limit: int, unacked_only: bool
    ) -> InboxPage:
        return await self._read(q_messages.read_inbox_txn, account, after_seq, limit, unacked_only)

    async def read_inbox_since_time(
        self, account: AccountId, *, since_us: int, limit: int
    ) -> InboxPage:
        return await self._read(q_messages.read_inbox_since_time_txn, account, since_us, limit)

    async def ack(self, account: AccountId, message_id: str, *, now_us: int) -> bool:
        return await self._write(q_messages.ack_txn, account, message_id, now_us)

    async def ack_up_to(self, account: AccountId, seq: int, *, now_us: int) -> int:
        return await self._write(q_messages.ack_up_to_txn, account, seq, now_us)

    async def list_threads(self, account: AccountId, *, limit: int) -> list[ThreadSummary]:
        return await self._read(q_messages.list_threads_txn, account, limit)

    async def read_thread(
        self, account: AccountId, thread_id: ThreadId, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]] | None:
        return await self._read(q_messages.read_thread_txn, account, thread_id, before_num, limit)

    async def purge(self, *, acked_before_us: int, now_us: int) -> int:
        return await self._write(q_messages.purge_txn, acked_before_us)


def _resolve_all(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in results:
        if fut.done():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


def _translate(exc: BaseException) -> BaseException:
    """Domain errors pass through; driver errors become StoreError (rendered as 503)."""
    if isinstance(exc, AgentplazaError | StoreError):
        return exc
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return Unavailable(f"database busy: {exc}")
    return StoreError(f"{type(exc).__name__}: {exc}")
