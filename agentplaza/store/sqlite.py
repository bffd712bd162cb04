"""SqliteStore: writes group-committed on the event loop's thread, reads on a thread pool, WAL.

Writes queue up for a few turns of the event loop (COMMIT_WAIT_TURNS) and are committed
together, in one `BEGIN IMMEDIATE … COMMIT`, by a callback the first of them schedules; only
then are the callers' futures resolved. Many concurrent sends cost one commit, and no caller
hears "done" before its rows are committed. If one job of a batch fails, the batch is rolled
back and run again with each job behind a SAVEPOINT, so a failure costs only itself
(savepoints on every job cost ~25% of a send's store time, hence the retry).

Why the loop's thread and not a writer thread (Datasette's design, where this started): the
GIL makes a writer thread contend with the event loop for every statement, and each write
pays two thread hops. Committing inline measured 12–23% more DMs/s at 10 and 50 pairs
(../shared/bench, see bench/README.md). A write blocks the loop for its duration, so every
write job stays small (the retention purge works in chunks). Running a 50-member group
message's fan-out on a writer thread instead measured 8-16% fewer deliveries/s than inline
(GIL hand-offs), so every batch runs inline. WAL checkpoints, the only
writes that fsync, run on their own thread so they never block the loop.

With `synchronous=NORMAL` in WAL mode a commit survives the process being killed at any
point (not a power loss; set AGENTPLAZA_SQLITE_SYNCHRONOUS=FULL for that).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from agentplaza.domain.errors import AgentplazaError
from agentplaza.store import migrate
from agentplaza.store.base import Store
from agentplaza.store.engine import SQLITE, Capabilities
from agentplaza.store.errors import StoreError, Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
READER_THREADS = 3
CHECKPOINT_INTERVAL_SECS = 1.0
# Past this many WAL frames (a page each: 16 MiB at PAGE_SIZE) writes pause for one checkpoint
# on the writer thread, after which the WAL starts over (see SqliteStore._restart_wal).
WAL_RESTART_FRAMES = 8192
PAGE_SIZE = 2048
"""The page size of a new database file (SQLite's default: 4,096); an existing file keeps its
own. A commit writes each page it changed whole to the WAL, and a 50-member group message
changes 72 pages of 4 KiB or 82 of 2 KiB, mostly inbox index leaves that each gain one small
entry: 290 → 163 KiB to copy and checksum per commit (bench/wal_frames.py). Measured on
../shared/bench, alternated, three rounds (bench/README.md, eleventh round): group of 50 ×
1 sender +3 to +10 % deliveries/s, × 5 senders +6 to +11 %; DMs and reads (a sync page, a
group history page) no change beyond the noise. 1,024 measured the same as 2,048 within the
noise, and spills every body over ~1 KB to overflow pages."""
Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]
COMMIT_WAIT_TURNS = 2
"""Loop turns a batch waits for more writes before it commits (none once it is full).
Requests read together reach the store a turn or two apart (each is parsed, authenticated
and validated in steps), so a batch that commits in the turn after its first write catches
few of them. DM 10 pairs: 2.9 → 5.4 writes per commit, 4,154 → 4,680 DMs/s, server CPU per
DM 235 → 208 µs; group of 50 × 5 senders 38.2k → 48.6k deliveries/s, p99 20 → 15 ms; one
sender (nothing to wait for): no change beyond the noise (bench/README.md, ninth round). A
turn with nothing else to do is a few µs: an idle server's write waits that long."""


class SqliteTxn(sqlite3.Connection):
    """A connection is the transaction the query functions see (store/engine.py::Txn)."""

    caps: Capabilities = SQLITE


class SqliteStore(Store):
    def __init__(
        self, path: str, *, synchronous: str = "NORMAL", group_commit_max: int = 512
    ) -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be OFF/NORMAL/FULL/EXTRA, not {synchronous}")
        self._path = path
        self._synchronous = synchronous.upper()
        self._group_commit_max = group_commit_max
        self._writer: sqlite3.Connection | None = None
        self._queued: list[Job] = []
        self._turns_waited = 0  # by the queued batch (COMMIT_WAIT_TURNS)
        # The WAL restart checkpoint (see _restart_wal) runs on this thread with the writer's
        # connection while `_in_thread` is set; no batch starts meanwhile.
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._in_thread: asyncio.Future[None] | None = None
        self._wal_restart_owed = False  # set by the checkpointer thread (see _restart_wal)
        self._batches = 0  # write batches run so far: the checkpointer skips while unchanged
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._stop_checkpoints = threading.Event()
        self._checkpointer: threading.Thread | None = None

    @property
    def path(self) -> str:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, factory=SqliteTxn
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-16000")
        # A statement that writes several rows keeps a journal of the pages it changes, to undo
        # itself alone; past 64 KiB SQLite spills it to a temporary file, so a 50-member fan-out
        # (one leaf page per member) created, wrote and deleted a file per send. In memory the
        # 50-row inbox INSERT costs 220 µs instead of 646 (issue 17, bench/README.md).
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    async def start(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._create_file)
        await asyncio.to_thread(migrate.upgrade_to_head, f"sqlite:///{self._path}")
        self._writer = self._connect()
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        # Another process holding the write lock would block the loop: give up quickly.
        # One server process per SQLite file; several nodes need PostgreSQL.
        self._writer.execute("PRAGMA busy_timeout=1000")
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop,
            args=(asyncio.get_running_loop(),),
            name="sqlite-checkpointer",
            daemon=True,
        )
        self._checkpointer.start()
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")

    def _create_file(self) -> None:
        """A new database file gets PAGE_SIZE; an existing one is left as it is."""
        path = Path(self._path)
        if path.exists() and path.stat().st_size:
            return
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            # Writes the header, which fixes the page size: the WAL mode cannot change it.
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()

    async def close(self) -> None:
        self._stop_checkpoints.set()
        if self._in_thread is not None:
            await asyncio.wait([self._in_thread])
        while self._queued:  # callers waiting for these hear the outcome before we close
            batch = self._take_batch()
            self._resolve(batch, self._commit(batch))
        self._writer_thread.shutdown(wait=True)
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        if self._writer is not None:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
            self._writer = None
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    # --- plumbing -------------------------------------------------------------------------
    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._writer is None:
            raise RuntimeError("SqliteStore not started. Did build_app() run its lifespan?")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        if not self._queued and self._in_thread is None:
            loop.call_soon(self._commit_queued)
        self._queued.append((fn, args, kwargs, fut))
        return await fut

    def _commit_queued(self) -> None:
        if self._in_thread is not None:
            return  # one batch at a time; the thread's completion starts the next
        loop = asyncio.get_running_loop()
        # Once closing, the writer thread may be gone: close() truncates the WAL itself.
        if self._wal_restart_owed and not self._stop_checkpoints.is_set():
            self._wal_restart_owed = False
            self._in_thread = loop.run_in_executor(self._writer_thread, self._restart_wal)
            self._in_thread.add_done_callback(self._wal_restarted)
            return
        if not self._queued:
            return  # nothing left (close() commits what is queued itself)
        if self._turns_waited < COMMIT_WAIT_TURNS and len(self._queued) < self._group_commit_max:
            self._turns_waited += 1
            loop.call_soon(self._commit_queued)
            return
        self._turns_waited = 0
        batch = self._take_batch()
        if self._queued:
            loop.call_soon(self._commit_queued)
        self._resolve(batch, self._commit(batch))

    def _wal_restarted(self, _: asyncio.Future[None]) -> None:
        self._in_thread = None
        if self._queued:
            asyncio.get_running_loop().call_soon(self._commit_queued)

    def _take_batch(self) -> list[Job]:
        batch = self._queued[: self._group_commit_max]
        del self._queued[: len(batch)]
        return batch

    def _commit(self, batch: list[Job]) -> list[tuple[bool, Any]]:
        """Run and commit `batch`; one (ok, result or exception) per job, in order."""
        assert self._writer is not None
        try:
            outcomes = self._run_jobs(self._writer, batch, isolated=False)
            if outcomes is None:
                outcomes = self._run_jobs(self._writer, batch, isolated=True)
                assert outcomes is not None
            return outcomes
        except Exception as exc:
            log.exception("sqlite write batch of %d failed", len(batch))
            if self._writer.in_transaction:
                self._writer.rollback()
            return [(False, _translate(exc))] * len(batch)
        finally:
            self._batches += 1  # after the commit: a checkpoint that saw it copies it

    @staticmethod
    def _resolve(batch: list[Job], outcomes: list[tuple[bool, Any]]) -> None:
        for (_fn, _args, _kwargs, fut), (ok, value) in zip(batch, outcomes, strict=True):
            if fut.done():  # the caller was cancelled; the write stands
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    @staticmethod
    def _run_jobs(
        conn: sqlite3.Connection, batch: list[Job], *, isolated: bool
    ) -> list[tuple[bool, Any]] | None:
        """Run and commit the batch; None (rolled back) if a job fails and not `isolated`."""
        outcomes: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, args, kwargs, _fut in batch:
            if not isolated:
                try:
                    outcomes.append((True, fn(conn, *args, **kwargs)))
                except Exception:
                    conn.rollback()
                    return None
                continue
            conn.execute("SAVEPOINT job")
            try:
                outcomes.append((True, fn(conn, *args, **kwargs)))
                conn.execute("RELEASE job")
            except Exception as exc:  # one bad job must not sink the batch
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, _translate(exc)))
        conn.execute("COMMIT")
        return outcomes

    def _checkpoint_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        conn = self._connect()
        done = -1  # the batch count when a checkpoint last copied the whole WAL
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_INTERVAL_SECS):
                batches = self._batches
                if batches == done:
                    continue  # nothing written since: an idle server's thread stays asleep
                try:
                    busy, wal_frames, copied = conn.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; will retry")
                    continue
                if not busy and copied == wal_frames:
                    done = batches
                if wal_frames > WAL_RESTART_FRAMES and not self._wal_restart_owed:
                    self._wal_restart_owed = True
                    loop.call_soon_threadsafe(self._commit_queued)
        finally:
            conn.close()

    def _restart_wal(self) -> None:
        """On the writer thread, between batches: checkpoint what is left, so that the next
        write starts the WAL over. A checkpoint running beside the writer never catches up
        under steady load, and the WAL would grow without bound, every page lookup slower
        (912 MB after a minute of 50-member fan-outs, writes 3x slower)."""
        assert self._writer is not None
        try:
            self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.exception("WAL restart checkpoint failed; will retry")

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        conn = self._reader_conn()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn, *args, **kwargs)
            finally:
                conn.execute("COMMIT")
        except AgentplazaError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._readers is None:
            raise RuntimeError("SqliteStore not started. Did build_app() run its lifespan?")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn, args, kwargs)


def _translate(exc: BaseException) -> BaseException:
    """Domain errors pass through; driver errors become StoreError (rendered as 503)."""
    if isinstance(exc, AgentplazaError | StoreError):
        return exc
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return Unavailable(f"database busy: {exc}")
    return StoreError(f"{type(exc).__name__}: {exc}")
